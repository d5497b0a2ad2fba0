//! `seatkeeper`: the administrator's and the vendor's command line. A thin edge: every
//! command parses its arguments, calls the ledger (or the core, for vendor commands), and
//! prints the answer as a table or as JSON.

mod distribution;
mod keys;
mod output;
mod tour;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use seatkeeper_core::license::{self, LicenseRequest, Order};
use seatkeeper_core::{Area, UserState};
use seatkeeper_store::{
    Actor, AuditFilter, ImportProgress, Ledger, ManualGrants, NewUser, StoreError, UserFilter,
};

use output::{Out, date, limit, opt_date, table};

#[derive(Parser)]
#[command(
    name = "seatkeeper",
    version,
    about = "Seatkeeper: user-license (seat) manager for multi-user applications",
    long_about = "Seatkeeper decides which users of an application may log in and which licensed \
                  products each may use, and shares out the seats bought from the vendor.\n\n\
                  Start with `seatkeeper tour --reset` for a guided demo on a fresh SQLite file."
)]
struct Cli {
    /// The ledger: a SQLite file path (created if missing) or a postgres:// URL.
    /// [default: seatkeeper.db; seatkeeper-demo.db for `serve --demo`]
    #[arg(long, global = true, env = "SEATKEEPER_DATABASE")]
    database: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// The name recorded as "who" in the audit log.
    #[arg(long, global = true, env = "SEATKEEPER_ACTOR")]
    actor: Option<String>,
    /// Trusted vendor public key (PEM) for license import; repeat or separate with commas.
    #[arg(
        long = "vendor-key",
        global = true,
        env = "SEATKEEPER_VENDOR_KEYS",
        value_delimiter = ','
    )]
    vendor_keys: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server: integration API for the application, admin API (see docs/API.md).
    Serve(ServeArgs),
    /// Administrator accounts: set a password (the first start tells you to).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// API tokens for the application (scope integration) or automation (scope admin).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Print the server's OpenAPI document (docs/openapi.json is this output).
    Openapi,
    /// Write a checked copy of the SQLite ledger to a new file; safe while servers run.
    /// (PostgreSQL: use pg_dump.)
    Backup { file: PathBuf },
    /// Replace the SQLite ledger with a backup; refused while a server or command uses it.
    /// The backup's sessions are ended. (PostgreSQL: use pg_restore.)
    Restore { file: PathBuf },
    /// Guided demo: issues a demo license, imports it, creates users and grants seats.
    Tour {
        /// Delete the SQLite database file first, so the tour starts from nothing.
        #[arg(long)]
        reset: bool,
    },
    /// This installation's instance id and company id.
    Instance,
    /// License files: request, import, list, place seats in folders, delete (L1-L5).
    #[command(subcommand)]
    License(LicenseCmd),
    /// The products declared by imported licenses.
    Products,
    /// The folder tree (X1).
    #[command(subcommand)]
    Folder(FolderCmd),
    /// Users: create, list, block, activate, delete, CSV import and export (U1, U3, U4).
    #[command(subcommand)]
    User(UserCmd),
    /// Grant products to users, all or nothing (D1).
    Grant(Pairs),
    /// Recall products from users (D1).
    Recall(Pairs),
    /// Active users per area against the limit; per product total, used, free, suspended, expiring (U4).
    Summary {
        /// How many days ahead counts as "expiring soon".
        #[arg(long, default_value_t = 30)]
        expiring_within_days: i64,
    },
    /// The audit log, newest first (N3).
    Audit {
        #[arg(long)]
        action: Option<String>,
        /// A login, license id, serial or folder.
        #[arg(long)]
        target: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Re-evaluate capacity now: suspend seats of expired packages, restore returning ones (L4).
    Refresh,
    /// Roles: the tree, members, and the products distributed with each role (D2).
    #[command(subcommand)]
    Role(RoleCmd),
    /// Role-based redistribution for all users, a role or a user; --preview changes nothing (D3, D4).
    Redistribute(RedistributeArgs),
    /// Why a user holds a product, or why not (D6).
    Explain { login: String, product: String },
    /// Pending needs: seats that roles ask for and no seat was free for.
    Needs {
        /// Only this user's needs.
        #[arg(long = "user")]
        user: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    /// System messages, newest first: redistribution results and limit events (N2).
    Messages {
        /// Only unread messages.
        #[arg(long)]
        unread: bool,
        /// Mark the messages shown as read.
        #[arg(long)]
        mark_read: bool,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Settings: show them, or change the ones given.
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Vendor commands: keys, issuing and inspecting license files (L6).
    #[command(subcommand)]
    Vendor(VendorCmd),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SEATKEEPER_LISTEN")]
    listen: Option<std::net::SocketAddr>,
    /// A session without heartbeat for this long ends, freeing its floating seat [default: 1800].
    #[arg(long, env = "SEATKEEPER_IDLE_TIMEOUT_SECS")]
    idle_timeout_secs: Option<u64>,
    /// How often idle sessions are looked for [default: 15].
    #[arg(long, env = "SEATKEEPER_REAP_INTERVAL_SECS")]
    reap_interval_secs: Option<u64>,
    /// Most logins/logouts/heartbeats applied in one transaction [default: 256].
    #[arg(long, env = "SEATKEEPER_BATCH_MAX")]
    batch_max: Option<usize>,
    /// Seconds a verified token is cached; revocations reach other nodes within it [default: 5].
    #[arg(long, env = "SEATKEEPER_AUTH_CACHE_TTL_SECS")]
    auth_cache_ttl_secs: Option<u64>,
    /// Leave `Secure` off the admin UI's cookies: only for plain HTTP on a non-loopback
    /// address (browsers keep `Secure` cookies over plain HTTP for localhost only).
    #[arg(long, env = "SEATKEEPER_INSECURE_COOKIES")]
    insecure_cookies: bool,
    /// How often the usage history is sampled; a point is written only on change, and at
    /// least once a day [default: 60].
    #[arg(long, env = "SEATKEEPER_USAGE_SAMPLE_SECS")]
    usage_sample_secs: Option<u64>,
    /// Failed sign-ins of one login within the window that lock it [default: 5].
    #[arg(long, env = "SEATKEEPER_SIGNIN_MAX_FAILURES")]
    signin_max_failures: Option<u32>,
    /// The window in which failed sign-ins are counted, in seconds [default: 900].
    #[arg(long, env = "SEATKEEPER_SIGNIN_FAILURE_WINDOW_SECS")]
    signin_failure_window_secs: Option<u64>,
    /// How long a locked login is refused, in seconds [default: 900].
    #[arg(long, env = "SEATKEEPER_SIGNIN_LOCKOUT_SECS")]
    signin_lockout_secs: Option<u64>,
    /// Sign-in attempts one client address may make per minute, 0 for no limit [default: 30].
    #[arg(long, env = "SEATKEEPER_SIGNIN_PER_ADDRESS_PER_MINUTE")]
    signin_per_address_per_minute: Option<u32>,
    /// A reverse proxy whose X-Forwarded-For names the client (repeat, or comma-separated).
    #[arg(long, env = "SEATKEEPER_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// A TOML file with any of the settings above (flags and environment win over it).
    #[arg(long, env = "SEATKEEPER_CONFIG")]
    config: Option<PathBuf>,
    /// Load a demo organisation (license, folders, roles, 340 users, sessions) on first start.
    #[arg(long)]
    demo: bool,
    /// Testing only: read the current time (unix seconds) from this file.
    #[arg(long, hide = true, env = "SEATKEEPER_CLOCK_FILE")]
    clock_file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum AdminCmd {
    /// Set a user's administrator password (argon2-hashed; the built-in one is `admin`).
    Password {
        login: String,
        /// Generate a strong password and print it once.
        #[arg(long, conflicts_with = "password_stdin")]
        generate: bool,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End a login's sign-in lockout (after repeated wrong passwords) and forget its failures.
    Unlock { login: String },
}

#[derive(Subcommand)]
enum TokenCmd {
    /// Create a token; its secret is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// integration (the licensed application) or admin (automation).
        #[arg(long, default_value = "integration")]
        scope: String,
        /// The user the token acts as.
        #[arg(long, default_value = "admin")]
        owner: String,
    },
    /// List tokens (never their secrets).
    List,
    /// Revoke a token.
    Revoke { id: i64 },
}

#[derive(Subcommand)]
enum LicenseCmd {
    /// Write a license request for the vendor (L1).
    Request {
        /// The company id the vendor gave you; recorded by the first request. A different one
        /// later is refused: change it with `license company-id`.
        #[arg(long)]
        company_id: Option<String>,
        /// The application version the licenses are for.
        #[arg(long, default_value = env!("CARGO_PKG_VERSION"))]
        app_version: String,
        /// Where to write the request (standard output if omitted).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Change the installation's company id (refused while license files are loaded: they
    /// are bound to the old one).
    CompanyId {
        company_id: String,
        /// Confirm the change.
        #[arg(long)]
        confirm: bool,
    },
    /// Import a license file from the vendor (L2, L3). Needs --vendor-key.
    Import { file: PathBuf },
    /// License files and their packages, with status and folder placement.
    List,
    /// Place some of a package's seats in a folder; 0 returns them to the root (X1).
    Place {
        serial: String,
        #[arg(long)]
        folder: String,
        #[arg(long)]
        seats: u32,
    },
    /// Delete every license (demo mode): assignments are kept, suspended (L5).
    DeleteAll {
        /// Confirm: this removes every license file.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Subcommand)]
enum FolderCmd {
    /// Create a folder by path, e.g. "Sales/North" (parents are created too).
    Create {
        path: String,
    },
    List,
    /// Delete an empty folder.
    Delete {
        path: String,
    },
}

#[derive(Subcommand)]
enum UserCmd {
    /// Create a user; refused when the area is at its user limit (U1).
    Create {
        login: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "")]
        email: String,
        /// employee or portal.
        #[arg(long, default_value = "employee")]
        area: Area,
        /// Folder path; the root if omitted.
        #[arg(long, default_value = "")]
        folder: String,
        /// Create the user blocked (takes no place in the area).
        #[arg(long)]
        blocked: bool,
    },
    /// List users with their licenses.
    List {
        #[arg(long)]
        area: Option<Area>,
        /// active or blocked.
        #[arg(long)]
        state: Option<UserState>,
        #[arg(long)]
        folder: Option<String>,
        /// Only users holding this product.
        #[arg(long)]
        product: Option<String>,
        /// Part of the login, name or e-mail.
        #[arg(long)]
        search: Option<String>,
        #[arg(long)]
        limit: Option<u64>,
        #[arg(long, default_value_t = 0)]
        offset: u64,
    },
    Show {
        login: String,
    },
    /// Block a user: frees every seat they hold (U3).
    Block {
        login: String,
        #[arg(long, default_value = "blocked by administrator")]
        reason: String,
    },
    /// Unblock a user, if the area has room (U3).
    Activate {
        login: String,
    },
    /// Delete a user and their data for good.
    Delete {
        login: String,
        #[arg(long)]
        yes: bool,
    },
    /// Move a user to another folder.
    Move {
        login: String,
        #[arg(long)]
        folder: String,
    },
    /// Import users from CSV, all or nothing (columns: login,name,email,area,folder,state).
    Import {
        file: PathBuf,
    },
    /// Export users with account state and licenses as CSV (U4).
    Export {
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum RoleCmd {
    /// Roles with their parent, permissions, bound products and members.
    List,
    /// Create a role; an organizational role without --parent goes under "All employees".
    Create {
        name: String,
        /// organizational or functional.
        #[arg(long, default_value = "functional")]
        kind: String,
        /// The parent role (id or name).
        #[arg(long)]
        parent: Option<String>,
    },
    /// Rename a role.
    Rename {
        /// The role (id or name).
        role: String,
        name: String,
    },
    /// Move a role under another role of the same kind, or to the top with --top.
    Move {
        /// The role (id or name).
        role: String,
        /// The new parent (id or name).
        #[arg(long, required_unless_present = "top", conflicts_with = "top")]
        parent: Option<String>,
        /// Make a functional role top-level (an organizational one goes under "All employees").
        #[arg(long)]
        top: bool,
    },
    /// Delete a role without child roles; the seats it gave are recalled (manual ones kept).
    Delete {
        /// The role (id or name).
        role: String,
    },
    /// Add or remove direct members, all or nothing.
    #[command(subcommand)]
    Members(MembersCmd),
    /// Bind a product to a role: its members and its descendants' members get it.
    Bind {
        /// The role (id or name).
        role: String,
        product: String,
    },
    /// Unbind a product from a role.
    Unbind {
        /// The role (id or name).
        role: String,
        product: String,
    },
}

#[derive(Subcommand)]
enum MembersCmd {
    Add {
        /// The role (id or name).
        role: String,
        #[arg(required = true)]
        logins: Vec<String>,
    },
    Remove {
        /// The role (id or name).
        role: String,
        #[arg(required = true)]
        logins: Vec<String>,
    },
}

#[derive(Args)]
#[command(group(clap::ArgGroup::new("scope").required(true).args(["all", "role", "user"])))]
struct RedistributeArgs {
    /// Every active user.
    #[arg(long)]
    all: bool,
    /// The members of a role and of its descendants (id or name).
    #[arg(long)]
    role: Option<String>,
    /// One user.
    #[arg(long)]
    user: Option<String>,
    /// What to do with licenses granted by hand that no role asks for: keep or remove.
    #[arg(long, default_value = "keep")]
    manual: ManualGrants,
    /// Show the plan (grants, recalls, unmet needs) without changing anything.
    #[arg(long)]
    preview: bool,
    /// How many items of each list to show.
    #[arg(long, default_value_t = seatkeeper_store::DEFAULT_DETAIL)]
    detail: usize,
    /// Users per chunk transaction (tests and benchmarks).
    #[arg(long, default_value_t = seatkeeper_store::DEFAULT_CHUNK_USERS, hide = true)]
    chunk_users: usize,
}

#[derive(Subcommand)]
enum SettingsCmd {
    /// Role-based distribution settings (D5); without options, shows them.
    Distribution {
        /// Redistribute for the users a role membership or binding change touches.
        #[arg(long)]
        redistribute_on_role_change: Option<bool>,
        /// Turn role-based distribution on or off as a whole.
        #[arg(long)]
        role_based_distribution: Option<bool>,
    },
}

#[derive(Args)]
struct Pairs {
    /// Logins; repeat or separate with commas.
    #[arg(long = "user", short = 'u', required = true, value_delimiter = ',')]
    users: Vec<String>,
    /// Product codes; repeat or separate with commas.
    #[arg(long = "product", short = 'p', required = true, value_delimiter = ',')]
    products: Vec<String>,
}

#[derive(Subcommand)]
enum VendorCmd {
    /// Generate a vendor key pair: PREFIX.key.pem (private, keep safe) and PREFIX.pub.pem.
    Keygen {
        #[arg(long, default_value = "vendor")]
        out: String,
    },
    /// Turn a customer's license request and an order into a signed license file.
    Issue {
        /// The vendor's private key (PEM).
        #[arg(long)]
        key: PathBuf,
        #[arg(long)]
        request: PathBuf,
        /// The order (JSON): products, packages, area limits. See docs/LICENSE-FILES.md.
        #[arg(long)]
        order: PathBuf,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show what any license file holds; with --vendor-key also check its signature.
    Inspect { file: PathBuf },
}

/// `seatkeeper user list | head`: when the reader goes away, end as other Unix tools do (by
/// SIGPIPE, which shells do not report) instead of panicking in `println!`. Rust ignores
/// SIGPIPE by default; the default action is restored for one-shot commands only: a server
/// must not die because some peer closed a pipe.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called at the start of `main`, before any other thread exists; `signal` with
    // SIG_DFL installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Why a command failed: a refusal (exit 2) or a problem running it (exit 1).
#[derive(Debug)]
pub enum CliError {
    Store(StoreError),
    Usage(String),
    Io(String, std::io::Error),
    /// A file named on the command line cannot be read (missing, not permitted, not UTF-8):
    /// the caller's input is wrong, so it is a refusal like any other bad argument.
    Unreadable(String, std::io::Error),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Store(e) => write!(f, "{e}"),
            CliError::Usage(m) => f.write_str(m),
            CliError::Io(path, e) | CliError::Unreadable(path, e) => write!(f, "{path}: {e}"),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<seatkeeper_core::Error> for CliError {
    fn from(e: seatkeeper_core::Error) -> Self {
        CliError::Store(StoreError::Domain(e))
    }
}

impl CliError {
    fn code(&self) -> &'static str {
        match self {
            CliError::Store(e) => e.code(),
            CliError::Usage(_) => "usage",
            CliError::Io(..) => "io",
            CliError::Unreadable(..) => "unreadable_file",
        }
    }

    fn exit(&self) -> u8 {
        match self {
            CliError::Store(StoreError::Domain(_) | StoreError::Refused(_))
            | CliError::Usage(_)
            | CliError::Unreadable(..) => 2,
            _ => 1,
        }
    }
}

/// Rows between two progress lines of `user import`.
const IMPORT_PROGRESS_ROWS: u64 = 50_000;

pub fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Unreadable(path.display().to_string(), e))
}

pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError::Io(path.display().to_string(), e))
}

fn write_or_print(output: Option<&Path>, text: &str) -> Result<(), CliError> {
    match output {
        Some(p) => {
            write_file(p, text.as_bytes())?;
            eprintln!("wrote {}", p.display());
            Ok(())
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_)) {
        quiet_on_closed_pipe();
    }
    let default_log = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "warn"
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEATKEEPER_LOG")
                .unwrap_or_else(|_| default_log.into()),
        )
        .with_writer(std::io::stderr)
        // A log that cannot be written (stderr a file on a full disk) must not stop the
        // server: tracing-subscriber would otherwise report it with `eprintln!`, which panics
        // when stderr fails, and the panic drops the request being answered.
        .log_internal_errors(false)
        .init();
    let json = cli.json;
    // The server uses every core; a one-shot command needs one thread.
    let runtime = if matches!(cli.command, Command::Serve(_)) {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({"error": {"code": e.code(), "message": e.to_string()}})
                );
            } else {
                eprintln!("error: {e}");
            }
            ExitCode::from(e.exit())
        }
    }
}

fn actor(cli: &Cli) -> Actor {
    let name = cli
        .actor
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "admin".to_string());
    Actor::new(name, "cli")
}

async fn run(cli: Cli) -> Result<(), CliError> {
    let out = Out { json: cli.json };
    let who = actor(&cli);
    // Vendor commands need no ledger.
    if let Command::Vendor(cmd) = &cli.command {
        return vendor(cmd, &cli, &out);
    }
    if let Command::Tour { reset } = &cli.command {
        return tour::run(&cli.database(), *reset, &out).await;
    }
    if let Command::Serve(args) = &cli.command {
        return serve(&cli, args).await;
    }
    if let Command::Backup { file } | Command::Restore { file } = &cli.command {
        return backup_or_restore(&cli, file, &who, &out).await;
    }
    if let Command::Openapi = &cli.command {
        println!(
            "{}",
            serde_json::to_string_pretty(&seatkeeper_server::routes::openapi())
                .map_err(|e| CliError::Usage(e.to_string()))?
        );
        return Ok(());
    }
    let ledger = Ledger::open(&cli.database()).await?;
    let result = command(&cli, &ledger, &who, &out).await;
    ledger.close().await;
    result
}

impl Cli {
    fn database(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| seatkeeper_server::config::DEFAULT_DATABASE.to_string())
    }
}

/// Backups and restores work on the SQLite file, not through an opened ledger (a restore
/// must find the file unused; a backup needs no migration).
async fn backup_or_restore(cli: &Cli, file: &Path, who: &Actor, out: &Out) -> Result<(), CliError> {
    let spec = cli.database();
    let Some(db) = seatkeeper_store::sqlite_file(&spec) else {
        return Err(CliError::Usage(
            "a PostgreSQL ledger is backed up with pg_dump and restored with pg_restore \
             (see \"Backups and restores\" in docs/OPERATIONS.md)"
                .into(),
        ));
    };
    if let Command::Restore { .. } = &cli.command {
        let r = seatkeeper_store::restore(db, file, who).await?;
        out.show(&r, |r| {
            println!(
                "restored {} from {}; ended the backup's {} session(s), {} releasing seat(s) freed",
                r.database,
                r.from,
                r.sessions_ended,
                r.released.len()
            );
        })?;
    } else {
        let r = seatkeeper_store::backup(db, file)?;
        out.show(&r, |r| {
            println!(
                "backed up {db} to {} ({} bytes, integrity {})",
                r.file, r.bytes, r.integrity
            );
        })?;
    }
    Ok(())
}

async fn serve(cli: &Cli, args: &ServeArgs) -> Result<(), CliError> {
    let config = seatkeeper_server::ServeConfig::resolve(
        seatkeeper_server::config::Overrides {
            database: cli.database.clone(),
            listen: args.listen,
            vendor_keys: Some(cli.vendor_keys.clone()),
            idle_timeout_secs: args.idle_timeout_secs,
            reap_interval_secs: args.reap_interval_secs,
            batch_max: args.batch_max,
            auth_cache_ttl_secs: args.auth_cache_ttl_secs,
            insecure_cookies: args.insecure_cookies.then_some(true),
            usage_sample_secs: args.usage_sample_secs,
            signin_max_failures: args.signin_max_failures,
            signin_failure_window_secs: args.signin_failure_window_secs,
            signin_lockout_secs: args.signin_lockout_secs,
            signin_per_address_per_minute: args.signin_per_address_per_minute,
            trusted_proxies: Some(args.trusted_proxy.clone()),
        },
        args.config.as_deref(),
        args.demo,
        args.clock_file.clone(),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    seatkeeper_server::serve(config).await.map_err(|e| match e {
        seatkeeper_server::ServeError::Store(s) => CliError::Store(s),
        other => CliError::Usage(other.to_string()),
    })
}

async fn admin_cmd(
    cmd: &AdminCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        AdminCmd::Password {
            login,
            generate,
            password_stdin,
        } => {
            let password = if *generate {
                seatkeeper_server::auth::generate_password()
                    .map_err(|e| CliError::Usage(e.to_string()))?
            } else if *password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .map_err(|e| CliError::Io("standard input".into(), e))?;
                line.trim_end_matches(['\r', '\n']).to_string()
            } else {
                return Err(CliError::Usage(
                    "give --generate (prints a new password once) or --password-stdin".into(),
                ));
            };
            let hash = seatkeeper_server::auth::hash_password(&password)
                .map_err(|e| CliError::Usage(e.message))?;
            ledger.set_password_hash(who, login, &hash).await?;
            if out.json {
                let mut v = serde_json::json!({"login": login, "password_set": true});
                if *generate {
                    v["password"] = serde_json::json!(password);
                }
                println!("{v}");
            } else if *generate {
                println!(
                    "password for {login}: {password}\n(shown once; only its argon2 hash is stored)"
                );
            } else {
                println!("password for {login} set");
            }
            Ok(())
        }
        AdminCmd::Unlock { login } => {
            let had = ledger.unlock_signin(who, login).await?;
            out.show(
                &serde_json::json!({"login": login, "had_failures": had}),
                |_| {
                    if had {
                        println!("sign-in for {login} unlocked; its failures are forgotten");
                    } else {
                        println!("{login} had no failed sign-ins on record");
                    }
                },
            )
        }
    }
}

async fn token_cmd(
    cmd: &TokenCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    use seatkeeper_store::TokenScope;
    match cmd {
        TokenCmd::Create { name, scope, owner } => {
            let scope: TokenScope = scope.parse()?;
            if scope == TokenScope::Signin {
                return Err(CliError::Usage("scope must be integration or admin".into()));
            }
            let secret = seatkeeper_server::auth::new_secret(scope)
                .map_err(|e| CliError::Usage(e.message))?;
            let view = ledger
                .create_token(
                    who,
                    owner,
                    name,
                    scope,
                    &seatkeeper_server::auth::secret_hash(&secret),
                    None,
                )
                .await?;
            if out.json {
                println!(
                    "{}",
                    serde_json::json!({"id": view.id, "name": view.name, "scope": scope, "owner": view.owner, "token": secret})
                );
            } else {
                println!(
                    "token {} ({}, acts as {}): {secret}\n(shown once; only its hash is stored)",
                    view.id,
                    scope.as_str(),
                    view.owner
                );
            }
            Ok(())
        }
        TokenCmd::List => {
            let tokens = ledger.tokens().await?;
            out.show(&tokens, |tokens| {
                println!(
                    "{}",
                    table(
                        &["id", "name", "scope", "owner", "created", "expires"],
                        tokens.iter().map(|t| {
                            vec![
                                t.id.to_string(),
                                t.name.clone(),
                                t.scope.as_str().to_string(),
                                t.owner.clone(),
                                date(t.created_at),
                                t.expires_at.map_or_else(|| "never".to_string(), date),
                            ]
                        }),
                    )
                );
            })
        }
        TokenCmd::Revoke { id } => {
            ledger.delete_token(who, *id).await?;
            out.show(&serde_json::json!({"revoked": id}), |_| {
                println!("token {id} revoked");
            })
        }
    }
}

async fn command(cli: &Cli, ledger: &Ledger, who: &Actor, out: &Out) -> Result<(), CliError> {
    match &cli.command {
        Command::Vendor(_)
        | Command::Tour { .. }
        | Command::Serve(_)
        | Command::Openapi
        | Command::Backup { .. }
        | Command::Restore { .. } => Ok(()),
        Command::Admin(cmd) => admin_cmd(cmd, ledger, who, out).await,
        Command::Token(cmd) => token_cmd(cmd, ledger, who, out).await,
        Command::Instance => {
            let info = ledger.instance().await?;
            out.show(&info, |i| {
                println!("instance id: {}", i.instance_id);
                println!(
                    "company id:  {}",
                    i.company_id
                        .as_deref()
                        .unwrap_or("(not set: run `seatkeeper license request --company-id ID`)")
                );
            })
        }
        Command::License(cmd) => license_cmd(cmd, cli, ledger, who, out).await,
        Command::Products => {
            let products = ledger.products().await?;
            out.show(&products, |ps| {
                println!(
                    "{}",
                    table(
                        &["code", "name", "all modules", "features"],
                        ps.iter().map(|p| vec![
                            p.code.clone(),
                            p.name.clone(),
                            yes_no(p.all_modules),
                            p.features.join(", ")
                        ])
                    )
                )
            })
        }
        Command::Folder(cmd) => match cmd {
            FolderCmd::Create { path } => {
                let f = ledger.create_folder(who, path).await?;
                out.show(&f, |f| println!("created folder {}", f.path))
            }
            FolderCmd::List => {
                let folders = ledger.folders().await?;
                out.show(&folders, |fs| {
                    println!(
                        "{}",
                        table(
                            &["folder", "users"],
                            fs.iter().map(|f| vec![f.path.clone(), f.users.to_string()])
                        )
                    )
                })
            }
            FolderCmd::Delete { path } => {
                ledger.delete_folder(who, path).await?;
                out.show(&serde_json::json!({"deleted": path}), |_| {
                    println!("deleted folder {path}")
                })
            }
        },
        Command::User(cmd) => user_cmd(cmd, ledger, who, out).await,
        Command::Grant(p) => {
            let r = ledger.grant(who, &p.users, &p.products).await?;
            out.show(&r, |r| {
                println!(
                    "granted {} license(s); {} already held",
                    r.granted.len(),
                    r.already_held
                );
                for g in &r.granted {
                    println!("  {} ← {}", g.login, g.product);
                }
            })
        }
        Command::Recall(p) => {
            let r = ledger.recall(who, &p.users, &p.products).await?;
            out.show(&r, |r| {
                println!(
                    "recalled {} license(s); {} were not held",
                    r.recalled.len(),
                    r.not_held
                );
                for g in &r.recalled {
                    println!("  {} → {}", g.login, g.product);
                }
                for g in &r.changes.restored {
                    println!("  restored suspended seat: {} ({})", g.login, g.product);
                }
            })
        }
        Command::Summary {
            expiring_within_days,
        } => {
            let s = ledger
                .summary(time::Duration::days(*expiring_within_days))
                .await?;
            out.show(&s, print_summary)
        }
        Command::Audit {
            action,
            target,
            limit,
        } => {
            let log = ledger
                .audit_log(&AuditFilter {
                    action: action.clone(),
                    target: target.clone(),
                    limit: Some(*limit),
                    ..Default::default()
                })
                .await?;
            out.show(&log, |log| {
                println!(
                    "{}",
                    table(
                        &["when", "who", "from", "what", "target", "details"],
                        log.iter().map(|e| vec![
                            date(e.at),
                            e.actor.clone(),
                            // The channel, and the client's address when it came over HTTP.
                            e.address
                                .as_ref()
                                .map_or_else(|| e.origin.clone(), |a| format!("{} {a}", e.origin)),
                            e.action.clone(),
                            e.target.clone(),
                            e.details.to_string()
                        ])
                    )
                )
            })
        }
        Command::Refresh => {
            let c = ledger.refresh().await?;
            out.show(&c, |c| {
                println!(
                    "{} seat(s) suspended, {} restored",
                    c.suspended.len(),
                    c.restored.len()
                )
            })
        }
        Command::Role(cmd) => distribution::role_cmd(cmd, ledger, who, out).await,
        Command::Redistribute(args) => distribution::redistribute(args, ledger, who, out).await,
        Command::Explain { login, product } => {
            distribution::explain(login, product, ledger, out).await
        }
        Command::Needs {
            user,
            limit,
            offset,
        } => distribution::needs(user.as_deref(), *limit, *offset, ledger, out).await,
        Command::Messages {
            unread,
            mark_read,
            limit,
        } => distribution::messages(*unread, *mark_read, *limit, ledger, out).await,
        Command::Settings(SettingsCmd::Distribution {
            redistribute_on_role_change,
            role_based_distribution,
        }) => {
            distribution::settings(
                *redistribute_on_role_change,
                *role_based_distribution,
                ledger,
                who,
                out,
            )
            .await
        }
    }
}

pub fn print_summary(s: &seatkeeper_store::Summary) {
    println!(
        "{}",
        table(
            &["area", "active users", "limit", "blocked"],
            s.areas.iter().map(|a| vec![
                a.area.to_string(),
                a.active_users.to_string(),
                limit(a.limit),
                a.blocked_users.to_string()
            ])
        )
    );
    if s.products.is_empty() {
        println!("no licenses loaded (demo mode): only the built-in administrator can log in");
        return;
    }
    println!(
        "{}",
        table(
            &[
                "product",
                "area",
                "kind",
                "total",
                "used",
                "free",
                "suspended",
                "expiring soon",
                "next expiry"
            ],
            s.products.iter().map(|p| vec![
                format!("{} ({})", p.product, p.name),
                p.area.to_string(),
                p.kind.to_string(),
                p.total.to_string(),
                p.used.to_string(),
                p.free.to_string(),
                p.suspended.to_string(),
                p.expiring_soon.to_string(),
                p.next_expiry.map_or_else(String::new, date),
            ])
        )
    );
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn trusted_keys(cli: &Cli) -> Result<Vec<ed25519_dalek::VerifyingKey>, CliError> {
    // One reader of key files for the CLI and the server.
    seatkeeper_server::config::read_vendor_keys(&cli.vendor_keys)
        .map_err(|e| CliError::Usage(e.to_string()))
}

async fn license_cmd(
    cmd: &LicenseCmd,
    cli: &Cli,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        LicenseCmd::Request {
            company_id,
            app_version,
            output,
        } => {
            let req = ledger
                .license_request(who, company_id.as_deref(), app_version)
                .await?;
            let text =
                serde_json::to_string_pretty(&req).map_err(|e| CliError::Usage(e.to_string()))?;
            write_or_print(output.as_deref(), &text)
        }
        LicenseCmd::CompanyId {
            company_id,
            confirm,
        } => {
            if !confirm {
                return Err(CliError::Usage(format!(
                    "changing the company id re-binds this installation's licenses; run again with --confirm to set it to {company_id:?}"
                )));
            }
            let info = ledger.set_company_id(who, company_id).await?;
            out.show(&info, |i| {
                println!(
                    "company id: {}",
                    i.company_id.as_deref().unwrap_or_default()
                )
            })
        }
        LicenseCmd::Import { file } => {
            let keys = trusted_keys(cli)?;
            if keys.is_empty() {
                return Err(CliError::Usage(
                    "no vendor public key configured: pass --vendor-key FILE or set SEATKEEPER_VENDOR_KEYS".into(),
                ));
            }
            let text = read_file(file)?;
            let r = ledger.import_license(who, &text, &keys).await?;
            out.show(&r, |r| {
                if r.already_imported {
                    println!(
                        "license {} was already imported: nothing changed",
                        r.license_id
                    );
                    return;
                }
                println!(
                    "imported license {}: packages {}",
                    r.license_id,
                    r.packages.join(", ")
                );
                if !r.replaced.is_empty() {
                    println!(
                        "  renews {} (their assignments carry over)",
                        r.replaced.join(", ")
                    );
                }
                if !r.replaced_unknown.is_empty() {
                    println!(
                        "  says it replaces {}, never imported here",
                        r.replaced_unknown.join(", ")
                    );
                }
                for s in &r.changes.restored {
                    println!("  restored suspended seat: {} ({})", s.login, s.product);
                }
            })
        }
        LicenseCmd::List => {
            let files = ledger.license_files().await?;
            let packages = ledger.packages().await?;
            out.show(
                &serde_json::json!({"license_files": files, "packages": packages}),
                |_| {
                    println!(
                        "{}",
                        table(
                            &[
                                "license",
                                "company",
                                "vendor key",
                                "issued",
                                "imported",
                                "by",
                                "packages"
                            ],
                            files.iter().map(|f| vec![
                                f.license_id.clone(),
                                f.company_id.clone(),
                                f.key_id.clone(),
                                date(f.issued_at),
                                date(f.imported_at),
                                f.imported_by.clone(),
                                f.packages.to_string()
                            ])
                        )
                    );
                    println!(
                        "{}",
                        table(
                            &[
                                "serial",
                                "product",
                                "kind",
                                "area",
                                "seats",
                                "valid from",
                                "expires",
                                "status",
                                "placed in folders"
                            ],
                            packages.iter().map(|p| vec![
                                p.serial.clone(),
                                p.product.clone(),
                                p.kind.to_string(),
                                p.area.to_string(),
                                p.seats.to_string(),
                                date(p.valid_from),
                                opt_date(p.expires),
                                format!("{:?}", p.status).to_lowercase(),
                                p.placements
                                    .iter()
                                    .map(|pl| format!("{}: {}", pl.folder, pl.seats))
                                    .collect::<Vec<_>>()
                                    .join(", "),
                            ])
                        )
                    );
                },
            )
        }
        LicenseCmd::Place {
            serial,
            folder,
            seats,
        } => {
            ledger.place_seats(who, serial, folder, *seats).await?;
            out.show(
                &serde_json::json!({"serial": serial, "folder": folder, "seats": seats}),
                |_| println!("{seats} seat(s) of {serial} placed in {folder}"),
            )
        }
        LicenseCmd::DeleteAll { yes } => {
            if !yes {
                return Err(CliError::Usage(
                    "this deletes every license; confirm with --yes".into(),
                ));
            }
            let r = ledger.delete_all_licenses(who).await?;
            out.show(&r, |r| {
                println!(
                    "deleted {} license file(s), {} package(s); {} assignment(s) suspended until licenses return",
                    r.license_files,
                    r.packages,
                    r.changes.suspended.len()
                )
            })
        }
    }
}

async fn user_cmd(cmd: &UserCmd, ledger: &Ledger, who: &Actor, out: &Out) -> Result<(), CliError> {
    match cmd {
        UserCmd::Create {
            login,
            name,
            email,
            area,
            folder,
            blocked,
        } => {
            let u = ledger
                .create_user(
                    who,
                    NewUser {
                        login: login.clone(),
                        name: name.clone().unwrap_or_else(|| login.clone()),
                        email: email.clone(),
                        area: *area,
                        folder: folder.clone(),
                        state: if *blocked {
                            UserState::Blocked
                        } else {
                            UserState::Active
                        },
                    },
                )
                .await?;
            out.show(&u, |u| {
                println!(
                    "created {} ({}, {}, folder {})",
                    u.login,
                    u.area,
                    u.state.as_str(),
                    u.folder
                )
            })
        }
        UserCmd::List {
            area,
            state,
            folder,
            product,
            search,
            limit,
            offset,
        } => {
            let users = ledger
                .users(&UserFilter {
                    area: *area,
                    state: *state,
                    folder: folder.clone(),
                    product: product.clone(),
                    role: None,
                    search: search.clone(),
                    limit: *limit,
                    offset: *offset,
                })
                .await?;
            out.show(&users, |us| {
                println!(
                    "{}",
                    table(
                        &[
                            "login", "name", "e-mail", "area", "folder", "state", "licenses"
                        ],
                        us.iter().map(|u| vec![
                            if u.builtin {
                                format!("{} (built-in)", u.login)
                            } else {
                                u.login.clone()
                            },
                            u.name.clone(),
                            u.email.clone(),
                            u.area.to_string(),
                            u.folder.clone(),
                            match &u.block_reason {
                                Some(r) if u.state == UserState::Blocked => format!("blocked: {r}"),
                                _ => u.state.as_str().to_string(),
                            },
                            licenses(u),
                        ])
                    )
                )
            })
        }
        UserCmd::Show { login } => {
            let u = ledger.user(login).await?;
            out.show(&u, |u| {
                println!(
                    "login:   {}{}",
                    u.login,
                    if u.builtin {
                        " (built-in administrator)"
                    } else {
                        ""
                    }
                );
                println!("name:    {}", u.name);
                println!("e-mail:  {}", u.email);
                println!("area:    {}", u.area);
                println!("folder:  {}", u.folder);
                println!(
                    "state:   {}{}",
                    u.state.as_str(),
                    u.block_reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                );
                println!("created: {}", date(u.created_at));
                println!(
                    "{}",
                    table(
                        &["product", "status", "manual", "seat from folder", "granted"],
                        u.licenses.iter().map(|l| vec![
                            l.product.clone(),
                            l.status.as_str().into(),
                            yes_no(l.manual),
                            l.seat_folder.clone(),
                            date(l.granted_at)
                        ])
                    )
                );
            })
        }
        UserCmd::Block { login, reason } => {
            let r = ledger.block_user(who, login, reason).await?;
            out.show(&r, |r| {
                println!(
                    "blocked {login}; freed: {}",
                    if r.freed.is_empty() {
                        "nothing".into()
                    } else {
                        r.freed.join(", ")
                    }
                )
            })
        }
        UserCmd::Activate { login } => {
            ledger.activate_user(who, login).await?;
            out.show(&serde_json::json!({"activated": login}), |_| {
                println!("activated {login}")
            })
        }
        UserCmd::Delete { login, yes } => {
            if !yes {
                return Err(CliError::Usage(format!(
                    "deleting {login} removes the user for good; confirm with --yes"
                )));
            }
            let r = ledger.delete_user(who, login).await?;
            out.show(&r, |_| println!("deleted {login}"))
        }
        UserCmd::Move { login, folder } => {
            ledger.move_user(who, login, folder).await?;
            out.show(
                &serde_json::json!({"login": login, "folder": folder}),
                |_| println!("moved {login} to {folder}"),
            )
        }
        UserCmd::Import { file } => {
            // Read as it goes (bounded memory for any size of file), with progress on stderr
            // for files large enough to take a while.
            let input = std::fs::File::open(file)
                .map_err(|e| CliError::Io(file.display().to_string(), e))?;
            let mut shown = 0u64;
            let r = ledger
                .import_users_csv_from(who, std::io::BufReader::new(input), |p| match p {
                    ImportProgress::Read { rows } if rows >= shown + IMPORT_PROGRESS_ROWS => {
                        shown = rows;
                        eprintln!("read {rows} rows");
                    }
                    ImportProgress::Applying { rows } if rows >= IMPORT_PROGRESS_ROWS => {
                        eprintln!("checking and applying {rows} rows");
                    }
                    _ => {}
                })
                .await?;
            out.show(&r, |r| {
                println!(
                    "created {}, updated {}, unchanged {}",
                    r.created, r.updated, r.unchanged
                )
            })
        }
        UserCmd::Export { output } => {
            let csv = ledger.export_users_csv().await?;
            match output {
                Some(p) => {
                    write_file(p, csv.as_bytes())?;
                    eprintln!("wrote {}", p.display());
                    Ok(())
                }
                None => {
                    print!("{csv}");
                    Ok(())
                }
            }
        }
    }
}

fn licenses(u: &seatkeeper_store::UserView) -> String {
    u.licenses
        .iter()
        .map(|l| match l.status {
            seatkeeper_core::AssignmentStatus::Active => l.product.clone(),
            seatkeeper_core::AssignmentStatus::Suspended => format!("{} (suspended)", l.product),
            seatkeeper_core::AssignmentStatus::Releasing => format!("{} (releasing)", l.product),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn vendor(cmd: &VendorCmd, cli: &Cli, out: &Out) -> Result<(), CliError> {
    match cmd {
        VendorCmd::Keygen { out: prefix } => {
            let key = keys::generate()?;
            let private = PathBuf::from(format!("{prefix}.key.pem"));
            let public = PathBuf::from(format!("{prefix}.pub.pem"));
            keys::write_pair(&key, &private, &public)?;
            let id = license::key_id(&key.verifying_key());
            out.show(
                &serde_json::json!({"private_key": private, "public_key": public, "key_id": id}),
                |_| {
                    println!(
                        "wrote {} (private: keep it safe) and {}",
                        private.display(),
                        public.display()
                    );
                    println!("key id {id}; customers configure the public key with --vendor-key");
                },
            )
        }
        VendorCmd::Issue {
            key,
            request,
            order,
            output,
        } => {
            let key = keys::read_signing(key)?;
            let request: LicenseRequest =
                serde_json::from_str(&read_file(request)?).map_err(|e| {
                    CliError::Usage(format!("{}: not a license request: {e}", request.display()))
                })?;
            let order: Order = serde_json::from_str(&read_file(order)?)
                .map_err(|e| CliError::Usage(format!("{}: not an order: {e}", order.display())))?;
            let now = seatkeeper_store::Clock::now(&seatkeeper_store::SystemClock);
            let text = license::issue(
                &key,
                &request,
                &order,
                uuid::Uuid::new_v4().to_string(),
                now,
            )?;
            write_or_print(output.as_deref(), &text)
        }
        VendorCmd::Inspect { file } => {
            let text = read_file(file)?;
            let (envelope, payload) =
                license::decode_unverified(&text).map_err(seatkeeper_core::Error::from)?;
            let keys = trusted_keys(cli)?;
            let signature = if keys.is_empty() {
                "not checked (no --vendor-key given)".to_string()
            } else {
                match license::verify(&text, &keys) {
                    Ok(_) => "valid".to_string(),
                    Err(e) => format!("INVALID: {e}"),
                }
            };
            out.show(&serde_json::json!({"key_id": envelope.key_id, "signature": signature, "payload": payload}), |_| {
                println!("license {} for company {} / instance {}", payload.license_id, payload.company_id, payload.instance_id);
                println!("issued {}, valid from {}, vendor key {}", date(payload.issued_at), date(payload.valid_from), envelope.key_id);
                println!("signature: {signature}");
                println!(
                    "{}",
                    table(
                        &["code", "name", "all modules", "features"],
                        payload.products.iter().map(|p| vec![p.code.clone(), p.name.clone(), yes_no(p.all_modules), p.features.join(", ")])
                    )
                );
                println!(
                    "{}",
                    table(
                        &["serial", "product", "kind", "area", "seats", "valid from", "expires", "replaces"],
                        payload.packages.iter().map(|p| vec![p.serial.clone(), p.product.clone(), p.kind.to_string(), p.area.to_string(), p.seats.to_string(), date(p.valid_from), opt_date(p.expires), p.replaces.join(", ")])
                    )
                );
                for l in &payload.area_limits {
                    println!("user limit {}: {} (from {}, until {})", l.area, l.max_users, date(l.valid_from), opt_date(l.expires));
                }
            })
        }
    }
}
