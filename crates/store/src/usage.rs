//! Usage history (issue 5): samples of seats used against total per product and of active
//! users against the limit per area, for the admin UI's charts.
//!
//! The numbers come from the maintained counters (`seat_pools`, `area_counters`) and the
//! suspended assignments (a partial index), never from a scan of users or assignments, so a
//! sample costs the same with a million users as with ten. A subject gets a new row only when
//! its numbers changed or its last row is a day old; most calls write nothing and take no lock.

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::db::{Tx, count, dt, get_i64, get_opt_i64, get_str, ts};
use crate::loaders::load_pools;
use crate::{Ledger, Result, StoreError, UsageHistory, UsagePoint, UsageRecorded, UsageSeries};

/// Samples older than this are deleted.
pub const USAGE_RETENTION: Duration = Duration::days(400);
/// A subject whose numbers have not changed still gets a sample this often.
pub const USAGE_DAILY_POINT: Duration = Duration::hours(24);

const PRODUCT: &str = "product";
const AREA: &str = "area";

/// (kind, subject): `("product", code)` or `("area", name)`.
type Subject = (&'static str, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbers {
    used: u64,
    total: Option<u64>,
    suspended: Option<u64>,
}

fn kind(s: &str) -> Result<&'static str> {
    match s {
        PRODUCT => Ok(PRODUCT),
        AREA => Ok(AREA),
        other => Err(StoreError::Corrupt(format!(
            "unexpected usage subject kind {other:?}"
        ))),
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The numbers now: per product summed over its pools (every area, kind and folder), per area
/// from its counter. A handful of small reads.
async fn current(tx: &mut Tx) -> Result<BTreeMap<Subject, Numbers>> {
    let mut out = BTreeMap::new();
    for r in sqlx::query("SELECT area, active_users, user_limit FROM area_counters")
        .fetch_all(&mut **tx)
        .await?
    {
        out.insert(
            (AREA, get_str(&r, "area")?),
            Numbers {
                used: count(get_i64(&r, "active_users")?),
                total: get_opt_i64(&r, "user_limit")?.map(count),
                suspended: None,
            },
        );
    }
    for (k, p) in load_pools(tx).await? {
        let e = out.entry((PRODUCT, k.product)).or_insert(Numbers {
            used: 0,
            total: Some(0),
            suspended: Some(0),
        });
        e.used += p.used;
        e.total = Some(e.total.unwrap_or(0) + p.capacity);
        e.suspended = Some(e.suspended.unwrap_or(0) + p.suspended);
    }
    Ok(out)
}

fn numbers(r: &sqlx::any::AnyRow) -> Result<Numbers> {
    Ok(Numbers {
        used: count(get_i64(r, "used")?),
        total: get_opt_i64(r, "total")?.map(count),
        suspended: get_opt_i64(r, "suspended")?.map(count),
    })
}

/// The newest sample of a subject at or before `before` (one primary-key seek).
async fn latest(
    tx: &mut Tx,
    (kind, subject): &Subject,
    before: i64,
    inclusive: bool,
) -> Result<Option<(i64, Numbers)>> {
    let sql = if inclusive {
        "SELECT at, used, total, suspended FROM usage_samples \
         WHERE subject_kind = $1 AND subject = $2 AND at <= $3 ORDER BY at DESC LIMIT 1"
    } else {
        "SELECT at, used, total, suspended FROM usage_samples \
         WHERE subject_kind = $1 AND subject = $2 AND at < $3 ORDER BY at DESC LIMIT 1"
    };
    let row = sqlx::query(sql)
        .bind(kind.to_string())
        .bind(subject.clone())
        .bind(before)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| Ok((get_i64(&r, "at")?, numbers(&r)?)))
        .transpose()
}

/// The subjects that need a sample at `now`: new, changed, or last sampled a day ago.
async fn due(tx: &mut Tx, now: OffsetDateTime) -> Result<Vec<(Subject, Numbers)>> {
    let daily = ts(now - USAGE_DAILY_POINT);
    let mut out = Vec::new();
    for (subject, n) in current(tx).await? {
        let stale = match latest(tx, &subject, i64::MAX, true).await? {
            None => true,
            Some((at, last)) => last != n || at <= daily,
        };
        if stale {
            out.push((subject, n));
        }
    }
    Ok(out)
}

impl Ledger {
    /// Records a usage sample for every product and area whose numbers changed since its last
    /// sample, whose last sample is 24 h old, or that has none; deletes samples older than
    /// 400 days. Meant to be called often (every minute, after changes): when nothing is due
    /// it only reads a few small tables and takes no write lock.
    pub async fn record_usage(&self) -> Result<UsageRecorded> {
        let now = self.now();
        {
            let mut tx = self.begin_read().await?;
            let pending = due(&mut tx, now).await?;
            tx.rollback().await?;
            if pending.is_empty() {
                return Ok(UsageRecorded::default());
            }
        }
        // Decided again under the lock, on the state the samples are written for. Samples
        // change nothing a login reads: no new generation.
        let mut tx = self.begin_locked().await?;
        let pending = due(&mut tx, now).await?;
        for ((kind, subject), n) in &pending {
            // Two calls within the same second: the later numbers win.
            sqlx::query(
                "INSERT INTO usage_samples (subject_kind, subject, at, used, total, suspended) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (subject_kind, subject, at) DO UPDATE SET used = excluded.used, \
                 total = excluded.total, suspended = excluded.suspended",
            )
            .bind(kind.to_string())
            .bind(subject.clone())
            .bind(ts(now))
            .bind(int(n.used))
            .bind(n.total.map(int))
            .bind(n.suspended.map(int))
            .execute(&mut *tx)
            .await?;
        }
        let pruned = sqlx::query("DELETE FROM usage_samples WHERE at < $1")
            .bind(ts(now - USAGE_RETENTION))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(UsageRecorded {
            written: pending.len() as u64,
            pruned,
        })
    }

    /// The usage samples from `since` on, per product and per area, oldest first; each series
    /// starts with the last sample before `since` when there is one.
    pub async fn usage_history(&self, since: OffsetDateTime) -> Result<UsageHistory> {
        let now = self.now();
        let mut tx = self.begin_read().await?;
        let mut series: BTreeMap<Subject, Vec<UsagePoint>> = BTreeMap::new();
        // Subjects that exist now but have not changed since `since` still get their point.
        for subject in current(&mut tx).await?.into_keys() {
            series.entry(subject).or_default();
        }
        for r in sqlx::query(
            "SELECT subject_kind, subject, at, used, total, suspended FROM usage_samples \
             WHERE at >= $1 ORDER BY subject_kind, subject, at",
        )
        .bind(ts(since))
        .fetch_all(&mut *tx)
        .await?
        {
            let n = numbers(&r)?;
            series
                .entry((
                    kind(&get_str(&r, "subject_kind")?)?,
                    get_str(&r, "subject")?,
                ))
                .or_default()
                .push(point(get_i64(&r, "at")?, n)?);
        }
        for (subject, points) in series.iter_mut() {
            if let Some((at, n)) = latest(&mut tx, subject, ts(since), false).await? {
                points.insert(0, point(at, n)?);
            }
        }
        tx.rollback().await?;
        let mut history = UsageHistory {
            since,
            at: now,
            products: Vec::new(),
            areas: Vec::new(),
        };
        for ((kind, subject), points) in series {
            if points.is_empty() {
                continue;
            }
            let list = if kind == PRODUCT {
                &mut history.products
            } else {
                &mut history.areas
            };
            list.push(UsageSeries { subject, points });
        }
        Ok(history)
    }
}

fn point(at: i64, n: Numbers) -> Result<UsagePoint> {
    Ok(UsagePoint {
        at: dt(at)?,
        used: n.used,
        total: n.total,
        suspended: n.suspended,
    })
}
