//! The sync planner: directory snapshot + ledger state + mapping → what to change (I1, U2, D5).
//! Pure and deterministic: the result does not depend on the order of the snapshot's entries
//! (every list comes out sorted), and planning again after applying a plan yields an empty one.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use super::dn::normalize_dn;
use super::ledger::{LedgerState, LedgerUser, Source};
use super::mapping::{Mapping, RemovedAction};
use super::sync_plan::{Block, NewUser, SkipReason, Skipped, SyncPlan, UserUpdate, reason};
use super::{Entry, Snapshot};
use crate::{Area, UserState};

/// A user entry that passed every check.
struct Mapped<'a> {
    entry: &'a Entry,
    dn_norm: String,
    login: String,
    name: String,
    email: String,
    area: Area,
    folder: String,
    disabled: bool,
}

fn key(s: &str) -> String {
    s.to_lowercase()
}

/// Who waits for room: an existing blocked user (by creation time) or a new entry (newer
/// than everyone in the ledger; among themselves by login).
enum Candidate<'a> {
    Existing(&'a LedgerUser),
    New(&'a Mapped<'a>),
}

/// What a sync of `snapshot` changes in `ledger` under `mapping`. Users from other sources,
/// users blocked by hand, and users whose entries are skipped are never changed; room freed by
/// blocks goes to the oldest waiting users first (U2); `touched` feeds the redistribution (D5).
/// The decisions where the issue is silent are listed in docs/DIRECTORY.md.
pub fn plan(snapshot: &Snapshot, ledger: &LedgerState, mapping: &Mapping) -> SyncPlan {
    let mut out = SyncPlan::default();
    let by_login: BTreeMap<String, &LedgerUser> =
        ledger.users.iter().map(|u| (key(&u.login), u)).collect();

    // 1. Map the user entries; anything odd is skipped and its user (if any) left alone.
    let mut protected_logins: BTreeSet<String> = BTreeSet::new();
    let mut protected_dns: BTreeSet<String> = BTreeSet::new();
    let mut by_entry_login: BTreeMap<String, Vec<&Entry>> = BTreeMap::new();
    for e in &snapshot.users {
        let login = e.first(&mapping.login_attr).map(str::trim).unwrap_or("");
        if login.is_empty() {
            protected_dns.insert(normalize_dn(&e.dn));
            out.skipped.push(Skipped {
                dn: e.dn.clone(),
                reason: SkipReason::NoLogin,
            });
            continue;
        }
        by_entry_login.entry(key(login)).or_default().push(e);
    }
    let mut mapped: BTreeMap<String, Mapped> = BTreeMap::new();
    for (lkey, entries) in &by_entry_login {
        let skip = |out: &mut SyncPlan, e: &Entry, reason: SkipReason| {
            out.skipped.push(Skipped {
                dn: e.dn.clone(),
                reason,
            });
        };
        let [e] = entries.as_slice() else {
            protected_logins.insert(lkey.clone());
            for e in entries {
                protected_dns.insert(normalize_dn(&e.dn));
                let login = e
                    .first(&mapping.login_attr)
                    .unwrap_or("")
                    .trim()
                    .to_string();
                skip(&mut out, e, SkipReason::DuplicateLogin(login));
            }
            continue;
        };
        let e: &Entry = e;
        let login = e
            .first(&mapping.login_attr)
            .unwrap_or("")
            .trim()
            .to_string();
        let dn_norm = normalize_dn(&e.dn);
        let checked = map_entry(e, &login, mapping, by_login.get(lkey).copied());
        match checked {
            Ok((name, email, folder)) => {
                let m = Mapped {
                    entry: e,
                    area: mapping.area_of(e, &dn_norm),
                    disabled: mapping.is_disabled(e),
                    dn_norm,
                    login,
                    name,
                    email,
                    folder,
                };
                mapped.insert(lkey.clone(), m);
            }
            Err(reason) => {
                protected_logins.insert(lkey.clone());
                protected_dns.insert(dn_norm);
                skip(&mut out, e, reason);
            }
        }
    }

    drop(by_entry_login);
    let mapped_dns: BTreeSet<&str> = mapped.values().map(|m| m.dn_norm.as_str()).collect();
    // The sync's users: from the directory, not protected by a skipped entry.
    let ours: Vec<&LedgerUser> = ledger
        .users
        .iter()
        .filter(|u| match &u.source {
            Source::Directory { dn } => {
                !protected_logins.contains(&key(&u.login))
                    && !protected_dns.contains(&normalize_dn(dn))
            }
            Source::Other => false,
        })
        .collect();

    let mut room: BTreeMap<Area, Option<i64>> =
        Area::ALL.iter().map(|a| (*a, ledger.room_in(*a))).collect();
    let free = |room: &mut BTreeMap<Area, Option<i64>>, area: Area| {
        if let Some(Some(r)) = room.get_mut(&area) {
            *r += 1;
        }
    };
    let mut candidates: Vec<Candidate> = Vec::new();
    // The DN each remaining directory user has after the sync, for group membership.
    let mut members_dn: BTreeMap<String, (String, String)> = BTreeMap::new();

    // 2. Users gone from the directory; 3. users still there.
    for u in &ours {
        let lkey = key(&u.login);
        let Some(m) = mapped.get(&lkey) else {
            if mapping.removed == RemovedAction::Delete {
                if u.state == UserState::Active {
                    free(&mut room, u.area);
                }
                out.delete.push(u.login.clone());
                continue;
            }
            block_for(&mut out, &mut room, u, reason::DIRECTORY_REMOVED);
            // A removed user keeps group memberships by DN, unless another entry now has
            // that DN (a login renamed in the directory): then the DN is the new entry's.
            let dn = match &u.source {
                Source::Directory { dn } => normalize_dn(dn),
                Source::Other => String::new(),
            };
            let dn = if mapped_dns.contains(dn.as_str()) {
                String::new()
            } else {
                dn
            };
            members_dn.insert(lkey, (dn, u.login.clone()));
            continue;
        };
        members_dn.insert(lkey, (m.dn_norm.clone(), u.login.clone()));
        let dn_changed = match &u.source {
            Source::Directory { dn } => normalize_dn(dn) != m.dn_norm,
            Source::Other => true,
        };
        let up = UserUpdate {
            login: u.login.clone(),
            name: (u.name != m.name).then(|| m.name.clone()),
            email: (u.email != m.email).then(|| m.email.clone()),
            folder: (u.folder != m.folder).then(|| m.folder.clone()),
            dn: dn_changed.then(|| m.entry.dn.clone()),
        };
        if up.name.is_some() || up.email.is_some() || up.folder.is_some() || up.dn.is_some() {
            out.update.push(up);
        }
        if m.disabled {
            block_for(&mut out, &mut room, u, reason::DIRECTORY_DISABLED);
        } else if u.state == UserState::Blocked && reason::is_sync_owned(u.block_reason.as_deref())
        {
            candidates.push(Candidate::Existing(u));
        }
    }

    // 4. New entries.
    for (lkey, m) in &mapped {
        if by_login.contains_key(lkey) {
            continue; // ours (handled above) or another source's (skipped in map_entry)
        }
        members_dn.insert(lkey.clone(), (m.dn_norm.clone(), m.login.clone()));
        if m.disabled {
            out.create
                .push(new_user(m, Some(reason::DIRECTORY_DISABLED)));
        } else {
            candidates.push(Candidate::New(m));
        }
    }

    // 5. Room, oldest first: blocks above have already freed theirs (U2).
    candidates.sort_by_cached_key(order);
    for c in candidates {
        let area = match c {
            Candidate::Existing(u) => u.area,
            Candidate::New(m) => m.area,
        };
        let fits = match room.get_mut(&area) {
            Some(Some(r)) if *r > 0 => {
                *r -= 1;
                true
            }
            Some(Some(_)) => false,
            _ => true,
        };
        match (c, fits) {
            (Candidate::Existing(u), true) => {
                out.activate.push(u.login.clone());
                out.touched.insert(u.login.clone());
            }
            (Candidate::Existing(u), false) => {
                if u.block_reason.as_deref() != Some(reason::LICENSE_LIMIT) {
                    out.block.push(Block {
                        login: u.login.clone(),
                        reason: reason::LICENSE_LIMIT.into(),
                    });
                }
            }
            (Candidate::New(m), true) => {
                out.create.push(new_user(m, None));
                out.touched.insert(m.login.clone());
            }
            (Candidate::New(m), false) => {
                out.create.push(new_user(m, Some(reason::LICENSE_LIMIT)));
                out.touched.insert(m.login.clone());
            }
        }
    }
    for c in &out.create {
        out.touched.insert(c.login.clone());
    }

    // 6. Groups → roles.
    super::roles::plan_roles(snapshot, ledger, mapping, &members_dn, &mut out);

    // Cached keys: `sort_by_key` would lower-case two logins per comparison.
    out.create.sort_by_cached_key(|c| key(&c.login));
    out.update.sort_by_cached_key(|u| key(&u.login));
    out.block.sort_by_cached_key(|b| key(&b.login));
    out.delete.sort_by_cached_key(|l| key(l));
    out.skipped
        .sort_by_cached_key(|s| (normalize_dn(&s.dn), s.dn.clone(), s.reason.to_string()));
    out
}

fn order(c: &Candidate) -> (u8, Option<OffsetDateTime>, String) {
    match c {
        Candidate::Existing(u) => (0, Some(u.created_at), key(&u.login)),
        Candidate::New(m) => (1, None, key(&m.login)),
    }
}

/// Blocks `u` for `why` unless it is blocked by hand or already for that reason.
fn block_for(
    out: &mut SyncPlan,
    room: &mut BTreeMap<Area, Option<i64>>,
    u: &LedgerUser,
    why: &str,
) {
    match u.state {
        UserState::Active => {
            if let Some(Some(r)) = room.get_mut(&u.area) {
                *r += 1;
            }
            out.block.push(Block {
                login: u.login.clone(),
                reason: why.into(),
            });
            out.touched.insert(u.login.clone());
        }
        UserState::Blocked => {
            let current = u.block_reason.as_deref();
            if reason::is_sync_owned(current) && current != Some(why) {
                out.block.push(Block {
                    login: u.login.clone(),
                    reason: why.into(),
                });
            }
        }
    }
}

fn new_user(m: &Mapped, blocked: Option<&str>) -> NewUser {
    NewUser {
        login: m.login.clone(),
        name: m.name.clone(),
        email: m.email.clone(),
        area: m.area,
        folder: m.folder.clone(),
        dn: m.entry.dn.clone(),
        blocked: blocked.map(str::to_string),
    }
}

/// Name, e-mail and folder of a user entry, or why it is skipped.
fn map_entry(
    e: &Entry,
    login: &str,
    mapping: &Mapping,
    existing: Option<&LedgerUser>,
) -> Result<(String, String, String), SkipReason> {
    crate::validate::login(login).map_err(|err| SkipReason::InvalidLogin(err.to_string()))?;
    if existing.is_some_and(|u| u.source == Source::Other) {
        return Err(SkipReason::NotFromDirectory(login.to_string()));
    }
    let name = e
        .first(&mapping.name_attr)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(login)
        .to_string();
    crate::validate::name(&name).map_err(|err| SkipReason::InvalidName(err.to_string()))?;
    let email = e
        .first(&mapping.email_attr)
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    crate::validate::email(&email).map_err(|err| SkipReason::InvalidEmail(err.to_string()))?;
    let folder = mapping.folder_of(e).map_err(SkipReason::InvalidFolder)?;
    Ok((name, email, folder))
}
