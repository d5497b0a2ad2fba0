//! The command line: every command, its arguments and their help (clap derive). The help
//! text is the CLI's reference; the README tours run these commands as written.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use seatkeeper_core::{Area, UserState};
use seatkeeper_store::ManualGrants;

#[derive(Parser)]
#[command(
    name = "seatkeeper",
    version,
    about = "Seatkeeper: user-license (seat) manager for multi-user applications",
    long_about = "Seatkeeper decides which users of an application may log in and which licensed \
                  products each may use, and shares out the seats bought from the vendor.\n\n\
                  Start with `seatkeeper tour --reset` for a guided demo on a fresh SQLite file."
)]
pub struct Cli {
    /// The ledger: a SQLite file path (created if missing) or a postgres:// URL.
    /// [default: seatkeeper.db; seatkeeper-demo.db for `serve --demo`]
    #[arg(long, global = true, env = "SEATKEEPER_DATABASE")]
    pub database: Option<String>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    /// The name recorded as "who" in the audit log.
    #[arg(long, global = true, env = "SEATKEEPER_ACTOR")]
    pub actor: Option<String>,
    /// Trusted vendor public key (PEM) for license import; repeat or separate with commas.
    #[arg(
        long = "vendor-key",
        global = true,
        env = "SEATKEEPER_VENDOR_KEYS",
        value_delimiter = ','
    )]
    pub vendor_keys: Vec<PathBuf>,
    /// Log lines on stderr as `text` or `json` (one object a line, for a log collector).
    #[arg(long, global = true, env = "SEATKEEPER_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// The ledger named by `--database`, or the default file.
    pub fn database(&self) -> String {
        self.database
            .clone()
            .unwrap_or_else(|| seatkeeper_server::config::DEFAULT_DATABASE.to_string())
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP server: integration API for the application, admin API (see docs/API.md).
    Serve(ServeArgs),
    /// Administrator accounts: set a password (the first start tells you to).
    #[command(subcommand)]
    Admin(AdminCmd),
    /// API tokens for the application (scope integration), automation (scope admin) or an
    /// identity provider (scope provisioning).
    #[command(subcommand)]
    Token(TokenCmd),
    /// Webhooks (I4): subscriptions that receive events, their delivery log, redelivery.
    #[command(subcommand)]
    Webhook(WebhookCmd),
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
    /// Notifications (N1): who is told what, test mail, failed mail.
    #[command(subcommand)]
    Notify(NotifyCmd),
    /// Vendor commands: keys, issuing and inspecting license files (L6).
    #[command(subcommand)]
    Vendor(VendorCmd),
    /// The LDAP directory users come from (I1): test the connection, sync users and groups.
    #[command(subcommand)]
    Ldap(LdapCmd),
}

#[derive(Subcommand)]
pub enum LdapCmd {
    /// Connect, bind and read users and groups (paged) with the `[directory]` section of the
    /// config file, or without --config the settings saved on the Directory page; print the
    /// counts and three example users. Writes nothing.
    Test {
        /// The TOML file `serve --config` reads, with a `[directory]` section (default: the
        /// settings saved in the database).
        #[arg(long, env = "SEATKEEPER_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Read the directory and bring users, folders, roles and memberships in line with it
    /// (I1), creating users beyond an area's limit blocked (U2) and redistributing for the
    /// users it touched (D5). With --preview, print the plan and write nothing.
    Sync {
        /// The TOML file `serve --config` reads, with a `[directory]` section (default: the
        /// settings saved in the database).
        #[arg(long, env = "SEATKEEPER_CONFIG")]
        config: Option<PathBuf>,
        /// Show what the sync would change; change nothing.
        #[arg(long)]
        preview: bool,
    },
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "SEATKEEPER_LISTEN")]
    pub listen: Option<std::net::SocketAddr>,
    /// A session without heartbeat for this long ends, freeing its floating seat [default: 1800].
    #[arg(long, env = "SEATKEEPER_IDLE_TIMEOUT_SECS")]
    pub idle_timeout_secs: Option<u64>,
    /// How often idle sessions are looked for [default: 15].
    #[arg(long, env = "SEATKEEPER_REAP_INTERVAL_SECS")]
    pub reap_interval_secs: Option<u64>,
    /// Most logins/logouts/heartbeats applied in one transaction [default: 256].
    #[arg(long, env = "SEATKEEPER_BATCH_MAX")]
    pub batch_max: Option<usize>,
    /// Seconds a verified token is cached; revocations reach other nodes within it [default: 5].
    #[arg(long, env = "SEATKEEPER_AUTH_CACHE_TTL_SECS")]
    pub auth_cache_ttl_secs: Option<u64>,
    /// Leave `Secure` off the admin UI's cookies: only for plain HTTP on a non-loopback
    /// address (browsers keep `Secure` cookies over plain HTTP for localhost only).
    #[arg(long, env = "SEATKEEPER_INSECURE_COOKIES")]
    pub insecure_cookies: bool,
    /// How often the usage history is sampled; a point is written only on change, and at
    /// least once a day [default: 60].
    #[arg(long, env = "SEATKEEPER_USAGE_SAMPLE_SECS")]
    pub usage_sample_secs: Option<u64>,
    /// Failed sign-ins of one login within the window that lock it [default: 5].
    #[arg(long, env = "SEATKEEPER_SIGNIN_MAX_FAILURES")]
    pub signin_max_failures: Option<u32>,
    /// The window in which failed sign-ins are counted, in seconds [default: 900].
    #[arg(long, env = "SEATKEEPER_SIGNIN_FAILURE_WINDOW_SECS")]
    pub signin_failure_window_secs: Option<u64>,
    /// How long a locked login is refused, in seconds [default: 900].
    #[arg(long, env = "SEATKEEPER_SIGNIN_LOCKOUT_SECS")]
    pub signin_lockout_secs: Option<u64>,
    /// Sign-in attempts one client address may make per minute, 0 for no limit [default: 30].
    #[arg(long, env = "SEATKEEPER_SIGNIN_PER_ADDRESS_PER_MINUTE")]
    pub signin_per_address_per_minute: Option<u32>,
    /// A reverse proxy whose X-Forwarded-For names the client (repeat, or comma-separated).
    #[arg(long, env = "SEATKEEPER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxy: Vec<std::net::IpAddr>,
    /// A TOML file with any of the settings above (flags and environment win over it).
    #[arg(long, env = "SEATKEEPER_CONFIG")]
    pub config: Option<PathBuf>,
    /// Load a demo organisation (license, folders, roles, 340 users, sessions) on first start.
    #[arg(long)]
    pub demo: bool,
    /// Testing only: read the current time (unix seconds) from this file.
    #[arg(long, hide = true, env = "SEATKEEPER_CLOCK_FILE")]
    pub clock_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum AdminCmd {
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
pub enum WebhookCmd {
    /// Subscribe a receiver; the signing secret is printed once.
    Create {
        /// The receiver's http(s) URL.
        #[arg(long)]
        url: String,
        /// Event types, comma-separated, or "*" for all (see docs/NOTIFICATIONS.md).
        #[arg(long, value_delimiter = ',', required = true)]
        events: Vec<String>,
        #[arg(long, default_value = "")]
        description: String,
        /// Accept a loopback or private address, as a server whose `[notifications]`
        /// section sets `allow_private_targets = true` does (otherwise it refuses to call it).
        #[arg(long)]
        allow_private_target: bool,
    },
    /// List subscriptions (never their secrets).
    List,
    /// Change a subscription.
    Update {
        id: i64,
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
        /// Pause (false) or resume (true) it.
        #[arg(long)]
        active: Option<bool>,
        /// Make a new signing secret (printed once).
        #[arg(long)]
        rotate_secret: bool,
        #[arg(long)]
        allow_private_target: bool,
    },
    /// Remove a subscription and its delivery log.
    Delete { id: i64 },
    /// Queue a signed "test" event to it (a running server delivers it).
    Test { id: i64 },
    /// Deliveries, newest first: one webhook's (`--webhook`), or all, by state.
    Deliveries {
        #[arg(long)]
        webhook: Option<i64>,
        /// pending, delivered, failed or digest
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One delivery with each of its attempts.
    Delivery { id: i64 },
    /// Send a delivery again now (a running server delivers it).
    Redeliver { id: i64 },
    /// The outbox's events, newest first.
    Events {
        #[arg(long = "type")]
        event_type: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create a token; its secret is printed once and only its hash is stored.
    Create {
        #[arg(long)]
        name: String,
        /// integration (the licensed application), admin (automation) or provisioning (an
        /// identity provider: SCIM and the provision route; the owner needs `provision_users`).
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
pub enum LicenseCmd {
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
pub enum FolderCmd {
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
pub enum UserCmd {
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
pub enum RoleCmd {
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
pub enum MembersCmd {
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
pub struct RedistributeArgs {
    /// Every active user.
    #[arg(long)]
    pub all: bool,
    /// The members of a role and of its descendants (id or name).
    #[arg(long)]
    pub role: Option<String>,
    /// One user.
    #[arg(long)]
    pub user: Option<String>,
    /// What to do with licenses granted by hand that no role asks for: keep or remove.
    #[arg(long, default_value = "keep")]
    pub manual: ManualGrants,
    /// Show the plan (grants, recalls, unmet needs) without changing anything.
    #[arg(long)]
    pub preview: bool,
    /// How many items of each list to show.
    #[arg(long, default_value_t = seatkeeper_store::DEFAULT_DETAIL)]
    pub detail: usize,
    /// Users per chunk transaction (tests and benchmarks).
    #[arg(long, default_value_t = seatkeeper_store::DEFAULT_CHUNK_USERS, hide = true)]
    pub chunk_users: usize,
}

#[derive(Subcommand)]
pub enum SettingsCmd {
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

#[derive(Subcommand)]
pub enum NotifyCmd {
    /// The notification settings (N1, X6); without options, shows them.
    Settings {
        /// Where mail goes ("" clears it: no mail).
        #[arg(long)]
        responsible_email: Option<String>,
        /// Mail per event class, CLASS=on|off (limits, seats, licenses, distribution, users,
        /// directory); repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        mail: Vec<String>,
        /// One daily digest instead of one mail per event.
        #[arg(long)]
        digest: Option<bool>,
        /// The seat alert percentage for every product without its own (0: off).
        #[arg(long)]
        threshold: Option<u8>,
        /// A product's own seat alert percentage, PRODUCT=PERCENT (PRODUCT= drops it);
        /// repeat or separate with commas.
        #[arg(long, value_delimiter = ',')]
        product_threshold: Vec<String>,
        /// License expiry notices, days ahead (e.g. 30,7,1).
        #[arg(long, value_delimiter = ',')]
        expiry_days: Option<Vec<u32>>,
    },
    /// Queue a test mail; the running server sends it (its [mail] section) within seconds.
    TestMail {
        /// Default: the responsible address.
        #[arg(long)]
        to: Option<String>,
    },
    /// The outbox's counts and the mail that failed or waits for a retry, with the errors.
    Mail,
    /// Send a failed (or delivered) delivery again now.
    Retry { id: i64 },
}

#[derive(Args)]
pub struct Pairs {
    /// Logins; repeat or separate with commas.
    #[arg(long = "user", short = 'u', required = true, value_delimiter = ',')]
    pub users: Vec<String>,
    /// Product codes; repeat or separate with commas.
    #[arg(long = "product", short = 'p', required = true, value_delimiter = ',')]
    pub products: Vec<String>,
}

#[derive(Subcommand)]
pub enum VendorCmd {
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
