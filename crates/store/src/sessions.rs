//! Sessions (S1–S4): the answers of the integration API, heartbeats, the list of live
//! sessions and entitlement checks.
//!
//! Where the rest lives: the login decision is `seatkeeper_core::login::decide` (pure);
//! `logins` loads its facts and applies it in the caller's write transaction; `login_batch`
//! is the integration API's path — logouts and logins of one batch, what the login cache
//! settles and the full path; `logouts` ends sessions (logout, reaper, administrator);
//! `session_rows` holds the rows and the short logout rule every write path shares.

use std::collections::{BTreeMap, BTreeSet};

use seatkeeper_core::login::ProductFacts;
use seatkeeper_core::{Error as DomainError, UserState};
use serde::Serialize;
use time::OffsetDateTime;

use crate::db::{Tx, dt, fetch_in, get_i64, get_str, ts};
use crate::loaders::UserRecord;
use crate::sql_value::Val;
use crate::{HeldSeat, Ledger, Result};

pub use seatkeeper_core::login::{
    AllowedLogin, LoginAnswer, RefusedLogin, SeatUse, SessionProduct,
};

/// One login asked for by the application.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    pub login: String,
    /// What the application says about the client (host, app name); shown to administrators.
    pub client: String,
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

/// A product's name, features and all-modules flag from a row that has them.
pub(crate) fn product_facts(r: &sqlx::any::AnyRow) -> Result<ProductFacts> {
    Ok(ProductFacts {
        name: get_str(r, "name")?,
        features: serde_json::from_str(&get_str(r, "features")?)
            .map_err(|e| crate::StoreError::Corrupt(e.to_string()))?,
        all_modules: get_i64(r, "all_modules")? == 1,
    })
}

async fn load_products(tx: &mut Tx) -> Result<BTreeMap<String, ProductFacts>> {
    let rows = sqlx::query("SELECT code, name, features, all_modules FROM products")
        .fetch_all(&mut **tx)
        .await?;
    rows.iter()
        .map(|r| Ok((get_str(r, "code")?, product_facts(r)?)))
        .collect()
}

impl Ledger {
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
        let mut tx = Tx::unwatched(self.pool.begin().await?);
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
            let session = index.get(&get_str(&r, "session_id")?);
            if let Some(s) = session.and_then(|&i| out.get_mut(i)) {
                s.floating.push(get_str(&r, "product_code")?);
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
        let mut tx = self.begin_read().await?;
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
