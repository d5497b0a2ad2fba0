//! Invariants every write path keeps whoever opens it (issue 14.1): capacity is brought up
//! to date at "now" by the opener of a write transaction, so no operation hands out a seat
//! of a package that has expired, whether or not it remembered to check.

use seatkeeper_core::distribution::ROOT_ROLE;
use seatkeeper_core::{Area, SeatKind};
use seatkeeper_store::{
    DistributionSettings, LoginAnswer, LoginRequest, ManualGrants, RedistributionReport, Scope,
};
use sqlx::Row as _;
use time::Duration;

use crate::support::*;

const LOGINS: [&str; 10] = [
    "u00", "u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09",
];

/// 10 users; crm (all modules) with 10 named employee seats in two packages, of which `E`
/// (5 seats) expires after 30 days. With `bound`, crm is bound to All employees.
async fn ten_users_five_expiring(db: &TestDb, bound: bool, on_role_change: bool) {
    let mut expiring = package("E", "crm", SeatKind::Named, Area::Employee, 5);
    expiring.expires = Some(T0 + Duration::days(30));
    let o = order(
        vec![product("crm", true)],
        vec![
            package("K", "crm", SeatKind::Named, Area::Employee, 5),
            expiring,
        ],
    );
    let text = issue(db, &o).await;
    db.ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
    users(db, &LOGINS).await;
    // Bound before the trigger is turned on: nobody holds a seat before the expiry.
    if bound {
        db.ledger
            .set_role_product(&admin(), ROOT_ROLE, "crm", true)
            .await
            .unwrap();
    }
    db.ledger
        .set_distribution_settings(
            &admin(),
            DistributionSettings {
                redistribute_on_role_change: on_role_change,
                role_based_distribution: true,
            },
        )
        .await
        .unwrap();
}

fn past_expiry(db: &TestDb) {
    db.clock.set(T0 + Duration::days(31));
}

/// What is stored for crm, read on a connection of its own so that no ledger read brings
/// it up to date first: (capacity, active seats, suspended seats).
async fn stored(db: &TestDb) -> (i64, i64, i64) {
    let mut raw = db.raw().await;
    let pool = sqlx::query(
        "SELECT CAST(COALESCE(SUM(capacity), 0) AS BIGINT) AS c, \
         CAST(COALESCE(SUM(used), 0) AS BIGINT) AS u FROM seat_pools WHERE product_code = 'crm'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    let suspended = sqlx::query(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM assignments \
         WHERE product_code = 'crm' AND status = 'suspended'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap();
    (
        pool.get::<i64, _>("c"),
        pool.get::<i64, _>("u"),
        suspended.get::<i64, _>("n"),
    )
}

/// What went wrong, operation by operation: the case checks every operation and then
/// names all those that used an expired seat, not only the first.
#[derive(Default)]
struct Findings(Vec<String>);

impl Findings {
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, got: T, want: T) {
        if got != want {
            self.0.push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }
}

/// After a distributing write: 5 seats in use, none suspended, the other 5 users wait as
/// pending needs.
async fn five_granted_five_pending(db: &TestDb, f: &mut Findings, what: &str) {
    f.check(
        &format!("{what}: stored (capacity, in use, suspended)"),
        stored(db).await,
        (5, 5, 0),
    );
    let needs = db.ledger.pending_needs(None, 100, 0).await.unwrap();
    f.check(
        &format!("{what}: pending needs of crm"),
        needs.iter().filter(|n| n.product == "crm").count(),
        5,
    );
}

fn five_and_five(f: &mut Findings, r: &RedistributionReport, what: &str) {
    f.check(
        &format!("{what}: (granted, unmet)"),
        (r.granted, r.unmet),
        (5, 5),
    );
}

/// The result message a run posts says what really happened, and nothing it granted had to
/// be suspended again.
async fn message_says_five_and_five(db: &TestDb, f: &mut Findings, what: &str) {
    let msgs = db.ledger.messages(false, 20).await.unwrap();
    let title = msgs
        .iter()
        .find(|m| m.kind == "redistribution")
        .map(|m| m.title.clone())
        .unwrap_or_default();
    f.check(
        &format!("{what}: message {title:?} says 5 granted, 5 unmet"),
        title.contains(": 5 granted, 0 recalled, 5 needs unmet"),
        true,
    );
    f.check(
        &format!("{what}: a suspension message"),
        msgs.iter().any(|m| m.title.contains("suspended")),
        false,
    );
}

pub async fn x14_expiry_then_each_write_uses_no_expired_seat(db: &TestDb) {
    let mut f = Findings::default();
    // The redistribution preview.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    past_expiry(&d);
    let r = d
        .ledger
        .preview_redistribution(&Scope::All, ManualGrants::Keep, 100)
        .await
        .unwrap();
    five_and_five(&mut f, &r, "preview");
    f.check("preview: seats in use", stored(&d).await.1, 0);

    // The redistribution run.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    past_expiry(&d);
    let r = d
        .ledger
        .redistribute(&admin(), &Scope::All, ManualGrants::Keep)
        .await
        .unwrap();
    five_and_five(&mut f, &r, "run");
    five_granted_five_pending(&d, &mut f, "run").await;
    message_says_five_and_five(&d, &mut f, "run").await;

    // A role member change with the role-change trigger on.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, true).await;
    let sales = d
        .ledger
        .create_role(&admin(), "Sales", "organizational", None)
        .await
        .unwrap()
        .id;
    past_expiry(&d);
    let change = d
        .ledger
        .set_role_members(&admin(), sales, &s(&LOGINS), true)
        .await
        .unwrap();
    five_and_five(&mut f, &change.redistribution.unwrap(), "role members");
    five_granted_five_pending(&d, &mut f, "role members").await;

    // A role product change with the role-change trigger on.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, false, true).await;
    past_expiry(&d);
    let change = d
        .ledger
        .set_role_product(&admin(), ROOT_ROLE, "crm", true)
        .await
        .unwrap();
    five_and_five(&mut f, &change.redistribution.unwrap(), "role product");
    five_granted_five_pending(&d, &mut f, "role product").await;
    message_says_five_and_five(&d, &mut f, "role product").await;

    // Deleting a role redistributes its members whatever the trigger says: they still
    // want crm through All employees.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    let sales = d
        .ledger
        .create_role(&admin(), "Sales", "organizational", None)
        .await
        .unwrap()
        .id;
    d.ledger
        .set_role_members(&admin(), sales, &s(&LOGINS), true)
        .await
        .unwrap();
    past_expiry(&d);
    let change = d.ledger.delete_role(&admin(), sales).await.unwrap();
    five_and_five(&mut f, &change.redistribution.unwrap(), "delete role");
    five_granted_five_pending(&d, &mut f, "delete role").await;

    // The single-user entry point, user by user.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    past_expiry(&d);
    let (mut granted, mut unmet) = (0, 0);
    for l in LOGINS {
        let r = d.ledger.redistribute_user(&admin(), l).await.unwrap();
        granted += r.granted;
        unmet += r.unmet;
    }
    f.check(
        "redistribute_user: (granted, unmet)",
        (granted, unmet),
        (5, 5),
    );
    five_granted_five_pending(&d, &mut f, "redistribute_user").await;

    // Moving a user touches no seat, yet the write still brings capacity to "now".
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    d.ledger.create_folder(&admin(), "/Berlin").await.unwrap();
    past_expiry(&d);
    d.ledger
        .move_user(&admin(), "u00", "/Berlin")
        .await
        .unwrap();
    f.check("move_user: stored", stored(&d).await, (5, 0, 0));

    // Logins: seats held before the expiry, and answers kept in memory for them; after the
    // expiry no login is admitted on a seat that is gone.
    let d = fresh_like(db).await;
    ten_users_five_expiring(&d, true, false).await;
    let r = d
        .ledger
        .redistribute(&admin(), &Scope::All, ManualGrants::Keep)
        .await
        .unwrap();
    assert_eq!(r.granted, 10);
    let requests: Vec<LoginRequest> = LOGINS
        .iter()
        .map(|l| LoginRequest {
            login: l.to_string(),
            client: "test".into(),
        })
        .collect();
    for _ in 0..2 {
        // The second round is answered from memory: the answers are kept.
        let answers = d.ledger.login_many(&requests).await.unwrap();
        let ids: Vec<String> = answers
            .iter()
            .filter_map(|a| match a {
                LoginAnswer::Allowed(a) => Some(a.session_id.clone()),
                LoginAnswer::Refused(_) => None,
            })
            .collect();
        assert_eq!(ids.len(), 10);
        d.ledger.logout_many(&ids).await.unwrap();
    }
    past_expiry(&d);
    let answers = d.ledger.login_many(&requests).await.unwrap();
    let with_crm = answers
        .iter()
        .filter(|a| match a {
            LoginAnswer::Allowed(a) => a.products.iter().any(|p| p.product == "crm"),
            LoginAnswer::Refused(_) => false,
        })
        .count();
    f.check("logins after the expiry: admitted with crm", with_crm, 5);
    f.check("logins: stored", stored(&d).await, (5, 5, 5));
    assert!(
        f.0.is_empty(),
        "expired seats were used:\n{}",
        f.0.join("\n")
    );
}

/// A connection's own statement, with its error as the ledger would report it.
async fn refused(raw: &mut sqlx::AnyConnection, sql: &str) -> seatkeeper_core::Error {
    let e = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .execute(&mut *raw)
        .await
        .expect_err(sql);
    match seatkeeper_store::StoreError::from(e) {
        seatkeeper_store::StoreError::Domain(d) => d,
        other => panic!("{sql}: not a domain refusal: {other}"),
    }
}

/// Installs, by hand, a trigger that stands for a concurrent writer: it acts between the
/// operation's own check and its write (`event` on `table`), doing `action` to the row's
/// `area_counters`/`seat_pools` row.
async fn squeeze(db: &TestDb, table: &str, event: &str, action: &str) {
    let mut raw = db.raw().await;
    let sql = match db.ledger.backend() {
        seatkeeper_store::Backend::Sqlite => vec![format!(
            "CREATE TRIGGER squeeze BEFORE {event} ON {table} BEGIN {action}; END"
        )],
        seatkeeper_store::Backend::Postgres => vec![
            format!(
                "CREATE OR REPLACE FUNCTION squeeze() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN {action}; RETURN NEW; END $$"
            ),
            format!(
                "CREATE TRIGGER squeeze BEFORE {event} ON {table} \
                 FOR EACH ROW EXECUTE FUNCTION squeeze()"
            ),
        ],
    };
    for s in sql {
        sqlx::query(sqlx::AssertSqlSafe(s))
            .execute(&mut raw)
            .await
            .unwrap();
    }
}

async fn unsqueeze(db: &TestDb, table: &str) {
    let mut raw = db.raw().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP TRIGGER squeeze{}",
        match db.ledger.backend() {
            seatkeeper_store::Backend::Sqlite => String::new(),
            seatkeeper_store::Backend::Postgres => format!(" ON {table}"),
        }
    )))
    .execute(&mut raw)
    .await
    .unwrap();
}

/// The database's own refusals (a race the code's checks did not see, hand-written SQL)
/// come out as the domain refusal with the real product, area and numbers — the same
/// answer (409) as the code's own check, never "?" or a limit of 0 or a storage failure.
pub async fn x14_database_refusals_name_the_real_product_and_numbers(db: &TestDb) {
    use seatkeeper_core::Error;
    crm_seats(db, "S-1", 2).await;
    users(db, &["ann", "bob", "cid", "dan"]).await;
    db.ledger
        .grant(&admin(), &s(&["ann", "bob"]), &s(&["crm"]))
        .await
        .unwrap();

    // By hand: a third seat of a full pool, a seat for a blocked user, one more active user
    // in a full area — on a connection set up as the ledger's are (on SQLite the triggers
    // that name what tripped are the connection's own).
    let mut raw = db.raw().await;
    if db.ledger.backend() == seatkeeper_store::Backend::Sqlite {
        sqlx::raw_sql(sqlx::AssertSqlSafe(include_str!(
            "../../src/sqlite_refusals.sql"
        )))
        .execute(&mut raw)
        .await
        .unwrap();
    }
    let insert = |login: &str| {
        format!(
            "INSERT INTO assignments (user_id, product_code, area, kind, folder_id, status, \
             manual, granted_at, granted_by) SELECT id, 'crm', 'employee', 'named', 1, \
             'active', 1, 0, 'raw' FROM users WHERE login = '{login}'"
        )
    };
    let e = refused(&mut raw, &insert("cid")).await;
    assert!(
        matches!(&e, Error::NoSeatFree { product, area: Area::Employee, kind: SeatKind::Named,
            needed: 1, free: 0, .. } if product == "crm"),
        "{e:?}"
    );
    db.ledger.block_user(&admin(), "dan", "x").await.unwrap();
    let e = refused(&mut raw, &insert("dan")).await;
    // SQLite's guard keeps its fixed message (one writer, which checks the user first: only
    // hand-written SQL trips it there); PostgreSQL's names the user.
    let named = db.ledger.backend() == seatkeeper_store::Backend::Postgres;
    assert!(
        matches!(&e, Error::UserBlocked { login } if !named || login == "dan"),
        "{e:?}"
    );
    sqlx::query("UPDATE area_counters SET user_limit = 3 WHERE area = 'employee'")
        .execute(&mut raw)
        .await
        .unwrap();
    let e = refused(
        &mut raw,
        "UPDATE users SET state = 'active' WHERE login = 'dan'",
    )
    .await;
    assert!(
        matches!(
            e,
            Error::AreaLimit {
                area: Area::Employee,
                limit: 3,
                active: 3
            }
        ),
        "{e:?}"
    );
    sqlx::query("UPDATE area_counters SET user_limit = NULL WHERE area = 'employee'")
        .execute(&mut raw)
        .await
        .unwrap();

    // Through the ledger: another writer takes the last seat between the grant's check and
    // its write.
    squeeze(
        db,
        "assignments",
        "INSERT",
        "UPDATE seat_pools SET capacity = used WHERE product_code = NEW.product_code \
         AND area = NEW.area AND kind = NEW.kind AND folder_id = NEW.folder_id",
    )
    .await;
    db.ledger
        .recall(&admin(), &s(&["bob"]), &s(&["crm"]))
        .await
        .unwrap();
    let e = db
        .ledger
        .grant(&admin(), &s(&["cid"]), &s(&["crm"]))
        .await
        .unwrap_err();
    assert!(
        matches!(e.domain(), Some(Error::NoSeatFree { product, needed: 1, free: 0, .. })
            if product == "crm"),
        "{e}"
    );
    assert_eq!(e.code(), "no_seat_free");
    unsqueeze(db, "assignments").await;

    // …and another fills the area between an activation's check and its write.
    squeeze(
        db,
        "users",
        "UPDATE OF state",
        "UPDATE area_counters SET user_limit = active_users WHERE area = NEW.area",
    )
    .await;
    let e = db.ledger.activate_user(&admin(), "dan").await.unwrap_err();
    assert!(
        matches!(
            e.domain(),
            Some(Error::AreaLimit {
                area: Area::Employee,
                limit: 3,
                active: 3
            })
        ),
        "{e}"
    );
    unsqueeze(db, "users").await;
    // Nothing of the refused writes remains.
    let mut raw = db.raw().await;
    let used: i64 = sqlx::query(
        "SELECT CAST(SUM(used) AS BIGINT) AS n FROM seat_pools WHERE product_code = 'crm'",
    )
    .fetch_one(&mut raw)
    .await
    .unwrap()
    .get("n");
    assert_eq!(used, 1, "ann's seat only");
    assert_eq!(
        db.ledger.user("dan").await.unwrap().state.as_str(),
        "blocked"
    );
}
