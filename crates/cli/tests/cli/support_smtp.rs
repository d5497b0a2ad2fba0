//! A real SMTP server for the mail tests (issue 17, N1): PyPI's `aiosmtpd`, launched by
//! `scripts/smtp/sink.py` from the virtualenv that `bash scripts/install-smtp.sh` builds in
//! `target/smtp/venv`, on a loopback port, writing each message it accepts to a directory
//! (the raw message and its decoded parts as JSON). Killed when dropped.
//!
//! When the virtualenv is missing, [`Sink::start`] returns `None` and the test skips with a
//! notice — except under `CI=true`, where it fails.
#![allow(dead_code, clippy::expect_used, clippy::panic)]

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    workspace_root().join("target/smtp/venv/bin/python")
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// Whether the SMTP server is installed; outside CI a missing one skips the test.
pub fn available() -> bool {
    if python().is_file() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "{} is missing and CI=true: run `bash scripts/install-smtp.sh` (CI runs the mail \
             tests against a real SMTP server)",
            python().display()
        );
    }
    eprintln!(
        "NOTICE: the test SMTP server (aiosmtpd) is not installed; skipping this mail test \
         (bash scripts/install-smtp.sh installs it)"
    );
    false
}

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt_to: Vec<String>,
    pub subject: String,
    pub plain: String,
    pub html: String,
    pub headers: Value,
    pub content_type: String,
}

impl Mail {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .as_object()
            .and_then(|h| {
                h.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.as_str().unwrap_or_default().to_string())
            })
            .unwrap_or_default()
    }
}

pub struct Sink {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Sink {
    /// A sink on a free port, or `None` (skip) when it is not installed outside CI.
    pub fn start() -> Option<Sink> {
        if !available() {
            return None;
        }
        let mut sink = Sink {
            child: None,
            dir: tempfile::tempdir().expect("temp dir"),
            port: free_port(),
        };
        sink.listen(None);
        Some(sink)
    }

    /// Starts (again) listening on its port; `reject`: answer every message with that code.
    pub fn listen(&mut self, reject: Option<u16>) {
        self.stop();
        let mut cmd = Command::new(python());
        cmd.arg(workspace_root().join("scripts/smtp/sink.py"))
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--dir")
            .arg(self.dir.path());
        if let Some(code) = reject {
            cmd.arg("--reject-code").arg(code.to_string());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("ready") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("the SMTP sink did not start");
        self.child = Some(child);
    }

    /// Stops listening: the port refuses connections (the server is "down").
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, in order.
    pub fn mails(&self) -> Vec<Mail> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let v: Value =
                    serde_json::from_str(&std::fs::read_to_string(f).expect("read mail"))
                        .expect("mail json");
                let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
                Mail {
                    rcpt_to: v["rcpt_to"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .map(|x| x.as_str().unwrap_or_default().to_string())
                                .collect()
                        })
                        .unwrap_or_default(),
                    subject: s("subject"),
                    plain: s("plain"),
                    html: s("html"),
                    headers: v["headers"].clone(),
                    content_type: s("content_type"),
                }
            })
            .collect()
    }

    /// Waits until `done` holds for the messages received (at most `secs` seconds).
    pub async fn wait_for(&self, secs: u64, done: impl Fn(&[Mail]) -> bool) -> Vec<Mail> {
        for _ in 0..secs * 10 {
            let m = self.mails();
            if done(&m) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let m = self.mails();
        let subjects: Vec<&str> = m.iter().map(|x| x.subject.as_str()).collect();
        assert!(
            done(&m),
            "the SMTP sink did not get what was expected; it has: {subjects:#?}"
        );
        m
    }
}
