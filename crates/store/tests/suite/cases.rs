use seatkeeper_core::license::{self, LicenseEnvelope};
use seatkeeper_core::{Area, AssignmentStatus, Error, LicenseError, SeatKind, UserState};
use seatkeeper_store::{AuditFilter, NewUser, StoreError, UserFilter};
use sqlx::Executor as _;
use time::Duration;

use crate::support::*;

fn domain(e: StoreError) -> Error {
    match e {
        StoreError::Domain(d) => d,
        other => panic!("expected a domain refusal, got {other:?}"),
    }
}

async fn used(db: &TestDb, product: &str) -> (u64, u64, u64) {
    let s = db.ledger.summary(Duration::days(30)).await.unwrap();
    let p = s
        .products
        .iter()
        .filter(|p| p.product == product && p.kind == SeatKind::Named);
    p.fold((0, 0, 0), |acc, p| {
        (acc.0 + p.total, acc.1 + p.used, acc.2 + p.suspended)
    })
}

async fn audit_count(db: &TestDb) -> usize {
    db.ledger
        .audit_log(&AuditFilter {
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

pub async fn l1_license_request_names_company_instance_and_usage(db: &TestDb) {
    let err = db
        .ledger
        .license_request(&admin(), None, "1.0")
        .await
        .unwrap_err();
    assert!(matches!(
        domain(err),
        Error::License(LicenseError::NoCompany)
    ));
    crm_seats(db, "S-1", 3).await;
    users(db, &["ann"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let req = db
        .ledger
        .license_request(&admin(), None, "2.0")
        .await
        .unwrap();
    assert_eq!(req.company_id, "ACME");
    assert_eq!(
        req.instance_id,
        db.ledger.instance().await.unwrap().instance_id
    );
    assert_eq!(req.application_version, "2.0");
    let line = req.usage.iter().find(|u| u.product == "crm").unwrap();
    assert_eq!((line.capacity, line.used), (3, 1));
    assert_eq!(req.active_users[&Area::Employee], 1);
}

pub async fn l2_import_verifies_the_signature_and_reimport_is_a_no_op(db: &TestDb) {
    let o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    let text = issue(db, &o).await;
    let first = db
        .ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
    assert!(!first.already_imported);
    assert_eq!(first.packages, vec!["S-1"]);
    let audits = audit_count(db).await;
    let again = db
        .ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
    assert!(again.already_imported);
    assert_eq!(used(db, "crm").await.0, 5, "re-import must not add seats");
    assert_eq!(audit_count(db).await, audits);
    assert_eq!(db.ledger.license_files().await.unwrap().len(), 1);
}

pub async fn l2_bad_license_files_are_refused_and_change_nothing(db: &TestDb) {
    let o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    let good = issue(db, &o).await;
    let audits = audit_count(db).await;

    // Tampered: seats raised after signing.
    let (mut env, mut payload) = license::decode_unverified(&good).unwrap();
    payload.packages[0].seats = 500;
    use base64::Engine as _;
    env.payload =
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(&payload).unwrap());
    let tampered = serde_json::to_string(&env).unwrap();
    // Signed by someone else's key.
    let request = db
        .ledger
        .license_request(&admin(), None, "1.0")
        .await
        .unwrap();
    let foreign_key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let foreign = license::issue(&foreign_key, &request, &o, "x".into(), T0).unwrap();
    // For another company / instance, and not yet valid: correctly signed, wrongly bound.
    let mut other_company = request.clone();
    other_company.company_id = "GLOBEX".into();
    let wrong_company = license::issue(&vendor(), &other_company, &o, "y".into(), T0).unwrap();
    let mut other_instance = request.clone();
    other_instance.instance_id = "someone-else".into();
    let wrong_instance = license::issue(&vendor(), &other_instance, &o, "z".into(), T0).unwrap();
    let mut future = o.clone();
    future.valid_from = Some(T0 + Duration::days(10));
    let not_yet = license::issue(&vendor(), &request, &future, "w".into(), T0).unwrap();
    let env: LicenseEnvelope = serde_json::from_str(&good).unwrap();
    let mut bad_format = env.clone();
    bad_format.format = "other/9".into();

    type Case = (&'static str, String, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        ("tampered", tampered, |e| {
            matches!(e, Error::License(LicenseError::Tampered))
        }),
        (
            "truncated",
            good[..good.len() - 40].to_string(),
            |e| matches!(e, Error::License(LicenseError::Malformed(m)) if m.contains("truncated")),
        ),
        ("foreign key", foreign, |e| {
            matches!(e, Error::License(LicenseError::UntrustedKey { .. }))
        }),
        ("wrong company", wrong_company, |e| {
            matches!(e, Error::License(LicenseError::WrongCompany { .. }))
        }),
        ("wrong instance", wrong_instance, |e| {
            matches!(e, Error::License(LicenseError::WrongInstance { .. }))
        }),
        ("not yet valid", not_yet, |e| {
            matches!(e, Error::License(LicenseError::NotYetValid { .. }))
        }),
        (
            "other format",
            serde_json::to_string(&bad_format).unwrap(),
            |e| matches!(e, Error::License(LicenseError::UnsupportedFormat(_))),
        ),
        ("garbage", "hello".into(), |e| {
            matches!(e, Error::License(LicenseError::Malformed(_)))
        }),
    ];
    for (what, text, expected) in cases {
        let err = domain(
            db.ledger
                .import_license(&admin(), &text, &trusted())
                .await
                .unwrap_err(),
        );
        assert!(expected(&err), "{what}: unexpected refusal {err:?}");
        assert!(!err.to_string().is_empty());
    }
    assert!(db.ledger.packages().await.unwrap().is_empty());
    assert!(db.ledger.products().await.unwrap().is_empty());
    assert_eq!(
        audit_count(db).await,
        audits,
        "refusals must not write anything"
    );
}

pub async fn l3_import_adds_capacity(db: &TestDb) {
    crm_seats(db, "S-1", 5).await;
    crm_seats(db, "S-2", 3).await;
    assert_eq!(used(db, "crm").await.0, 8);
    let o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 9)],
    );
    let dup = issue(db, &o).await;
    let err = domain(
        db.ledger
            .import_license(&admin(), &dup, &trusted())
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("S-1"), "{err}");
    assert_eq!(used(db, "crm").await.0, 8);
}

pub async fn l3_renewal_carries_assignments_over_without_a_gap(db: &TestDb) {
    let mut old = package("OLD", "crm", SeatKind::Named, Area::Employee, 3);
    old.expires = Some(T0 + Duration::days(30));
    let o = order(vec![product("crm", true)], vec![old]);
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    db.ledger.create_folder(&admin(), "Sales").await.unwrap();
    db.ledger
        .place_seats(&admin(), "OLD", "Sales", 2)
        .await
        .unwrap();
    let mut ann = NewUser::active("ann", Area::Employee);
    ann.folder = "Sales".into();
    db.ledger.create_user(&admin(), ann).await.unwrap();
    users(db, &["bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann", "bob"]), &s(&["crm"]))
        .await
        .unwrap();

    // The renewal starts before the old package ends and declares that it replaces it.
    db.clock.advance(Duration::days(20));
    let mut new = package("NEW", "crm", SeatKind::Named, Area::Employee, 3);
    new.replaces = vec!["OLD".into()];
    new.expires = Some(T0 + Duration::days(400));
    let report = db
        .ledger
        .import_license(
            &admin(),
            &issue(db, &order(vec![product("crm", true)], vec![new])).await,
            &trusted(),
        )
        .await
        .unwrap();
    assert_eq!(report.replaced, vec!["OLD"]);
    assert!(
        report.changes.suspended.is_empty(),
        "nobody loses access during a renewal"
    );
    assert_eq!(
        used(db, "crm").await,
        (3, 2, 0),
        "the old serial no longer counts on top"
    );
    let pkgs = db.ledger.packages().await.unwrap();
    let new = pkgs.iter().find(|p| p.serial == "NEW").unwrap();
    assert_eq!(
        new.placements.len(),
        1,
        "the renewal keeps the folder placement"
    );
    assert_eq!(new.placements[0].folder, "Sales");

    // After the old package's expiry nothing changes for the users.
    db.clock.advance(Duration::days(20));
    assert_eq!(used(db, "crm").await, (3, 2, 0));
    for login in ["ann", "bob"] {
        let u = db.ledger.user(login).await.unwrap();
        assert_eq!(u.licenses[0].status, AssignmentStatus::Active, "{login}");
    }
}

pub async fn l4_expiry_suspends_the_newest_and_returning_capacity_restores_them(db: &TestDb) {
    let mut short = package("SHORT", "crm", SeatKind::Named, Area::Employee, 2);
    short.expires = Some(T0 + Duration::days(10));
    let long = package("LONG", "crm", SeatKind::Named, Area::Employee, 1);
    let o = order(vec![product("crm", true)], vec![short, long]);
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["u1", "u2", "u3"]).await;
    for u in ["u1", "u2", "u3"] {
        db.ledger
            .grant(&admin(), &s(&[u]), &s(&["crm"]))
            .await
            .unwrap();
        db.clock.advance(Duration::minutes(1));
    }
    assert_eq!(used(db, "crm").await, (3, 3, 0));

    db.clock.set(T0 + Duration::days(10));
    assert_eq!(
        used(db, "crm").await,
        (1, 1, 2),
        "expired seats stop counting; surplus suspended"
    );
    // N2: the suspension is posted for the administrators.
    let msgs = db.ledger.messages(true, 10).await.unwrap();
    let m = msgs
        .iter()
        .find(|m| m.kind == "limit")
        .expect("a limit message");
    assert!(m.title.starts_with("2 license(s) suspended"), "{}", m.title);
    assert_eq!(m.body["products"]["crm"], 2);
    let status = |v: seatkeeper_store::UserView| v.licenses[0].status;
    assert_eq!(
        status(db.ledger.user("u1").await.unwrap()),
        AssignmentStatus::Active,
        "the oldest keeps its seat"
    );
    assert_eq!(
        status(db.ledger.user("u3").await.unwrap()),
        AssignmentStatus::Suspended
    );
    let err = domain(
        db.ledger
            .grant(&admin(), &s(&["admin"]), &s(&["crm"]))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::NoSeatFree { free: 0, .. }), "{err:?}");
    let suspended = db
        .ledger
        .audit_log(&AuditFilter {
            action: Some("assignment.suspend".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(suspended.len(), 2);
    assert_eq!(suspended[0].actor, "system");

    // Capacity returns: one more seat brings back the older of the two suspended.
    crm_seats(db, "MORE", 1).await;
    assert_eq!(used(db, "crm").await, (2, 2, 1));
    assert_eq!(
        status(db.ledger.user("u2").await.unwrap()),
        AssignmentStatus::Active
    );
    assert_eq!(
        status(db.ledger.user("u3").await.unwrap()),
        AssignmentStatus::Suspended
    );
    // A recall frees a seat: the suspended one takes it before anyone new could.
    db.ledger
        .recall(&admin(), &s(&["u1"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(
        status(db.ledger.user("u3").await.unwrap()),
        AssignmentStatus::Active
    );
    assert_eq!(used(db, "crm").await, (2, 2, 0));
}

pub async fn l5_delete_all_licenses_keeps_assignments_suspended(db: &TestDb) {
    crm_seats(db, "S-1", 2).await;
    users(db, &["ann"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let report = db.ledger.delete_all_licenses(&admin()).await.unwrap();
    assert_eq!((report.license_files, report.packages), (1, 1));
    assert!(db.ledger.packages().await.unwrap().is_empty());
    assert!(db.ledger.products().await.unwrap().is_empty());
    let s0 = db.ledger.summary(Duration::days(30)).await.unwrap();
    assert!(!s0.licenses_loaded);
    assert_eq!(
        db.ledger.user("ann").await.unwrap().licenses[0].status,
        AssignmentStatus::Suspended
    );
    // The same seats imported again bring the assignment back.
    crm_seats(db, "S-2", 2).await;
    assert_eq!(
        db.ledger.user("ann").await.unwrap().licenses[0].status,
        AssignmentStatus::Active
    );
}

pub async fn u1_user_limit_refuses_creation_and_activation_admin_excluded(db: &TestDb) {
    let mut o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    o.area_limits = vec![limit(Area::Employee, 2), limit(Area::Portal, 1)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann", "bob"]).await;
    let err = domain(
        db.ledger
            .create_user(&admin(), NewUser::active("cat", Area::Employee))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err,
        Error::AreaLimit {
            area: Area::Employee,
            limit: 2,
            active: 2
        }
    );
    // Portal has its own limit; blocked users can always be created.
    db.ledger
        .create_user(&admin(), NewUser::active("pam", Area::Portal))
        .await
        .unwrap();
    let mut blocked = NewUser::active("cat", Area::Employee);
    blocked.state = UserState::Blocked;
    db.ledger.create_user(&admin(), blocked).await.unwrap();
    let err = domain(db.ledger.activate_user(&admin(), "cat").await.unwrap_err());
    assert!(matches!(err, Error::AreaLimit { .. }), "{err:?}");
    let summary = db.ledger.summary(Duration::days(30)).await.unwrap();
    let emp = summary
        .areas
        .iter()
        .find(|a| a.area == Area::Employee)
        .unwrap();
    assert_eq!(
        (emp.active_users, emp.blocked_users, emp.limit),
        (2, 1, Some(2)),
        "the administrator is not counted"
    );
    let err = domain(
        db.ledger
            .create_user(&admin(), NewUser::active("ANN", Area::Portal))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::DuplicateLogin(_)), "{err:?}");
}

pub async fn u1_csv_import_is_all_or_nothing_with_line_numbers(db: &TestDb) {
    let mut o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    o.area_limits = vec![limit(Area::Employee, 3)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    db.ledger
        .create_folder(&admin(), "Sales/North")
        .await
        .unwrap();
    users(db, &["ann"]).await;
    let before = db.ledger.users(&UserFilter::default()).await.unwrap().len();

    let bad = "login,name,email,area,folder,state\n\
               bob,Bob,bob@x.org,employee,Sales/North,active\n\
               cat,Cat,cat@x.org,employee,Nowhere,active\n\
               dan,Dan,dan@x.org,employee,,active\n\
               eve,Eve,eve@x.org,employee,,active\n";
    let err = domain(db.ledger.import_users_csv(&admin(), bad).await.unwrap_err());
    let Error::Csv(rows) = err else {
        panic!("expected row errors")
    };
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(
        lines,
        vec![3, 5],
        "unknown folder on line 3; line 5 is one user past the limit of 3"
    );
    assert!(rows[0].message.contains("Nowhere"));
    assert!(rows[1].message.contains("limit"));
    assert_eq!(
        db.ledger.users(&UserFilter::default()).await.unwrap().len(),
        before,
        "nothing imported"
    );

    // Blocking ann in the same file makes room for one more.
    let good = "login,name,email,area,folder,state\n\
                ann,Ann,ann@x.org,employee,,blocked\n\
                bob,Bob,bob@x.org,employee,Sales/North,active\n\
                dan,Dan,,employee,,active\n\
                eve,Eve,,employee,,active\n";
    let report = db.ledger.import_users_csv(&admin(), good).await.unwrap();
    assert_eq!((report.created, report.updated), (3, 1));
    assert_eq!(db.ledger.user("bob").await.unwrap().folder, "Sales/North");
    assert_eq!(
        db.ledger.user("ann").await.unwrap().state,
        UserState::Blocked
    );
    let again = db.ledger.import_users_csv(&admin(), good).await.unwrap();
    assert_eq!(again.unchanged, 4);
}

pub async fn u3_block_frees_seats_and_unblock_needs_room(db: &TestDb) {
    let mut o = order(
        vec![product("crm", true)],
        vec![package("S-1", "crm", SeatKind::Named, Area::Employee, 1)],
    );
    o.area_limits = vec![limit(Area::Employee, 1)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let report = db
        .ledger
        .block_user(&admin(), "ann", "left the company")
        .await
        .unwrap();
    assert_eq!(report.freed, vec!["crm"]);
    let ann = db.ledger.user("ann").await.unwrap();
    assert!(ann.licenses.is_empty());
    assert_eq!(ann.block_reason.as_deref(), Some("left the company"));
    let err = domain(
        db.ledger
            .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::UserBlocked { .. }));
    // The freed place goes to someone else; ann cannot come back while the area is full.
    users(db, &["bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["bob"]), &s(&["crm"]))
        .await
        .unwrap();
    assert!(matches!(
        domain(db.ledger.activate_user(&admin(), "ann").await.unwrap_err()),
        Error::AreaLimit { .. }
    ));
    // N2: filling the area was posted once (by ann's creation and again by bob's, each time
    // the area went from room to full), not by the refusal.
    let full: Vec<_> = db
        .ledger
        .messages(false, 50)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == "limit" && m.title.contains("reached its user limit"))
        .collect();
    assert_eq!(full.len(), 2, "{full:?}");
    assert_eq!(full[0].body["area"], "employee");
    db.ledger.delete_user(&admin(), "bob").await.unwrap();
    db.ledger.activate_user(&admin(), "ann").await.unwrap();
    assert!(matches!(
        domain(
            db.ledger
                .block_user(&admin(), "admin", "x")
                .await
                .unwrap_err()
        ),
        Error::BuiltinAdmin(_)
    ));
    assert!(matches!(
        domain(db.ledger.delete_user(&admin(), "admin").await.unwrap_err()),
        Error::BuiltinAdmin(_)
    ));
    assert!(matches!(
        domain(db.ledger.user("bob").await.unwrap_err()),
        Error::UnknownUser(_)
    ));
}

pub async fn u4_summary_and_csv_export(db: &TestDb) {
    let mut soon = package("SOON", "crm", SeatKind::Named, Area::Employee, 2);
    soon.expires = Some(T0 + Duration::days(20));
    let o = order(
        vec![product("crm", true), product("mkt", false)],
        vec![
            soon,
            package("LATER", "crm", SeatKind::Named, Area::Employee, 3),
            package("FL", "mkt", SeatKind::Concurrent, Area::Portal, 4),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann", "bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    db.ledger
        .block_user(&admin(), "bob", "left the company")
        .await
        .unwrap();
    let sum = db.ledger.summary(Duration::days(30)).await.unwrap();
    let crm = sum.products.iter().find(|p| p.product == "crm").unwrap();
    assert_eq!(
        (crm.total, crm.used, crm.free, crm.expiring_soon),
        (5, 1, 4, 2)
    );
    assert_eq!(crm.next_expiry, Some(T0 + Duration::days(20)));
    let mkt = sum.products.iter().find(|p| p.product == "mkt").unwrap();
    assert_eq!(
        (mkt.area, mkt.kind, mkt.total),
        (Area::Portal, SeatKind::Concurrent, 4)
    );
    let csv = db.ledger.export_users_csv().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "login,name,email,area,folder,state,active,block_reason,licenses"
    );
    assert!(
        lines.contains(&"ann,ann,,employee,,active,Yes,,crm"),
        "{csv}"
    );
    assert!(
        lines.contains(&"bob,bob,,employee,,blocked,No,left the company,"),
        "{csv}"
    );
    assert!(
        !csv.contains("admin,"),
        "the built-in administrator is not exported"
    );
    // The export re-imports unchanged.
    assert_eq!(
        db.ledger
            .import_users_csv(&admin(), &csv)
            .await
            .unwrap()
            .unchanged,
        2
    );
}

pub async fn x1_folder_seats_serve_their_users_first(db: &TestDb) {
    crm_seats(db, "S-1", 3).await;
    db.ledger.create_folder(&admin(), "Support").await.unwrap();
    db.ledger
        .place_seats(&admin(), "S-1", "Support", 1)
        .await
        .unwrap();
    let mut sue = NewUser::active("sue", Area::Employee);
    sue.folder = "Support".into();
    db.ledger.create_user(&admin(), sue.clone()).await.unwrap();
    sue.login = "sam".into();
    db.ledger.create_user(&admin(), sue).await.unwrap();
    users(db, &["ann", "bob"]).await;
    // Support users take the Support seat first, then the root; root users only the root.
    db.ledger
        .grant(&admin(), &s(&["sue"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(
        db.ledger.user("sue").await.unwrap().licenses[0].seat_folder,
        "Support"
    );
    db.ledger
        .grant(&admin(), &s(&["sam", "ann"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(
        db.ledger.user("sam").await.unwrap().licenses[0].seat_folder,
        "/"
    );
    let err = domain(
        db.ledger
            .grant(&admin(), &s(&["bob"]), &s(&["crm"]))
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(
            err,
            Error::NoSeatFree {
                needed: 1,
                free: 0,
                ..
            }
        ),
        "{err:?}"
    );
    let folders = db.ledger.folders().await.unwrap();
    assert_eq!(
        folders.iter().find(|f| f.path == "Support").unwrap().users,
        2
    );
    let err = domain(
        db.ledger
            .delete_folder(&admin(), "Support")
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::FolderInUse { .. }));
}

pub async fn x1_placement_never_takes_seats_from_holders(db: &TestDb) {
    crm_seats(db, "S-1", 4).await;
    db.ledger.create_folder(&admin(), "Ops").await.unwrap();
    users(db, &["a", "b", "c"]).await;
    db.ledger
        .grant(&admin(), &s(&["a", "b", "c"]), &s(&["crm"]))
        .await
        .unwrap();
    // Only one root seat is free, so at most one can move to Ops.
    let err = domain(
        db.ledger
            .place_seats(&admin(), "S-1", "Ops", 2)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::Placement { .. }), "{err:?}");
    db.ledger
        .place_seats(&admin(), "S-1", "Ops", 1)
        .await
        .unwrap();
    let err = domain(
        db.ledger
            .place_seats(&admin(), "S-1", "Ops", 5)
            .await
            .unwrap_err(),
    );
    assert!(err.to_string().contains("4 seats"), "{err}");
    let err = domain(
        db.ledger
            .place_seats(&admin(), "NOPE", "Ops", 1)
            .await
            .unwrap_err(),
    );
    assert!(matches!(err, Error::UnknownPackage(_)));
    db.ledger
        .place_seats(&admin(), "S-1", "Ops", 0)
        .await
        .unwrap();
    assert!(db.ledger.packages().await.unwrap()[0].placements.is_empty());
    db.ledger.delete_folder(&admin(), "Ops").await.unwrap();
}

pub async fn d1_bulk_grant_is_all_or_nothing_and_names_the_shortfall(db: &TestDb) {
    let o = order(
        vec![
            product("crm", true),
            product("mkt", false),
            product("portal", false),
        ],
        vec![
            package("S-1", "crm", SeatKind::Named, Area::Employee, 5),
            package("S-2", "mkt", SeatKind::Named, Area::Employee, 2),
            package("S-3", "portal", SeatKind::Named, Area::Portal, 2),
        ],
    );
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["a", "b", "c"]).await;
    let err = domain(
        db.ledger
            .grant(&admin(), &s(&["a", "b", "c"]), &s(&["crm", "mkt"]))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        err.to_string(),
        "not enough free named seats of product \"mkt\" (employee): 3 needed, 2 free"
    );
    assert_eq!(used(db, "crm").await.1, 0, "nothing partly applied");
    let report = db
        .ledger
        .grant(&admin(), &s(&["a", "b"]), &s(&["crm", "mkt"]))
        .await
        .unwrap();
    assert_eq!(report.granted.len(), 4);
    let again = db
        .ledger
        .grant(&admin(), &s(&["a"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(
        (again.granted.len(), again.already_held),
        (0, 1),
        "granting twice takes one seat"
    );
    assert!(matches!(
        domain(
            db.ledger
                .grant(&admin(), &s(&["a"]), &s(&["nope"]))
                .await
                .unwrap_err()
        ),
        Error::UnknownProduct(_)
    ));
    assert!(matches!(
        domain(
            db.ledger
                .grant(&admin(), &s(&["zed"]), &s(&["crm"]))
                .await
                .unwrap_err()
        ),
        Error::UnknownUser(_)
    ));
    assert!(matches!(
        domain(
            db.ledger
                .grant(&admin(), &s(&["c"]), &s(&["portal"]))
                .await
                .unwrap_err()
        ),
        Error::WrongArea { .. }
    ));
    assert_eq!(used(db, "crm").await.1, 2);
}

pub async fn d1_recall_frees_seats_and_is_audited(db: &TestDb) {
    crm_seats(db, "S-1", 2).await;
    users(db, &["a", "b", "c"]).await;
    db.ledger
        .grant(&admin(), &s(&["a", "b"]), &s(&["crm"]))
        .await
        .unwrap();
    let r = db
        .ledger
        .recall(&admin(), &s(&["a", "c"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!((r.recalled.len(), r.not_held), (1, 1));
    db.ledger
        .grant(&admin(), &s(&["c"]), &s(&["crm"]))
        .await
        .unwrap();
    let audit = db
        .ledger
        .audit_log(&AuditFilter {
            action: Some("license.recall".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(
        (
            audit[0].target.as_str(),
            audit[0].details["product"].as_str()
        ),
        ("a", Some("crm"))
    );
}

pub async fn n3_every_change_is_audited_with_who_what_when(db: &TestDb) {
    crm_seats(db, "S-1", 2).await;
    db.clock.advance(Duration::hours(1));
    users(db, &["ann"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let log = db.ledger.audit_log(&AuditFilter::default()).await.unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "license.grant",
            "user.create",
            "license.import",
            "instance.company"
        ]
    );
    let grant = &log[0];
    assert_eq!(
        (
            grant.actor.as_str(),
            grant.origin.as_str(),
            grant.target.as_str()
        ),
        ("alice", "test", "ann")
    );
    assert_eq!(grant.at, T0 + Duration::hours(1));
}

pub async fn db_constraints_refuse_oversubscription_even_from_raw_sql(db: &TestDb) {
    crm_seats(db, "S-1", 1).await;
    users(db, &["ann", "bob"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    let mut raw = db.raw().await;
    let insert = "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, manual, granted_at, granted_by) \
                  SELECT id, 'crm', 'employee', 'named', 1, 'active', 1, 0, 'raw' FROM users WHERE login = 'bob'";
    let err = raw.execute(insert).await.unwrap_err();
    assert!(err.to_string().contains("seats_within_capacity"), "{err}");
    // A seat outside any pool is refused too (it would escape the count).
    let err = raw
        .execute("INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, manual, granted_at, granted_by) \
                  SELECT id, 'ghost', 'employee', 'named', 1, 'active', 1, 0, 'raw' FROM users WHERE login = 'bob'")
        .await;
    assert!(err.is_err());
    // A blocked user cannot be given a seat even by hand.
    db.ledger
        .recall(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    db.ledger.block_user(&admin(), "bob", "x").await.unwrap();
    let err = raw.execute(insert).await.unwrap_err();
    assert!(
        err.to_string().contains("assignment_for_blocked_user"),
        "{err}"
    );
    assert_eq!(used(db, "crm").await.1, 0);
}

pub async fn concurrent_grants_for_the_last_seats_never_oversubscribe(db: &TestDb) {
    const SEATS: u32 = 5;
    const RACERS: usize = 24;
    crm_seats(db, "S-1", SEATS).await;
    let logins: Vec<String> = (0..RACERS).map(|i| format!("racer{i}")).collect();
    let refs: Vec<&str> = logins.iter().map(String::as_str).collect();
    users(db, &refs).await;
    // Each racer is its own ledger with its own connection pool, as separate nodes would be.
    let mut tasks = Vec::new();
    for login in logins {
        let ledger = db.reopen().await;
        tasks.push(tokio::spawn(async move {
            let r = ledger.grant(&admin(), &[login], &["crm".to_string()]).await;
            ledger.close().await;
            r
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => won += r.granted.len(),
            Err(e) => assert!(matches!(domain(e), Error::NoSeatFree { .. })),
        }
    }
    assert_eq!(won, SEATS as usize);
    assert_eq!(used(db, "crm").await, (5, 5, 0));
}

async fn company(db: &TestDb) -> Option<String> {
    db.ledger.instance().await.unwrap().company_id
}

/// Issue 13 item 9: a license request never changes a recorded company id; only the explicit
/// change does, and not while license files bound to the old id are loaded.
pub async fn x13_9_company_id_changes_only_explicitly(db: &TestDb) {
    db.ledger
        .license_request(&admin(), Some("ACME"), "1.0")
        .await
        .unwrap();
    db.ledger
        .license_request(&admin(), Some("ACME"), "1.0")
        .await
        .unwrap();
    let audits = audit_count(db).await;
    let err = domain(
        db.ledger
            .license_request(&admin(), Some("GLOBEX"), "1.0")
            .await
            .unwrap_err(),
    );
    assert!(
        matches!(&err, Error::CompanyIdChange { installed, requested }
            if installed == "ACME" && requested == "GLOBEX"),
        "{err:?}"
    );
    assert_eq!(err.code(), "company_id_change");
    assert_eq!(company(db).await.as_deref(), Some("ACME"));
    assert_eq!(audit_count(db).await, audits);

    // Without license files, the explicit change is allowed (and audited).
    let info = db.ledger.set_company_id(&admin(), "GLOBEX").await.unwrap();
    assert_eq!(info.company_id.as_deref(), Some("GLOBEX"));
    assert_eq!(audit_count(db).await, audits + 1);
    db.ledger.set_company_id(&admin(), "ACME").await.unwrap();

    // With a license file loaded for ACME, it is refused, and the genuine file still imports.
    crm_seats(db, "S-1", 3).await;
    let audits = audit_count(db).await;
    let err = domain(
        db.ledger
            .set_company_id(&admin(), "GLOBEX")
            .await
            .unwrap_err(),
    );
    assert_eq!(err, Error::CompanyIdLocked { files: 1 });
    assert_eq!(company(db).await.as_deref(), Some("ACME"));
    assert_eq!(audit_count(db).await, audits);
    // Setting the id it already has is no change, so it is not refused.
    db.ledger.set_company_id(&admin(), "ACME").await.unwrap();
    crm_seats(db, "S-2", 2).await;
    assert_eq!(used(db, "crm").await.0, 5);
}

/// Issue 13 item 9: blocking a user ends their sign-ins, so unblocking does not bring them
/// back; a block by CSV import does the same. API tokens made on purpose are kept.
pub async fn x13_9_a_block_ends_the_users_signins_for_good(db: &TestDb) {
    use seatkeeper_store::TokenScope;
    users(db, &["boss", "deputy"]).await;
    for (owner, hash, scope) in [
        ("boss", "signin-boss", TokenScope::Signin),
        ("boss", "api-boss", TokenScope::Admin),
        ("deputy", "signin-deputy", TokenScope::Signin),
    ] {
        db.ledger
            .create_token(&admin(), owner, "t", scope, hash, None)
            .await
            .unwrap();
    }
    let valid = |hash: &'static str| {
        let ledger = &db.ledger;
        async move { ledger.principal(hash).await.unwrap().is_some() }
    };
    assert!(valid("signin-boss").await);
    db.ledger
        .block_user(&admin(), "boss", "manual")
        .await
        .unwrap();
    assert!(!valid("signin-boss").await && !valid("api-boss").await);
    db.ledger.activate_user(&admin(), "boss").await.unwrap();
    assert!(
        !valid("signin-boss").await,
        "the sign-in ended at the block, not just paused"
    );
    assert!(valid("api-boss").await, "an API token is kept");

    db.ledger
        .import_users_csv(&admin(), "login,state\ndeputy,blocked\n")
        .await
        .unwrap();
    db.ledger.activate_user(&admin(), "deputy").await.unwrap();
    assert!(!valid("signin-deputy").await);
}

/// Issue 13 item 9: a change that changes nothing writes no audit record (settings set to what
/// they are, members added again or removed when they are not members).
pub async fn x13_9_no_op_changes_write_no_audit_records(db: &TestDb) {
    users(db, &["ann", "bob"]).await;
    let role = db
        .ledger
        .create_role(&admin(), "Sales", "functional", None)
        .await
        .unwrap()
        .id;
    db.ledger
        .set_role_members(&admin(), role, &s(&["ann"]), true)
        .await
        .unwrap();
    let before = audit_count(db).await;
    let same = db.ledger.distribution_settings().await.unwrap();
    db.ledger
        .set_distribution_settings(&admin(), same)
        .await
        .unwrap();
    let server = db.ledger.server_settings().await.unwrap();
    db.ledger
        .set_server_settings(&admin(), server)
        .await
        .unwrap();
    let again = db
        .ledger
        .set_role_members(&admin(), role, &s(&["ann", "ANN"]), true)
        .await
        .unwrap();
    assert_eq!(again.changed, 0);
    let none = db
        .ledger
        .set_role_members(&admin(), role, &s(&["bob"]), false)
        .await
        .unwrap();
    assert_eq!(none.changed, 0);
    assert_eq!(
        audit_count(db).await,
        before,
        "no-op changes are not audited"
    );

    // A call that changes some of its users audits exactly those.
    let some = db
        .ledger
        .set_role_members(&admin(), role, &s(&["ann", "bob"]), true)
        .await
        .unwrap();
    assert_eq!(some.changed, 1);
    let log = db
        .ledger
        .audit_log(&AuditFilter {
            limit: Some(10),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit_count(db).await, before + 1);
    assert_eq!(
        (log[0].action.as_str(), log[0].target.as_str()),
        ("role.member.add", "bob")
    );
}
