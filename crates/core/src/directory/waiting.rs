//! U2 between syncs: when an event frees room in an area (a block, a delete, a move to
//! another area, a raised or removed user limit), the users waiting for room — blocked with
//! reason `license_limit` — are activated, oldest first, while there is room. Which ones is
//! decided here; the store applies it in the transaction of the event.

use time::OffsetDateTime;

use super::sync_plan::reason;
use crate::UserState;

/// A user of one area that may be waiting for room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The store's row id: breaks ties between users created in the same instant.
    pub id: i64,
    pub login: String,
    pub created_at: OffsetDateTime,
    pub state: UserState,
    pub block_reason: Option<String>,
}

/// The logins to activate in an area with `room` left (limit − active users; `None`: no
/// limit) among `users`: only those blocked for `license_limit` (a user blocked for any other
/// reason — by hand, by the directory — is never activated here), oldest first (by
/// `created_at`, then `id`), as many as fit. No room (zero or less: an area over its limit)
/// activates nobody.
pub fn waiting_to_activate(room: Option<i64>, users: &[Waiting]) -> Vec<String> {
    let mut waiting: Vec<&Waiting> = users
        .iter()
        .filter(|u| {
            u.state == UserState::Blocked
                && u.block_reason.as_deref() == Some(reason::LICENSE_LIMIT)
        })
        .collect();
    waiting.sort_by_key(|u| (u.created_at, u.id));
    let take = match room {
        None => waiting.len(),
        Some(r) => usize::try_from(r.max(0)).unwrap_or(usize::MAX),
    };
    waiting
        .into_iter()
        .take(take)
        .map(|u| u.login.clone())
        .collect()
}
