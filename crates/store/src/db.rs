//! Connection, dialect and the small SQL helpers the rest of the crate shares.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sqlx::any::{AnyArguments, AnyPoolOptions, AnyRow};
use sqlx::pool::PoolConnection;
use sqlx::query::Query;
use sqlx::{
    Any, AnyConnection, AnyPool, AssertSqlSafe, Connection as _, Executor as _, Row as _,
    SqlSafeStr as _, Transaction,
};
use time::OffsetDateTime;

use crate::clock::{Clock, SystemClock};
use crate::sql_value::Val;
use crate::{Actor, Result, StoreError};

/// A transaction of the ledger. It reads and writes as the connection it derefs to; what it
/// adds is its commit: a watched transaction (every write opener's) settles the level
/// events (`outbox::settle`) as its last statements, so that whatever it changed is
/// compared with what was reported, in the same transaction, by every write path.
pub(crate) struct Tx {
    inner: Transaction<'static, Any>,
    settle_at: Option<OffsetDateTime>,
}

impl Tx {
    /// A transaction whose commit settles the level events at `now`.
    pub(crate) fn watched(inner: Transaction<'static, Any>, now: OffsetDateTime) -> Tx {
        Tx {
            inner,
            settle_at: Some(now),
        }
    }

    /// A transaction that changes no seat or user level (reads; sign-in failures).
    pub(crate) fn unwatched(inner: Transaction<'static, Any>) -> Tx {
        Tx {
            inner,
            settle_at: None,
        }
    }

    pub(crate) async fn commit(mut self) -> Result<()> {
        if let Some(now) = self.settle_at {
            crate::outbox::settle(&mut self.inner, now).await?;
        }
        self.inner.commit().await?;
        Ok(())
    }

    pub(crate) async fn rollback(self) -> Result<()> {
        self.inner.rollback().await?;
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}
pub(crate) type Q<'q> = Query<'q, Any, AnyArguments>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The license ledger: every operation of issue #2 (licenses, users, folders, grants,
/// summary, audit), each in one transaction.
#[derive(Clone)]
pub struct Ledger {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    pub(crate) clock: Arc<dyn Clock>,
    /// Writers of this process waiting for the write lock on this database, shared by every
    /// `Ledger` opened on it: a long redistribution steps aside between its chunks while
    /// this is non-zero, because SQLite's lock is not fair (a waiter polls it with sleeps
    /// and would lose every race to a loop that re-takes it at once).
    pub(crate) writers_waiting: Arc<WriteQueue>,
    /// Login answers this process has computed, for repeated logins (see `login_cache`).
    pub(crate) logins: Arc<crate::login_cache::LoginCache>,
    /// SQLite only: the thread that writes turns settled from `logins`.
    pub(crate) writer: Option<Arc<crate::sqlite_writer::SqliteWriter>>,
    /// SQLite only: the shared lock that tells a restore this ledger is in use (see `backup`).
    _in_use: Option<Arc<std::fs::File>>,
}

/// Writers waiting for the write lock, and how many have got it so far.
#[derive(Debug, Default)]
pub(crate) struct WriteQueue {
    waiting: AtomicUsize,
    granted: AtomicUsize,
}

fn waiting_counter(url: &str) -> Arc<WriteQueue> {
    static QUEUES: LazyLock<Mutex<HashMap<String, Arc<WriteQueue>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    match QUEUES.lock() {
        Ok(mut map) => map.entry(url.to_string()).or_default().clone(),
        // A poisoned map only costs the sharing between ledgers, not correctness.
        Err(_) => Arc::new(WriteQueue::default()),
    }
}

/// Counts a writer as waiting for as long as it lives.
struct Waiting<'a>(&'a WriteQueue);

impl<'a> Waiting<'a> {
    fn new(q: &'a WriteQueue) -> Self {
        q.waiting.fetch_add(1, Ordering::SeqCst);
        Waiting(q)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
        self.0.granted.fetch_add(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("backend", &self.backend)
            .finish()
    }
}

/// Turns what an administrator types (`seatkeeper.db`, `sqlite:x.db`, `postgres://…`) into a
/// sqlx URL and the backend it names.
pub fn database_url(spec: &str) -> (Backend, String) {
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        (Backend::Postgres, spec.to_string())
    } else {
        (
            Backend::Sqlite,
            format!("sqlite://{}?mode=rwc", sqlite_path(spec)),
        )
    }
}

/// The file a SQLite `spec` names.
pub(crate) fn sqlite_path(spec: &str) -> &str {
    spec.strip_prefix("sqlite://")
        .or_else(|| spec.strip_prefix("sqlite:"))
        .unwrap_or(spec)
}

/// Says at once why a SQLite ledger cannot be opened. The pool retries a failing connection
/// until its acquire timeout (30 s) and then reports only "pool timed out"; so the file and
/// its directory are checked first, and one connection is opened outside the pool, to name
/// the real cause (a read-only file or directory, a file that is not a database).
///
/// The file and directory checks come before the ledger's lock file is taken (`backup`), so
/// that a read-only directory is named as such rather than as a lock that cannot be created.
fn preflight_sqlite_paths(spec: &str) -> Result<()> {
    let path = std::path::Path::new(sqlite_path(spec));
    let refused = |message: String| StoreError::Open {
        url: redact(spec),
        message,
    };
    if path.exists() {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                refused(format!(
                    "the file {} is read-only for this process ({e}); the ledger needs to \
                     write it: check its permissions and that its file system is not mounted \
                     read-only",
                    path.display()
                ))
            })?;
    }
    // SQLite creates the database, its -wal and its -shm file next to each other (and
    // removes -wal at a clean close), so the directory must take new files unless both exist.
    let side = |suffix: &str| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        std::path::PathBuf::from(p)
    };
    if !(path.exists() && side("-wal").exists() && side("-shm").exists()) {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => std::path::Path::new("."),
        };
        let probe = side(&format!(".probe-{}", std::process::id()));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .map_err(|e| {
                refused(format!(
                    "the directory {} is read-only for this process ({e}); SQLite keeps the \
                     ledger's -wal and -shm files next to it, so the directory must be \
                     writable: check its permissions and that its file system is not mounted \
                     read-only",
                    dir.display()
                ))
            })?;
        let _ = std::fs::remove_file(&probe);
    }
    Ok(())
}

/// What every SQLite connection of the pool runs after the pragmas: TEMP triggers that make
/// the database's refusals name what tripped them (see the file; the tables must exist, so
/// the migrations run before the pool opens its first connection).
const SQLITE_REFUSALS: &str = include_str!("sqlite_refusals.sql");

/// One connection outside the pool, to name a file that is not a database at once; it also
/// runs the migrations, before the pool's connections install their triggers on the tables.
async fn preflight_sqlite(spec: &str, url: &str) -> Result<()> {
    let refused = |message: String| StoreError::Open {
        url: redact(spec),
        message,
    };
    let mut conn = sqlx::AnyConnection::connect(url)
        .await
        .map_err(|e| refused(e.to_string()))?;
    conn.execute(crate::consts::SQLITE_PRAGMAS)
        .await
        .map_err(|e| refused(e.to_string()))?;
    SQLITE_MIGRATIONS.run(&mut conn).await?;
    let _ = conn.close().await;
    Ok(())
}

impl Ledger {
    /// Opens (creating if needed) and migrates the ledger at `spec`: a SQLite file path or a
    /// `postgres://` URL.
    pub async fn open(spec: &str) -> Result<Ledger> {
        Self::open_with_clock(spec, Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(spec: &str, clock: Arc<dyn Clock>) -> Result<Ledger> {
        sqlx::any::install_default_drivers();
        let (backend, url) = database_url(spec);
        let in_use = match backend {
            Backend::Sqlite => Some({
                preflight_sqlite_paths(spec)?;
                Arc::new(crate::ledger_lock::lock_ledger_file(
                    sqlite_path(spec),
                    false,
                )?)
            }),
            Backend::Postgres => None,
        };
        let options = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 8,
            })
            .acquire_timeout(Duration::from_secs(30))
            // A connection must come back outside any transaction. One that does not is one
            // whose COMMIT or ROLLBACK failed: on SQLite a failed write (disk full, I/O error)
            // can roll the transaction back by itself, so sqlx's ROLLBACK on drop fails too
            // and sqlx still counts the transaction as open — every later `begin_with` on
            // that connection would fail for good. Such a connection is closed (closing ends
            // any transaction) and the pool opens a fresh one when it needs it.
            .after_release(|conn, _| {
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        // The rollback that dropping a transaction queued may not have run
                        // yet; a round trip lets it finish before the connection is judged.
                        conn.ping().await?;
                    }
                    Ok(!conn.is_in_transaction())
                })
            });
        let options = match backend {
            Backend::Sqlite => {
                preflight_sqlite(spec, &url).await?;
                options.after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(crate::consts::SQLITE_PRAGMAS).await?;
                        conn.execute(SQLITE_REFUSALS).await?;
                        Ok(())
                    })
                })
            }
            Backend::Postgres => options,
        };
        let pool = options.connect(&url).await.map_err(|e| StoreError::Open {
            url: redact(spec),
            message: e.to_string(),
        })?;
        if backend == Backend::Postgres {
            // SQLite's ran in `preflight_sqlite`.
            POSTGRES_MIGRATIONS.run(&pool).await?;
        }
        let writer = match backend {
            Backend::Sqlite => Some(Arc::new(crate::sqlite_writer::SqliteWriter::open(
                sqlite_path(spec),
            )?)),
            Backend::Postgres => None,
        };
        let ledger = Ledger {
            pool,
            backend,
            clock,
            writers_waiting: waiting_counter(&url),
            logins: Arc::default(),
            writer,
            _in_use: in_use,
        };
        ledger.init_instance().await?;
        // A redistribution a crashed process left half-applied is finished before anyone
        // reads the ledger (roll forward).
        ledger.resume_redistributions().await?;
        Ok(ledger)
    }

    /// Readiness: a connection can be had and the ledger's tables read (for `GET /readyz`).
    /// Reads only; the caller bounds how long it may take.
    pub async fn ready(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT value FROM meta WHERE key = 'generation'")
            .fetch_one(&mut *conn)
            .await?;
        Ok(())
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// Closes the ledger's connections. On SQLite the write-ahead log is checkpointed into
    /// the database file first and emptied, so that after a clean stop the `.db` file alone
    /// holds every committed change.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        if self.backend == Backend::Sqlite
            && let Err(e) = self.checkpoint().await
        {
            tracing::warn!(error = %e, "the write-ahead log could not be checkpointed");
        }
        self.pool.close().await;
    }

    /// Copies the whole write-ahead log into the database file and truncates it. Waits at
    /// most a few seconds for readers of other processes (a backup) to finish.
    async fn checkpoint(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        conn.execute("PRAGMA busy_timeout = 5000").await?;
        let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await?;
        // The connection is closed with the pool; its shorter timeout goes with it.
        if row.try_get::<i64, _>(0)? != 0 {
            tracing::warn!("the write-ahead log is in use by another process; left for it");
        }
        Ok(())
    }

    /// A stable instance id, made once when the ledger is created (L1).
    async fn init_instance(&self) -> Result<()> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('instance_id', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the ledger's write lock and nothing else. Only `transactions` calls this: every
    /// other module opens its write transactions there (`begin_write`, `begin_locked`,
    /// `begin_write_on`), which also bring capacity up to date at "now".
    ///
    /// Writers are serialised per ledger — SQLite by its write lock taken at BEGIN,
    /// PostgreSQL by a transaction-scoped advisory lock — so that a change is decided on the
    /// state it will be applied to. The constraints and triggers of the schema hold even
    /// without this.
    pub(crate) async fn write_lock(&self, conn: Option<PoolConnection<Any>>) -> Result<Tx> {
        let _waiting = Waiting::new(&self.writers_waiting);
        let conn = match conn {
            Some(c) => c,
            None => self.pool.acquire().await?,
        };
        // `Transaction::begin` is what `Pool::begin_with` runs; it is called directly so that
        // the transaction can own a connection acquired earlier.
        match self.backend {
            Backend::Sqlite => {
                let tx = Transaction::begin(conn, Some("BEGIN IMMEDIATE".into_sql_str())).await?;
                Ok(Tx::watched(tx, self.now()))
            }
            Backend::Postgres => {
                let mut tx = Transaction::begin(conn, None).await?;
                sqlx::query(crate::consts::PG_WRITE_LOCK)
                    .execute(&mut *tx)
                    .await?;
                Ok(Tx::watched(tx, self.now()))
            }
        }
    }
}

/// Moves the ledger to its next generation. On PostgreSQL the row stays locked until the
/// transaction ends, so a login answered from memory (which reads the row `FOR SHARE`)
/// either commits before this transaction reads anything or sees the new generation.
pub(crate) async fn bump_generation(tx: &mut Tx) -> Result<()> {
    sqlx::query(
        "UPDATE meta SET value = CAST(CAST(value AS BIGINT) + 1 AS TEXT) WHERE key = 'generation'",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Ledger {
    /// Lets writers that are waiting for the lock go first (up to a bound), between the
    /// chunks of a long run.
    /// Only the writers already waiting go first (not ones that arrive meanwhile), and not
    /// for longer than 100 ms, so a steady stream of writers cannot stall the run.
    pub(crate) async fn yield_to_writers(&self) {
        let q = &self.writers_waiting;
        let waiting = q.waiting.load(Ordering::SeqCst);
        if waiting == 0 {
            return;
        }
        let target = q.granted.load(Ordering::SeqCst) + waiting;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(1)).await;
            if q.granted.load(Ordering::SeqCst) >= target {
                return;
            }
        }
    }
}

/// Hides a password in a URL before it reaches an error message or a log.
pub fn redact(spec: &str) -> String {
    match (spec.find("://"), spec.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &spec[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &spec[..s + 3], &creds[..c], &spec[at..]),
                None => spec.to_string(),
            }
        }
        _ => spec.to_string(),
    }
}

pub(crate) fn ts(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

pub(crate) fn dt(secs: i64) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|e| StoreError::Corrupt(format!("timestamp {secs}: {e}")))
}

pub(crate) fn parse<T: std::str::FromStr>(s: &str) -> Result<T> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("unexpected value {s:?}")))
}

/// Unsigned counts from SQL integers.
pub(crate) fn count(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn get_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get::<i64, _>(col)?)
}

pub(crate) fn get_str(row: &AnyRow, col: &str) -> Result<String> {
    Ok(row.try_get::<String, _>(col)?)
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}

pub(crate) fn get_opt_str(row: &AnyRow, col: &str) -> Result<Option<String>> {
    Ok(row.try_get::<Option<String>, _>(col)?)
}

pub(crate) fn bind<'q>(q: Q<'q>, v: Val) -> Q<'q> {
    match v {
        Val::Int(i) => q.bind(i),
        Val::OptInt(i) => q.bind(i),
        Val::Text(s) => q.bind(s),
        Val::OptText(s) => q.bind(s),
    }
}

/// `$start, $start+1, …` for `n` values: both backends read `$N` placeholders.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Values per IN list; far below both backends' bind limits.
pub(crate) const CHUNK: usize = 500;
/// Bound values per multi-row INSERT. Big statements are slow to prepare and run on SQLite
/// (the benchmark measured 2.2 M rows: 174 s at 500 rows of 10 values per statement, 41 s at
/// 25), so rows per statement shrink as rows widen.
pub(crate) const INSERT_VALUES: usize = 250;

/// Inserts many rows with one statement per chunk: `INSERT INTO t (a, b) VALUES ($1,$2),…`.
pub(crate) async fn insert_rows(
    tx: &mut Tx,
    head: &str,
    width: usize,
    rows: Vec<Vec<Val>>,
) -> Result<()> {
    insert_rows_on(tx, head, width, rows, INSERT_VALUES).await
}

/// [`insert_rows`] on any connection, with at most `values` bound values per statement.
pub(crate) async fn insert_rows_on(
    conn: &mut AnyConnection,
    head: &str,
    width: usize,
    rows: Vec<Vec<Val>>,
    values: usize,
) -> Result<()> {
    for chunk in rows.chunks((values / width.max(1)).max(1)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| format!("({})", placeholders(r * width + 1, width)))
            .collect();
        let sql = format!("{head} VALUES {}", values.join(", "));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in chunk.iter().flatten() {
            q = bind(q, v.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Runs `sql` (holding one `{ids}` slot) for each chunk of ids and gathers the rows.
pub(crate) async fn fetch_in(
    tx: &mut Tx,
    sql: &str,
    ids: &[Val],
    first: usize,
    before: &[Val],
) -> Result<Vec<AnyRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let sql = sql.replace("{ids}", &placeholders(first, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in before.iter().chain(chunk) {
            q = bind(q, v.clone());
        }
        out.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(out)
}

/// Like [`fetch_in`] for statements that change rows.
pub(crate) async fn execute_in(tx: &mut Tx, sql: &str, ids: &[Val]) -> Result<u64> {
    let mut n = 0;
    for chunk in ids.chunks(CHUNK) {
        let sql = sql.replace("{ids}", &placeholders(1, chunk.len()));
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for v in chunk {
            q = bind(q, v.clone());
        }
        n += q.execute(&mut **tx).await?.rows_affected();
    }
    Ok(n)
}

pub(crate) async fn meta_get(tx: &mut Tx, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM meta WHERE key = $1")
        .bind(key.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| get_str(&r, "value")).transpose()
}

pub(crate) async fn meta_set(tx: &mut Tx, key: &str, value: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ($1, $2) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key.to_string())
    .bind(value.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// One audit record (N3).
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    pub action: &'static str,
    pub target: String,
    pub details: serde_json::Value,
}

impl Audit {
    pub fn new(
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
    ) -> Self {
        Audit {
            action,
            target: target.into(),
            details,
        }
    }
}

pub(crate) async fn audit(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    entries: Vec<Audit>,
) -> Result<()> {
    let rows = entries
        .into_iter()
        .map(|a| {
            vec![
                Val::Int(ts(now)),
                Val::Text(actor.name.clone()),
                Val::Text(actor.origin.clone()),
                Val::OptText(actor.address.clone()),
                Val::OptText(actor.user_agent.clone()),
                Val::Text(a.action.to_string()),
                Val::Text(a.target),
                Val::Text(a.details.to_string()),
            ]
        })
        .collect();
    insert_rows(
        tx,
        "INSERT INTO audit_log (at, actor, origin, address, user_agent, action, target, details)",
        8,
        rows,
    )
    .await
}

/// Audit records made by the database from rows it already has (a bulk change's staging
/// table): `select` yields the columns `action, target, details` in order; its binds start
/// at `$4`, after the three this adds (time, actor, origin).
pub(crate) async fn audit_select(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    select: &str,
    binds: Vec<Val>,
) -> Result<u64> {
    let sql = format!(
        "INSERT INTO audit_log (at, actor, origin, action, target, details) \
         SELECT $1, $2, $3, action, target, details FROM ({select}) a"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql))
        .bind(ts(now))
        .bind(actor.name.clone())
        .bind(actor.origin.clone());
    for v in binds {
        q = bind(q, v);
    }
    Ok(q.execute(&mut **tx).await?.rows_affected())
}
