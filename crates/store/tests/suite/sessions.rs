//! Sessions (S1–S4) on both backends: refusals, the auto-allocation order, floating seats
//! freed by logout and by the idle reaper, seats released at session end, and races.

use std::time::Duration as StdDuration;

use seatkeeper_core::login::Refusal;
use seatkeeper_core::{Area, AssignmentStatus, SeatKind};
use seatkeeper_store::{LoginAnswer, LoginRequest, NewUser, SeatUse};
use time::Duration;

use crate::support::*;

async fn login(db: &TestDb, user: &str) -> LoginAnswer {
    db.ledger
        .login_many(&[LoginRequest {
            login: user.into(),
            client: "test".into(),
        }])
        .await
        .unwrap()
        .remove(0)
}

fn allowed(a: LoginAnswer) -> seatkeeper_store::AllowedLogin {
    match a {
        LoginAnswer::Allowed(a) => a,
        LoginAnswer::Refused(r) => panic!("expected allowed, got {r:?}"),
    }
}

fn refusal(a: LoginAnswer) -> Refusal {
    match a {
        LoginAnswer::Refused(r) => r.reason,
        LoginAnswer::Allowed(a) => panic!("expected a refusal, got {a:?}"),
    }
}

async fn pool_used(db: &TestDb, kind: &str, folder: i64) -> i64 {
    let mut c = db.raw().await;
    let row: (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT CAST(COALESCE(SUM(used), 0) AS BIGINT) FROM seat_pools WHERE kind = '{kind}' AND folder_id = {folder}"
    )))
    .fetch_one(&mut c)
    .await
    .unwrap();
    row.0
}

/// `crm` (all modules) named and floating, `reports` (a module) named.
async fn mixed_license(db: &TestDb, named: u32, floating: u32, module: u32) {
    let o = order(
        vec![product("crm", true), product("reports", false)],
        vec![
            package("N-1", "crm", SeatKind::Named, Area::Employee, named),
            package("F-1", "crm", SeatKind::Concurrent, Area::Employee, floating),
            package("M-1", "reports", SeatKind::Named, Area::Employee, module),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
}

/// Only floating `crm` seats (and a module product), so nothing else can be auto-allocated.
async fn floating_license(db: &TestDb, floating: u32) {
    let o = order(
        vec![product("crm", true), product("reports", false)],
        vec![
            package("F-1", "crm", SeatKind::Concurrent, Area::Employee, floating),
            package("M-1", "reports", SeatKind::Named, Area::Employee, 1),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
}

pub async fn s1_login_names_products_or_the_refusal_reason(db: &TestDb) {
    let o = order(
        vec![product("crm", true), product("reports", false)],
        vec![
            package("N-1", "crm", SeatKind::Named, Area::Employee, 1),
            package("M-1", "reports", SeatKind::Named, Area::Employee, 1),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann", "bob", "cat"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm", "reports"]))
        .await
        .unwrap();
    let a = allowed(login(db, "ANN").await);
    assert_eq!(a.login, "ann");
    assert_eq!(
        a.products
            .iter()
            .map(|p| p.product.as_str())
            .collect::<Vec<_>>(),
        vec!["crm", "reports"]
    );
    assert!(a.all_modules);
    assert_eq!(a.features, vec!["crm.use", "reports.use"]);
    assert!(a.auto_allocated.is_none());
    assert!(!a.license_manager);

    assert_eq!(refusal(login(db, "nobody").await), Refusal::UnknownUser);
    assert_eq!(
        refusal(login(db, "bob").await),
        Refusal::NoLicense,
        "no free seat"
    );
    db.ledger.block_user(&admin(), "cat", "left").await.unwrap();
    assert_eq!(refusal(login(db, "cat").await), Refusal::Blocked);

    // Entitlement: by session and by user; a module product grants only its own feature.
    let e = db
        .ledger
        .entitlement(Some(&a.session_id), None, "reports.use")
        .await
        .unwrap();
    assert!(e.allowed);
    let e = db
        .ledger
        .entitlement(None, Some("bob"), "reports.use")
        .await
        .unwrap();
    assert!(!e.allowed);
}

pub async fn s1_expired_licenses_and_area_limits_refuse_with_their_reason(db: &TestDb) {
    let mut short = package("SHORT", "crm", SeatKind::Named, Area::Employee, 3);
    short.expires = Some(T0 + Duration::days(10));
    let o = order(vec![product("crm", true)], vec![short]);
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["old", "new"]).await;
    db.ledger
        .grant(&admin(), &s(&["old", "new"]), &s(&["crm"]))
        .await
        .unwrap();
    allowed(login(db, "new").await);

    db.clock.set(T0 + Duration::days(10));
    assert_eq!(refusal(login(db, "old").await), Refusal::LicensesExpired);
    // The built-in administrator always gets in, to the license manager, told why.
    let admin_login = allowed(login(db, "admin").await);
    assert!(admin_login.license_manager);
    assert!(admin_login.licenses_expired);
    assert_eq!(admin_login.expired_products, vec!["crm"]);
    assert!(admin_login.products.is_empty());

    // New capacity; its limit then drops to 1 of 2 active users: the newest is refused.
    let mut o = order(
        vec![product("crm", true)],
        vec![package("LONG", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    let mut wide = limit(Area::Employee, 2);
    wide.expires = Some(T0 + Duration::days(20));
    o.area_limits = vec![wide, limit(Area::Employee, 1)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    allowed(login(db, "new").await);
    db.clock.set(T0 + Duration::days(20));
    allowed(login(db, "old").await);
    assert_eq!(refusal(login(db, "new").await), Refusal::AreaLimit);
}

pub async fn s2_auto_allocation_follows_the_four_steps_and_skips_module_seats(db: &TestDb) {
    mixed_license(db, 2, 2, 5).await;
    db.ledger.create_folder(&admin(), "Sales").await.unwrap();
    db.ledger
        .place_seats(&admin(), "F-1", "Sales", 1)
        .await
        .unwrap();
    db.ledger
        .place_seats(&admin(), "N-1", "Sales", 1)
        .await
        .unwrap();
    for i in 1..=6 {
        let mut u = NewUser::active(&format!("s{i}"), Area::Employee);
        u.folder = "Sales".into();
        db.ledger.create_user(&admin(), u).await.unwrap();
    }
    // A module seat does not count as all-modules, and is never what auto-allocation takes.
    db.ledger
        .grant(&admin(), &s(&["s1"]), &s(&["reports"]))
        .await
        .unwrap();
    let mut taken = Vec::new();
    for i in 1..=4 {
        let a = allowed(login(db, &format!("s{i}")).await);
        let auto = a.auto_allocated.expect("a seat was allocated");
        assert_eq!(auto.product, "crm");
        taken.push((auto.seat, auto.folder));
    }
    assert_eq!(
        taken,
        vec![
            (SeatUse::Floating, "Sales".to_string()),
            (SeatUse::Floating, "/".to_string()),
            (SeatUse::Dedicated, "Sales".to_string()),
            (SeatUse::Dedicated, "/".to_string()),
        ]
    );
    // The dedicated ones became the users' assignments; the floating ones are session-held.
    let s3 = db.ledger.user("s3").await.unwrap();
    assert_eq!(s3.licenses[0].product, "crm");
    assert_eq!(s3.licenses[0].seat_folder, "Sales");
    assert!(
        db.ledger
            .user("s1")
            .await
            .unwrap()
            .licenses
            .iter()
            .all(|l| l.product != "crm")
    );
    // Everything all-modules is taken: the next user is refused although module seats are free.
    assert_eq!(refusal(login(db, "s5").await), Refusal::NoLicense);
    // A user holding a dedicated all-modules seat takes nothing more at the next login.
    let again = allowed(login(db, "s3").await);
    assert!(again.auto_allocated.is_none());
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
}

pub async fn s3_floating_seats_end_with_logout_or_idle_timeout(db: &TestDb) {
    floating_license(db, 2).await;
    users(db, &["a", "b", "c"]).await;
    let a = allowed(login(db, "a").await);
    let b = allowed(login(db, "b").await);
    assert_eq!(refusal(login(db, "c").await), Refusal::NoLicense);
    assert_eq!(
        db.ledger
            .logout_many(std::slice::from_ref(&a.session_id))
            .await
            .unwrap(),
        vec![true]
    );
    assert_eq!(
        db.ledger
            .logout_many(std::slice::from_ref(&a.session_id))
            .await
            .unwrap(),
        vec![false],
        "a second logout finds nothing"
    );
    let c = allowed(login(db, "c").await);
    assert_eq!(c.products[0].seat, SeatUse::Floating);

    // c keeps heartbeating; b does not. After the idle timeout only b's seat is freed.
    db.clock.advance(Duration::minutes(20));
    assert_eq!(
        db.ledger
            .heartbeat_many(std::slice::from_ref(&c.session_id))
            .await
            .unwrap(),
        vec![true]
    );
    db.clock.advance(Duration::minutes(15));
    let reaped = db
        .ledger
        .reap_idle(StdDuration::from_secs(30 * 60))
        .await
        .unwrap();
    assert_eq!(reaped.ended, 1);
    assert_eq!(
        db.ledger
            .heartbeat_many(&[b.session_id.clone(), c.session_id.clone()])
            .await
            .unwrap(),
        vec![false, true]
    );
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
    allowed(login(db, "a").await);
    // No leak across a restart: a reopened ledger counts the same seats.
    let reopened = db.reopen().await;
    let sessions = reopened.sessions(None, 100, 0).await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(
        sessions
            .iter()
            .all(|s| s.floating == vec!["crm".to_string()])
    );
}

pub async fn s4_recalling_a_seat_in_use_releases_it_at_session_end(db: &TestDb) {
    crm_seats(db, "S-1", 1).await;
    users(db, &["ann", "bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let first = allowed(login(db, "ann").await);
    let second = allowed(login(db, "ann").await);
    let report = db
        .ledger
        .recall(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(report.releasing.len(), 1);
    let ann = db.ledger.user("ann").await.unwrap();
    assert_eq!(ann.licenses[0].status, AssignmentStatus::Releasing);
    // The session goes on: its entitlement stands, the seat stays counted.
    assert!(
        db.ledger
            .entitlement(Some(&first.session_id), None, "crm.use")
            .await
            .unwrap()
            .allowed
    );
    db.ledger
        .grant(&admin(), &s(&["bob"]), &s(&["crm"]))
        .await
        .unwrap_err();
    db.ledger.logout_many(&[first.session_id]).await.unwrap();
    assert_eq!(
        db.ledger.user("ann").await.unwrap().licenses[0].status,
        AssignmentStatus::Releasing,
        "another session of hers is still open"
    );
    db.ledger.logout_many(&[second.session_id]).await.unwrap();
    assert!(db.ledger.user("ann").await.unwrap().licenses.is_empty());
    db.ledger
        .grant(&admin(), &s(&["bob"]), &s(&["crm"]))
        .await
        .unwrap();
    // Recalling from a user who is not logged in frees the seat at once.
    let report = db
        .ledger
        .recall(&admin(), &s(&["bob"]), &s(&["crm"]))
        .await
        .unwrap();
    assert!(report.releasing.is_empty());
}

pub async fn s3_racing_logins_never_take_more_floating_seats_than_exist(db: &TestDb) {
    floating_license(db, 5).await;
    let logins: Vec<String> = (0..24).map(|i| format!("r{i}")).collect();
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    users(db, &refs).await;
    let mut tasks = Vec::new();
    for l in logins {
        let ledger = db.reopen().await;
        tasks.push(tokio::spawn(async move {
            let answer = ledger
                .login_many(&[LoginRequest {
                    login: l,
                    client: "race".into(),
                }])
                .await
                .unwrap();
            ledger.close().await;
            matches!(answer[0], LoginAnswer::Allowed(_))
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        if t.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
    assert_eq!(pool_used(db, "concurrent", 1).await, 5);
}

pub async fn x2_roles_permissions_and_tokens(db: &TestDb) {
    use seatkeeper_core::Permission;
    use seatkeeper_store::TokenScope;
    floating_license(db, 1).await;
    users(db, &["mgr"]).await;
    let role = db
        .ledger
        .create_role(&admin(), "License managers", "functional", None)
        .await
        .unwrap();
    db.ledger
        .set_role_permission(&admin(), role.id, Permission::ManageLicenses, true)
        .await
        .unwrap();
    db.ledger
        .set_role_member(&admin(), role.id, "mgr", true)
        .await
        .unwrap();
    let t = db
        .ledger
        .create_token(&admin(), "mgr", "ci", TokenScope::Admin, "hash-1", None)
        .await
        .unwrap();
    let p = db.ledger.principal("hash-1").await.unwrap().unwrap();
    assert!(p.may(Permission::ManageLicenses));
    assert!(!p.may(Permission::ManageAccess));
    // A license manager may log in to the application without a seat: the license manager.
    let a = allowed(login(db, "mgr").await);
    assert!(a.license_manager);
    // Blocking the owner disables the token; the built-in role keeps its key permissions.
    db.ledger.block_user(&admin(), "mgr", "left").await.unwrap();
    assert!(db.ledger.principal("hash-1").await.unwrap().is_none());
    db.ledger
        .set_role_permission(&admin(), 2, Permission::ManageLicenses, false)
        .await
        .unwrap_err();
    db.ledger.delete_token(&admin(), t.id).await.unwrap();
    assert!(db.ledger.tokens().await.unwrap().is_empty());
}

pub async fn l5_after_deleting_all_licenses_only_the_builtin_admin_logs_in(db: &TestDb) {
    use seatkeeper_core::Permission;
    crm_seats(db, "S-1", 2).await;
    users(db, &["mgr", "ann"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let role = db
        .ledger
        .create_role(&admin(), "Managers", "functional", None)
        .await
        .unwrap();
    db.ledger
        .set_role_permission(&admin(), role.id, Permission::ManageLicenses, true)
        .await
        .unwrap();
    db.ledger
        .set_role_member(&admin(), role.id, "mgr", true)
        .await
        .unwrap();
    assert!(allowed(login(db, "mgr").await).license_manager);

    db.ledger.delete_all_licenses(&admin()).await.unwrap();
    assert_eq!(refusal(login(db, "ann").await), Refusal::LicensesExpired);
    // mgr's first login took the other seat, now suspended: refused like any user.
    assert_eq!(refusal(login(db, "mgr").await), Refusal::LicensesExpired);
    let a = allowed(login(db, "admin").await);
    assert!(a.license_manager);
    assert!(!a.licenses_loaded);
}

pub async fn l4_expiry_takes_floating_seats_from_the_newest_sessions(db: &TestDb) {
    let mut short = package("F-SHORT", "crm", SeatKind::Concurrent, Area::Employee, 2);
    short.expires = Some(T0 + Duration::days(10));
    let long = package("F-LONG", "crm", SeatKind::Concurrent, Area::Employee, 1);
    let o = order(vec![product("crm", true)], vec![short, long]);
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["a", "b", "c"]).await;
    let mut sessions = Vec::new();
    for u in ["a", "b", "c"] {
        sessions.push(allowed(login(db, u).await).session_id);
        db.clock.advance(Duration::minutes(1));
    }
    db.clock.set(T0 + Duration::days(10));
    // The pool shrinks to 1 with 3 seats held: the two newest sessions lose their seat, the
    // oldest keeps it, and the database's count never exceeds the capacity.
    let changes = db.ledger.refresh().await.unwrap();
    assert_eq!(changes.suspended.len(), 2);
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
    let entitled = |i: usize| {
        let id = sessions[i].clone();
        async move {
            db.ledger
                .entitlement(Some(&id), None, "crm.use")
                .await
                .unwrap()
                .allowed
        }
    };
    assert!(entitled(0).await);
    assert!(!entitled(1).await);
    assert!(!entitled(2).await);
    // Sessions themselves go on; logging the newest out frees nothing more.
    db.ledger.logout_many(&sessions[1..]).await.unwrap();
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
}

/// A repeated login is answered from what the server remembers (issue 3) only while nothing
/// it depends on has changed — on this node or another one on the same database, or by the
/// clock running past an expiry.
pub async fn s1_a_repeated_login_follows_every_change_on_any_node(db: &TestDb) {
    let mut crm = package("N-1", "crm", SeatKind::Named, Area::Employee, 3);
    crm.expires = Some(T0 + Duration::days(5));
    let o = order(
        vec![product("crm", true), product("reports", false)],
        vec![
            crm,
            package("M-1", "reports", SeatKind::Named, Area::Employee, 2),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann", "bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann", "bob"]), &s(&["crm"]))
        .await
        .unwrap();
    let products = |a: &seatkeeper_store::AllowedLogin| {
        a.products
            .iter()
            .map(|p| p.product.clone())
            .collect::<Vec<_>>()
    };
    let first = allowed(login(db, "ann").await);
    let again = allowed(login(db, "Ann").await);
    assert_ne!(first.session_id, again.session_id);
    assert_eq!(products(&again), ["crm"]);
    assert_eq!(again.login, "ann");
    // Both sessions are in the ledger, as any session is.
    assert_eq!(
        db.ledger.sessions(Some("ann"), 10, 0).await.unwrap().len(),
        2
    );
    assert!(
        db.ledger
            .entitlement(Some(&again.session_id), None, "crm.use")
            .await
            .unwrap()
            .allowed
    );

    // Another node grants and recalls; this node's next login sees each change.
    let other = db.reopen().await;
    other
        .grant(&admin(), &s(&["ann"]), &s(&["reports"]))
        .await
        .unwrap();
    assert_eq!(
        products(&allowed(login(db, "ann").await)),
        ["crm", "reports"]
    );
    other
        .recall(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    // crm is releasing (her sessions go on) and is not in a new session.
    assert_eq!(products(&allowed(login(db, "ann").await)), ["reports"]);
    other.block_user(&admin(), "ann", "left").await.unwrap();
    assert_eq!(refusal(login(db, "ann").await), Refusal::Blocked);

    // The clock alone: bob's seat expires with no write to the ledger in between.
    allowed(login(db, "bob").await);
    allowed(login(db, "bob").await);
    db.clock.set(T0 + Duration::days(5));
    assert_eq!(refusal(login(db, "bob").await), Refusal::LicensesExpired);
}

/// Repeated floating logins and their logouts, settled from memory (issue 3), still take a
/// seat each, free it at logout, and never take more seats than the pool has: the last one
/// is decided in full and refused.
pub async fn s3_repeated_floating_logins_never_take_more_seats_than_exist(db: &TestDb) {
    floating_license(db, 2).await;
    users(db, &["ann", "bob"]).await;
    let first = allowed(login(db, "ann").await);
    assert_eq!(first.products[0].seat, SeatUse::Floating);
    assert!(db.ledger.logout_many(&[first.session_id]).await.unwrap()[0]);
    assert_eq!(pool_used(db, "concurrent", 1).await, 0);

    let a = allowed(login(db, "ann").await);
    let b = allowed(login(db, "ann").await);
    assert_eq!(a.products[0].seat, SeatUse::Floating);
    assert_eq!(
        a.auto_allocated.as_ref().map(|p| p.product.as_str()),
        Some("crm")
    );
    assert_eq!(pool_used(db, "concurrent", 1).await, 2);
    assert_eq!(refusal(login(db, "ann").await), Refusal::NoLicense);
    assert_eq!(refusal(login(db, "bob").await), Refusal::NoLicense);
    assert_eq!(pool_used(db, "concurrent", 1).await, 2);

    // A logout frees the seat at once; an unknown or repeated one ends nothing.
    assert_eq!(
        db.ledger
            .logout_many(&[a.session_id.clone(), "nope".into()])
            .await
            .unwrap(),
        vec![true, false]
    );
    assert!(!db.ledger.logout_many(&[a.session_id]).await.unwrap()[0]);
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
    allowed(login(db, "bob").await);
    assert_eq!(pool_used(db, "concurrent", 1).await, 2);

    // Blocked on another node: the next login here is refused, her session is gone.
    let other = db.reopen().await;
    other.block_user(&admin(), "ann", "left").await.unwrap();
    assert_eq!(refusal(login(db, "ann").await), Refusal::Blocked);
    assert!(!db.ledger.logout_many(&[b.session_id]).await.unwrap()[0]);
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);
}

/// One turn of the server's group commit with everything at once (issue 3): a logout, a
/// repeated login on the user's own seat and more repeated floating logins than the pool has
/// seats. The floating ones that do not fit are decided in full and refused; the logout
/// still ends (its seat goes to one of them) and the own-seat login is still allowed.
pub async fn s3_a_turn_with_a_full_pool_still_ends_its_logouts_and_admits_own_seats(db: &TestDb) {
    mixed_license(db, 1, 2, 1).await;
    users(db, &["ded", "ann", "bob", "cid"]).await;
    db.ledger
        .grant(&admin(), &s(&["ded"]), &s(&["crm"]))
        .await
        .unwrap();
    // Each user logs in once in full, so that the next logins are answered from memory.
    allowed(login(db, "ded").await);
    for u in ["ann", "bob"] {
        let a = allowed(login(db, u).await);
        assert_eq!(a.products[0].seat, SeatUse::Floating);
        assert!(db.ledger.logout_many(&[a.session_id]).await.unwrap()[0]);
    }
    let held = allowed(login(db, "cid").await);
    assert_eq!(pool_used(db, "concurrent", 1).await, 1);

    let turn: Vec<LoginRequest> = ["ded", "ann", "bob", "cid"]
        .iter()
        .map(|u| LoginRequest {
            login: (*u).into(),
            client: "test".into(),
        })
        .collect();
    let turn = db
        .ledger
        .log_out_and_in(std::slice::from_ref(&held.session_id), &turn)
        .await;
    let ended: Vec<bool> = turn.ended.into_iter().map(Result::unwrap).collect();
    assert_eq!(ended, vec![true]);
    let mut answers = turn.answers.into_iter().map(Result::unwrap);
    let own = allowed(answers.next().unwrap());
    assert_eq!(own.products[0].seat, SeatUse::Dedicated);
    let floating: Vec<LoginAnswer> = answers.collect();
    let admitted = floating
        .iter()
        .filter(|a| matches!(a, LoginAnswer::Allowed(_)))
        .count();
    assert_eq!(admitted, 2, "{floating:?}");
    for a in floating {
        if let LoginAnswer::Refused(r) = a {
            assert_eq!(r.reason, Refusal::NoLicense);
        }
    }
    assert_eq!(pool_used(db, "concurrent", 1).await, 2);
    // The ended session is gone for good.
    assert!(!db.ledger.logout_many(&[held.session_id]).await.unwrap()[0]);
}

/// Issue 13 (4): the built-in administrator is let in without a seat: its logins through the
/// integration API never take a dedicated or a floating seat by auto-allocation, so the
/// last seats stay with the users they were bought for.
pub async fn x13_the_builtin_admin_never_takes_a_seat_at_login(db: &TestDb) {
    mixed_license(db, 1, 1, 1).await;
    users(db, &["ann", "bob"]).await;
    for _ in 0..3 {
        let a = allowed(login(db, "admin").await);
        assert!(a.license_manager);
        assert!(a.products.is_empty(), "{a:?}");
        assert!(a.auto_allocated.is_none());
    }
    assert_eq!(pool_used(db, "named", 1).await, 0);
    assert_eq!(pool_used(db, "concurrent", 1).await, 0);
    // Both seats are there for the two users.
    for u in ["ann", "bob"] {
        assert!(allowed(login(db, u).await).auto_allocated.is_some());
    }
}
