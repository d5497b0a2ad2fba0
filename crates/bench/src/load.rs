//! The databases: a fresh SQLite file or PostgreSQL database per run, the bulk loader of the
//! generated organisation (its own connection, plain SQL), and the floor measurement.

use std::collections::HashMap;
use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::any::AnyPoolOptions;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{AnyPool, AssertSqlSafe, Executor as _, Row as _};

use crate::model::{self, Model, user_id};

pub type BoxError = Box<dyn Error + Send + Sync>;

/// The database a run uses, made fresh for it.
#[derive(Debug, Clone)]
pub enum Target {
    Sqlite {
        path: PathBuf,
    },
    Postgres {
        /// Where CREATE/DROP DATABASE is issued (the `--postgres` URL).
        admin_url: String,
        url: String,
        name: String,
    },
}

impl Target {
    pub fn postgres(admin_url: &str, name: &str) -> Result<Target, BoxError> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(
                format!("--pg-database {name:?}: use lowercase letters, digits and _").into(),
            );
        }
        let (base, query) = match admin_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (admin_url, String::new()),
        };
        let scheme_end = base
            .find("://")
            .ok_or("--postgres must be a postgres:// URL")?
            + 3;
        let host_part = match base[scheme_end..].find('/') {
            Some(i) => &base[..scheme_end + i],
            None => base,
        };
        Ok(Target::Postgres {
            admin_url: admin_url.to_string(),
            url: format!("{host_part}/{name}{query}"),
            name: name.to_string(),
        })
    }

    /// What `Ledger::open` takes.
    pub fn spec(&self) -> String {
        match self {
            Target::Sqlite { path } => path.display().to_string(),
            Target::Postgres { url, .. } => url.clone(),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Target::Sqlite { .. } => "sqlite",
            Target::Postgres { .. } => "postgres",
        }
    }

    fn sqlite_files(path: &std::path::Path) -> Vec<PathBuf> {
        ["", "-wal", "-shm"]
            .iter()
            .map(|s| PathBuf::from(format!("{}{s}", path.display())))
            .collect()
    }

    /// Removes what an earlier run left and makes the database empty.
    pub async fn prepare(&self) -> Result<(), BoxError> {
        match self {
            Target::Sqlite { path } => {
                for f in Self::sqlite_files(path) {
                    if f.exists() {
                        std::fs::remove_file(&f)?;
                    }
                }
                Ok(())
            }
            Target::Postgres {
                admin_url, name, ..
            } => {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(admin_url)
                    .await
                    .map_err(|e| format!("PostgreSQL at {admin_url}: {e}"))?;
                pool.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
                pool.execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await?;
                pool.close().await;
                Ok(())
            }
        }
    }

    pub async fn cleanup(&self) -> Result<(), BoxError> {
        match self {
            Target::Sqlite { path } => {
                for f in Self::sqlite_files(path) {
                    if f.exists() {
                        std::fs::remove_file(&f)?;
                    }
                }
                Ok(())
            }
            Target::Postgres {
                admin_url, name, ..
            } => {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect(admin_url)
                    .await?;
                pool.execute(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
                pool.close().await;
                Ok(())
            }
        }
    }

    /// A pool on the same database through the same driver and settings as the ledger's
    /// (`sqlx::Any`; on SQLite the same PRAGMAs): the floor goes through it.
    pub async fn any_pool(&self) -> Result<AnyPool, BoxError> {
        sqlx::any::install_default_drivers();
        let options = AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(60));
        let (_, url) = seatkeeper_store::database_url(&self.spec());
        let options = match self {
            Target::Sqlite { .. } => options.after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(seatkeeper_store::consts::SQLITE_PRAGMAS)
                        .await?;
                    Ok(())
                })
            }),
            Target::Postgres { .. } => options,
        };
        Ok(options.connect(&url).await?)
    }
}

/// How long each part of the generator took (not part of any figure).
#[derive(Debug, Default, Clone)]
pub struct LoadTimes {
    pub roles: Duration,
    pub users: Duration,
    pub memberships: Duration,
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Bulk-loads roles, users and memberships with plain SQL on a connection of its own.
/// Bindings are made through the ledger afterwards (30 calls).
pub async fn load(target: &Target, m: &Model, now: i64) -> Result<LoadTimes, BoxError> {
    match target {
        Target::Sqlite { path } => load_sqlite(path, m, now).await,
        Target::Postgres { url, .. } => load_postgres(url, m, now).await,
    }
}

fn role_rows(m: &Model) -> Vec<String> {
    (0..m.role_parent.len())
        .map(|j| {
            format!(
                "({}, {}, 'organizational', {})",
                model::role_id(j),
                sql_str(&m.role_name(j)),
                m.role_parent[j]
            )
        })
        .collect()
}

/// Users with their memberships are generated on the fly, in id order.
fn user_row(m: &Model, i: usize, now: i64) -> String {
    let login = m.login(i);
    format!(
        "({}, '{login}', 'Bench user {}', '{login}@bench.example', 'employee', 1, 'active', {now})",
        user_id(i),
        i + 1
    )
}

async fn load_sqlite(path: &std::path::Path, m: &Model, now: i64) -> Result<LoadTimes, BoxError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .busy_timeout(Duration::from_secs(60))
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    let mut times = LoadTimes::default();
    const ROWS: usize = 1_000;
    const TX_ROWS: usize = 100_000;

    let t = Instant::now();
    for part in role_rows(m).chunks(ROWS) {
        pool.execute(AssertSqlSafe(format!(
            "INSERT INTO roles (id, name, kind, parent_id) VALUES {}",
            part.join(", ")
        )))
        .await?;
    }
    times.roles = t.elapsed();

    let t = Instant::now();
    let users = m.params.users;
    let mut start = 0;
    while start < users {
        let end = (start + TX_ROWS).min(users);
        let mut tx = pool.begin().await?;
        let mut i = start;
        while i < end {
            let stop = (i + ROWS).min(end);
            let rows: Vec<String> = (i..stop).map(|u| user_row(m, u, now)).collect();
            tx.execute(AssertSqlSafe(format!(
                "INSERT INTO users (id, login, name, email, area, folder_id, state, created_at) \
                 VALUES {}",
                rows.join(", ")
            )))
            .await?;
            i = stop;
        }
        tx.commit().await?;
        start = end;
    }
    times.users = t.elapsed();

    let t = Instant::now();
    let mut tx = pool.begin().await?;
    let mut rows = Vec::with_capacity(ROWS);
    let mut in_tx = 0;
    for u in 0..m.regular {
        for r in m.roles_of(u) {
            rows.push(format!("({}, {})", model::role_id(*r as usize), user_id(u)));
            if rows.len() == ROWS {
                tx.execute(AssertSqlSafe(format!(
                    "INSERT INTO role_members (role_id, user_id) VALUES {}",
                    rows.join(", ")
                )))
                .await?;
                rows.clear();
                in_tx += ROWS;
                if in_tx >= TX_ROWS {
                    tx.commit().await?;
                    tx = pool.begin().await?;
                    in_tx = 0;
                }
            }
        }
    }
    if !rows.is_empty() {
        tx.execute(AssertSqlSafe(format!(
            "INSERT INTO role_members (role_id, user_id) VALUES {}",
            rows.join(", ")
        )))
        .await?;
    }
    tx.commit().await?;
    times.memberships = t.elapsed();
    pool.close().await;
    Ok(times)
}

async fn load_postgres(url: &str, m: &Model, now: i64) -> Result<LoadTimes, BoxError> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let mut times = LoadTimes::default();
    const BUF: usize = 1 << 20;

    let t = Instant::now();
    for part in role_rows(m).chunks(1_000) {
        pool.execute(AssertSqlSafe(format!(
            "INSERT INTO roles (id, name, kind, parent_id) VALUES {}",
            part.join(", ")
        )))
        .await?;
    }
    pool.execute(
        "SELECT setval(pg_get_serial_sequence('roles', 'id'), (SELECT max(id) FROM roles))",
    )
    .await?;
    times.roles = t.elapsed();

    // COPY, with the counting trigger off (it counts per statement since migration 0009, so
    // this is no longer needed for speed; kept so the load does the same as before).
    // The counter is then set to what the trigger would have made it (and the limit trigger
    // still checks it).
    let t = Instant::now();
    let mut conn = pool.acquire().await?;
    conn.execute("BEGIN").await?;
    conn.execute("ALTER TABLE users DISABLE TRIGGER users_counted_insert")
        .await?;
    {
        let mut copy = conn
            .copy_in_raw(
                "COPY users (id, login, name, email, area, folder_id, state, created_at) \
                 FROM STDIN",
            )
            .await?;
        let mut buf = String::with_capacity(BUF + 4096);
        for i in 0..m.params.users {
            let login = m.login(i);
            let _ = writeln!(
                buf,
                "{}\t{login}\tBench user {}\t{login}@bench.example\temployee\t1\tactive\t{now}",
                user_id(i),
                i + 1
            );
            if buf.len() >= BUF {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            copy.send(buf.as_bytes()).await?;
        }
        copy.finish().await?;
    }
    conn.execute("ALTER TABLE users ENABLE TRIGGER users_counted_insert")
        .await?;
    conn.execute(
        "UPDATE area_counters SET active_users = (SELECT count(*) FROM users \
         WHERE area = 'employee' AND state = 'active' AND builtin = 0) WHERE area = 'employee'",
    )
    .await?;
    conn.execute(
        "SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT max(id) FROM users))",
    )
    .await?;
    conn.execute("COMMIT").await?;
    times.users = t.elapsed();

    let t = Instant::now();
    {
        let mut copy = conn
            .copy_in_raw("COPY role_members (role_id, user_id) FROM STDIN")
            .await?;
        let mut buf = String::with_capacity(BUF + 4096);
        for u in 0..m.regular {
            for r in m.roles_of(u) {
                let _ = writeln!(buf, "{}\t{}", model::role_id(*r as usize), user_id(u));
            }
            if buf.len() >= BUF {
                copy.send(buf.as_bytes()).await?;
                buf.clear();
            }
        }
        if !buf.is_empty() {
            copy.send(buf.as_bytes()).await?;
        }
        copy.finish().await?;
    }
    // Statistics, as autovacuum would gather them soon after such a load.
    conn.execute("ANALYZE").await?;
    times.memberships = t.elapsed();
    drop(conn);
    pool.close().await;
    Ok(times)
}

/// The floor: the same assignment rows as the full redistribution wrote, inserted again into
/// the same table of the same database (same indexes and triggers) through the same driver
/// (`sqlx::Any`) with multi-row `INSERT … VALUES ($1, …), …` statements of the same ten
/// columns, one write transaction per run chunk of users (`DEFAULT_CHUNK_USERS`). Each statement size in
/// `rows_per_statement` is timed (the rows are deleted before each, not timed); the floor is
/// the fastest. Afterwards the ledger holds what it held after the run, and the store's
/// change marks (`distribution_dirty`) that the deletes made are put back as they were.
#[derive(Debug, Clone)]
pub struct Floor {
    pub rows: u64,
    /// (rows per statement, time to insert them all).
    pub variants: Vec<(usize, Duration)>,
}

impl Floor {
    /// The fastest variant.
    pub fn best(&self) -> (usize, Duration) {
        self.variants
            .iter()
            .min_by_key(|v| v.1)
            .copied()
            .unwrap_or((0, Duration::ZERO))
    }
}

/// Users whose rows go in one transaction: a run's chunk.
pub const FLOOR_USERS_PER_TX: i64 = seatkeeper_store::DEFAULT_CHUNK_USERS as i64;

/// 16 bytes a row: the benchmark's own memory stays small next to the store's.
struct Row {
    user: i64,
    folder: i32,
    product: u16,
}

pub async fn floor(
    target: &Target,
    granted_by: &str,
    now: i64,
    rows_per_statement: &[usize],
) -> Result<Floor, BoxError> {
    let pool = target.any_pool().await?;
    let pg = matches!(target, Target::Postgres { .. });

    // Read what the run granted, by user ranges.
    let mut products: Vec<String> = Vec::new();
    let mut index: HashMap<String, u16> = HashMap::new();
    let mut rows: Vec<Row> = Vec::new();
    let max_user: i64 = sqlx::query("SELECT COALESCE(MAX(user_id), 0) AS m FROM assignments")
        .fetch_one(&pool)
        .await?
        .try_get("m")?;
    let mut from = 0i64;
    while from <= max_user {
        let to = from + 10_000;
        for r in sqlx::query(
            "SELECT user_id, product_code, area, kind, folder_id, manual, by_role, status \
             FROM assignments WHERE user_id >= $1 AND user_id < $2 ORDER BY user_id, product_code",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&pool)
        .await?
        {
            let area: String = r.try_get("area")?;
            let kind: String = r.try_get("kind")?;
            let status: String = r.try_get("status")?;
            let (manual, by_role): (i64, i64) = (r.try_get("manual")?, r.try_get("by_role")?);
            if area != "employee"
                || kind != "named"
                || status != "active"
                || manual != 0
                || by_role != 1
            {
                return Err(format!(
                    "unexpected assignment after the run: {area} {kind} {status} \
                     manual={manual} by_role={by_role}"
                )
                .into());
            }
            let product: String = r.try_get("product_code")?;
            let p = match index.get(&product) {
                Some(p) => *p,
                None => {
                    let p = u16::try_from(products.len())?;
                    index.insert(product.clone(), p);
                    products.push(product);
                    p
                }
            };
            rows.push(Row {
                user: r.try_get("user_id")?,
                folder: i32::try_from(r.try_get::<i64, _>("folder_id")?)?,
                product: p,
            });
        }
        from = to;
    }
    // The store's change marks as the run left them (absent in older schemas).
    let dirty: Option<Vec<i64>> = match sqlx::query("SELECT user_id FROM distribution_dirty")
        .fetch_all(&pool)
        .await
    {
        Ok(v) => Some(
            v.iter()
                .map(|r| r.try_get::<i64, _>("user_id"))
                .collect::<Result<_, _>>()?,
        ),
        Err(_) => None,
    };

    let mut variants = Vec::new();
    for &size in rows_per_statement {
        delete_all(&pool, pg, max_user).await?;
        let elapsed = insert_all(&pool, pg, &rows, &products, size, granted_by, now).await?;
        variants.push((size, elapsed));
    }
    let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM assignments")
        .fetch_one(&pool)
        .await?
        .try_get("n")?;
    if n as usize != rows.len() {
        return Err(format!("floor: {n} rows in assignments, {} inserted", rows.len()).into());
    }
    if let Some(dirty) = dirty {
        let mut tx = begin(&pool, pg).await?;
        tx.execute("DELETE FROM distribution_dirty").await?;
        for part in dirty.chunks(1_000) {
            let values: Vec<String> = part.iter().map(|u| format!("({u})")).collect();
            tx.execute(AssertSqlSafe(format!(
                "INSERT INTO distribution_dirty (user_id) VALUES {}",
                values.join(", ")
            )))
            .await?;
        }
        tx.commit().await?;
    }
    pool.close().await;
    Ok(Floor {
        rows: rows.len() as u64,
        variants,
    })
}

/// Deletes every assignment, a chunk of users per transaction (not timed).
async fn delete_all(pool: &AnyPool, pg: bool, max_user: i64) -> Result<(), BoxError> {
    let mut from = 0i64;
    while from <= max_user {
        let to = from + FLOOR_USERS_PER_TX;
        let mut tx = begin(pool, pg).await?;
        sqlx::query("DELETE FROM assignments WHERE user_id >= $1 AND user_id < $2")
            .bind(from)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        from = to;
    }
    if pg {
        // Reclaim the dead rows, so the insert starts from a table as clean as the run's.
        pool.execute("VACUUM (ANALYZE) assignments, seat_pools")
            .await?;
    }
    Ok(())
}

/// The timed part: every row, `size` rows per statement, a transaction per chunk of users.
async fn insert_all(
    pool: &AnyPool,
    pg: bool,
    rows: &[Row],
    products: &[String],
    size: usize,
    granted_by: &str,
    now: i64,
) -> Result<Duration, BoxError> {
    let head = "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, \
                manual, by_role, granted_at, granted_by)";
    let t = Instant::now();
    let mut i = 0;
    while i < rows.len() {
        let group = (rows[i].user - model::USER_BASE) / FLOOR_USERS_PER_TX;
        let mut j = i;
        while j < rows.len() && (rows[j].user - model::USER_BASE) / FLOOR_USERS_PER_TX == group {
            j += 1;
        }
        let mut tx = begin(pool, pg).await?;
        for part in rows[i..j].chunks(size.max(1)) {
            let mut sql = String::with_capacity(head.len() + part.len() * 64);
            sql.push_str(head);
            sql.push_str(" VALUES ");
            for k in 0..part.len() {
                if k > 0 {
                    sql.push_str(", ");
                }
                let b = k * 10;
                let _ = write!(
                    sql,
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6,
                    b + 7,
                    b + 8,
                    b + 9,
                    b + 10
                );
            }
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for r in part {
                q = q
                    .bind(r.user)
                    .bind(products[usize::from(r.product)].clone())
                    .bind("employee".to_string())
                    .bind("named".to_string())
                    .bind(i64::from(r.folder))
                    .bind("active".to_string())
                    .bind(0i64)
                    .bind(1i64)
                    .bind(now)
                    .bind(granted_by.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        i = j;
    }
    Ok(t.elapsed())
}

/// A write transaction as the ledger starts one (SQLite: BEGIN IMMEDIATE; PostgreSQL: the
/// advisory lock is taken too, as every ledger write does).
async fn begin(
    pool: &AnyPool,
    pg: bool,
) -> Result<sqlx::Transaction<'static, sqlx::Any>, BoxError> {
    if pg {
        let mut tx = pool.begin().await?;
        sqlx::query(seatkeeper_store::consts::PG_WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    } else {
        Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Moves memberships with plain SQL (the `--change-via sql` alternative to the ledger's
/// `set_role_members`).
pub async fn move_members_sql(
    target: &Target,
    moves: &[(usize, usize, usize)],
) -> Result<(), BoxError> {
    let pool = target.any_pool().await?;
    let pg = matches!(target, Target::Postgres { .. });
    for part in moves.chunks(500) {
        let mut tx = begin(&pool, pg).await?;
        let gone: Vec<String> = part
            .iter()
            .map(|(u, old, _)| format!("({}, {})", model::role_id(*old), user_id(*u)))
            .collect();
        let added: Vec<String> = part
            .iter()
            .map(|(u, _, new)| format!("({}, {})", model::role_id(*new), user_id(*u)))
            .collect();
        tx.execute(AssertSqlSafe(format!(
            "DELETE FROM role_members WHERE (role_id, user_id) IN (VALUES {})",
            gone.join(", ")
        )))
        .await?;
        tx.execute(AssertSqlSafe(format!(
            "INSERT INTO role_members (role_id, user_id) VALUES {}",
            added.join(", ")
        )))
        .await?;
        tx.commit().await?;
    }
    pool.close().await;
    Ok(())
}

/// PostgreSQL's `autovacuum` setting on the server (`on`/`off`).
pub async fn pg_autovacuum(url: &str) -> Result<String, BoxError> {
    let pool = PgPoolOptions::new().max_connections(1).connect(url).await?;
    let v: String = sqlx::query("SHOW autovacuum")
        .fetch_one(&pool)
        .await?
        .try_get(0)?;
    pool.close().await;
    Ok(v)
}

/// `--vacuum-every`: VACUUMs the tables a run churns, every `every`, on a connection of its
/// own until `stop` — what autovacuum would do on a server where it is on. Returns how many
/// VACUUMs ran and how long they took in all.
pub fn spawn_vacuum(
    url: String,
    every: Duration,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Result<(u32, Duration), BoxError>> {
    tokio::spawn(async move {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await?;
        let (mut n, mut spent) = (0u32, Duration::ZERO);
        let mut tables = "seat_pools, pending_needs, distribution_dirty";
        loop {
            let t = Instant::now();
            while t.elapsed() < every {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    pool.close().await;
                    return Ok((n, spent));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let t = Instant::now();
            if pool
                .execute(AssertSqlSafe(format!("VACUUM {tables}")))
                .await
                .is_err()
            {
                tables = "seat_pools";
                pool.execute("VACUUM seat_pools").await?;
            }
            spent += t.elapsed();
            n += 1;
        }
    })
}
