//! Issue 13 item 2: area user limits across renewals, independent files and expiry (U1).
//! The rule is in `docs/LICENSE-FILES.md`, "User limits: renewal, replacement, expiry".

use seatkeeper_core::license::OrderPackage;
use seatkeeper_core::{Area, Error, SeatKind};
use seatkeeper_store::{NewUser, StoreError};
use time::{Duration, OffsetDateTime};

use crate::support::*;

/// The employee area's limit as the summary (and so the admin API) shows it.
async fn employee_limit(db: &TestDb) -> Option<u64> {
    let s = db.ledger.summary(Duration::days(30)).await.unwrap();
    s.areas
        .iter()
        .find(|a| a.area == Area::Employee)
        .unwrap()
        .limit
}

fn crm(serial: &str, expires: Option<OffsetDateTime>, replaces: &[&str]) -> OrderPackage {
    let mut p = package(serial, "crm", SeatKind::Named, Area::Employee, 5);
    p.expires = expires;
    p.replaces = s(replaces);
    p
}

/// Imports a file holding `package` and an employee limit of `max_users`.
async fn import(db: &TestDb, package: OrderPackage, max_users: Option<u32>) {
    let mut o = order(vec![product("crm", true)], vec![package]);
    o.area_limits = max_users
        .map(|m| limit(Area::Employee, m))
        .into_iter()
        .collect();
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
}

pub async fn x13_a_renewal_with_the_same_limit_does_not_double_it(db: &TestDb) {
    let old_end = T0 + Duration::days(365);
    import(db, crm("S-2026", Some(old_end), &[]), Some(60)).await;
    assert_eq!(employee_limit(db).await, Some(60));

    // The renewal arrives a month before the old file ends, restating the same limit.
    db.clock.advance(Duration::days(335));
    import(
        db,
        crm("S-2027", Some(T0 + Duration::days(730)), &["S-2026"]),
        Some(60),
    )
    .await;
    assert_eq!(
        employee_limit(db).await,
        Some(60),
        "a renewal takes the place of the renewed file's limit"
    );

    // Past the old file's expiry the renewal alone decides.
    db.clock.advance(Duration::days(40));
    assert_eq!(employee_limit(db).await, Some(60));
}

pub async fn x13_a_renewal_that_raises_or_lowers_the_limit_sets_it(db: &TestDb) {
    import(
        db,
        crm("S-2026", Some(T0 + Duration::days(365)), &[]),
        Some(60),
    )
    .await;
    db.clock.advance(Duration::days(300));
    import(db, crm("S-2027", None, &["S-2026"]), Some(80)).await;
    assert_eq!(employee_limit(db).await, Some(80));

    // A further renewal that lowers it: the new limit applies and is enforced.
    users(db, &["ann", "bob"]).await;
    db.clock.advance(Duration::days(10));
    import(db, crm("S-2028", None, &["S-2027"]), Some(2)).await;
    assert_eq!(employee_limit(db).await, Some(2));
    let err = db
        .ledger
        .create_user(&admin(), NewUser::active("cat", Area::Employee))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Domain(Error::AreaLimit {
                area: Area::Employee,
                limit: 2,
                active: 2
            })
        ),
        "{err:?}"
    );
}

pub async fn x13_limits_of_independent_files_add_up_each_until_its_file_ends(db: &TestDb) {
    import(
        db,
        crm("A-1", Some(T0 + Duration::days(100)), &[]),
        Some(60),
    )
    .await;
    import(
        db,
        crm("B-1", Some(T0 + Duration::days(200)), &[]),
        Some(40),
    )
    .await;
    assert_eq!(
        employee_limit(db).await,
        Some(100),
        "two purchases that renew nothing add up"
    );
    db.clock.advance(Duration::days(100));
    assert_eq!(
        employee_limit(db).await,
        Some(40),
        "a limit without its own expiry ends with its file"
    );
    db.clock.advance(Duration::days(100));
    assert_eq!(employee_limit(db).await, None);
}

pub async fn x13_a_limit_expires_with_its_own_window(db: &TestDb) {
    let mut o = order(vec![product("crm", true)], vec![crm("S-1", None, &[])]);
    let mut l = limit(Area::Employee, 2);
    l.expires = Some(T0 + Duration::days(10));
    o.area_limits = vec![l];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    users(db, &["ann", "bob"]).await;
    assert_eq!(employee_limit(db).await, Some(2));
    assert!(
        db.ledger
            .create_user(&admin(), NewUser::active("cat", Area::Employee))
            .await
            .is_err()
    );
    db.clock.advance(Duration::days(10));
    assert_eq!(
        employee_limit(db).await,
        None,
        "the limit is no longer in force"
    );
    users(db, &["cat"]).await;
}

pub async fn x13_a_renewal_without_limits_leaves_the_renewed_limit_until_it_ends(db: &TestDb) {
    import(
        db,
        crm("S-2026", Some(T0 + Duration::days(365)), &[]),
        Some(60),
    )
    .await;
    db.clock.advance(Duration::days(300));
    import(db, crm("S-2027", None, &["S-2026"]), None).await;
    assert_eq!(employee_limit(db).await, Some(60));
    db.clock.advance(Duration::days(65));
    assert_eq!(employee_limit(db).await, None);
}
