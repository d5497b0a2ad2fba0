//! The admin UI's reads (issue 5) on both backends: the usage history (a point on change and
//! at least one a day, retention) and the user list filtered by role with its count.

use seatkeeper_core::{Area, SeatKind, UserState};
use seatkeeper_store::{UsageHistory, UsagePoint, UsageRecorded, UsageSeries, UserFilter};
use time::{Duration, OffsetDateTime};

use crate::support::*;

fn series<'a>(list: &'a [UsageSeries], subject: &str) -> &'a UsageSeries {
    list.iter()
        .find(|s| s.subject == subject)
        .unwrap_or_else(|| panic!("no series for {subject}"))
}

/// (at, used, total, suspended) of each point.
type Row = (OffsetDateTime, u64, Option<u64>, Option<u64>);

fn rows(s: &UsageSeries) -> Vec<Row> {
    s.points
        .iter()
        .map(|p: &UsagePoint| (p.at, p.used, p.total, p.suspended))
        .collect()
}

fn written(r: UsageRecorded) -> u64 {
    r.written
}

pub async fn i5_usage_history_records_changes_and_a_daily_point(db: &TestDb) {
    crm_seats(db, "P-1", 3).await;
    users(db, &["ann", "bob"]).await;

    // First call: every subject (the product, both areas) gets its first point.
    assert_eq!(written(db.ledger.record_usage().await.unwrap()), 3);
    assert_eq!(written(db.ledger.record_usage().await.unwrap()), 0);

    // A grant changes the product's numbers only.
    db.clock.advance(Duration::minutes(10));
    db.ledger
        .grant(&admin(), &s(&["ann"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(written(db.ledger.record_usage().await.unwrap()), 1);
    // Nothing changed: nothing written.
    db.clock.advance(Duration::minutes(1));
    assert_eq!(
        db.ledger.record_usage().await.unwrap(),
        UsageRecorded::default()
    );

    // A day without change still gets a point for every subject.
    db.clock.advance(Duration::hours(25));
    let t2 = T0 + Duration::minutes(11) + Duration::hours(25);
    assert_eq!(written(db.ledger.record_usage().await.unwrap()), 3);

    let t1 = T0 + Duration::minutes(10);
    let all = db.ledger.usage_history(T0).await.unwrap();
    assert_eq!(all.at, t2);
    assert_eq!(
        rows(series(&all.products, "crm")),
        vec![
            (T0, 0, Some(3), Some(0)),
            (t1, 1, Some(3), Some(0)),
            (t2, 1, Some(3), Some(0))
        ]
    );
    assert_eq!(
        rows(series(&all.areas, "employee")),
        vec![(T0, 2, None, None), (t2, 2, None, None)]
    );
    assert_eq!(
        all.areas
            .iter()
            .map(|s| s.subject.as_str())
            .collect::<Vec<_>>(),
        ["employee", "portal"]
    );

    // From an instant after the change: the point before it comes first.
    let since = T0 + Duration::hours(1);
    let h: UsageHistory = db.ledger.usage_history(since).await.unwrap();
    assert_eq!(h.since, since);
    assert_eq!(
        rows(series(&h.products, "crm")),
        vec![(t1, 1, Some(3), Some(0)), (t2, 1, Some(3), Some(0))]
    );
    assert_eq!(
        rows(series(&h.areas, "portal")),
        vec![(T0, 0, None, None), (t2, 0, None, None)]
    );
    // After the last point: only the point before, for each subject.
    let later = db
        .ledger
        .usage_history(t2 + Duration::minutes(1))
        .await
        .unwrap();
    assert_eq!(
        rows(series(&later.products, "crm")),
        vec![(t2, 1, Some(3), Some(0))]
    );

    // More seats and an area limit (the area's total) in one file.
    let mut o = order(
        vec![product("crm", true)],
        vec![package("P-2", "crm", SeatKind::Named, Area::Employee, 2)],
    );
    o.area_limits = vec![limit(Area::Employee, 5)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    db.clock.advance(Duration::minutes(1));
    let t3 = t2 + Duration::minutes(1);
    assert_eq!(written(db.ledger.record_usage().await.unwrap()), 2);
    let h = db.ledger.usage_history(t3).await.unwrap();
    assert_eq!(
        rows(series(&h.areas, "employee")),
        vec![(t2, 2, None, None), (t3, 2, Some(5), None)]
    );
    assert_eq!(
        rows(series(&h.products, "crm")),
        vec![(t2, 1, Some(3), Some(0)), (t3, 1, Some(5), Some(0))]
    );

    // Retention: samples older than 400 days go; each subject keeps its newest.
    db.clock.advance(Duration::days(401));
    let r = db.ledger.record_usage().await.unwrap();
    assert_eq!((r.written, r.pruned), (3, 9));
    let h = db.ledger.usage_history(T0).await.unwrap();
    assert!(
        h.products
            .iter()
            .chain(&h.areas)
            .all(|s| s.points.len() == 1),
        "{h:?}"
    );
}

fn role_filter(role: i64) -> UserFilter {
    UserFilter {
        role: Some(role),
        ..UserFilter::default()
    }
}

async fn logins(db: &TestDb, filter: &UserFilter) -> Vec<String> {
    db.ledger
        .users(filter)
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.login)
        .collect()
}

pub async fn u_user_list_filters_by_role_and_counts(db: &TestDb) {
    crm_seats(db, "P-1", 5).await;
    users(db, &["dan", "Ann", "bob", "cid"]).await;
    let sales = db
        .ledger
        .create_role(&admin(), "Sales", "functional", None)
        .await
        .unwrap()
        .id;
    db.ledger
        .set_role_members(&admin(), sales, &s(&["cid", "ann", "dan"]), true)
        .await
        .unwrap();
    db.ledger
        .grant(&admin(), &s(&["ann", "bob"]), &s(&["crm"]))
        .await
        .unwrap();

    // Direct members, by login case-insensitively, with their licenses.
    let f = role_filter(sales);
    assert_eq!(logins(db, &f).await, s(&["Ann", "cid", "dan"]));
    assert_eq!(db.ledger.count_users(&f).await.unwrap(), 3);
    let ann = &db.ledger.users(&f).await.unwrap()[0];
    assert_eq!(ann.licenses.len(), 1);

    // A page: the count ignores limit and offset.
    let page = UserFilter {
        limit: Some(2),
        offset: 1,
        ..role_filter(sales)
    };
    assert_eq!(logins(db, &page).await, s(&["cid", "dan"]));
    assert_eq!(db.ledger.count_users(&page).await.unwrap(), 3);

    // Combined with the other filters.
    let crm = UserFilter {
        product: Some("crm".into()),
        ..role_filter(sales)
    };
    assert_eq!(logins(db, &crm).await, s(&["Ann"]));
    assert_eq!(db.ledger.count_users(&crm).await.unwrap(), 1);
    let search = UserFilter {
        search: Some("D".into()),
        ..role_filter(sales)
    };
    assert_eq!(logins(db, &search).await, s(&["cid", "dan"]));
    assert_eq!(db.ledger.count_users(&search).await.unwrap(), 2);

    // The built-in role holds the administrator; an unknown role matches nobody.
    assert_eq!(logins(db, &role_filter(2)).await, s(&["admin"]));
    assert_eq!(db.ledger.count_users(&role_filter(999)).await.unwrap(), 0);
    assert!(logins(db, &role_filter(999)).await.is_empty());

    // No filter: everyone, the administrator included, and the count agrees.
    let everyone = db.ledger.users(&UserFilter::default()).await.unwrap();
    assert_eq!(everyone.len(), 5);
    assert_eq!(
        db.ledger.count_users(&UserFilter::default()).await.unwrap(),
        5
    );
    let blocked = UserFilter {
        state: Some(UserState::Blocked),
        ..UserFilter::default()
    };
    assert_eq!(db.ledger.count_users(&blocked).await.unwrap(), 0);
}
