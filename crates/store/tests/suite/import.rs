//! Issue 13 item 3: a CSV import keeps its all-or-nothing promise without keeping logins
//! waiting for it.

use seatkeeper_core::Area;
use seatkeeper_core::Error;
use seatkeeper_store::{
    AuditFilter, ImportProgress, LoginRequest, NewUser, StoreError, UserFilter,
};

use crate::support::*;

fn csv(n: usize) -> String {
    let mut s = String::from("login,name,email,area,folder,state\n");
    for i in 0..n {
        s += &format!("u{i:06},User {i},u{i}@example.org,employee,,active\n");
    }
    s
}

async fn counts(db: &TestDb) -> (usize, usize) {
    let users = db.ledger.users(&UserFilter::default()).await.unwrap().len();
    let audit = db
        .ledger
        .audit_log(&AuditFilter {
            limit: Some(1_000_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .len();
    (users, audit)
}

/// A login sent while an import of 20,000 users is under way is answered before the import
/// goes on: the import reports its progress and then waits for the login's answer, which can
/// only come if the import holds nothing a login needs while it reads and stages its rows.
/// (The wait is bounded so that a failing run ends: the import then goes on, and the login
/// is answered after it.)
pub async fn x13_3_a_login_is_answered_while_an_import_runs(db: &TestDb) {
    db.ledger
        .create_user(&admin(), NewUser::active("probe", Area::Employee))
        .await
        .unwrap();
    // Another node's connections, as an integration server would have.
    let node = db.reopen().await;
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (answered_tx, answered_rx) = std::sync::mpsc::channel::<()>();
    let ledger = db.ledger.clone();
    let import = tokio::spawn(async move {
        let text = csv(20_000);
        let mut started = Some(started_tx);
        let mut login_first = false;
        // In a mutex only because the progress callback must be `Send`.
        let answered = std::sync::Mutex::new(answered_rx);
        let report = ledger
            .import_users_csv_from(&admin(), text.as_bytes(), |p| {
                if let (ImportProgress::Read { .. }, Some(s)) = (p, started.take()) {
                    let _ = s.send(());
                    // The worker's other tasks move elsewhere while this one waits.
                    login_first = tokio::task::block_in_place(|| {
                        answered.lock().is_ok_and(|rx| {
                            rx.recv_timeout(std::time::Duration::from_secs(30)).is_ok()
                        })
                    });
                }
            })
            .await;
        (report, login_first)
    });
    started_rx.await.unwrap();
    let answer = node
        .login_many(&[LoginRequest {
            login: "probe".into(),
            client: "test".into(),
        }])
        .await
        .unwrap();
    assert_eq!(answer.len(), 1);
    let _ = answered_tx.send(());
    let (report, login_first) = import.await.unwrap();
    assert!(
        login_first,
        "the login was answered only after the import had finished"
    );
    assert_eq!(report.unwrap().created, 20_000);
    node.close().await;
}

/// A file whose last line is bad changes nothing, whichever check refuses it: the format
/// (found while reading), a repeated login (found in the staging table) or an unknown
/// folder (found against the ledger, under the lock).
pub async fn x13_3_a_bad_last_line_changes_nothing(db: &TestDb) {
    db.ledger
        .create_user(&admin(), NewUser::active("u000001", Area::Employee))
        .await
        .unwrap();
    let before = counts(db).await;
    let good = csv(5_000);
    let last = 5_002; // the header is line 1
    for (bad, says) in [
        ("zed,Zed,not-an-email,employee,,active\n", "not an address"),
        (
            "U000007,Again,,employee,,active\n",
            "already appears on line 9",
        ),
        (
            "zed,Zed,,employee,Nowhere,active\n",
            "unknown folder \"Nowhere\"",
        ),
    ] {
        let err = db
            .ledger
            .import_users_csv(&admin(), &format!("{good}{bad}"))
            .await
            .unwrap_err();
        let StoreError::Domain(Error::Csv(rows)) = err else {
            panic!("expected row errors, got {err:?}")
        };
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].line, last);
        assert!(rows[0].message.contains(says), "{}", rows[0].message);
        assert_eq!(counts(db).await, before, "nothing changed for {bad:?}");
    }
    // The same file without the bad line goes in whole.
    let report = db.ledger.import_users_csv(&admin(), &good).await.unwrap();
    assert_eq!((report.created, report.updated), (4_999, 1));
}
