//! The integration API's logins and logouts, a batch at a time (S1–S4): the server's gate
//! gathers concurrent requests and hands them here together (group commit).
//!
//! A batch goes in two steps. What this process remembers (`login_cache`) is settled first,
//! without the write lock and valid only at an unchanged generation: logouts of users with
//! nothing releasing, repeated logins on the user's own seat, repeated floating logins — on
//! SQLite by the writer thread (`sqlite_writer`), on PostgreSQL by a statement or two here.
//! Everything else is decided in full (`logins`, `logouts`) in one write transaction.

use std::collections::BTreeSet;
use std::time::Duration;

use time::OffsetDateTime;

use crate::db::{Tx, get_str, insert_rows, parse, placeholders, ts};
use crate::login_cache::RememberedLogin;
use crate::logins::log_in;
use crate::logouts::end_sessions;
use crate::session_rows::{
    HOLD_INSERT, HOLD_WIDTH, HoldRow, SESSION_INSERT, SESSION_WIDTH, SessionRow, generation_is,
    new_session_id, nothing_releasing,
};
use crate::sessions::{LoginAnswer, LoginRequest};
use crate::sqlite_writer::{RememberedBatch, RememberedOutcome, SqliteWriter, write_remembered};
use crate::{Actor, Ledger, Result};

/// What a batch of logouts and logins came to ([`Ledger::log_out_and_in`]): an answer or an
/// error per request, in order.
///
/// Parts of a batch commit separately (what the login cache settles goes first), so a failure
/// late in the batch never takes back an answer already settled: each request has its own
/// result.
#[derive(Debug)]
pub struct SessionBatchAnswers {
    /// Per logout: whether it ended a live session (`false`: it had already ended).
    pub ended: Vec<Result<bool>>,
    pub answers: Vec<Result<LoginAnswer>>,
}

/// How often the full path is tried for one batch before its requests are answered with the
/// error (a seat taken concurrently by a login answered from memory on another node, a
/// dropped connection, a deadlock: all pass on a second try).
const FULL_PATH_TRIES: u32 = 4;

impl Ledger {
    /// S1, S2: logs users in, in order. Each answer is an allowed session (with the products
    /// and features it may use) or a refusal with its reason.
    pub async fn login_many(&self, requests: &[LoginRequest]) -> Result<Vec<LoginAnswer>> {
        self.log_out_and_in(&[], requests)
            .await
            .answers
            .into_iter()
            .collect()
    }

    /// Ends sessions at the application's request. `false` for ids that had already ended.
    pub async fn logout_many(&self, ids: &[String]) -> Result<Vec<bool>> {
        self.log_out_and_in(ids, &[])
            .await
            .ended
            .into_iter()
            .collect()
    }

    /// Ends the `logouts` (first, so their seats are there for the logins) and decides the
    /// `logins` (S1–S4), as one batch: the server's gate hands every batch of its group commit
    /// here, and `login_many`/`logout_many` are batches of one kind.
    ///
    /// What this process remembers (`login_cache`) goes first, each part in one short
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
    pub async fn log_out_and_in(
        &self,
        logouts: &[String],
        logins: &[LoginRequest],
    ) -> SessionBatchAnswers {
        if logouts.is_empty() && logins.is_empty() {
            return SessionBatchAnswers {
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
                let remembered = RememberedLogins {
                    generation,
                    own: &own,
                    floating: &floating,
                    logins,
                    logouts,
                    ids: &ids,
                };
                match self
                    .write_remembered_on_sqlite(writer, now, remembered)
                    .await
                {
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
                // The logouts share the floating logins' transaction: one commit for the batch.
                match self
                    .insert_remembered_floating(
                        now,
                        hits.generation,
                        &floating,
                        logins,
                        logouts,
                        &ids,
                    )
                    .await
                {
                    Ok(FloatingOutcome::Done(done, gone)) => {
                        fill(&mut answers, done);
                        mark_ended(&mut ended, &gone);
                        logouts_done = true;
                    }
                    Ok(FloatingOutcome::Moved) => moved = true,
                    // A pool is full: the full path decides (another pool, or a refusal).
                    Ok(FloatingOutcome::PoolFull) => {}
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
                match self.logouts_if_nothing_releasing(generation, logouts).await {
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
                    .insert_remembered_own_seat(now, hits.generation, &own, logins, &ids)
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

        // What the parts above left unsettled, each beside the slot its answer goes to.
        let mut rest_logouts: Vec<_> = ended
            .iter_mut()
            .zip(logouts)
            .filter(|(slot, _)| slot.is_none())
            .collect();
        let mut rest: Vec<_> = answers
            .iter_mut()
            .zip(logins.iter().zip(&ids))
            .filter(|(slot, _)| slot.is_none())
            .collect();
        if !rest_logouts.is_empty() || !rest.is_empty() || !doubt.sessions.is_empty() {
            let logout_ids: Vec<String> =
                rest_logouts.iter().map(|(_, id)| (*id).clone()).collect();
            let requests: Vec<LoginRequest> = rest.iter().map(|(_, (r, _))| (*r).clone()).collect();
            let rest_ids: Vec<String> = rest.iter().map(|(_, (_, id))| (*id).clone()).collect();
            let mut tries = 0;
            let outcome = loop {
                tries += 1;
                // The sessions in doubt end first, in the transaction that decides again.
                let mut ending = logout_ids.clone();
                ending.extend(doubt.sessions.iter().cloned());
                match self
                    .decide_in_full(now, &ending, &requests, &rest_ids)
                    .await
                {
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
                    for ((slot, _), e) in rest_logouts.iter_mut().zip(full_ended) {
                        // A logout whose session a failed part may already have ended.
                        **slot = Some(Ok(e || doubt.logouts));
                    }
                    for ((slot, _), a) in rest.iter_mut().zip(decided) {
                        **slot = Some(Ok(a));
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, logins = rest.len(), logouts = rest_logouts.len(),
                        "batch could not be decided; answering its requests with the error");
                    self.end_in_doubt(now, &doubt.sessions).await;
                    for (slot, _) in rest_logouts {
                        *slot = Some(Err(answer_error(&e)));
                    }
                    for (slot, _) in rest {
                        *slot = Some(Err(answer_error(&e)));
                    }
                }
            }
        }
        SessionBatchAnswers {
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

    /// Last resort after a batch failed for good: ends the sessions it may have written, so
    /// they hold no seat. If even that fails, the idle reaper ends them after the timeout.
    async fn end_in_doubt(&self, now: OffsetDateTime, sessions: &BTreeSet<String>) {
        if sessions.is_empty() {
            return;
        }
        let ids: Vec<String> = sessions.iter().cloned().collect();
        if let Err(e) = self.decide_in_full(now, &ids, &[], &[]).await {
            tracing::error!(error = %e, sessions = ids.len(),
                "sessions of a failed batch may be left until the idle reaper ends them");
        }
    }

    /// The full path: the write lock, time-driven changes, logouts, then every login decided
    /// on the state it is applied to. Answers that may be repeated from memory are remembered.
    async fn decide_in_full(
        &self,
        now: OffsetDateTime,
        logouts: &[String],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> Result<(Vec<bool>, Vec<LoginAnswer>)> {
        let mut tx = self.begin_locked().await?;
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
            log_in(&mut tx, now, logins, ids, self.backend).await?
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

    /// PostgreSQL (SQLite: `write_remembered_on_sqlite`). The generation row is read `FOR SHARE`
    /// by these statements (`session_rows::generation_is`).
    ///
    /// Ends sessions in one statement, without the write lock, at an unchanged generation:
    /// those of users with no seat releasing (their floating seats go with them, by the
    /// foreign key's cascade). `None` when the generation moved; otherwise the ids ended —
    /// the others (unknown, or a user with a seat to release) take the full path.
    async fn logouts_if_nothing_releasing(
        &self,
        generation: i64,
        ids: &[String],
    ) -> Result<Option<BTreeSet<String>>> {
        let mut gone = BTreeSet::new();
        for chunk in ids.chunks(crate::db::CHUNK) {
            // Watched: the seats it frees can re-arm a seat threshold (see `outbox`); a
            // level that drops and rises again between two settled commits is not seen.
            let mut tx = Tx::watched(self.pool.begin().await?, self.now());
            let rows = self
                .logout_if_nothing_releasing(generation, chunk)
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            if rows.is_empty() && self.current_generation().await? != Some(generation) {
                return Ok((!gone.is_empty()).then_some(gone));
            }
            for r in &rows {
                gone.insert(get_str(r, "id")?);
            }
        }
        Ok(Some(gone))
    }

    /// The statement of `logouts_if_nothing_releasing` for one chunk of ids; it answers the
    /// ids it ended.
    fn logout_if_nothing_releasing(
        &self,
        generation: i64,
        ids: &[String],
    ) -> crate::db::Q<'static> {
        let sql = format!(
            "DELETE FROM sessions WHERE id IN ({}) AND {} AND {} RETURNING id",
            placeholders(1, ids.len()),
            nothing_releasing!(),
            generation_is(ids.len() + 1)
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
    async fn insert_remembered_own_seat(
        &self,
        now: OffsetDateTime,
        generation: i64,
        found: &[(usize, RememberedLogin)],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> Result<Vec<(usize, LoginAnswer)>> {
        let mut answers = Vec::with_capacity(found.len());
        for chunk in found.chunks(REMEMBERED_ROWS) {
            let (q, done) = self.remembered_sessions_insert(now, generation, chunk, logins, ids);
            if q.execute(&self.pool).await?.rows_affected() != chunk.len() as u64 {
                break;
            }
            answers.extend(done.into_iter().map(|(i, _, a)| (i, a)));
        }
        Ok(answers)
    }

    /// Repeated floating logins: one transaction (no write lock) ends the batch's `logouts`
    /// as `logouts_if_nothing_releasing` does (first, so their seats are free), then inserts the sessions at
    /// an unchanged generation and their holds; the holds' trigger counts them into their
    /// pools, whose capacity check refuses the lot if any pool is full (and then nothing of
    /// the transaction, logouts included, is kept).
    async fn insert_remembered_floating(
        &self,
        now: OffsetDateTime,
        generation: i64,
        found: &[(usize, RememberedLogin)],
        logins: &[LoginRequest],
        logouts: &[String],
        ids: &[String],
    ) -> Result<FloatingOutcome> {
        // Watched: the holds it takes can cross a seat threshold (see `outbox`).
        let mut tx = Tx::watched(self.pool.begin().await?, now);
        let mut gone = BTreeSet::new();
        for chunk in logouts.chunks(crate::db::CHUNK) {
            for r in self
                .logout_if_nothing_releasing(generation, chunk)
                .fetch_all(&mut *tx)
                .await?
            {
                gone.insert(get_str(&r, "id")?);
            }
        }
        let mut answers = Vec::with_capacity(found.len());
        let mut holds = Vec::with_capacity(found.len());
        for chunk in found.chunks(REMEMBERED_ROWS) {
            let (q, done) = self.remembered_sessions_insert(now, generation, chunk, logins, ids);
            if q.execute(&mut *tx).await?.rows_affected() != chunk.len() as u64 {
                tx.rollback().await?;
                return Ok(FloatingOutcome::Moved);
            }
            for ((_, remembered), (i, session_id, answer)) in chunk.iter().zip(done) {
                if let Some(pool) = &remembered.floating {
                    let hold = HoldRow {
                        session_id,
                        pool: pool.clone(),
                        at: ts(now),
                    };
                    holds.push(hold.values().to_vec());
                }
                answers.push((i, answer));
            }
        }
        let held = insert_rows(&mut tx, HOLD_INSERT, HOLD_WIDTH, holds).await;
        if let Err(e) = held {
            // Most likely a pool's capacity check; whatever it is, the full path decides
            // again under the lock and reports what is really wrong.
            tracing::debug!(error = %e, "floating logins from memory refused; deciding in full");
            tx.rollback().await?;
            return Ok(FloatingOutcome::PoolFull);
        }
        tx.commit().await?;
        Ok(FloatingOutcome::Done(answers, gone))
    }

    /// The statement that inserts the sessions of `chunk` if the generation is unchanged,
    /// and the answers it stands for: (index in the batch, session id, answer).
    fn remembered_sessions_insert(
        &self,
        now: OffsetDateTime,
        generation: i64,
        chunk: &[(usize, RememberedLogin)],
        logins: &[LoginRequest],
        ids: &[String],
    ) -> (crate::db::Q<'static>, Vec<(usize, String, LoginAnswer)>) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", placeholders(r * SESSION_WIDTH + 1, SESSION_WIDTH)))
            .collect();
        let sql = format!(
            "{SESSION_INSERT} SELECT v.column1, v.column2, v.column3, v.column4, v.column5 \
             FROM (VALUES {}) AS v WHERE {}",
            values.join(", "),
            generation_is(chunk.len() * SESSION_WIDTH + 1)
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        let mut done = Vec::with_capacity(chunk.len());
        for (i, remembered) in chunk {
            let (row, answer) = remembered_session(now, remembered, logins.get(*i), ids.get(*i));
            for v in row.values() {
                q = crate::db::bind(q, v);
            }
            done.push((*i, row.id, answer));
        }
        (q.bind(generation.to_string()), done)
    }
}

/// A new session for a login answered from memory: its row and the answer naming it.
fn remembered_session(
    now: OffsetDateTime,
    remembered: &RememberedLogin,
    request: Option<&LoginRequest>,
    id: Option<&String>,
) -> (SessionRow, LoginAnswer) {
    let id = id.cloned().unwrap_or_else(|| new_session_id(now));
    let mut answer = remembered.answer.clone();
    answer.session_id = id.clone();
    let row = SessionRow {
        id,
        user_id: remembered.user_id,
        at: ts(now),
        client: request.map(|r| r.client.clone()).unwrap_or_default(),
    };
    (row, LoginAnswer::Allowed(answer))
}

/// What `Ledger::write_remembered_on_sqlite` is asked to settle: the batch's logouts and its
/// logins answered from memory, on the user's own seat or on a floating one.
struct RememberedLogins<'a> {
    generation: i64,
    own: &'a [(usize, RememberedLogin)],
    floating: &'a [(usize, RememberedLogin)],
    logins: &'a [LoginRequest],
    logouts: &'a [String],
    /// The session id of each login of the batch.
    ids: &'a [String],
}

impl Ledger {
    /// SQLite: what the login cache settles in a batch — logouts, logins on the user's own
    /// seat, floating logins — as one transaction on the writer thread (`sqlite_writer`).
    /// The answers it settled and the logouts it ended; `None` when the generation moved.
    async fn write_remembered_on_sqlite(
        &self,
        writer: &SqliteWriter,
        now: OffsetDateTime,
        batch: RememberedLogins<'_>,
    ) -> Result<Option<(Vec<(usize, LoginAnswer)>, BTreeSet<String>)>> {
        let mut answers = Vec::with_capacity(batch.own.len() + batch.floating.len());
        let mut own_rows = Vec::with_capacity(batch.own.len());
        for (i, r) in batch.own {
            let (row, answer) = remembered_session(now, r, batch.logins.get(*i), batch.ids.get(*i));
            own_rows.push(row);
            answers.push((*i, answer));
        }
        let mut floating_answers = Vec::with_capacity(batch.floating.len());
        let mut floating_rows = Vec::with_capacity(batch.floating.len());
        for (i, r) in batch.floating {
            let Some(pool) = &r.floating else { continue };
            let (row, answer) = remembered_session(now, r, batch.logins.get(*i), batch.ids.get(*i));
            let hold = HoldRow {
                session_id: row.id.clone(),
                pool: pool.clone(),
                at: row.at,
            };
            floating_rows.push((row, hold));
            floating_answers.push((*i, answer));
        }
        let write = RememberedBatch {
            now,
            generation: batch.generation,
            logouts: batch.logouts.to_vec(),
            own: own_rows,
            floating: floating_rows,
        };
        Ok(
            match writer
                .call(move |conn| write_remembered(conn, &write))
                .await?
            {
                RememberedOutcome::Moved => None,
                RememberedOutcome::Written { gone, floating } => {
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

/// Puts answers settled from memory in their places in the batch.
fn fill(answers: &mut [Option<Result<LoginAnswer>>], done: Vec<(usize, LoginAnswer)>) {
    for (i, a) in done {
        if let Some(slot) = answers.get_mut(i) {
            *slot = Some(Ok(a));
        }
    }
}

/// What failed parts of a batch may have written: the session ids (ended before their logins
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
        logins: impl Iterator<Item = &'a (usize, RememberedLogin)>,
        ids: &[String],
        logouts: bool,
    ) {
        tracing::warn!(%error, "part of a batch failed; its requests are decided in full");
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

/// Whether deciding a batch again may succeed: a seat taken concurrently, a lost connection, a
/// deadlock or a busy database pass; a ledger this version cannot read does not.
fn retryable(e: &crate::StoreError) -> bool {
    !matches!(
        e,
        crate::StoreError::Corrupt(_)
            | crate::StoreError::Migrate(_)
            | crate::StoreError::Open { .. }
    )
}

/// The error each request of a batch that could not be decided is answered with (the domain
/// refusal as it is; anything else as "unavailable", which says to try again).
fn answer_error(e: &crate::StoreError) -> crate::StoreError {
    match e {
        crate::StoreError::Domain(d) => crate::StoreError::Domain(d.clone()),
        other => crate::StoreError::Unavailable(other.to_string()),
    }
}

/// How remembered floating logins went.
enum FloatingOutcome {
    /// The answers, and the logouts ended.
    Done(Vec<(usize, LoginAnswer)>, BTreeSet<String>),
    /// The generation moved: forget what is kept.
    Moved,
    /// The database refused the holds (most likely a pool is full): decide in full, which
    /// takes another pool or refuses, and reports what is really wrong.
    PoolFull,
}

/// Rows per statement of remembered logins (`SESSION_WIDTH` values each).
const REMEMBERED_ROWS: usize = 50;

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
