//! What a redistribution answers: its scope, complete counts, and the first items of each
//! list.

use std::collections::HashMap;

use seatkeeper_core::UserId;
use seatkeeper_core::distribution::{ManualGrants, Plan};
use serde::{Deserialize, Serialize};

use super::chunk::{Chunk, Phase};

/// Items of each list that a report carries (the counts are always complete).
pub const DEFAULT_DETAIL: usize = 200;

/// Who a redistribution is for (D3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// Every active user.
    All,
    /// The members of a role and of its descendants.
    Role { role: i64 },
    /// One user (the provisioning entry point).
    User { login: String },
}

impl Scope {
    pub(super) fn describe(&self, names: &HashMap<i64, String>) -> String {
        match self {
            Scope::All => "all users".into(),
            Scope::Role { role } => format!(
                "role {:?}",
                names.get(role).cloned().unwrap_or_else(|| role.to_string())
            ),
            Scope::User { login } => format!("user {login:?}"),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct PlanItem {
    pub login: String,
    pub product: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The result of a preview or a run: complete counts, and the first items of each list.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RedistributionReport {
    /// The run's id; none for a preview.
    pub id: Option<i64>,
    pub preview: bool,
    pub scope: String,
    pub manual: Option<ManualGrants>,
    pub users: u64,
    pub granted: u64,
    pub recalled: u64,
    /// Recalled from users who are logged in: freed when their sessions end (S4).
    pub releasing: u64,
    /// Seats kept whose reasons changed (a role now gives it, or no longer does).
    pub reasons_changed: u64,
    pub unmet: u64,
    pub grants: Vec<PlanItem>,
    pub recalls: Vec<PlanItem>,
    pub unmet_needs: Vec<PlanItem>,
    pub message_id: Option<i64>,
}

impl RedistributionReport {
    /// Adds a chunk's plan (counts, and items up to `detail`). `phase` says which parts of
    /// the plan count.
    pub(super) fn tally(&mut self, chunk: &Chunk, p: &Plan, phase: Phase, detail: usize) {
        let login = |u: &UserId| chunk.logins.get(&u.0).cloned().unwrap_or_default();
        if phase != Phase::Grant {
            for r in &p.recalls {
                self.recalled += 1;
                if r.releasing {
                    self.releasing += 1;
                }
                if self.recalls.len() < detail {
                    self.recalls.push(PlanItem {
                        login: login(&r.user),
                        product: r.pool.product.clone(),
                        folder: None,
                        detail: r.releasing.then(|| "releasing".to_string()),
                    });
                }
            }
            self.reasons_changed += p.drop_role_reason.len() as u64;
        }
        if phase != Phase::Recall {
            self.users += chunk.users.len() as u64;
            self.reasons_changed += p.add_role_reason.len() as u64;
            for g in &p.grants {
                self.granted += 1;
                if self.grants.len() < detail {
                    self.grants.push(PlanItem {
                        login: login(&g.user),
                        product: g.pool.product.clone(),
                        folder: Some(g.pool.folder.0),
                        detail: None,
                    });
                }
            }
            for n in &p.unmet {
                self.unmet += 1;
                if self.unmet_needs.len() < detail {
                    self.unmet_needs.push(PlanItem {
                        login: login(&n.user),
                        product: n.product.clone(),
                        folder: None,
                        detail: Some(n.reason.as_str().to_string()),
                    });
                }
            }
        }
    }

    /// Adds another part of the same walk: its counts, and its items while there is room
    /// under `detail`.
    pub(super) fn absorb(&mut self, part: RedistributionReport, detail: usize) {
        self.users += part.users;
        self.granted += part.granted;
        self.recalled += part.recalled;
        self.releasing += part.releasing;
        self.reasons_changed += part.reasons_changed;
        self.unmet += part.unmet;
        for (to, from) in [
            (&mut self.grants, part.grants),
            (&mut self.recalls, part.recalls),
            (&mut self.unmet_needs, part.unmet_needs),
        ] {
            let room = detail.saturating_sub(to.len());
            to.extend(from.into_iter().take(room));
        }
    }
}
