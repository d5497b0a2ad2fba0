//! What the planner compares a snapshot with: the ledger's users and roles as the store loads
//! them, and the room left per area. `apply` is the plan's meaning, in memory: the store does
//! the same in a transaction, and the property tests check plans against it.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::mapping::RoleKind;
use super::sync_plan::SyncPlan;
use crate::{Area, UserState};

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LedgerState {
    pub users: Vec<LedgerUser>,
    pub roles: Vec<LedgerRole>,
    /// Per area, the room left: limit − active users. `None` (or no entry) = no limit.
    /// Negative when an area is already over its limit (the sync then activates nobody there).
    pub room: BTreeMap<Area, Option<i64>>,
}

impl LedgerState {
    pub fn room_in(&self, area: Area) -> Option<i64> {
        self.room.get(&area).copied().flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerUser {
    pub login: String,
    pub name: String,
    /// Empty: no address.
    pub email: String,
    pub area: Area,
    /// "Sales/North"; empty for the root folder.
    pub folder: String,
    pub state: UserState,
    pub block_reason: Option<String>,
    pub source: Source,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Where a user came from. Only `Directory` users are the sync's to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Directory {
        dn: String,
    },
    /// By hand, CSV, API, SCIM, SSO.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRole {
    pub name: String,
    pub parent: Option<String>,
    pub kind: RoleKind,
    /// The group DN, when a sync created the role.
    pub source_dn: Option<String>,
    /// Direct members' logins.
    pub members: BTreeSet<String>,
}

/// The ledger after `plan`, as the store would leave it. New users get `now` as their
/// creation time (the core has no clock).
pub fn apply(state: &LedgerState, plan: &SyncPlan, now: OffsetDateTime) -> LedgerState {
    let mut next = state.clone();
    let key = |s: &str| s.to_lowercase();
    let free = |next: &mut LedgerState, area: Area, by: i64| {
        if let Some(Some(r)) = next.room.get_mut(&area) {
            *r += by;
        }
    };
    for login in &plan.delete {
        if let Some(i) = next.users.iter().position(|u| key(&u.login) == key(login)) {
            let u = next.users.remove(i);
            if u.state == UserState::Active {
                free(&mut next, u.area, 1);
            }
            for r in &mut next.roles {
                r.members.retain(|m| key(m) != key(login));
            }
        }
    }
    for b in &plan.block {
        let mut freed = None;
        if let Some(u) = next
            .users
            .iter_mut()
            .find(|u| key(&u.login) == key(&b.login))
        {
            if u.state == UserState::Active {
                freed = Some(u.area);
            }
            u.state = UserState::Blocked;
            u.block_reason = Some(b.reason.clone());
        }
        if let Some(area) = freed {
            free(&mut next, area, 1);
        }
    }
    for c in &plan.create {
        let state = if c.blocked.is_some() {
            UserState::Blocked
        } else {
            free(&mut next, c.area, -1);
            UserState::Active
        };
        next.users.push(LedgerUser {
            login: c.login.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            area: c.area,
            folder: c.folder.clone(),
            state,
            block_reason: c.blocked.clone(),
            source: Source::Directory { dn: c.dn.clone() },
            created_at: now,
        });
    }
    for login in &plan.activate {
        let mut used = None;
        if let Some(u) = next.users.iter_mut().find(|u| key(&u.login) == key(login)) {
            if u.state == UserState::Blocked {
                used = Some(u.area);
            }
            u.state = UserState::Active;
            u.block_reason = None;
        }
        if let Some(area) = used {
            free(&mut next, area, -1);
        }
    }
    for up in &plan.update {
        if let Some(u) = next
            .users
            .iter_mut()
            .find(|u| key(&u.login) == key(&up.login))
        {
            if let Some(v) = &up.name {
                u.name = v.clone();
            }
            if let Some(v) = &up.email {
                u.email = v.clone();
            }
            if let Some(v) = &up.folder {
                u.folder = v.clone();
            }
            if let Some(v) = &up.dn {
                u.source = Source::Directory { dn: v.clone() };
            }
        }
    }
    for r in &plan.roles_create {
        next.roles.push(LedgerRole {
            name: r.name.clone(),
            parent: r.parent.clone(),
            kind: r.kind,
            source_dn: Some(r.dn.clone()),
            members: BTreeSet::new(),
        });
    }
    for rp in &plan.roles_reparent {
        if let Some(r) = next.roles.iter_mut().find(|r| r.name == rp.role) {
            r.parent = rp.parent.clone();
        }
    }
    for m in &plan.remove_members {
        if let Some(r) = next.roles.iter_mut().find(|r| r.name == m.role) {
            r.members.retain(|x| key(x) != key(&m.login));
        }
    }
    for m in &plan.add_members {
        if let Some(r) = next.roles.iter_mut().find(|r| r.name == m.role) {
            r.members.insert(m.login.clone());
        }
    }
    next
}
