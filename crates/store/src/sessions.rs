//! Sessions (S1–S4): login with auto-allocation, heartbeat, logout, idle reaping and
//! entitlement checks.
//!
//! Logins, logouts and reaping take the ledger's write lock, so a floating seat is decided on
//! the state it is taken from, whichever node asks; the `seats_within_capacity` constraint
//! guards it again. The calls take many requests at once: the server batches concurrent
//! requests into one transaction (group commit), which is what makes logins cheap.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use seatkeeper_core::login::{Refusal, pick_seat, within_area_limit};
use seatkeeper_core::{Area, Error as DomainError, FolderId, PoolKey, SeatKind, UserState};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{
    Audit, Tx, Val, audit, count, dt, execute_in, fetch_in, get_i64, get_opt_i64, get_str,
    insert_rows, parse, ts,
};
use crate::folders::FolderTree;
use crate::loaders::UserRecord;
use crate::login_cache::Kept as KeptLogin;
use crate::reconcile::{EXPIRED_PRODUCTS, reconcile};
use crate::sqlite_writer::{HoldRow, SessionRow, SqliteWriter, Turn, TurnOutcome, write_turn};
use crate::{Actor, HeldSeat, Ledger, Result};

/// One login asked for by the application.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub login: String,
    /// What the application says about the client (host, app name); shown to administrators.
    pub client: String,
}

/// How a product is held in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatUse {
    /// The user's own named seat.
    Dedicated,
    /// A concurrent seat held by this session only.
    Floating,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionProduct {
    pub product: String,
    pub name: String,
    pub features: Vec<String>,
    pub all_modules: bool,
    pub seat: SeatUse,
    /// The folder whose seat it is.
    pub folder: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginAnswer {
    Allowed(AllowedLogin),
    Refused(RefusedLogin),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowedLogin {
    pub session_id: String,
    pub login: String,
    pub name: String,
    pub area: Area,
    pub products: Vec<SessionProduct>,
    /// Every feature the session may use; `all_modules` covers features not listed.
    pub features: Vec<String>,
    pub all_modules: bool,
    /// The seat auto-allocation took for this login (S2), if it took one.
    pub auto_allocated: Option<SessionProduct>,
    /// The user may manage licenses (holds `manage_licenses`, or is the built-in admin).
    pub license_manager: bool,
    /// For license managers only (L4): some products' licenses have all expired, so the
    /// application should open the license manager.
    pub licenses_expired: bool,
    pub expired_products: Vec<String>,
    /// For license managers only: whether any license is loaded at all (after "delete all
    /// licenses" (L5) none is, and only the built-in administrator can log in).
    pub licenses_loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedLogin {
    pub login: String,
    pub reason: Refusal,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionView {
    pub id: String,
    pub login: String,
    pub client: String,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen: OffsetDateTime,
    /// Products held by floating seats of this session.
    pub floating: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EndedSessions {
    pub ended: u64,
    /// Dedicated seats that were releasing and are now free (S4).
    pub released: Vec<HeldSeat>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntitlementAnswer {
    pub login: String,
    pub feature: String,
    pub allowed: bool,
    /// The products that grant the feature.
    pub via: Vec<String>,
}

#[derive(Debug, Clone)]
struct ProductInfo {
    name: String,
    features: Vec<String>,
    all_modules: bool,
}

fn product_info(r: &sqlx::any::AnyRow) -> Result<ProductInfo> {
    Ok(ProductInfo {
        name: get_str(r, "name")?,
        features: serde_json::from_str(&get_str(r, "features")?)
            .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
        all_modules: get_i64(r, "all_modules")? == 1,
    })
}

async fn load_products(tx: &mut Tx) -> Result<BTreeMap<String, ProductInfo>> {
    let rows = sqlx::query("SELECT code, name, features, all_modules FROM products")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                get_str(r, "code")?,
                ProductInfo {
                    name: get_str(r, "name")?,
                    features: serde_json::from_str(&get_str(r, "features")?)
                        .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
                    all_modules: get_i64(r, "all_modules")? == 1,
                },
            ))
        })
        .collect()
}

/// An assignment row of a user who is logging in.
struct Held {
    product: String,
    folder: FolderId,
    suspended: bool,
    releasing: bool,
}

fn new_session_id(now: OffsetDateTime) -> String {
    // 122 random bits: the session id is the application's bearer for heartbeat and logout.
    // The millisecond prefix orders ids by time, so a new session lands at the end of the
    // primary key's index instead of on a random page of it: with many live sessions that
    // is the difference between a few pages written per batch of logins and one per login.
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    format!("{ms:012x}{}", uuid::Uuid::new_v4().simple())
}

fn product_view(
    products: &BTreeMap<String, ProductInfo>,
    tree: &FolderTree,
    code: &str,
    seat: SeatUse,
    folder: FolderId,
) -> SessionProduct {
    let info = products.get(code);
    SessionProduct {
        product: code.to_string(),
        name: info.map(|i| i.name.clone()).unwrap_or_default(),
        features: info.map(|i| i.features.clone()).unwrap_or_default(),
        all_modules: info.is_some_and(|i| i.all_modules),
        seat,
        folder: tree.path(folder),
    }
}

/// Ends sessions (logout, reaper, administrator) and frees what they held: floating seats at
/// once; releasing dedicated seats of users left with no session (S4).
pub(crate) async fn end_sessions(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    ids: &[String],
    why: &str,
) -> Result<(Vec<bool>, EndedSessions)> {
    let vals: Vec<Val> = ids.iter().map(|i| Val::Text(i.clone())).collect();
    let rows = fetch_in(
        tx,
        "SELECT id, user_id FROM sessions WHERE id IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?;
    let mut found = BTreeSet::new();
    let mut users = BTreeSet::new();
    for r in &rows {
        found.insert(get_str(r, "id")?);
        users.insert(get_i64(r, "user_id")?);
    }
    let user_vals: Vec<Val> = users.iter().map(|u| Val::Int(*u)).collect();
    // A seat to release changes what logins read: the generation moves now, before any
    // pool row is touched, so that every transaction takes the generation row first and the
    // pool rows after (no lock-order deadlock with logins answered from memory).
    if !fetch_in(
        tx,
        "SELECT user_id FROM assignments WHERE release_pending = 1 AND user_id IN ({ids})",
        &user_vals,
        1,
        &[],
    )
    .await?
    .is_empty()
    {
        crate::db::bump_generation(tx).await?;
    }
    let existing: Vec<Val> = found.iter().map(|i| Val::Text(i.clone())).collect();
    execute_in(
        tx,
        "DELETE FROM floating_holds WHERE session_id IN ({ids})",
        &existing,
    )
    .await?;
    execute_in(tx, "DELETE FROM sessions WHERE id IN ({ids})", &existing).await?;
    let released_rows = fetch_in(
        tx,
        "DELETE FROM assignments WHERE release_pending = 1 AND user_id IN ({ids}) \
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = assignments.user_id) \
         RETURNING user_id, product_code",
        &user_vals,
        1,
        &[],
    )
    .await?;
    let mut report = EndedSessions {
        ended: found.len() as u64,
        released: Vec::new(),
    };
    if !released_rows.is_empty() {
        let released_users: Vec<Val> = released_rows
            .iter()
            .map(|r| get_i64(r, "user_id").map(Val::Int))
            .collect::<Result<_>>()?;
        let logins: BTreeMap<i64, String> = fetch_in(
            tx,
            "SELECT id, login FROM users WHERE id IN ({ids})",
            &released_users,
            1,
            &[],
        )
        .await?
        .iter()
        .map(|r| Ok((get_i64(r, "id")?, get_str(r, "login")?)))
        .collect::<Result<_>>()?;
        let mut entries = Vec::new();
        for r in &released_rows {
            let login = logins
                .get(&get_i64(r, "user_id")?)
                .cloned()
                .unwrap_or_default();
            let product = get_str(r, "product_code")?;
            entries.push(Audit::new(
                "license.released",
                &login,
                json!({"product": product, "session_end": why}),
            ));
            report.released.push(HeldSeat { login, product });
        }
        report.released.sort();
        audit(tx, now, actor, entries).await?;
        // Freed dedicated seats go to suspended holders first, as with any recall.
        reconcile(tx, now, true).await?;
    }
    Ok((ids.iter().map(|i| found.contains(i)).collect(), report))
}

/// What one turn of logins and logouts came to: an answer or an error per request, in order.
///
/// Parts of a turn commit separately (what the login cache settles goes first), so a failure
/// late in the turn never takes back an answer already settled: each request has its own
/// result.
#[derive(Debug)]
pub struct TurnAnswers {
    /// Per logout: whether it ended a live session (`false`: it had already ended).
    pub ended: Vec<Result<bool>>,
    pub answers: Vec<Result<LoginAnswer>>,
}

/// How often the full path is tried for one turn before its requests are answered with the
/// error (a seat taken concurrently by a login answered from memory on another node, a
/// dropped connection, a deadlock: all pass on a second try).
const FULL_PATH_TRIES: u32 = 4;

impl Ledger {
    /// S1, S2: logs users in, in order. Each answer is an allowed session (with the products
    /// and features it may use) or a refusal with its reason.
    pub async fn login_many(&self, requests: &[LoginRequest]) -> Result<Vec<LoginAnswer>> {
        self.gate_batch(&[], requests)
            .await
            .answers
            .into_iter()
            .collect()
    }

    /// One turn of the server's group commit: ends the `logouts` (first, so their seats are
    /// there for the logins) and decides the `logins`.
    ///
    /// What this process has kept (`login_cache`) goes first, each part in one short
    /// statement or transaction with no write lock, valid only at an unchanged generation:
    /// logouts of users with nothing releasing, repeated logins on the user's own seat, and
    /// repeated floating logins (the seat is then taken by the insert, which the database's
    /// capacity check refuses when the pool is full). Everything else — and anything those
    /// could not settle — is decided in full in one write transaction.
    ///
    /// Every login has its session id from the start. A part that fails may or may not have
    /// committed (a dropped connection loses the answer to a COMMIT), so the ids it was
    /// writing are *in doubt*: the full path ends them first, in the same transaction that
    /// decides those logins again, and a logout in doubt that finds its session gone counts
    /// as ended. No session is left that no client was told of, and no request is applied
    /// twice.
    pub async fn gate_batch(&self, logouts: &[String], logins: &[LoginRequest]) -> TurnAnswers {
        if logouts.is_empty() && logins.is_empty() {
            return TurnAnswers {
                ended: Vec::new(),
                answers: Vec::new(),
            };
        }
        let now = self.now();
        let ids: Vec<String> = logins.iter().map(|_| new_session_id(now)).collect();
        let mut ended: Vec<Option<Result<bool>>> = (0..logouts.len()).map(|_| None).collect();
        let mark_ended = |ended: &mut Vec<Option<Result<bool>>>, gone: &BTreeSet<String>| {
            for (slot, id) in ended.iter_mut().zip(logouts) {
                if gone.contains(id) {
                    *slot = Some(Ok(true));
                }
            }
        };
        let mut answers: Vec<Option<Result<LoginAnswer>>> =
            (0..logins.len()).map(|_| None).collect();
        // Session ids a failed part may have written, and whether its logouts may have ended.
        let mut doubt = Doubt::default();
        let hits = self
            .logins
            .hits(logins.iter().map(|r| r.login.as_str()), ts(now));
        let (floating, own): (Vec<_>, Vec<_>) = hits
            .found
            .into_iter()
            .partition(|(_, k)| k.floating.is_some());
        let mut moved = false;
        if let Some(writer) = &self.writer {
            let generation = if own.is_empty() && floating.is_empty() {
                self.logins.generation()
            } else {
                Some(hits.generation)
            };
            if let Some(generation) = generation {
                let kept = KeptTurn {
                    generation,
                    own: &own,
                    floating: &floating,
                    logins,
                    logouts,
                    ids: &ids,
                };
                match self.kept_turn(writer, now, kept).await {
                    Ok(Some((done, gone))) => {
                        fill(&mut answers, done);
                        mark_ended(&mut ended, &gone);
                    }
                    Ok(None) => moved = true,
                    Err(e) => {
                        doubt.part(&e, own.iter().chain(&floating), &ids, true);
                        moved = true;
                    }
                }
            }
        } else {
            // PostgreSQL: each part on its own, with no lock but the generation row's.
            let mut logouts_done = false;
            if !floating.is_empty() {
                // The logouts share the floating logins' transaction: one commit for the turn.
                match self
                    .kept_floating(now, hits.generation, &floating, logins, logouts, &ids)
                    .await
                {
                    Ok(FloatingOutcome::Done(done, gone)) => {
                        fill(&mut answers, done);
                        mark_ended(&mut ended, &gone);
                        logouts_done = true;
                    }
                    Ok(FloatingOutcome::Moved) => moved = true,
                    // A pool is full: the full path decides (another pool, or a refusal).
                    Ok(FloatingOutcome::NotNow) => {}
                    Err(e) => {
                        doubt.part(&e, floating.iter(), &ids, true);
                        moved = true;
                    }
                }
            }
            if !logouts.is_empty()
                && !logouts_done
                && !moved
                && let Some(generation) = self.logins.generation()
            {
                match self.quick_logouts(generation, logouts).await {
                    Ok(Some(gone)) => mark_ended(&mut ended, &gone),
                    Ok(None) => moved = true,
                    Err(e) => {
                        doubt.part(&e, std::iter::empty(), &ids, true);
                        moved = true;
                    }
                }
            }
            if !own.is_empty() && !moved {
                match self
                    .kept_logins(now, hits.generation, &own, logins, &ids)
                    .await
                {
                    Ok(done) => {
                        moved |= done.len() < own.len();
                        fill(&mut answers, done);
                    }
                    Err(e) => {
                        // Chunks before the failing one committed (autocommit): in doubt.
                        doubt.part(&e, own.iter(), &ids, false);
                        moved = true;
                    }
                }
            }
        }
        if moved {
            self.logins.clear();
        }

        let rest_logouts: Vec<usize> = (0..logouts.len()).filter(|i| ended[*i].is_none()).collect();
        let rest: Vec<usize> = (0..logins.len())
            .filter(|i| answers[*i].is_none())
            .collect();
        if !rest_logouts.is_empty() || !rest.is_empty() || !doubt.sessions.is_empty() {
            let logout_ids: Vec<String> =
                rest_logouts.iter().map(|i| logouts[*i].clone()).collect();
            let requests: Vec<LoginRequest> = rest.iter().map(|i| logins[*i].clone()).collect();
            let rest_ids: Vec<String> = rest.iter().map(|i| ids[*i].clone()).collect();
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                // The sessions in doubt end first, in the transaction that decides again.
                let mut ending = logout_ids.clone();
                ending.extend(doubt.sessions.iter().cloned());
                match self.full_batch(now, &ending, &requests, &rest_ids).await {
                    Ok(done) => {
                        doubt.sessions.clear();
                        break Ok(done);
                    }
                    Err(e) => {
                        // This attempt's sessions and logouts may have committed too.
                        doubt.sessions.extend(rest_ids.iter().cloned());
                        doubt.logouts = true;
                        if tries >= FULL_PATH_TRIES || !retryable(&e) {
                            break Err(e);
                        }
                        tracing::debug!(error = %e, tries, "full path failed; deciding again");
                        tokio::time::sleep(Duration::from_millis(5 << tries)).await;
                    }
                }
            };
            match outcome {
                Ok((full_ended, decided)) => {
                    for (i, e) in rest_logouts.iter().zip(full_ended) {
                        // A logout whose session a failed part may already have ended.
                        ended[*i] = Some(Ok(e || doubt.logouts));
                    }
                    for (i, a) in rest.iter().zip(decided) {
                        answers[*i] = Some(Ok(a));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, logins = rest.len(), logouts = rest_logouts.len(),
                        "turn could not be decided; answering its requests with the error");
                    self.end_in_doubt(now, &doubt.sessions).await;
                    for i in rest_logouts {
                        ended[i] = Some(Err(answer_error(&e)));
                    }
                    for i in rest {
                        answers[i] = Some(Err(answer_error(&e)));
                    }
                }
            }
        }
        TurnAnswers {
            ended: ended
                .into_iter()
                .map(|e| e.unwrap_or_else(unanswered))
                .collect(),
            answers: answers
                .into_iter()
                .map(|a| a.unwrap_or_else(unanswered))
                .collect(),
        }
    }

    /// Last resort after a turn failed for good: ends the sessions it may have written, so
    /// they hold no seat. If even that fails, the idle reaper ends them after the timeout.
    async fn end_in_doubt(&self, now: OffsetDateTime, sessions: &BTreeSet<String>) {
        if sessions.is_empty() {
            return;
        }
        let ids: Vec<String> = sessions.iter().cloned().collect();
        if let Err(e) = self.full_batch(now, &ids, &[], &[]).await {
            tracing::error!(error = %e, sessions = ids.len(),
                "sessions of a failed turn may be left until the idle reaper ends them");
        }
    }

    /// The full path: the write lock, time-driven changes, logouts, then every login decided
    /// on the state it is applied to. Answers that may be repeated from memory are kept.
    async fn full_batch(
        &self,
        now: OffsetDateTime,
        logouts: &[String],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> Result<(Vec<bool>, Vec<LoginAnswer>)> {
        let mut tx = self.begin_locked().await?;
        reconcile(&mut tx, now, false).await?;
        let ended = if logouts.is_empty() {
            Vec::new()
        } else {
            end_sessions(
                &mut tx,
                now,
                &Actor::new("logout", "integration"),
                logouts,
                "logout",
            )
            .await?
            .0
        };
        let (answers, keep) = if logins.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            login_in(&mut tx, now, logins, ids, self.backend).await?
        };
        // Read last, under the lock: the generation (and time limit) the kept answers hold
        // at, including any move this transaction made itself.
        let generation = if keep.is_empty() {
            None
        } else {
            Some(generation_and_limit(&mut tx).await?)
        };
        tx.commit().await?;
        if let Some((generation, valid_until)) = generation {
            self.logins.keep(generation, valid_until, keep);
        }
        Ok((ended, answers))
    }

    /// PostgreSQL (SQLite: `kept_turn`). The generation row is read `FOR SHARE` by these
    /// statements: a writer that has moved it (and may be reading sessions) makes them wait
    /// and then see the new value; one that comes later waits for them to commit, and then
    /// sees what they wrote.
    ///
    /// Ends sessions in one statement, without the write lock, at an unchanged generation:
    /// those of users with no seat releasing (their floating seats go with them, by the
    /// foreign key's cascade). `None` when the generation moved; otherwise the ids ended —
    /// the others (unknown, or a user with a seat to release) take the full path.
    async fn quick_logouts(
        &self,
        generation: i64,
        ids: &[String],
    ) -> Result<Option<BTreeSet<String>>> {
        let mut gone = BTreeSet::new();
        for chunk in ids.chunks(crate::db::CHUNK) {
            let rows = self
                .quick_logout(generation, chunk)
                .fetch_all(&self.pool)
                .await?;
            if rows.is_empty() && self.current_generation().await? != Some(generation) {
                return Ok((!gone.is_empty()).then_some(gone));
            }
            for r in &rows {
                gone.insert(get_str(r, "id")?);
            }
        }
        Ok(Some(gone))
    }

    /// The statement of `quick_logouts` for one chunk of ids; it answers the ids it ended.
    fn quick_logout(&self, generation: i64, ids: &[String]) -> crate::db::Q<'static> {
        let sql = format!(
            "DELETE FROM sessions WHERE id IN ({}) \
             AND NOT EXISTS (SELECT 1 FROM assignments a \
               WHERE a.user_id = sessions.user_id AND a.release_pending = 1) \
             AND (SELECT value FROM meta WHERE key = 'generation' FOR SHARE) = ${} \
             RETURNING id",
            crate::db::placeholders(1, ids.len()),
            ids.len() + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            q = q.bind(id.clone());
        }
        q.bind(generation.to_string())
    }

    async fn current_generation(&self) -> Result<Option<i64>> {
        sqlx::query("SELECT value FROM meta WHERE key = 'generation'")
            .fetch_optional(&self.pool)
            .await?
            .map(|r| get_str(&r, "value").and_then(|v| parse::<i64>(&v)))
            .transpose()
    }

    /// Repeated logins on the user's own seat: per chunk, one statement that inserts the
    /// sessions only if the generation is still the one they were read at — atomic on its
    /// own (autocommit), so no transaction and a single round trip. The answers of the
    /// chunks written; fewer than asked when the generation moved (nothing more is written).
    async fn kept_logins(
        &self,
        now: OffsetDateTime,
        generation: i64,
        found: &[(usize, KeptLogin)],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> Result<Vec<(usize, LoginAnswer)>> {
        let mut answers = Vec::with_capacity(found.len());
        for chunk in found.chunks(KEPT_ROWS) {
            let (q, done) = self.kept_insert(now, generation, chunk, logins, ids);
            if q.execute(&self.pool).await?.rows_affected() != chunk.len() as u64 {
                break;
            }
            answers.extend(done.into_iter().map(|(i, _, a)| (i, a)));
        }
        Ok(answers)
    }

    /// Repeated floating logins: one transaction (no write lock) ends the turn's `logouts`
    /// as `quick_logouts` does (first, so their seats are free), then inserts the sessions at
    /// an unchanged generation and their holds; the holds' trigger counts them into their
    /// pools, whose capacity check refuses the lot if any pool is full (and then nothing of
    /// the transaction, logouts included, is kept).
    async fn kept_floating(
        &self,
        now: OffsetDateTime,
        generation: i64,
        found: &[(usize, KeptLogin)],
        logins: &[LoginRequest],
        logouts: &[String],
        ids: &[String],
    ) -> Result<FloatingOutcome> {
        let mut tx = self.pool.begin().await?;
        let mut gone = BTreeSet::new();
        for chunk in logouts.chunks(crate::db::CHUNK) {
            for r in self
                .quick_logout(generation, chunk)
                .fetch_all(&mut *tx)
                .await?
            {
                gone.insert(get_str(&r, "id")?);
            }
        }
        let mut answers = Vec::with_capacity(found.len());
        let mut holds = Vec::with_capacity(found.len());
        for chunk in found.chunks(KEPT_ROWS) {
            let (q, done) = self.kept_insert(now, generation, chunk, logins, ids);
            if q.execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
                tx.rollback().await?;
                return Ok(FloatingOutcome::Moved);
            }
            for ((_, kept), (i, session_id, answer)) in chunk.iter().zip(done) {
                if let Some(key) = &kept.floating {
                    holds.push(hold_row(session_id, key, now));
                }
                answers.push((i, answer));
            }
        }
        let held = insert_rows(&mut tx, HOLD_INSERT, 6, holds).await;
        if let Err(e) = held {
            // Most likely a pool's capacity check; whatever it is, the full path decides
            // again under the lock and reports what is really wrong.
            tracing::debug!(error = %e, "floating logins from memory refused; deciding in full");
            tx.rollback().await?;
            return Ok(FloatingOutcome::NotNow);
        }
        tx.commit().await?;
        Ok(FloatingOutcome::Done(answers, gone))
    }

    /// The statement that inserts the sessions of `chunk` if the generation is unchanged,
    /// and the answers it stands for: (index in the batch, session id, answer).
    fn kept_insert(
        &self,
        now: OffsetDateTime,
        generation: i64,
        chunk: &[(usize, KeptLogin)],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> (crate::db::Q<'static>, Vec<(usize, String, LoginAnswer)>) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", crate::db::placeholders(r * 5 + 1, 5)))
            .collect();
        let sql = format!(
            "INSERT INTO sessions (id, user_id, started_at, last_seen, client) \
             SELECT v.column1, v.column2, v.column3, v.column4, v.column5 \
             FROM (VALUES {}) AS v \
             WHERE (SELECT value FROM meta WHERE key = 'generation' FOR SHARE) = ${}",
            values.join(", "),
            chunk.len() * 5 + 1
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let mut done = Vec::with_capacity(chunk.len());
        for (i, kept) in chunk {
            let (row, answer) = kept_session(now, kept, logins.get(*i), ids.get(*i));
            q = q
                .bind(row.id.clone())
                .bind(row.user_id)
                .bind(row.at)
                .bind(row.at)
                .bind(row.client);
            done.push((*i, row.id, answer));
        }
        (q.bind(generation.to_string()), done)
    }
}

/// A new session for a login answered from memory: its row and the answer naming it.
fn kept_session(
    now: OffsetDateTime,
    kept: &KeptLogin,
    request: Option<&LoginRequest>,
    id: Option<&String>,
) -> (SessionRow, LoginAnswer) {
    let id = id.cloned().unwrap_or_else(|| new_session_id(now));
    let mut answer = kept.answer.clone();
    answer.session_id = id.clone();
    let row = SessionRow {
        id,
        user_id: kept.user_id,
        at: ts(now),
        client: request.map(|r| r.client.clone()).unwrap_or_default(),
    };
    (row, LoginAnswer::Allowed(answer))
}

/// What `Ledger::kept_turn` is asked to settle.
struct KeptTurn<'a> {
    generation: i64,
    own: &'a [(usize, KeptLogin)],
    floating: &'a [(usize, KeptLogin)],
    logins: &'a [LoginRequest],
    logouts: &'a [String],
    /// The session id of each login of the turn.
    ids: &'a [String],
}

impl Ledger {
    /// SQLite: what the login cache settles in a turn — logouts, logins on the user's own
    /// seat, floating logins — as one transaction on the writer thread (`sqlite_writer`).
    /// The answers it settled and the logouts it ended; `None` when the generation moved.
    async fn kept_turn(
        &self,
        writer: &SqliteWriter,
        now: OffsetDateTime,
        kept: KeptTurn<'_>,
    ) -> Result<Option<(Vec<(usize, LoginAnswer)>, BTreeSet<String>)>> {
        let mut answers = Vec::with_capacity(kept.own.len() + kept.floating.len());
        let mut own_rows = Vec::with_capacity(kept.own.len());
        for (i, k) in kept.own {
            let (row, answer) = kept_session(now, k, kept.logins.get(*i), kept.ids.get(*i));
            own_rows.push(row);
            answers.push((*i, answer));
        }
        let mut floating_answers = Vec::with_capacity(kept.floating.len());
        let mut floating_rows = Vec::with_capacity(kept.floating.len());
        for (i, k) in kept.floating {
            let Some(pool) = &k.floating else { continue };
            let (row, answer) = kept_session(now, k, kept.logins.get(*i), kept.ids.get(*i));
            floating_rows.push((row, HoldRow::from(pool)));
            floating_answers.push((*i, answer));
        }
        let turn = Turn {
            generation: kept.generation,
            logouts: kept.logouts.to_vec(),
            own: own_rows,
            floating: floating_rows,
        };
        Ok(
            match writer.call(move |conn| write_turn(conn, &turn)).await? {
                TurnOutcome::Moved => None,
                TurnOutcome::Done { gone, floating } => {
                    // Not written when a pool was full: those are decided in full.
                    if floating {
                        answers.extend(floating_answers);
                    }
                    Some((answers, gone.into_iter().collect()))
                }
            },
        )
    }
}

/// A row of `floating_holds` (`HOLD_INSERT`): the session holds a seat of `key`.
fn hold_row(session_id: String, key: &PoolKey, now: OffsetDateTime) -> Vec<Val> {
    let h = HoldRow::from(key);
    vec![
        Val::Text(session_id),
        Val::Text(h.product),
        Val::Text(h.area),
        Val::Text(h.kind),
        Val::Int(h.folder_id),
        Val::Int(ts(now)),
    ]
}

const HOLD_INSERT: &str =
    "INSERT INTO floating_holds (session_id, product_code, area, kind, folder_id, acquired_at)";

/// Puts answers settled from memory in their places in the batch.
fn fill(answers: &mut [Option<Result<LoginAnswer>>], done: Vec<(usize, LoginAnswer)>) {
    for (i, a) in done {
        if let Some(slot) = answers.get_mut(i) {
            *slot = Some(Ok(a));
        }
    }
}

/// What failed parts of a turn may have written: the session ids (ended before their logins
/// are decided again) and whether its logouts may have ended.
#[derive(Default)]
struct Doubt {
    sessions: BTreeSet<String>,
    logouts: bool,
}

impl Doubt {
    fn part<'a>(
        &mut self,
        error: &crate::StoreError,
        logins: impl Iterator<Item = &'a (usize, KeptLogin)>,
        ids: &[String],
        logouts: bool,
    ) {
        tracing::warn!(%error, "part of a turn failed; its requests are decided in full");
        self.sessions
            .extend(logins.filter_map(|(i, _)| ids.get(*i).cloned()));
        self.logouts |= logouts;
    }
}

fn unanswered<T>() -> Result<T> {
    Err(crate::StoreError::Corrupt(
        "a request went unanswered".into(),
    ))
}

/// Whether deciding a turn again may succeed: a seat taken concurrently, a lost connection, a
/// deadlock or a busy database pass; a ledger this version cannot read does not.
fn retryable(e: &crate::StoreError) -> bool {
    !matches!(
        e,
        crate::StoreError::Corrupt(_)
            | crate::StoreError::Migrate(_)
            | crate::StoreError::Open { .. }
    )
}

/// The error each request of a turn that could not be decided is answered with (the domain
/// refusal as it is; anything else as "unavailable", which says to try again).
fn answer_error(e: &crate::StoreError) -> crate::StoreError {
    match e {
        crate::StoreError::Domain(d) => crate::StoreError::Domain(d.clone()),
        other => crate::StoreError::Unavailable(other.to_string()),
    }
}

/// How kept floating logins went.
enum FloatingOutcome {
    /// The answers, and the logouts ended.
    Done(Vec<(usize, LoginAnswer)>, BTreeSet<String>),
    /// The generation moved: forget what is kept.
    Moved,
    /// Not settled from memory (a pool is full): decide in full.
    NotNow,
}

/// Rows per statement of kept logins (5 values each).
const KEPT_ROWS: usize = 50;

/// The ledger's generation and the time at which time alone changes capacity next (one read).
async fn generation_and_limit(tx: &mut Tx) -> Result<(i64, Option<i64>)> {
    let mut generation = None;
    let mut valid_until = None;
    for r in sqlx::query("SELECT key, value FROM meta WHERE key IN ($1, $2)")
        .bind("generation")
        .bind(crate::reconcile::VALID_UNTIL)
        .fetch_all(&mut **tx)
        .await?
    {
        let value = get_str(&r, "value")?;
        if get_str(&r, "key")? == "generation" {
            generation = Some(parse::<i64>(&value)?);
        } else if value != "never" {
            valid_until = Some(parse::<i64>(&value)?);
        }
    }
    let generation =
        generation.ok_or_else(|| crate::StoreError::Corrupt("no generation in meta".into()))?;
    Ok((generation, valid_until))
}

/// The login decisions of a batch, inside the caller's write transaction. Few statements
/// whatever the batch size: users (with their license-manager flag), their seats (with the
/// products), limits, folder names, and the free all-modules pools only when someone needs
/// auto-allocation.
async fn login_in(
    tx: &mut Tx,
    now: OffsetDateTime,
    requests: &[LoginRequest],
    session_ids: &[String],
    backend: crate::Backend,
) -> Result<(Vec<LoginAnswer>, Vec<(String, KeptLogin)>)> {
    let vals: Vec<Val> = requests
        .iter()
        .map(|r| Val::Text(r.login.to_ascii_lowercase()))
        .collect();
    let mut users: BTreeMap<String, UserRecord> = BTreeMap::new();
    let mut managers: BTreeSet<i64> = BTreeSet::new();
    for r in fetch_in(
        tx,
        "SELECT u.id, u.login, u.name, u.email, u.area, u.folder_id, u.state, u.builtin, \
             CASE WHEN EXISTS (SELECT 1 FROM role_members m JOIN role_permissions p \
               ON p.role_id = m.role_id WHERE m.user_id = u.id \
               AND p.permission = 'manage_licenses') THEN 1 ELSE 0 END AS manager \
             FROM users u WHERE lower(u.login) IN ({ids})",
        &vals,
        1,
        &[],
    )
    .await?
    {
        let u = crate::loaders::record(&r)?;
        if get_i64(&r, "manager")? == 1 {
            managers.insert(u.id);
        }
        users.insert(u.login.to_ascii_lowercase(), u);
    }
    let ids: Vec<Val> = users.values().map(|u| Val::Int(u.id)).collect();

    let mut products: BTreeMap<String, ProductInfo> = BTreeMap::new();
    let mut held: BTreeMap<i64, Vec<Held>> = BTreeMap::new();
    for r in fetch_in(
        tx,
        "SELECT a.user_id, a.product_code, a.folder_id, a.status, a.release_pending, \
             COALESCE(p.name, a.product_code) AS name, COALESCE(p.features, '[]') AS features, \
             COALESCE(p.all_modules, 0) AS all_modules FROM assignments a \
             LEFT JOIN products p ON p.code = a.product_code \
             WHERE a.user_id IN ({ids}) ORDER BY a.product_code",
        &ids,
        1,
        &[],
    )
    .await?
    {
        let code = get_str(&r, "product_code")?;
        if !products.contains_key(&code) {
            products.insert(code.clone(), product_info(&r)?);
        }
        held.entry(get_i64(&r, "user_id")?).or_default().push(Held {
            product: code,
            folder: FolderId(get_i64(&r, "folder_id")?),
            suspended: get_str(&r, "status")? == "suspended",
            releasing: get_i64(&r, "release_pending")? == 1,
        });
    }
    let mut over_limit: BTreeMap<Area, u64> = BTreeMap::new();
    for r in sqlx::query("SELECT area, active_users, user_limit FROM area_counters")
        .fetch_all(&mut **tx)
        .await?
    {
        if let Some(limit) = get_opt_i64(&r, "user_limit")?.map(count)
            && count(get_i64(&r, "active_users")?) > limit
        {
            over_limit.insert(parse(&get_str(&r, "area")?)?, limit);
        }
    }
    let state = sqlx::query(
        "SELECT (SELECT value FROM meta WHERE key = $1) AS expired, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM packages LIMIT 1) AS any_package) AS loaded",
    )
    .bind(EXPIRED_PRODUCTS.to_string())
    .fetch_one(&mut **tx)
    .await?;
    let expired: Vec<String> = crate::db::get_opt_str(&state, "expired")?
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or_default();
    let licenses_loaded = get_i64(&state, "loaded")? > 0;
    // The free all-modules pools, read only if someone logging in holds no all-modules seat.
    let needs_seat = users.values().any(|u| {
        u.state == UserState::Active
            && !u.builtin
            && !held.get(&u.id).is_some_and(|hs| {
                hs.iter().any(|h| {
                    !h.suspended
                        && !h.releasing
                        && products.get(&h.product).is_some_and(|p| p.all_modules)
                })
            })
    });
    // Free seats per all-modules pool, and each pool's capacity: the first pool in the
    // allocation order by capacity is where a login goes whenever it has a free seat, which
    // is what lets a floating login be repeated from memory (`login_cache`).
    let mut free: BTreeMap<PoolKey, u64> = BTreeMap::new();
    let mut capacity: BTreeMap<PoolKey, u64> = BTreeMap::new();
    if needs_seat {
        // On PostgreSQL the pools are locked until the turn commits: a floating login
        // answered from memory on another node takes its seat without the write lock, and
        // would otherwise take the seat this decision counts as free (the capacity check
        // would then refuse the whole turn). Lock order stays generation, then pools: this
        // transaction touches the generation row, if at all, before this point.
        let lock = match backend {
            crate::Backend::Postgres => " FOR UPDATE OF s",
            crate::Backend::Sqlite => "",
        };
        let sql = format!(
            "SELECT s.product_code, s.area, s.kind, s.folder_id, s.capacity, \
                 s.capacity - s.used AS free, p.name, p.features, p.all_modules \
                 FROM seat_pools s JOIN products p ON p.code = s.product_code \
                 WHERE p.all_modules = 1 AND s.capacity > 0{lock}"
        );
        for r in sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut **tx)
            .await?
        {
            let key = crate::loaders::pool_key(&r)?;
            if !products.contains_key(&key.product) {
                products.insert(key.product.clone(), product_info(&r)?);
            }
            capacity.insert(key.clone(), count(get_i64(&r, "capacity")?));
            free.insert(key, count(get_i64(&r, "free")?));
        }
    }
    let tree = FolderTree::load(tx).await?;
    let mut answers = Vec::with_capacity(requests.len());
    let mut sessions = Vec::new();
    let mut holds = Vec::new();
    let mut new_named = Vec::new();
    let mut entries = Vec::new();
    let mut keep = Vec::new();
    for (i, req) in requests.iter().enumerate() {
        let Some(user) = users.get(&req.login.to_ascii_lowercase()) else {
            answers.push(refuse(&req.login, Refusal::UnknownUser));
            continue;
        };
        if user.state == UserState::Blocked {
            answers.push(refuse(&user.login, Refusal::Blocked));
            continue;
        }
        // With no license loaded at all (L5), only the built-in administrator gets in.
        let manager = user.builtin || (licenses_loaded && managers.contains(&user.id));
        let mut allowed_seats = true;
        if !user.builtin
            && let Some(limit) = over_limit.get(&user.area)
            && !within_area_limit(area_rank(tx, user).await?, Some(*limit))
        {
            if !manager {
                answers.push(refuse(&user.login, Refusal::AreaLimit));
                continue;
            }
            // A license manager still gets in, to the license manager only.
            allowed_seats = false;
        }
        let own = held.entry(user.id).or_default();
        let mut session_products: Vec<SessionProduct> = Vec::new();
        let mut auto = None;
        // The floating pool taken, when it is the one any login of this user goes to first.
        let mut first_floating = None;
        let session_id = session_ids
            .get(i)
            .cloned()
            .unwrap_or_else(|| new_session_id(now));
        if allowed_seats {
            for h in own.iter().filter(|h| !h.suspended && !h.releasing) {
                session_products.push(product_view(
                    &products,
                    &tree,
                    &h.product,
                    SeatUse::Dedicated,
                    h.folder,
                ));
            }
            let has_all_modules = session_products.iter().any(|p| p.all_modules);
            // The built-in administrator is let in without a seat and never takes a paid
            // one by auto-allocation (it would keep it, and a real user would go without).
            if !has_all_modules && !user.builtin {
                // Products the user has a row for (suspended, releasing) cannot get a
                // second named row; floating seats of them are fine.
                let taken: BTreeSet<&str> = own.iter().map(|h| h.product.as_str()).collect();
                let candidates: BTreeMap<PoolKey, u64> = free
                    .iter()
                    .filter(|(k, _)| {
                        k.kind == SeatKind::Concurrent || !taken.contains(k.product.as_str())
                    })
                    .map(|(k, n)| (k.clone(), *n))
                    .collect();
                if let Some(key) = pick_seat(user.area, user.folder, &candidates) {
                    if let Some(n) = free.get_mut(&key) {
                        *n -= 1;
                    }
                    let by_capacity: BTreeMap<PoolKey, u64> = capacity
                        .iter()
                        .filter(|(k, _)| candidates.contains_key(k))
                        .map(|(k, n)| (k.clone(), *n))
                        .collect();
                    if key.kind == SeatKind::Concurrent
                        && pick_seat(user.area, user.folder, &by_capacity).as_ref() == Some(&key)
                    {
                        first_floating = Some(key.clone());
                    }
                    let seat = match key.kind {
                        SeatKind::Concurrent => {
                            holds.push(hold_row(session_id.clone(), &key, now));
                            SeatUse::Floating
                        }
                        SeatKind::Named => {
                            new_named.push(vec![
                                Val::Int(user.id),
                                Val::Text(key.product.clone()),
                                Val::Text(key.area.as_str().into()),
                                Val::Text(key.kind.as_str().into()),
                                Val::Int(key.folder.0),
                                Val::Text("active".into()),
                                Val::Int(1),
                                Val::Int(ts(now)),
                                Val::Text("auto-allocation at login".into()),
                            ]);
                            entries.push(Audit::new(
                                "license.auto_allocate",
                                &user.login,
                                json!({"product": key.product, "folder": tree.path(key.folder)}),
                            ));
                            own.push(Held {
                                product: key.product.clone(),
                                folder: key.folder,
                                suspended: false,
                                releasing: false,
                            });
                            SeatUse::Dedicated
                        }
                    };
                    let p = product_view(&products, &tree, &key.product, seat, key.folder);
                    auto = Some(p.clone());
                    session_products.push(p);
                }
            }
        }
        if session_products.is_empty() && !manager {
            let suspended = own.iter().any(|h| h.suspended);
            answers.push(refuse(
                &user.login,
                if suspended {
                    Refusal::LicensesExpired
                } else {
                    Refusal::NoLicense
                },
            ));
            continue;
        }
        sessions.push(vec![
            Val::Text(session_id.clone()),
            Val::Int(user.id),
            Val::Int(ts(now)),
            Val::Int(ts(now)),
            Val::Text(req.client.clone()),
        ]);
        let features: BTreeSet<String> = session_products
            .iter()
            .flat_map(|p| p.features.iter().cloned())
            .collect();
        // The same answer holds for this user's next login for as long as nothing it
        // depends on changes, provided no user-limit rank was involved and it took either
        // no seat (the user's own all-modules seat) or a floating seat of the first pool in
        // the allocation order (a later login takes one there too, or is decided in full).
        let own_all_modules = auto.is_none()
            && session_products
                .iter()
                .any(|p| p.all_modules && p.seat == SeatUse::Dedicated);
        let repeatable = allowed_seats
            && !over_limit.contains_key(&user.area)
            && (own_all_modules || first_floating.is_some());
        let allowed = AllowedLogin {
            session_id,
            login: user.login.clone(),
            name: user.name.clone(),
            area: user.area,
            all_modules: session_products.iter().any(|p| p.all_modules),
            features: features.into_iter().collect(),
            products: session_products,
            auto_allocated: auto,
            license_manager: manager,
            licenses_expired: manager && !expired.is_empty(),
            expired_products: if manager { expired.clone() } else { Vec::new() },
            licenses_loaded: licenses_loaded || !manager,
        };
        if repeatable {
            keep.push((
                crate::login_cache::key(&user.login),
                KeptLogin {
                    user_id: user.id,
                    answer: AllowedLogin {
                        session_id: String::new(),
                        ..allowed.clone()
                    },
                    floating: first_floating,
                },
            ));
        }
        answers.push(LoginAnswer::Allowed(allowed));
    }
    insert_rows(
        tx,
        "INSERT INTO sessions (id, user_id, started_at, last_seen, client)",
        5,
        sessions,
    )
    .await?;
    insert_rows(tx, HOLD_INSERT, 6, holds).await?;
    insert_rows(
        tx,
        "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, \
             manual, granted_at, granted_by)",
        9,
        new_named,
    )
    .await?;
    audit(tx, now, &Actor::new("login", "integration"), entries).await?;
    Ok((answers, keep))
}

impl Ledger {
    /// Ends sessions at the application's request. `false` for ids that had already ended.
    pub async fn logout_many(&self, ids: &[String]) -> Result<Vec<bool>> {
        self.gate_batch(ids, &[]).await.ended.into_iter().collect()
    }

    /// Keeps sessions alive. `false` for ids that have ended (the application must log in
    /// again). One statement, no write lock: it touches no seat.
    pub async fn heartbeat_many(&self, ids: &[String]) -> Result<Vec<bool>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let now = ts(self.now());
        let mut alive = BTreeSet::new();
        for chunk in ids.chunks(crate::db::CHUNK) {
            let sql = format!(
                "UPDATE sessions SET last_seen = $1 WHERE id IN ({}) RETURNING id",
                crate::db::placeholders(2, chunk.len())
            );
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
            for id in chunk {
                q = q.bind(id.clone());
            }
            for r in q.fetch_all(&self.pool).await? {
                alive.insert(get_str(&r, "id")?);
            }
        }
        Ok(ids.iter().map(|i| alive.contains(i)).collect())
    }

    /// S3: ends every session idle for longer than `idle` (no heartbeat), freeing its seats.
    /// Safe to run on every node at once: each session ends exactly once.
    pub async fn reap_idle(&self, idle: Duration) -> Result<EndedSessions> {
        let now = self.now();
        let cutoff = ts(now) - i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        // Ending sessions changes no remembered login answer (a released seat goes through
        // `reconcile`, which moves the generation).
        let mut tx = self.begin_locked().await?;
        let ids: Vec<String> = sqlx::query("SELECT id FROM sessions WHERE last_seen < $1")
            .bind(cutoff)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| get_str(r, "id"))
            .collect::<Result<_>>()?;
        let (_, report) = end_sessions(
            &mut tx,
            now,
            &Actor::new("reaper", "seatkeeper"),
            &ids,
            "idle timeout",
        )
        .await?;
        if report.ended > 0 {
            audit(
                &mut tx,
                now,
                &Actor::new("reaper", "seatkeeper"),
                vec![Audit::new(
                    "session.reap",
                    "sessions",
                    json!({"ended": report.ended, "idle_secs": idle.as_secs()}),
                )],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(report)
    }

    /// An administrator ends a session (the user is logged out at the next heartbeat).
    pub async fn end_session(&self, actor: &Actor, id: &str) -> Result<EndedSessions> {
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let (found, report) = end_sessions(
            &mut tx,
            now,
            actor,
            &[id.to_string()],
            "ended by administrator",
        )
        .await?;
        if !found.first().copied().unwrap_or(false) {
            return Err(DomainError::UnknownSession(id.to_string()).into());
        }
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new("session.end", id, json!({}))],
        )
        .await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Live sessions, newest first; `login` narrows to one user.
    pub async fn sessions(
        &self,
        login: Option<&str>,
        limit: u64,
        offset: u64,
    ) -> Result<Vec<SessionView>> {
        let limit = i64::try_from(limit.min(10_000)).unwrap_or(10_000);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT s.id, u.login, s.client, s.started_at, s.last_seen FROM sessions s \
             JOIN users u ON u.id = s.user_id \
             WHERE ($1 = '' OR lower(u.login) = $1) \
             ORDER BY s.started_at DESC, s.id LIMIT $2 OFFSET $3",
        )
        .bind(login.unwrap_or("").to_ascii_lowercase())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(SessionView {
                id: get_str(r, "id")?,
                login: get_str(r, "login")?,
                client: get_str(r, "client")?,
                started_at: dt(get_i64(r, "started_at")?)?,
                last_seen: dt(get_i64(r, "last_seen")?)?,
                floating: Vec::new(),
            });
        }
        let ids: Vec<Val> = out.iter().map(|s| Val::Text(s.id.clone())).collect();
        let index: BTreeMap<String, usize> = out
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        let mut tx = self.pool.begin().await?;
        for r in fetch_in(
            &mut tx,
            "SELECT session_id, product_code FROM floating_holds WHERE session_id IN ({ids}) \
             ORDER BY product_code",
            &ids,
            1,
            &[],
        )
        .await?
        {
            if let Some(i) = index.get(&get_str(&r, "session_id")?) {
                out[*i].floating.push(get_str(&r, "product_code")?);
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// "May this session (or user) use feature F?" A feature is granted by a product that
    /// lists it, by an all-modules product, or by naming the product itself.
    pub async fn entitlement(
        &self,
        session: Option<&str>,
        login: Option<&str>,
        feature: &str,
    ) -> Result<EntitlementAnswer> {
        self.ensure_current().await?;
        let mut tx = self.pool.begin().await?;
        let user: UserRecord = match (session, login) {
            (Some(s), _) => {
                let row = sqlx::query("SELECT u.login FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1")
                    .bind(s.to_string())
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or_else(|| DomainError::UnknownSession(s.to_string()))?;
                crate::loaders::user_by_login(&mut tx, &get_str(&row, "login")?).await?
            }
            (None, Some(l)) => crate::loaders::user_by_login(&mut tx, l).await?,
            (None, None) => {
                return Err(DomainError::Invalid("name a session or a user".into()).into());
            }
        };
        let mut held: BTreeSet<String> = BTreeSet::new();
        if user.state == UserState::Active {
            for r in sqlx::query(
                "SELECT product_code FROM assignments WHERE user_id = $1 AND status = 'active'",
            )
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?
            {
                held.insert(get_str(&r, "product_code")?);
            }
            let floating = match session {
                Some(s) => {
                    sqlx::query("SELECT product_code FROM floating_holds WHERE session_id = $1")
                        .bind(s.to_string())
                        .fetch_all(&mut *tx)
                        .await?
                }
                None => {
                    sqlx::query(
                        "SELECT h.product_code FROM floating_holds h JOIN sessions s \
                     ON s.id = h.session_id WHERE s.user_id = $1",
                    )
                    .bind(user.id)
                    .fetch_all(&mut *tx)
                    .await?
                }
            };
            for r in floating {
                held.insert(get_str(&r, "product_code")?);
            }
        }
        let products = load_products(&mut tx).await?;
        tx.commit().await?;
        let via: Vec<String> = held
            .into_iter()
            .filter(|code| {
                products.get(code).is_some_and(|p| {
                    p.all_modules
                        || code.eq_ignore_ascii_case(feature)
                        || p.features.iter().any(|f| f.eq_ignore_ascii_case(feature))
                })
            })
            .collect();
        Ok(EntitlementAnswer {
            login: user.login,
            feature: feature.to_string(),
            allowed: !via.is_empty(),
            via,
        })
    }
}

fn refuse(login: &str, reason: Refusal) -> LoginAnswer {
    LoginAnswer::Refused(RefusedLogin {
        login: login.to_string(),
        reason,
        message: reason.message().to_string(),
    })
}

/// The user's place among the area's active users, oldest first (0 = oldest).
async fn area_rank(tx: &mut Tx, user: &UserRecord) -> Result<u64> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n FROM users o, users me WHERE me.id = $1 AND o.area = me.area \
         AND o.state = 'active' AND o.builtin = 0 \
         AND (o.created_at < me.created_at OR (o.created_at = me.created_at AND o.id < me.id))",
    )
    .bind(user.id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(count(get_i64(&row, "n")?))
}
