//! Repeated logins answered from memory (issue 3's throughput).
//!
//! Most logins are by users who hold their own all-modules seat: the answer takes no seat
//! and depends only on what administrators change (the user, roles, seats, products, limits,
//! licenses). Such an answer, once decided by the full login path, is kept here tagged with the
//! ledger's *generation* — a counter every transaction that changes any of those increments
//! first (`Ledger::begin_write`, and `reconcile` whenever it runs). A later login of the same
//! user is then one statement: insert the session rows if the generation is still the one the
//! answer was read at (read `FOR SHARE` on PostgreSQL; SQLite runs the statement under its
//! write lock). If it moved, on this node or any other, nothing is written, everything kept is
//! dropped and the batch takes the full path, which refills it.
//!
//! What is kept is never a reason to allow more than the ledger does. Which answers may be
//! kept is part of the login decision (`seatkeeper_core::login::decide`, `Repeatable`): those
//! on the user's own all-modules seat, and those that took a floating seat of the pool every
//! login of the user goes to first (the insert of its hold is then refused by the pool's
//! capacity check when it is full, and the login is decided in full); never one from an area
//! over its user limit, nor one that granted a named seat. The session row is committed before
//! the application hears the answer, as on the full path.

use std::collections::HashMap;
use std::sync::Mutex;

use seatkeeper_core::PoolKey;
use seatkeeper_core::login::AllowedLogin;

/// Beyond this many users the map starts again (a login that misses takes the full path).
const MAX_ENTRIES: usize = 250_000;

#[derive(Debug, Clone)]
pub(crate) struct RememberedLogin {
    pub user_id: i64,
    /// The answer with an empty `session_id`.
    pub answer: AllowedLogin,
    /// The floating pool the login takes a seat of, if it takes one.
    pub floating: Option<PoolKey>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The generation every entry was read at.
    generation: Option<i64>,
    /// When time alone changes capacity next (a license expiring or starting, as a unix
    /// timestamp; `None`: never). Entries are not used from then on.
    valid_until: Option<i64>,
    entries: HashMap<String, RememberedLogin>,
}

#[derive(Debug, Default)]
pub(crate) struct LoginCache {
    inner: Mutex<Inner>,
}

/// Logins of a batch that can be answered from memory: (index in the batch, what is kept).
pub(crate) struct Hits {
    pub generation: i64,
    pub found: Vec<(usize, RememberedLogin)>,
}

pub(crate) fn key(login: &str) -> String {
    login.to_ascii_lowercase()
}

impl LoginCache {
    /// The kept answers for `logins` at `now` (unix seconds).
    pub(crate) fn hits<'a>(&self, logins: impl Iterator<Item = &'a str>, now: i64) -> Hits {
        let Ok(inner) = self.inner.lock() else {
            return Hits {
                generation: 0,
                found: Vec::new(),
            };
        };
        let (Some(generation), true) =
            (inner.generation, inner.valid_until.is_none_or(|t| now < t))
        else {
            return Hits {
                generation: 0,
                found: Vec::new(),
            };
        };
        let found = logins
            .enumerate()
            .filter_map(|(i, l)| inner.entries.get(&key(l)).map(|k| (i, k.clone())))
            .collect();
        Hits { generation, found }
    }

    /// Keeps answers read at `generation`; older entries go.
    pub(crate) fn keep(
        &self,
        generation: i64,
        valid_until: Option<i64>,
        answers: Vec<(String, RememberedLogin)>,
    ) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation.is_some_and(|g| g > generation) {
            // A concurrent turn already kept newer answers.
            return;
        }
        if inner.generation != Some(generation) {
            inner.entries.clear();
            inner.generation = Some(generation);
        }
        inner.valid_until = valid_until;
        if inner.entries.len() + answers.len() > MAX_ENTRIES {
            inner.entries.clear();
        }
        inner.entries.extend(answers);
    }

    /// The generation of what is kept, if anything is.
    pub(crate) fn generation(&self) -> Option<i64> {
        self.inner.lock().ok().and_then(|i| i.generation)
    }

    /// Forgets everything (the generation moved).
    pub(crate) fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = Inner::default();
        }
    }
}
