//! A webhook receiver on loopback for the tests (issue 17, I4): it checks every request's
//! `Seatkeeper-Signature` itself (HMAC-SHA256 over "<t>.<body>" with the secret the server
//! answered once), can answer 500 to the first requests, and keeps what it saw. Shared by the
//! end-to-end and the browser tests (each binary uses part of it).
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode as AxumStatus};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;

/// What the receiver saw of one request.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub delivery: String,
    pub event_type: String,
    pub body: Value,
    pub signature_ok: bool,
    pub answered: u16,
}

#[derive(Default)]
struct Inbox {
    seen: Mutex<Vec<Seen>>,
    secret: Mutex<String>,
    /// Answer 500 to this many requests first.
    fail_first: AtomicUsize,
}

pub(crate) struct Receiver {
    pub url: String,
    inbox: Arc<Inbox>,
}

fn verify(secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let Some(sig) = headers
        .get("seatkeeper-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in sig.split(',') {
        match part.split_once('=') {
            Some(("t", x)) => t = Some(x.to_string()),
            Some(("v1", x)) => v1 = Some(x.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let Ok(given) = hex::decode(v1) else {
        return false;
    };
    mac.verify_slice(&given).is_ok()
}

impl Receiver {
    pub(crate) async fn start(fail_first: usize) -> Receiver {
        let inbox = Arc::new(Inbox::default());
        inbox.fail_first.store(fail_first, Ordering::SeqCst);
        let shared = inbox.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let inbox = shared.clone();
                async move {
                    let failing = inbox
                        .fail_first
                        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                        .is_ok();
                    let answered = if failing { 500 } else { 200 };
                    let secret = inbox.secret.lock().unwrap().clone();
                    let header = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    inbox.seen.lock().unwrap().push(Seen {
                        delivery: header("seatkeeper-delivery"),
                        event_type: header("seatkeeper-event"),
                        signature_ok: verify(&secret, &headers, &body),
                        body: serde_json::from_str(&body).unwrap_or(Value::Null),
                        answered,
                    });
                    (AxumStatus::from_u16(answered).unwrap(), "noted")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, inbox }
    }

    /// Answers 500 to the next `n` requests.
    pub(crate) fn fail_next(&self, n: usize) {
        self.inbox.fail_first.store(n, Ordering::SeqCst);
    }

    pub(crate) fn set_secret(&self, secret: &str) {
        *self.inbox.secret.lock().unwrap() = secret.to_string();
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.inbox.seen.lock().unwrap().clone()
    }

    /// Waits until `done` holds for what was seen (at most `secs` seconds).
    pub(crate) async fn wait_for(&self, secs: u64, done: impl Fn(&[Seen]) -> bool) -> Vec<Seen> {
        for _ in 0..secs * 10 {
            let seen = self.seen();
            if done(&seen) {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let seen = self.seen();
        assert!(
            done(&seen),
            "the receiver did not get what was expected: {seen:#?}"
        );
        seen
    }
}
