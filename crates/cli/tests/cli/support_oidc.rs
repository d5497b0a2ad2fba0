//! A real OpenID Connect provider for the SSO tests (issue 16, I3): PyPI's `oidc-provider-mock`
//! (Authlib's OpenID Connect server), launched by `scripts/oidc/provider.py` from the virtualenv
//! that `bash scripts/install-oidc.sh` builds in `target/oidc/venv`, on a free loopback port,
//! killed when dropped.
//!
//! When the virtualenv is missing, [`Oidc::start`] returns `None` and the test skips with a
//! notice — except under `CI=true`, where it fails.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where the ID tokens' authorization codes are "sent": never contacted (redirects are not
/// followed), only echoed back by the provider in its `Location` header.
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

/// The test users every provider starts with: `alice` in `sales` and `admins`, `bob` in
/// `support`, `carol` in no group.
pub fn default_users() -> Value {
    json!([
        {"sub": "alice", "email": "alice@example.com", "name": "Alice Archer",
         "preferred_username": "alice", "groups": ["sales", "admins"]},
        {"sub": "bob", "email": "bob@example.com", "name": "Bob Baker",
         "preferred_username": "bob", "groups": ["support"]},
        {"sub": "carol", "email": "carol@example.com", "name": "Carol Cook",
         "preferred_username": "carol", "groups": []}
    ])
}

#[derive(Clone, Debug)]
pub struct OidcOptions {
    /// A JSON list of `{"sub": …, claims…}`.
    pub users: Value,
    /// `exp - iat` of the ID tokens, in seconds; negative issues tokens already expired.
    pub token_max_age: i64,
    /// Whether the ID tokens' header names their key (`kid`), as real providers do.
    pub kid: bool,
}

impl Default for OidcOptions {
    fn default() -> Self {
        OidcOptions {
            users: default_users(),
            token_max_age: 3600,
            kid: true,
        }
    }
}

pub struct Oidc {
    child: Child,
    dir: tempfile::TempDir,
    options: OidcOptions,
    pub port: u16,
    /// `http://127.0.0.1:PORT`, the `iss` of its tokens and the base of its discovery URL.
    pub issuer: String,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    std::env::var_os("SEATKEEPER_OIDC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/oidc/venv/bin/python"))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

impl Oidc {
    /// The provider with [`default_users`], or `None` (skip) when it is not installed outside CI.
    pub async fn start() -> Option<Oidc> {
        Oidc::start_with(OidcOptions::default()).await
    }

    pub async fn start_with(options: OidcOptions) -> Option<Oidc> {
        let python = python();
        if !python.is_file() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{} is missing and CI=true: run `bash scripts/install-oidc.sh` \
                     (CI runs the SSO tests against a real OpenID Connect provider)",
                    python.display()
                );
            }
            eprintln!(
                "NOTICE: the test OpenID Connect provider is not installed; skipping this SSO \
                 test (bash scripts/install-oidc.sh installs it)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = launch(&python, dir.path(), port, &options);
        let mut oidc = Oidc {
            child,
            dir,
            options,
            port,
            issuer: format!("http://127.0.0.1:{port}"),
        };
        oidc.wait_ready().await;
        Some(oidc)
    }

    /// Stops the provider and starts it again on the same port: same issuer, a new signing
    /// key (a key rotation, as the relying party sees it). Users added at run time are lost.
    pub async fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = launch(&python(), self.dir.path(), self.port, &self.options);
        self.wait_ready().await;
    }

    async fn wait_ready(&mut self) {
        let url = self.discovery_url();
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = http();
        loop {
            if let Ok(resp) = client.get(&url).send().await
                && resp.status().is_success()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the OpenID provider exited ({status}): {}", self.log());
            }
            if Instant::now() > deadline {
                panic!("the OpenID provider did not answer in 30 s: {}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// Sets (or replaces) a user's claims at run time (`PUT /users/{sub}`).
    pub async fn set_user(&self, sub: &str, claims: Value) {
        let resp = http()
            .put(format!("{}/users/{sub}", self.issuer))
            .json(&claims)
            .send()
            .await
            .expect("PUT /users");
        assert_eq!(resp.status(), 204, "PUT /users/{sub}: {}", self.log());
    }

    /// An ID token for `user` with `aud` = `audience` (the client id), through the
    /// authorization-code flow: the login form posted with the user's `sub`, then the code
    /// exchanged at the token endpoint.
    pub async fn id_token(&self, user: &str, audience: &str) -> String {
        self.id_token_via(&self.issuer, user, audience).await
    }

    /// An ID token from this provider — signed with its key — that names `issuer` as its
    /// `iss` (the provider takes the issuer from the Host header). With another provider's
    /// issuer: a token "signed by another key" for that issuer.
    pub async fn id_token_as_issuer(&self, issuer: &str, user: &str, audience: &str) -> String {
        self.id_token_via(issuer, user, audience).await
    }

    async fn id_token_via(&self, issuer: &str, user: &str, audience: &str) -> String {
        let host = issuer
            .strip_prefix("http://")
            .expect("an http:// issuer")
            .trim_end_matches('/');
        let client = http();
        let authorize = client
            .post(format!("{}/oauth2/authorize", self.issuer))
            .header(reqwest::header::HOST, host)
            .query(&[
                ("client_id", audience),
                ("redirect_uri", REDIRECT_URI),
                ("response_type", "code"),
                ("scope", "openid profile email"),
                ("state", "seatkeeper-test"),
                ("nonce", "seatkeeper-test-nonce"),
            ])
            .form(&[("sub", user)])
            .send()
            .await
            .expect("POST /oauth2/authorize");
        assert_eq!(authorize.status(), 302, "authorize: {}", self.log());
        let location = authorize
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .expect("a Location with the code");
        let location = url::Url::parse(location).expect("Location is a URL");
        let code = location
            .query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no code in {location}"));
        let token = client
            .post(format!("{}/oauth2/token", self.issuer))
            .header(reqwest::header::HOST, host)
            .basic_auth(audience, Some("any-secret"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
            ])
            .send()
            .await
            .expect("POST /oauth2/token");
        assert_eq!(token.status(), 200, "token: {}", self.log());
        let body: Value = token.json().await.expect("token JSON");
        body["id_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no id_token in {body}"))
            .to_owned()
    }
}

fn launch(python: &Path, dir: &Path, port: u16, options: &OidcOptions) -> Child {
    let users = dir.join("users.json");
    std::fs::write(&users, options.users.to_string()).expect("write users.json");
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("provider.log"))
        .expect("provider.log");
    let mut cmd = Command::new(python);
    cmd.arg(workspace_root().join("scripts/oidc/provider.py"))
        .arg("--port")
        .arg(port.to_string())
        .arg("--users")
        .arg(&users)
        .arg("--token-max-age")
        .arg(options.token_max_age.to_string());
    if !options.kid {
        cmd.arg("--no-kid");
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log)
        .spawn()
        .expect("start the OpenID provider")
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
