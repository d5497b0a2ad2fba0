//! Summary (U4) and audit log (N3).

use std::collections::BTreeMap;

use seatkeeper_core::capacity::counts;
use seatkeeper_core::{Area, SeatKind};
use time::Duration;

use crate::db::{count, dt, get_i64, get_opt_i64, get_opt_str, get_str, parse};
use crate::loaders::{load_packages, load_pools};
use crate::sql_value::Val;
use crate::{
    AreaSummary, AuditEntry, AuditFilter, Ledger, ProductSummary, Result, StoreError, Summary,
};

/// Runs per status ([`Ledger::run_totals`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunTotals {
    pub redistributions: Vec<RunCount>,
    pub directory_syncs: Vec<RunCount>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunCount {
    /// As the run rows say: `running`, `done`, `succeeded`, `failed`, `interrupted`.
    pub status: String,
    /// A directory preview (dry run) rather than a sync; always false for redistributions.
    pub preview: bool,
    pub runs: u64,
    /// The finished runs' durations added up, in whole seconds.
    pub seconds: u64,
    /// When the newest of them finished (unix seconds; 0 when none has).
    pub last_finished_at: u64,
}

impl Ledger {
    /// U4: active users per area against the limit, and per product, area and kind the
    /// total, used, free, suspended and expiring seats. `horizon` is how far ahead
    /// "expiring soon" looks.
    pub async fn summary(&self, horizon: Duration) -> Result<Summary> {
        let now = self.now();
        let mut tx = self.begin_read().await?;
        let mut areas = Vec::new();
        let mut blocked: BTreeMap<Area, u64> = BTreeMap::new();
        for r in sqlx::query(
            "SELECT area, COUNT(*) AS n FROM users WHERE state = 'blocked' GROUP BY area",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            blocked.insert(parse(&get_str(&r, "area")?)?, count(get_i64(&r, "n")?));
        }
        for r in
            sqlx::query("SELECT area, active_users, user_limit FROM area_counters ORDER BY area")
                .fetch_all(&mut *tx)
                .await?
        {
            let area: Area = parse(&get_str(&r, "area")?)?;
            areas.push(AreaSummary {
                area,
                active_users: count(get_i64(&r, "active_users")?),
                blocked_users: blocked.get(&area).copied().unwrap_or(0),
                limit: get_opt_i64(&r, "user_limit")?.map(count),
            });
        }

        let mut names = BTreeMap::new();
        for r in sqlx::query("SELECT code, name FROM products")
            .fetch_all(&mut *tx)
            .await?
        {
            names.insert(get_str(&r, "code")?, get_str(&r, "name")?);
        }
        let mut products: BTreeMap<(String, Area, SeatKind), ProductSummary> = BTreeMap::new();
        for (k, p) in load_pools(&mut tx).await? {
            let e = products
                .entry((k.product.clone(), k.area, k.kind))
                .or_insert_with(|| ProductSummary {
                    name: names.get(&k.product).cloned().unwrap_or_default(),
                    product: k.product.clone(),
                    area: k.area,
                    kind: k.kind,
                    total: 0,
                    used: 0,
                    free: 0,
                    suspended: 0,
                    expiring_soon: 0,
                    next_expiry: None,
                });
            e.total += p.capacity;
            e.used += p.used;
            e.free += p.capacity.saturating_sub(p.used);
            e.suspended += p.suspended;
        }
        let packages = load_packages(&mut tx).await?;
        for pkg in packages.iter().filter(|p| counts(p, &packages, now)) {
            if let (Some(exp), Some(e)) = (
                pkg.expires,
                products.get_mut(&(pkg.product.clone(), pkg.area, pkg.kind)),
            ) {
                if exp <= now + horizon {
                    e.expiring_soon += u64::from(pkg.seats);
                }
                e.next_expiry = Some(e.next_expiry.map_or(exp, |n| n.min(exp)));
            }
        }
        Ok(Summary {
            at: now,
            licenses_loaded: !packages.is_empty(),
            areas,
            products: products.into_values().collect(),
        })
    }

    /// The redistribution and directory sync runs the ledger keeps, counted per status (for
    /// `/metrics`; every node sees the same numbers, whichever node ran them). Durations are
    /// whole seconds, as the run rows record them.
    pub async fn run_totals(&self) -> Result<RunTotals> {
        let mut tx = self.begin_read().await?;
        let mut totals = RunTotals::default();
        for r in sqlx::query(
            "SELECT status, COUNT(*) AS n, \
             CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS secs, \
             CAST(COALESCE(MAX(finished_at), 0) AS BIGINT) AS last \
             FROM redistributions GROUP BY status ORDER BY status",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            totals.redistributions.push(RunCount {
                status: get_str(&r, "status")?,
                preview: false,
                runs: count(get_i64(&r, "n")?),
                seconds: count(get_i64(&r, "secs")?),
                last_finished_at: count(get_i64(&r, "last")?),
            });
        }
        for r in sqlx::query(
            "SELECT status, preview, COUNT(*) AS n, \
             CAST(COALESCE(SUM(finished_at - started_at), 0) AS BIGINT) AS secs, \
             CAST(COALESCE(MAX(finished_at), 0) AS BIGINT) AS last \
             FROM directory_runs GROUP BY status, preview ORDER BY status, preview",
        )
        .fetch_all(&mut *tx)
        .await?
        {
            totals.directory_syncs.push(RunCount {
                status: get_str(&r, "status")?,
                preview: get_i64(&r, "preview")? == 1,
                runs: count(get_i64(&r, "n")?),
                seconds: count(get_i64(&r, "secs")?),
                last_finished_at: count(get_i64(&r, "last")?),
            });
        }
        tx.commit().await?;
        Ok(totals)
    }

    /// N3: the newest audit records first.
    pub async fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let mut sql = String::from(
            "SELECT id, at, actor, origin, address, user_agent, action, target, details FROM audit_log \
             WHERE 1 = 1",
        );
        let mut binds = Vec::new();
        if let Some(a) = &filter.action {
            binds.push(Val::Text(a.clone()));
            sql += &format!(" AND action = ${}", binds.len());
        }
        if let Some(t) = &filter.target {
            binds.push(Val::Text(t.clone()));
            sql += &format!(" AND target = ${}", binds.len());
        }
        if let Some(a) = &filter.actor {
            binds.push(Val::Text(a.clone()));
            sql += &format!(" AND actor = ${}", binds.len());
        }
        if let Some(b) = filter.before_id {
            binds.push(Val::Int(b));
            sql += &format!(" AND id < ${}", binds.len());
        }
        binds.push(Val::Int(
            i64::try_from(filter.limit.unwrap_or(100)).unwrap_or(i64::MAX),
        ));
        sql += &format!(" ORDER BY id DESC LIMIT ${}", binds.len());
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in binds {
            q = crate::db::bind(q, v);
        }
        let rows = q.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: get_i64(r, "id")?,
                    at: dt(get_i64(r, "at")?)?,
                    actor: get_str(r, "actor")?,
                    origin: get_str(r, "origin")?,
                    address: get_opt_str(r, "address")?,
                    user_agent: get_opt_str(r, "user_agent")?,
                    action: get_str(r, "action")?,
                    target: get_str(r, "target")?,
                    details: serde_json::from_str(&get_str(r, "details")?)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
