//! The browser-test harness: a real `seatkeeper serve` on a fresh SQLite file, a real
//! chromedriver on a free loopback port driving headless Chromium, and helpers to sign in,
//! fill forms, read tables and save screenshots. Every child process is ended on drop, so a
//! failing test leaves nothing running.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const PASSWORD: &str = "correct horse battery staple";
/// The server's clock (2027-01-01T00:00:00Z): licenses are issued for it.
pub const T0: i64 = 1_798_761_600;
/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(10);

/// The browser tests run one at a time: the machine has two cores, and one Chromium at a time
/// keeps each page's timing steady.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Whether this machine can run the browser tests. Outside CI a missing browser (or
/// `SEATKEEPER_BROWSER_TESTS=skip`, set by scripts/test.sh when the install failed) skips the
/// test with a notice; under `CI=true` it fails the test instead.
fn browser_available(test: &str) -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    let skip = std::env::var("SEATKEEPER_BROWSER_TESTS").as_deref() == Ok("skip");
    if missing.is_empty() && !skip {
        return true;
    }
    let why = if missing.is_empty() {
        "SEATKEEPER_BROWSER_TESTS=skip".to_string()
    } else {
        format!(
            "{} missing (run scripts/install-browser.sh)",
            missing.join(" and ")
        )
    };
    assert!(!in_ci(), "browser tests are required in CI, but {why}");
    // Written past the test harness's capture, so that the skip shows in a normal run.
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: {why}; skipping the browser test {test}"
    );
    false
}

/// `<workspace>/target/ui-screenshots`, or `$SEATKEEPER_SCREENSHOTS`.
pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("SEATKEEPER_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/ui-screenshots")
        })
}

/// A Chrome DevTools command, sent through chromedriver's `goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.cmd, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Saves a PNG of the whole page (not only the window; at most 6000 px tall) as
/// `<screenshot_dir>/<name>.png`.
pub async fn shot(client: &Client, name: &str) {
    let metrics = client
        .issue_cmd(Cdp {
            cmd: "Page.getLayoutMetrics",
            params: json!({}),
        })
        .await
        .expect("page metrics");
    let size = &metrics["cssContentSize"];
    let width = size["width"].as_f64().unwrap_or(1280.0).max(1.0);
    let height = size["height"].as_f64().unwrap_or(900.0).clamp(1.0, 6000.0);
    let png = client
        .issue_cmd(Cdp {
            cmd: "Page.captureScreenshot",
            params: json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
            }),
        })
        .await
        .expect("screenshot");
    let png = B64
        .decode(png["data"].as_str().expect("screenshot data"))
        .expect("screenshot base64");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("create the screenshot folder");
    std::fs::write(dir.join(format!("{name}.png")), png).expect("write the screenshot");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One plain HTTP request to the driver, for drop, where no runtime may be entered: sends it
/// and reads until the driver closes the connection (or goes quiet for ten seconds).
fn raw_http(port: u16, method: &str, path: &str) {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if s.write_all(request.as_bytes()).is_ok() {
        let _ = s.read_to_end(&mut Vec::new());
    }
}

/// chromedriver on a free loopback port, with one headless Chromium session.
pub struct Browser {
    driver: Child,
    port: u16,
    session: Option<String>,
    _profile: TempDir,
}

impl Browser {
    async fn start() -> (Browser, Client) {
        let port = free_port();
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Its own process group, so that drop can end the driver and every browser it started.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let driver = cmd.spawn().expect("start chromedriver");
        let profile = tempfile::tempdir().expect("a Chromium profile folder");
        let mut browser = Browser {
            driver,
            port,
            session: None,
            _profile: profile,
        };
        let status = format!("http://127.0.0.1:{port}/status");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = match http
                .get(&status)
                .timeout(Duration::from_secs(2))
                .send()
                .await
            {
                Ok(r) => r
                    .json::<Value>()
                    .await
                    .ok()
                    .is_some_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,900",
        ]
        .into_iter()
        .map(String::from)
        .chain([format!(
            "--user-data-dir={}",
            browser._profile.path().display()
        )])
        .collect::<Vec<_>>();
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let serde_json::Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        browser.session = client.session_id().await.ok().flatten();
        (browser, client)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the session quits Chromium; then the driver and anything left in its group.
        if let Some(id) = self.session.take() {
            raw_http(self.port, "DELETE", &format!("/session/{id}"));
        }
        let pgid = self.driver.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `seatkeeper serve` on a SQLite file in `dir`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seatkeeper"));
    c.env_remove("SEATKEEPER_DATABASE")
        .env_remove("SEATKEEPER_VENDOR_KEYS")
        .env("SEATKEEPER_ACTOR", "tester");
    c
}

const DB: &str = "ledger.db";

fn cli(dir: &Path, args: &[&str]) -> String {
    let o = bin()
        .current_dir(dir)
        .args(["--database", DB])
        .args(args)
        .output()
        .expect("run seatkeeper");
    assert!(
        o.status.success(),
        "seatkeeper {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn start_server(dir: &Path, extra: &[&str]) -> Server {
    let mut child = bin()
        .current_dir(dir)
        .args([
            "--database",
            DB,
            "--vendor-key",
            "v.pub.pem",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--clock-file",
            "clock",
        ])
        .args(extra)
        .env("SEATKEEPER_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start seatkeeper serve");
    let stdout = child.stdout.take().expect("server stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("Seatkeeper listening on ") {
                let _ = tx.send(url.trim().trim_end_matches('/').to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the server did not start listening");
    Server { child, base }
}

/// A fresh ledger in `dir`: the vendor's key pair, the clock, the admin's password, an admin
/// API token for setting up (made by the CLI: no password hashing on the way), a license
/// request `req.json`; then the server (with the config file `config`, when given). Answers
/// the server and the token.
fn prepare(dir: &Path, config: Option<&str>) -> (Server, String) {
    std::fs::write(dir.join("clock"), T0.to_string()).expect("clock file");
    cli(dir, &["vendor", "keygen", "--out", "v"]);
    let mut child = bin()
        .current_dir(dir)
        .args([
            "--database",
            DB,
            "admin",
            "password",
            "admin",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("seatkeeper admin password");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("write the password");
    assert!(child.wait().expect("admin password").success());
    let token: Value = serde_json::from_str(&cli(
        dir,
        &[
            "--json",
            "token",
            "create",
            "--name",
            "browser-test setup",
            "--scope",
            "admin",
        ],
    ))
    .expect("token JSON");
    cli(
        dir,
        &[
            "license",
            "request",
            "--company-id",
            "ACME",
            "-o",
            "req.json",
        ],
    );
    let server = match config {
        Some(text) => {
            let file = dir.join("seatkeeper.toml");
            std::fs::write(&file, text).expect("config file");
            start_server(dir, &["--config", file.to_str().expect("a UTF-8 path")])
        }
        None => start_server(dir, &[]),
    };
    let token = token["token"].as_str().expect("a token").to_string();
    (server, token)
}

/// The admin API, for setting up what a test does not do through the browser.
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("API call");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Imports a license file as the vendor sent it.
    pub async fn import(&self, file: &Path) -> Value {
        let resp = self
            .http
            .post(format!("{}/api/v1/licenses", self.base))
            .bearer_auth(&self.token)
            .body(std::fs::read(file).expect("read the license file"))
            .send()
            .await
            .expect("import");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "import: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// Imports users from a CSV text (`POST /api/v1/users/import`), all lines or none.
    pub async fn import_users(&self, csv: &str) -> Value {
        let resp = self
            .http
            .post(format!("{}/api/v1/users/import", self.base))
            .bearer_auth(&self.token)
            .header(reqwest::header::CONTENT_TYPE, "text/csv")
            .body(csv.to_string())
            .send()
            .await
            .expect("import users");
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        assert!(status.is_success(), "import users: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn users(&self, logins: &[&str]) {
        for login in logins {
            self.post("/api/v1/users", json!({"login": login, "area": "employee"}))
                .await;
        }
    }

    /// The summary's row for `product`.
    pub async fn product(&self, product: &str) -> Value {
        let s = self.call(Method::GET, "/api/v1/summary", None).await;
        s["products"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["product"] == product).cloned())
            .unwrap_or(Value::Null)
    }
}

/// An order: `crm` (all modules) with `crm` named seats, the `analytics` module with
/// `analytics` named seats, and at most `max_users` active employees.
pub fn order(crm: u32, analytics: u32, max_users: u32) -> Value {
    json!({
        "products": [
            {"code": "crm", "name": "CRM", "features": ["sales"], "all_modules": true},
            {"code": "analytics", "name": "Analytics", "features": ["reports"], "all_modules": false}
        ],
        "packages": [
            {"serial": "CRM-1", "product": "crm", "kind": "named", "area": "employee", "seats": crm},
            {"serial": "AN-1", "product": "analytics", "kind": "named", "area": "employee", "seats": analytics}
        ],
        "area_limits": [{"area": "employee", "max_users": max_users}]
    })
}

/// One test's world: a server with its own folder and database, the admin API signed in, and
/// a browser. Fields drop in order: browser, server, then the folder.
pub struct Ui {
    pub c: Client,
    pub api: Api,
    pub base: String,
    browser: Option<Browser>,
    _server: Server,
    pub dir: TempDir,
    _serial: tokio::sync::MutexGuard<'static, ()>,
}

impl Ui {
    /// A fresh world with no license loaded (a license request is made, as `req.json`), or
    /// `None` when the browser tests are skipped here.
    pub async fn start(test: &str) -> Option<Ui> {
        Self::start_with(test, None).await
    }

    /// Like [`Ui::start`], the server reading the config file `config` (TOML).
    pub async fn start_with(test: &str, config: Option<&'static str>) -> Option<Ui> {
        let serial = SERIAL.lock().await;
        if !browser_available(test) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a test folder");
        // The browser starts while the server's world is prepared.
        let path = dir.path().to_path_buf();
        let world = tokio::task::spawn_blocking(move || prepare(&path, config));
        let (browser, c) = Browser::start().await;
        let (server, token) = world.await.expect("prepare the server");
        let base = server.base.clone();
        let api = Api {
            http: reqwest::Client::new(),
            base: base.clone(),
            token,
        };
        Some(Ui {
            c,
            api,
            base,
            browser: Some(browser),
            _server: server,
            dir,
            _serial: serial,
        })
    }

    /// The vendor issues `<name>.json` for the request and `order`; answers its path.
    pub fn issue(&self, name: &str, order: &Value) -> PathBuf {
        let order_file = format!("{name}.order.json");
        std::fs::write(self.dir.path().join(&order_file), order.to_string()).expect("order");
        let out = format!("{name}.json");
        cli(
            self.dir.path(),
            &[
                "vendor",
                "issue",
                "--key",
                "v.key.pem",
                "--request",
                "req.json",
                "--order",
                &order_file,
                "-o",
                &out,
            ],
        );
        self.dir.path().join(out)
    }

    /// Issues and imports (through the API) a license for `order`.
    pub async fn licensed(&self, order: &Value) {
        let file = self.issue("setup", order);
        self.api.import(&file).await;
    }

    /// Ends the browser session cleanly (drop does it too, less politely).
    pub async fn finish(mut self) {
        let c = self.c.clone();
        let _ = c.close().await;
        if let Some(b) = self.browser.as_mut() {
            b.session = None;
        }
    }

    // ── the browser ─────────────────────────────────────────────────────────────────────

    pub async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("goto {path}: {e}"));
    }

    /// The page's path (and query), e.g. `/ui/licenses`.
    pub async fn path(&self) -> String {
        let url = self.c.current_url().await.expect("current url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the page's path (without the query) is `path`.
    pub async fn wait_path(&self, path: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let now = self.c.current_url().await.expect("current url");
            if now.path() == path {
                let _ = self
                    .c
                    .wait()
                    .at_most(WAIT)
                    .for_element(Locator::Css("body"))
                    .await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected to arrive at {path}, still at {now}; page: {}",
                self.body_text().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page is `path` with `part` (`key=value`) in its query: a form that
    /// reloads the same page is only done when the new URL is there.
    pub async fn wait_query(&self, path: &str, part: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.c.current_url().await.expect("current url");
            if url.path() == path && url.query_pairs().any(|(k, v)| format!("{k}={v}") == part) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "expected {path} with {part}, still at {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.wait("body").await;
    }

    /// Waits for `css` to be on the page.
    pub async fn wait(&self, css: &str) -> Element {
        match self
            .c
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => panic!(
                "`{css}` did not appear on {} ({e}); page: {}",
                self.path().await,
                self.body_text().await
            ),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.c.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("`{css}` is not on {}: {e}", self.path().await),
        }
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self
            .c
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_default()
            .is_empty()
    }

    /// The visible text of `css` (waiting for it), trimmed.
    pub async fn text(&self, css: &str) -> String {
        self.wait(css)
            .await
            .text()
            .await
            .expect("element text")
            .trim()
            .to_string()
    }

    pub async fn body_text(&self) -> String {
        match self.c.find(Locator::Css("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.wait(css).await;
        e.clear().await.expect("clear");
        e.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.wait(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click `{css}`: {e}"));
    }

    /// Clicks `css` (a submit button or a link) and waits until the next page has replaced
    /// this one — also when it is the same path again, whose old elements (a flash, a row)
    /// would otherwise still answer.
    pub async fn submit(&self, css: &str) {
        let before = self.find("html").await;
        self.click(css).await;
        let deadline = Instant::now() + WAIT;
        while before.is_displayed().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "clicking `{css}` did not load a page"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.wait("body").await;
    }

    /// Signs in through the form (on the sign-in page the browser is on, which may carry a
    /// `next`; else a fresh one); answers the path it lands on.
    pub async fn signin(&self, password: &str) -> String {
        if !self.exists("form#signin").await {
            self.goto("/ui/login").await;
        }
        self.fill("form#signin input[name=login]", "admin").await;
        self.fill("form#signin input[name=password]", password)
            .await;
        self.submit("form#signin [type=submit]").await;
        self.path().await
    }

    /// The text of cell `td.<cell>` in the row `row` (a selector), trimmed.
    pub async fn cell(&self, row: &str, cell: &str) -> String {
        self.text(&format!("{row} td.{cell}")).await
    }

    /// A product row's counts on the license manager: (total, used, free).
    pub async fn counts(&self, product: &str) -> (String, String, String) {
        let row = format!("#products tr[data-product='{product}'][data-area='employee']");
        (
            self.cell(&row, "total").await,
            self.cell(&row, "used").await,
            self.cell(&row, "free").await,
        )
    }

    /// Runs a POST from the page with `fetch` (same origin, the session cookie) and answers
    /// (status, body text).
    pub async fn fetch_post(&self, path: &str, form: Value) -> (u64, String) {
        self.fetch(path, form, false).await
    }

    /// The same as a `multipart/form-data` body (file-upload forms).
    pub async fn fetch_post_multipart(&self, path: &str, form: Value) -> (u64, String) {
        self.fetch(path, form, true).await
    }

    /// Runs a GET from the page with `fetch` (same origin, the session cookie) and answers
    /// (status, content type, body text): what a link the browser downloads would get.
    pub async fn fetch_get(&self, path: &str) -> (u64, String, String) {
        let v = self
            .c
            .execute_async(
                "const [path, done] = arguments;
                 fetch(path, {credentials: 'same-origin'})
                   .then(r => r.text().then(t =>
                     done([r.status, r.headers.get('content-type') || '', t])))
                   .catch(e => done([0, '', String(e)]));",
                vec![json!(path)],
            )
            .await
            .expect("fetch from the page");
        (
            v[0].as_u64().unwrap_or(0),
            v[1].as_str().unwrap_or_default().to_string(),
            v[2].as_str().unwrap_or_default().to_string(),
        )
    }

    async fn fetch(&self, path: &str, form: Value, multipart: bool) -> (u64, String) {
        let v = self
            .c
            .execute_async(
                "const [path, form, multipart, done] = arguments;
                 let body = new URLSearchParams(form);
                 if (multipart) {
                   body = new FormData();
                   for (const [k, v] of Object.entries(form)) body.append(k, v);
                 }
                 fetch(path, {method: 'POST', credentials: 'same-origin', body})
                   .then(r => r.text().then(t => done([r.status, t])))
                   .catch(e => done([0, String(e)]));",
                vec![json!(path), form, json!(multipart)],
            )
            .await
            .expect("fetch from the page");
        (
            v[0].as_u64().unwrap_or(0),
            v[1].as_str().unwrap_or_default().to_string(),
        )
    }

    pub async fn shot(&self, name: &str) {
        shot(&self.c, name).await;
    }
}
