//! Directory sync settings kept in the ledger and the lease that lets one node at a time run
//! a sync (I1), on both backends.

use seatkeeper_store::{AuditFilter, Lease, PasswordChange, SyncEnd};
use serde_json::json;
use time::Duration;

use crate::support::*;

/// Settings saved from the UI or the API: the password is write-only — kept, replaced or
/// cleared by a save, never in the audit record — and a second save replaces the first.
pub async fn i1_directory_settings_keep_the_password_out_of_every_read(db: &TestDb) {
    let l = &db.ledger;
    assert!(l.directory_settings().await.unwrap().is_none());
    let config = json!({"url": "ldap://127.0.0.1:3389", "user_base": "dc=ex,dc=com"});
    l.save_directory_settings(&admin(), &config, PasswordChange::Set("pw-1-secret".into()))
        .await
        .unwrap();
    let saved = l.directory_settings().await.unwrap().unwrap();
    assert_eq!(saved.config, config);
    assert_eq!(saved.bind_password.as_deref(), Some("pw-1-secret"));
    assert!(!format!("{saved:?}").contains("pw-1-secret"));

    let changed = json!({"url": "ldap://127.0.0.1:3390", "user_base": "dc=ex,dc=com"});
    l.save_directory_settings(&admin(), &changed, PasswordChange::Keep)
        .await
        .unwrap();
    let saved = l.directory_settings().await.unwrap().unwrap();
    assert_eq!(saved.config, changed);
    assert_eq!(saved.bind_password.as_deref(), Some("pw-1-secret"));
    l.save_directory_settings(&admin(), &changed, PasswordChange::Clear)
        .await
        .unwrap();
    assert_eq!(
        l.directory_settings().await.unwrap().unwrap().bind_password,
        None
    );

    let audit = l
        .audit_log(&AuditFilter {
            action: Some("directory.settings".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 3);
    let text = serde_json::to_string(&audit).unwrap();
    assert!(!text.contains("pw-1-secret"), "{text}");
    let mut said: Vec<String> = audit
        .iter()
        .map(|a| a.details["bind_password"].to_string())
        .collect();
    said.sort();
    assert_eq!(said, ["\"cleared\"", "\"kept\"", "\"set\""]);
}

/// One holder at a time: a second node is told who holds the lease and until when; the
/// holder renews; a released lease is free at once; a holder that died (stopped renewing)
/// loses it when its time runs out. The last outcome is kept for the schedule.
pub async fn i1_one_directory_sync_lease_at_a_time(db: &TestDb) {
    let l = &db.ledger;
    let ttl = Duration::minutes(5);
    assert_eq!(
        l.acquire_directory_lease("node-a.example:1:a", ttl)
            .await
            .unwrap(),
        Lease::Acquired
    );
    match l
        .acquire_directory_lease("node-b.example:1:b", ttl)
        .await
        .unwrap()
    {
        Lease::Held { by, until } => {
            assert_eq!(by, "node-a.example:1:a");
            assert_eq!(until, seatkeeper_store::Clock::now(&*db.clock) + ttl);
        }
        other => panic!("node-b got {other:?}"),
    }
    assert_eq!(
        l.directory_sync_state()
            .await
            .unwrap()
            .running_on
            .as_deref(),
        Some("node-a.example:1:a")
    );
    db.clock.advance(Duration::minutes(4));
    // Renewing pushes the end out: node-b still cannot take it a minute later.
    assert_eq!(
        l.acquire_directory_lease("node-a.example:1:a", ttl)
            .await
            .unwrap(),
        Lease::Acquired
    );
    db.clock.advance(Duration::minutes(2));
    assert!(matches!(
        l.acquire_directory_lease("node-b.example:1:b", ttl)
            .await
            .unwrap(),
        Lease::Held { .. }
    ));
    // Another node's release does nothing; the holder's frees it.
    l.release_directory_lease("node-b.example:1:b", Some(SyncEnd::Failed))
        .await
        .unwrap();
    assert!(matches!(
        l.acquire_directory_lease("node-b.example:1:b", ttl)
            .await
            .unwrap(),
        Lease::Held { .. }
    ));
    l.release_directory_lease("node-a.example:1:a", Some(SyncEnd::NoChange))
        .await
        .unwrap();
    let state = l.directory_sync_state().await.unwrap();
    assert_eq!(state.running_on, None);
    assert_eq!(state.last_outcome.as_deref(), Some("no_change"));
    assert_eq!(
        state.last_finished_at,
        Some(seatkeeper_store::Clock::now(&*db.clock))
    );

    // node-b takes it and dies: after the TTL node-c may take over.
    assert_eq!(
        l.acquire_directory_lease("node-b.example:1:b", ttl)
            .await
            .unwrap(),
        Lease::Acquired
    );
    db.clock.advance(Duration::minutes(5));
    assert_eq!(l.directory_sync_state().await.unwrap().running_on, None);
    assert_eq!(
        l.acquire_directory_lease("node-c.example:1:c", ttl)
            .await
            .unwrap(),
        Lease::Acquired
    );
    // A release without an end (a schedule that was not due) keeps the last outcome.
    l.release_directory_lease("node-c.example:1:c", None)
        .await
        .unwrap();
    let state = l.directory_sync_state().await.unwrap();
    assert_eq!(state.last_outcome.as_deref(), Some("no_change"));
    assert_eq!(state.running_on, None);

    // A holder on this host whose process is gone (kill -9) is taken over at once.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let dead = format!("{}:{dead_pid}:x", host.trim());
    assert_eq!(
        l.acquire_directory_lease(&dead, ttl).await.unwrap(),
        Lease::Acquired
    );
    assert_eq!(
        l.acquire_directory_lease("node-c.example:1:c", ttl)
            .await
            .unwrap(),
        Lease::Acquired
    );
}
