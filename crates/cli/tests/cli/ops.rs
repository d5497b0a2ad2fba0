//! Issue 13 items 5 and 8, with real processes: recovery of a SQLite server after writes
//! failed for want of space, and backup and restore.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::server::{
    Api, IDLE_SECS, T0, World, create_user, prepare, set_clock, start, start_with, world,
};
use super::*;

/// Sets the largest file a process may write (`RLIMIT_FSIZE`, bytes) while it runs: the
/// closest thing to a full disk a test can make without privileges.
#[cfg(target_os = "linux")]
fn limit_file_size(pid: u32, bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    let pid = libc::pid_t::try_from(pid).unwrap();
    // SAFETY: prlimit(2) reads `limit` and writes nothing back (null old limit).
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &limit, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

async fn sign_in(api: &Api) -> (StatusCode, Value) {
    api.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"login": "admin", "password": "correct horse battery staple"})),
    )
    .await
}

async fn sessions_of(api: &Api, w: &World, login: &str) -> usize {
    api.ok(
        Method::GET,
        &format!("/api/v1/sessions?login={login}"),
        &w.admin,
        None,
    )
    .await["items"]
        .as_array()
        .unwrap()
        .len()
}

/// Item 5: while no file of the server may grow, every write fails (and reads go on); once
/// space returns, sign-ins, grants, logins and the reaper work again without a restart.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x13_5_sqlite_server_recovers_by_itself_after_writes_failed_for_want_of_space() {
    use std::os::unix::process::CommandExt as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    prepare("x.db", d);
    let server = start_with("x.db", d, |c| {
        // SAFETY: signal(2) only, between fork and exec. Ignored, SIGXFSZ does not kill the
        // server: a write past the limit fails with EFBIG, as on a full disk with ENOSPC.
        unsafe {
            c.pre_exec(|| {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                Ok(())
            });
        }
    });
    let api = Api::new(&server);
    let w = world("x.db", d, &api, 2, 2).await;
    for u in ["idle", "u2", "u3"] {
        create_user(&api, &w, u, "").await;
    }
    assert_eq!(api.login(&w.app, "idle").await["outcome"], "allowed");

    limit_file_size(server.pid(), 1);
    // The idle session is due: the reaper (every second) tries to end it and cannot.
    set_clock(d, T0 + IDLE_SECS + 60);
    for _ in 0..6 {
        let (status, v) = sign_in(&api).await;
        assert!(status.is_server_error(), "a sign-in writes: {status} {v}");
        let (status, v) = api
            .call(
                Method::POST,
                "/api/v1/grants",
                Some(&w.admin),
                Some(json!({"users": ["u2"], "products": ["crm"]})),
            )
            .await;
        assert!(status.is_server_error(), "a grant writes: {status} {v}");
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(sessions_of(&api, &w, "idle").await, 1, "reads go on");

    limit_file_size(server.pid(), libc::RLIM_INFINITY);
    // More sign-ins than the pool has connections: none may be left broken.
    for i in 0..8 {
        let (status, v) = sign_in(&api).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "sign-in {i} after space returned: {v}"
        );
    }
    api.ok(
        Method::POST,
        "/api/v1/grants",
        &w.admin,
        Some(json!({"users": ["u2"], "products": ["crm"]})),
    )
    .await;
    for _ in 0..3 {
        // Repeated: the later ones are answered from the login cache by the writer thread.
        assert_eq!(api.login(&w.app, "u3").await["outcome"], "allowed");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while sessions_of(&api, &w, "idle").await > 0 {
        assert!(
            Instant::now() < deadline,
            "the reaper ended the idle session"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
