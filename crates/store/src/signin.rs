//! Password guessing (issue 13): the per-login failure count and lockout, kept in the ledger
//! so that it holds across every node of one PostgreSQL, and the audit records of sign-ins.
//! The rule itself is `seatkeeper_core::signin`.

use seatkeeper_core::signin::{Attempt, SigninPolicy, Throttle};
use serde_json::json;
use time::OffsetDateTime;

use crate::db::{Audit, Backend, Tx, audit, dt, get_i64, get_opt_i64, ts};
use crate::{Actor, Ledger, Result};

/// Longest key kept per login: longer logins cannot exist, and an attacker's megabyte login
/// must not become a megabyte row.
const KEY_CHARS: usize = 200;

/// The key of a login's failures: as the users table compares logins (ASCII lower case).
pub(crate) fn throttle_key(login: &str) -> String {
    login
        .chars()
        .take(KEY_CHARS)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Whether a sign-in attempt may check its password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninCheck {
    /// Locked: refuse without checking the password, even a right one.
    Locked { until: OffsetDateTime },
    /// Check the password. `locks_until`: this is the window's last attempt, and the login is
    /// already locked until then unless the password is right.
    Allowed { locks_until: Option<OffsetDateTime> },
}

/// Why a sign-in was refused, for its audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigninRefusal {
    /// The password was checked: `reason` is `wrong_password`, `unknown_login`,
    /// `no_password` (not an administrator) or `blocked`. `locked_until`: this failure was
    /// the window's last, and the login is now locked.
    Failed {
        reason: &'static str,
        locked_until: Option<OffsetDateTime>,
    },
    /// Refused without a check: the login is locked.
    Locked { until: OffsetDateTime },
}

impl Ledger {
    /// Counts one sign-in attempt for `login` before its password is checked, and says
    /// whether it may be checked. Logins without an account are counted too, so that a
    /// lockout says nothing about which logins exist.
    pub async fn signin_attempt(&self, login: &str, policy: &SigninPolicy) -> Result<SigninCheck> {
        let key = throttle_key(login);
        let now = self.now();
        let mut tx = self.begin_rows().await?;
        let stored = locked_row(&mut tx, self.backend, &key).await?;
        let check = match policy.attempt(stored, ts(now)) {
            Attempt::Locked { until } => SigninCheck::Locked { until: dt(until)? },
            Attempt::Allowed { next, .. } => {
                sqlx::query(
                    "UPDATE signin_throttle SET failures = $2, window_start = $3, \
                     locked_until = $4 WHERE login = $1",
                )
                .bind(key)
                .bind(i64::from(next.failures))
                .bind(next.window_start)
                .bind(next.locked_until)
                .execute(&mut *tx)
                .await?;
                SigninCheck::Allowed {
                    locks_until: next.locked_until.map(dt).transpose()?,
                }
            }
        };
        tx.commit().await?;
        Ok(check)
    }

    /// Records a refused sign-in (`auth.signin_failed`); when it locked the login, also
    /// `auth.locked` and, for a real account, a message to the administrators.
    pub async fn signin_refused(
        &self,
        actor: &Actor,
        login: &str,
        refusal: SigninRefusal,
    ) -> Result<()> {
        let now = self.now();
        let target = throttle_key(login);
        let mut tx = self.begin_rows().await?;
        let mut entries = Vec::new();
        match refusal {
            SigninRefusal::Locked { until } => entries.push(Audit::new(
                "auth.signin_failed",
                &target,
                json!({"reason": "locked", "locked_until": rfc3339(until)}),
            )),
            SigninRefusal::Failed {
                reason,
                locked_until,
            } => {
                entries.push(Audit::new(
                    "auth.signin_failed",
                    &target,
                    json!({"reason": reason}),
                ));
                if let Some(until) = locked_until {
                    entries.push(Audit::new(
                        "auth.locked",
                        &target,
                        json!({"locked_until": rfc3339(until)}),
                    ));
                    let account = sqlx::query("SELECT login FROM users WHERE lower(login) = $1")
                        .bind(target.clone())
                        .fetch_optional(&mut *tx)
                        .await?;
                    // Only real accounts: a message per invented login would let anyone
                    // flood the administrators' inbox.
                    if let Some(row) = account {
                        let login = crate::db::get_str(&row, "login")?;
                        crate::messages::post_message(
                            &mut tx,
                            now,
                            "signin_locked",
                            &format!(
                                "Sign-in for {login} locked until {} after repeated wrong passwords",
                                rfc3339(until)
                            ),
                            &json!({
                                "login": login,
                                "locked_until": rfc3339(until),
                                "address": actor.address,
                                "user_agent": actor.user_agent,
                                "what_next": "if this was not the administrator, find who uses \
                                    this address; the lock ends by itself, or sooner with \
                                    `seatkeeper admin unlock LOGIN`",
                            }),
                        )
                        .await?;
                    }
                }
            }
        }
        audit(&mut tx, now, actor, entries).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends a login's lockout and forgets its failures (`seatkeeper admin unlock`). Whether
    /// there was anything to forget.
    pub async fn unlock_signin(&self, actor: &Actor, login: &str) -> Result<bool> {
        let now = self.now();
        let key = throttle_key(login);
        let mut tx = self.begin_rows().await?;
        let n = sqlx::query("DELETE FROM signin_throttle WHERE login = $1")
            .bind(key.clone())
            .execute(&mut *tx)
            .await?
            .rows_affected();
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "auth.unlock",
                key,
                json!({"had_failures": n > 0}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(n > 0)
    }
}

/// The longest failure window and lockout the server accepts (its configuration checks
/// them); rows older than this and not locked are pruned.
pub const MAX_SIGNIN_WINDOW_SECS: i64 = 24 * 3600;

/// A successful sign-in: the login's failures are forgotten, and rows of other logins whose
/// window and lock are long over are pruned. Runs in the transaction that opens the sign-in
/// session (`create_token`), so that the two cannot part.
pub(crate) async fn signin_succeeded(tx: &mut Tx, now: OffsetDateTime, login: &str) -> Result<()> {
    sqlx::query(
        "DELETE FROM signin_throttle WHERE login = $1 \
         OR (window_start < $2 AND (locked_until IS NULL OR locked_until < $3))",
    )
    .bind(throttle_key(login))
    .bind(ts(now) - MAX_SIGNIN_WINDOW_SECS)
    .bind(ts(now))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The login's row, created empty when missing, and locked until the transaction ends (on
/// SQLite the transaction already holds the database's write lock).
async fn locked_row(tx: &mut Tx, backend: Backend, key: &str) -> Result<Option<Throttle>> {
    sqlx::query(
        "INSERT INTO signin_throttle (login, failures, window_start) VALUES ($1, 0, 0) \
         ON CONFLICT (login) DO NOTHING",
    )
    .bind(key.to_string())
    .execute(&mut **tx)
    .await?;
    let sql = match backend {
        Backend::Sqlite => {
            "SELECT failures, window_start, locked_until FROM signin_throttle WHERE login = $1"
        }
        Backend::Postgres => {
            "SELECT failures, window_start, locked_until FROM signin_throttle WHERE login = $1 \
             FOR UPDATE"
        }
    };
    let row = sqlx::query(sql)
        .bind(key.to_string())
        .fetch_one(&mut **tx)
        .await?;
    let failures = get_i64(&row, "failures")?;
    let window_start = get_i64(&row, "window_start")?;
    let locked_until = get_opt_i64(&row, "locked_until")?;
    Ok(
        (failures > 0 || locked_until.is_some()).then_some(Throttle {
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
            window_start,
            locked_until,
        }),
    )
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}
