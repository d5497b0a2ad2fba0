//! Role-based distribution (D2–D6, N2) on both backends: scopes, keep/remove, shortages and
//! pending needs, preview, triggers and settings, the role tree, explain, and a run cut off
//! mid-way that the next opener finishes.

use seatkeeper_core::distribution::Reason;
use seatkeeper_core::{Area, Error as DomainError, SeatKind};
use seatkeeper_store::{
    AuditFilter, DistributionSettings, ManualGrants, NewUser, RedistributionReport, Scope,
};
use time::Duration;

use crate::support::*;

/// crm: `crm` named employee seats; mkt: 10 named employee seats; web: portal only.
async fn licensed(db: &TestDb, crm: u32) {
    let o = order(
        vec![
            product("crm", false),
            product("mkt", false),
            product("web", false),
        ],
        vec![
            package("C1", "crm", SeatKind::Named, Area::Employee, crm),
            package("M1", "mkt", SeatKind::Named, Area::Employee, 10),
            package("W1", "web", SeatKind::Named, Area::Portal, 10),
        ],
    );
    let text = issue(db, &o).await;
    db.ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
}

async fn org(db: &TestDb, name: &str, parent: Option<i64>) -> i64 {
    db.ledger
        .create_role(&admin(), name, "organizational", parent)
        .await
        .unwrap()
        .id
}

async fn held(db: &TestDb, login: &str) -> Vec<(String, bool, bool)> {
    db.ledger
        .user(login)
        .await
        .unwrap()
        .licenses
        .into_iter()
        .map(|l| (l.product, l.manual, l.by_role))
        .collect()
}

async fn used(db: &TestDb, product: &str) -> u64 {
    db.ledger
        .summary(Duration::days(30))
        .await
        .unwrap()
        .products
        .iter()
        .filter(|p| p.product == product)
        .map(|p| p.used)
        .sum()
}

async fn run(db: &TestDb, scope: Scope, manual: ManualGrants) -> RedistributionReport {
    db.ledger
        .redistribute(&admin(), &scope, manual)
        .await
        .unwrap()
}

/// Sales → North; a in North, b in Sales, c in no role; crm bound to Sales.
async fn sales_tree(db: &TestDb) -> (i64, i64) {
    let sales = org(db, "Sales", None).await;
    let north = org(db, "North", Some(sales)).await;
    users(db, &["a", "b", "c"]).await;
    db.ledger
        .set_role_members(&admin(), north, &s(&["a"]), true)
        .await
        .unwrap();
    db.ledger
        .set_role_members(&admin(), sales, &s(&["b"]), true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    (sales, north)
}

pub async fn d2_d3_a_role_scope_covers_members_and_descendants(db: &TestDb) {
    licensed(db, 5).await;
    let (sales, north) = sales_tree(db).await;
    let other = org(db, "Support", None).await;
    users(db, &["d"]).await;
    db.ledger
        .set_role_members(&admin(), other, &s(&["d"]), true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), other, "mkt", true)
        .await
        .unwrap();

    // Nothing is distributed until a redistribution runs (the trigger setting is off).
    assert_eq!(used(db, "crm").await, 0);
    let r = run(db, Scope::Role { role: sales }, ManualGrants::Keep).await;
    assert_eq!((r.granted, r.recalled, r.unmet), (2, 0, 0));
    assert_eq!(held(db, "a").await, vec![("crm".into(), false, true)]);
    assert_eq!(held(db, "b").await, vec![("crm".into(), false, true)]);
    assert!(held(db, "c").await.is_empty());
    // Support's member is outside the scope.
    assert!(held(db, "d").await.is_empty());

    // The child role's scope holds only its own members.
    let r = run(db, Scope::Role { role: north }, ManualGrants::Keep).await;
    assert_eq!((r.users, r.granted, r.recalled), (1, 0, 0));

    // A second apply right after the first changes nothing.
    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(r.granted, 1, "d gets mkt");
    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(
        (r.granted, r.recalled, r.reasons_changed, r.unmet),
        (0, 0, 0, 0)
    );
}

pub async fn d3_keep_or_remove_manually_granted_licenses(db: &TestDb) {
    licensed(db, 5).await;
    let (sales, _) = sales_tree(db).await;
    db.ledger
        .grant(&admin(), &s(&["c", "a"]), &s(&["crm"]))
        .await
        .unwrap();
    db.ledger
        .grant(&admin(), &s(&["c"]), &s(&["mkt"]))
        .await
        .unwrap();

    let r = run(db, Scope::All, ManualGrants::Keep).await;
    // a already held crm by hand: the role reason is added, no second seat.
    assert_eq!((r.granted, r.recalled, r.reasons_changed), (1, 0, 1));
    assert_eq!(held(db, "a").await, vec![("crm".into(), true, true)]);
    assert_eq!(used(db, "crm").await, 3);
    assert_eq!(
        held(db, "c").await,
        vec![("crm".into(), true, false), ("mkt".into(), true, false)]
    );

    // Unbinding: with keep, a keeps crm for its manual reason; b loses the role-given seat.
    db.ledger
        .set_role_product(&admin(), sales, "crm", false)
        .await
        .unwrap();
    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(r.recalled, 1);
    assert_eq!(held(db, "a").await, vec![("crm".into(), true, false)]);
    assert!(held(db, "b").await.is_empty());

    // With remove, manual grants nobody's role asks for go too.
    let r = run(db, Scope::All, ManualGrants::Remove).await;
    assert_eq!(r.recalled, 3);
    assert_eq!(used(db, "crm").await, 0);
    assert_eq!(used(db, "mkt").await, 0);
    let audit = db
        .ledger
        .audit_log(&AuditFilter {
            action: Some("license.recall".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.len() >= 4);
}

pub async fn d3_single_user_scope_and_blocked_users_get_nothing(db: &TestDb) {
    licensed(db, 5).await;
    let (sales, _) = sales_tree(db).await;
    users(db, &["e"]).await;
    db.ledger
        .set_role_members(&admin(), sales, &s(&["e"]), true)
        .await
        .unwrap();
    db.ledger.block_user(&admin(), "e", "manual").await.unwrap();

    let r = db.ledger.redistribute_user(&admin(), "b").await.unwrap();
    assert_eq!(r.granted, 1);
    assert!(held(db, "a").await.is_empty(), "a is outside the scope");

    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(
        (r.granted, r.unmet),
        (1, 0),
        "a only; blocked e gets nothing"
    );
    assert!(held(db, "e").await.is_empty());
    let e = db.ledger.explain("e", "crm").await.unwrap();
    assert!(!e.holds);
    assert!(matches!(e.reasons[0].reason, Reason::Blocked));
    // An unknown product or user is refused by name.
    let err = db.ledger.explain("e", "nope").await.unwrap_err();
    assert!(matches!(err.domain(), Some(DomainError::UnknownProduct(_))));
    let err = db
        .ledger
        .redistribute_user(&admin(), "ghost")
        .await
        .unwrap_err();
    assert!(matches!(err.domain(), Some(DomainError::UnknownUser(_))));
}

pub async fn d4_shortages_become_pending_needs_fulfilled_as_seats_free_up(db: &TestDb) {
    licensed(db, 2).await;
    let sales = org(db, "Sales", None).await;
    // Created in this order: u1 is the oldest account.
    users(db, &["u1", "u2", "u3", "x"]).await;
    db.ledger
        .set_role_members(&admin(), sales, &s(&["u3", "u2", "u1"]), true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    db.ledger
        .grant(&admin(), &s(&["x"]), &s(&["crm"]))
        .await
        .unwrap();

    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!((r.granted, r.unmet), (1, 2));
    assert_eq!(held(db, "u1").await.len(), 1, "oldest account first");
    let needs = db.ledger.pending_needs(None, 100, 0).await.unwrap();
    let who: Vec<&str> = needs.iter().map(|n| n.login.as_str()).collect();
    assert_eq!(who, vec!["u2", "u3"]);
    assert_eq!(needs[0].reason.as_str(), "no_seat_free");
    // The result is posted as a system message with the counts and the unmet needs.
    let msgs = db.ledger.messages(true, 10).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, "redistribution");
    assert_eq!(msgs[0].body["unmet"], 2);
    assert_eq!(msgs[0].body["unmet_needs"][0]["login"], "u2");
    assert_eq!(db.ledger.unread_messages().await.unwrap(), 1);
    db.ledger.mark_read(Some(msgs[0].id)).await.unwrap();
    assert_eq!(db.ledger.unread_messages().await.unwrap(), 0);
    let e = db.ledger.explain("u2", "crm").await.unwrap();
    assert!(matches!(e.reasons[0].reason, Reason::NoSeatFree));

    // A recall frees a seat: the oldest pending need gets it at once, audited.
    db.ledger
        .recall(&admin(), &s(&["x"]), &s(&["crm"]))
        .await
        .unwrap();
    assert_eq!(held(db, "u2").await, vec![("crm".into(), false, true)]);
    let who: Vec<String> = db
        .ledger
        .pending_needs(None, 100, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.login)
        .collect();
    assert_eq!(who, vec!["u3".to_string()]);
    let fulfilled = db
        .ledger
        .audit_log(&AuditFilter {
            action: Some("license.need_fulfilled".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(fulfilled.len(), 1);
    assert_eq!(fulfilled[0].target, "u2");

    // Blocking a holder frees a seat too.
    db.ledger
        .block_user(&admin(), "u1", "manual")
        .await
        .unwrap();
    assert_eq!(held(db, "u3").await.len(), 1);
    assert!(
        db.ledger
            .pending_needs(None, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );

    // A need disappears when the user no longer wants the product.
    db.ledger.activate_user(&admin(), "u1").await.unwrap();
    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(r.unmet, 1);
    db.ledger
        .set_role_members(&admin(), sales, &s(&["u1"]), false)
        .await
        .unwrap();
    run(db, Scope::All, ManualGrants::Keep).await;
    assert!(
        db.ledger
            .pending_needs(None, 100, 0)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn d4_preview_changes_nothing_and_matches_the_apply(db: &TestDb) {
    licensed(db, 2).await;
    let (sales, _) = sales_tree(db).await;
    users(db, &["f"]).await;
    db.ledger
        .set_role_members(&admin(), sales, &s(&["c", "f"]), true)
        .await
        .unwrap();
    db.ledger
        .grant(&admin(), &s(&["c"]), &s(&["mkt"]))
        .await
        .unwrap();
    let before = db.ledger.summary(Duration::days(30)).await.unwrap();
    let p = db
        .ledger
        .preview_redistribution(&Scope::All, ManualGrants::Remove, 100)
        .await
        .unwrap();
    assert!(p.preview);
    assert_eq!((p.granted, p.recalled, p.unmet), (2, 1, 2));
    assert_eq!(p.recalls[0].login, "c");
    assert_eq!(p.recalls[0].product, "mkt");
    assert_eq!(db.ledger.summary(Duration::days(30)).await.unwrap(), before);
    assert!(db.ledger.messages(false, 10).await.unwrap().is_empty());
    let r = run(db, Scope::All, ManualGrants::Remove).await;
    assert_eq!(
        (r.granted, r.recalled, r.unmet),
        (p.granted, p.recalled, p.unmet)
    );
    assert_eq!(r.grants, p.grants);
    assert_eq!(r.unmet_needs, p.unmet_needs);
}

/// Issue 14: the preview reads the scope in one chunk, a run may take one user per
/// transaction; both take the same steps of one walk, so they report the same plan.
pub async fn x14_a_run_in_chunks_of_one_user_matches_the_preview(db: &TestDb) {
    licensed(db, 2).await;
    let (sales, _) = sales_tree(db).await;
    users(db, &["d", "e", "f"]).await;
    db.ledger
        .set_role_members(&admin(), sales, &s(&["d", "e", "f"]), true)
        .await
        .unwrap();
    // c holds mkt by hand (recalled with "remove"); f holds crm by hand (kept, now by role).
    db.ledger
        .grant(&admin(), &s(&["c"]), &s(&["mkt"]))
        .await
        .unwrap();
    db.ledger
        .grant(&admin(), &s(&["f"]), &s(&["crm"]))
        .await
        .unwrap();
    let p = db
        .ledger
        .preview_redistribution(&Scope::All, ManualGrants::Remove, 100)
        .await
        .unwrap();
    let r = db
        .ledger
        .redistribute_chunked(&admin(), &Scope::All, ManualGrants::Remove, 1)
        .await
        .unwrap();
    assert_eq!((p.granted, p.recalled, p.unmet), (1, 1, 3));
    assert_eq!(
        (r.users, r.granted, r.recalled, r.reasons_changed, r.unmet),
        (p.users, p.granted, p.recalled, p.reasons_changed, p.unmet)
    );
    assert_eq!(r.grants, p.grants);
    assert_eq!(r.recalls, p.recalls);
    assert_eq!(r.unmet_needs, p.unmet_needs);
    assert_eq!(used(db, "crm").await, 2);
}

/// Issue 14: a fulfilment grants from free seats only. u holds crm that no role of theirs
/// asks for any more (the trigger is off); when mkt seats come free, u and z are planned —
/// and u's crm, which only a redistribution would recall, must not go to z's pending crm.
pub async fn x14_fulfilment_never_grants_a_seat_only_a_recall_would_free(db: &TestDb) {
    let o = order(
        vec![product("crm", false), product("mkt", false)],
        vec![
            package("C1", "crm", SeatKind::Named, Area::Employee, 1),
            package("M1", "mkt", SeatKind::Named, Area::Employee, 1),
        ],
    );
    let text = issue(db, &o).await;
    db.ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
    users(db, &["x", "u", "z"]).await;
    db.ledger
        .grant(&admin(), &s(&["x"]), &s(&["mkt"]))
        .await
        .unwrap();
    let wants_mkt = org(db, "Marketing", None).await;
    let wants_crm = org(db, "Sales", None).await;
    let wants_both = org(db, "Management", None).await;
    for (role, products, members) in [
        (wants_mkt, &["mkt"][..], &["u"][..]),
        (wants_crm, &["crm"][..], &["u"][..]),
        (wants_both, &["mkt", "crm"][..], &["z"][..]),
    ] {
        for p in products {
            db.ledger
                .set_role_product(&admin(), role, p, true)
                .await
                .unwrap();
        }
        db.ledger
            .set_role_members(&admin(), role, &s(members), true)
            .await
            .unwrap();
    }
    let r = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(
        (r.granted, r.unmet),
        (1, 3),
        "u gets crm; u mkt, z mkt, z crm wait"
    );
    db.ledger
        .set_role_members(&admin(), wants_crm, &s(&["u"]), false)
        .await
        .unwrap();

    // Two more mkt seats: u and z get them; z's crm stays pending, u keeps crm for now.
    let o = order(
        vec![product("mkt", false)],
        vec![package("M2", "mkt", SeatKind::Named, Area::Employee, 2)],
    );
    let text = issue(db, &o).await;
    db.ledger
        .import_license(&admin(), &text, &trusted())
        .await
        .unwrap();
    assert_eq!(used(db, "crm").await, 1);
    assert_eq!(used(db, "mkt").await, 3);
    let needs: Vec<(String, String)> = db
        .ledger
        .pending_needs(None, 100, 0)
        .await
        .unwrap()
        .into_iter()
        .map(|n| (n.login, n.product))
        .collect();
    assert_eq!(needs, vec![("z".to_string(), "crm".to_string())]);
    assert_eq!(
        held(db, "u").await,
        vec![("crm".into(), false, true), ("mkt".into(), false, true)]
    );
}

pub async fn d5_role_change_trigger_and_turning_distribution_off(db: &TestDb) {
    licensed(db, 5).await;
    let (sales, _) = sales_tree(db).await;
    let settings = db.ledger.distribution_settings().await.unwrap();
    assert_eq!(
        settings,
        DistributionSettings {
            redistribute_on_role_change: false,
            role_based_distribution: true
        }
    );
    db.ledger
        .set_distribution_settings(
            &admin(),
            DistributionSettings {
                redistribute_on_role_change: true,
                role_based_distribution: true,
            },
        )
        .await
        .unwrap();
    // Membership changes redistribute for the users they touch.
    let change = db
        .ledger
        .set_role_members(&admin(), sales, &s(&["c"]), true)
        .await
        .unwrap();
    assert_eq!(change.redistribution.unwrap().granted, 1);
    assert_eq!(held(db, "c").await, vec![("crm".into(), false, true)]);
    db.ledger
        .set_role_members(&admin(), sales, &s(&["c"]), false)
        .await
        .unwrap();
    assert!(held(db, "c").await.is_empty());
    // Role-license changes redistribute for the role's members (and descendants'): a and b
    // get mkt, and crm too, which was bound before the trigger was turned on.
    let change = db
        .ledger
        .set_role_product(&admin(), sales, "mkt", true)
        .await
        .unwrap();
    assert_eq!(change.redistribution.unwrap().granted, 4);

    // Off: bindings are kept, nothing is redistributed, and an explicit run is refused.
    db.ledger
        .set_distribution_settings(
            &admin(),
            DistributionSettings {
                redistribute_on_role_change: true,
                role_based_distribution: false,
            },
        )
        .await
        .unwrap();
    let change = db
        .ledger
        .set_role_members(&admin(), sales, &s(&["c"]), true)
        .await
        .unwrap();
    assert!(change.redistribution.is_none());
    assert!(held(db, "c").await.is_empty());
    let err = db
        .ledger
        .redistribute(&admin(), &Scope::All, ManualGrants::Keep)
        .await
        .unwrap_err();
    assert!(matches!(err.domain(), Some(DomainError::DistributionOff)));
    let e = db.ledger.explain("c", "crm").await.unwrap();
    assert!(matches!(e.reasons[0].reason, Reason::DistributionOff));
    assert_eq!(
        db.ledger.role_products().await.unwrap()[&sales],
        vec!["crm".to_string(), "mkt".to_string()]
    );
}

pub async fn d2_role_tree_refuses_cycles_and_deleting_a_role_recalls_its_seats(db: &TestDb) {
    licensed(db, 5).await;
    let (sales, north) = sales_tree(db).await;
    let err = db
        .ledger
        .move_role(&admin(), sales, Some(north))
        .await
        .unwrap_err();
    assert!(
        matches!(err.domain(), Some(DomainError::Invalid(_))),
        "{err}"
    );
    let err = db.ledger.move_role(&admin(), 1, None).await.unwrap_err();
    assert!(matches!(err.domain(), Some(DomainError::Conflict(_))));
    let err = db.ledger.delete_role(&admin(), sales).await.unwrap_err();
    assert!(
        matches!(err.domain(), Some(DomainError::Conflict(_))),
        "has a child"
    );
    let err = db
        .ledger
        .set_role_product(&admin(), sales, "nope", true)
        .await
        .unwrap_err();
    assert!(matches!(err.domain(), Some(DomainError::UnknownProduct(_))));

    // Re-parent North to the root: a no longer inherits crm from Sales.
    db.ledger
        .rename_role(&admin(), north, "North-East")
        .await
        .unwrap();
    let north_bound = org(db, "Marketing", None).await;
    db.ledger
        .set_role_product(&admin(), north_bound, "mkt", true)
        .await
        .unwrap();
    db.ledger
        .move_role(&admin(), north, Some(north_bound))
        .await
        .unwrap();
    run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(held(db, "a").await, vec![("mkt".into(), false, true)]);
    let e = db.ledger.explain("a", "mkt").await.unwrap();
    assert!(e.holds);
    assert_eq!(e.reasons[0].role_name.as_deref(), Some("North-East"));
    assert_eq!(e.reasons[0].via_name.as_deref(), Some("Marketing"));

    // Deleting Sales (now a leaf) recalls the seats it gave; a manual grant stays.
    db.ledger
        .grant(&admin(), &s(&["b"]), &s(&["mkt"]))
        .await
        .unwrap();
    assert_eq!(held(db, "b").await.len(), 2);
    let change = db.ledger.delete_role(&admin(), sales).await.unwrap();
    assert_eq!(change.redistribution.unwrap().recalled, 1);
    assert_eq!(held(db, "b").await, vec![("mkt".into(), true, false)]);
}

pub async fn d6_explain_names_every_reason(db: &TestDb) {
    licensed(db, 5).await;
    let (_, _) = sales_tree(db).await;
    db.ledger
        .create_user(&admin(), NewUser::active("p", Area::Portal))
        .await
        .unwrap();
    run(db, Scope::All, ManualGrants::Keep).await;
    // Manual and role at once: one seat, two reasons.
    db.ledger
        .grant(&admin(), &s(&["a"]), &s(&["crm"]))
        .await
        .unwrap();
    let e = db.ledger.explain("a", "crm").await.unwrap();
    assert!(e.holds);
    let kinds: Vec<&Reason> = e.reasons.iter().map(|r| &r.reason).collect();
    assert!(matches!(kinds[0], Reason::Manual));
    assert!(matches!(kinds[1], Reason::Role { .. }));
    assert!(e.reasons[1].message.contains("via its ancestor \"Sales\""));
    let e = db.ledger.explain("c", "crm").await.unwrap();
    assert!(matches!(e.reasons[0].reason, Reason::NotBound));
    // The root role gives to every employee, not to portal users; web is portal-only.
    db.ledger
        .set_role_product(&admin(), 1, "web", true)
        .await
        .unwrap();
    let e = db.ledger.explain("c", "web").await.unwrap();
    assert!(matches!(e.reasons[0].reason, Reason::NotInArea));
    let e = db.ledger.explain("p", "web").await.unwrap();
    assert!(matches!(e.reasons[0].reason, Reason::NotBound));
}

/// A run cut off between chunks (as a crash would) is finished by the next opener, and the
/// result is the one the preview promised.
pub async fn d4_a_run_cut_off_midway_is_finished_on_reopen(db: &TestDb) {
    licensed(db, 30).await;
    let sales = org(db, "Sales", None).await;
    let logins: Vec<String> = (0..40).map(|i| format!("w{i:02}")).collect();
    for l in &logins {
        db.ledger
            .create_user(&admin(), NewUser::active(l, Area::Employee))
            .await
            .unwrap();
    }
    db.ledger
        .set_role_members(&admin(), sales, &logins, true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    let preview = db
        .ledger
        .preview_redistribution(&Scope::All, ManualGrants::Keep, 100)
        .await
        .unwrap();
    assert_eq!((preview.granted, preview.unmet), (30, 10));

    // One user per chunk; the task is dropped after a few chunks have committed.
    let ledger = db.reopen().await;
    let task = tokio::spawn(async move {
        ledger
            .redistribute_chunked(&admin(), &Scope::All, ManualGrants::Keep, 1)
            .await
    });
    loop {
        tokio::task::yield_now().await;
        if used(db, "crm").await >= 5 || task.is_finished() {
            break;
        }
    }
    task.abort();
    let _ = task.await;
    let mid = used(db, "crm").await;
    let runs = db.ledger.redistributions(10).await.unwrap();
    assert_eq!(runs[0].status, "running", "the run was cut off mid-way");
    {
        assert!(mid < 30, "cut off mid-way: {mid} granted so far");
        // Another run is refused while this one is unfinished.
        let err = db
            .ledger
            .redistribute(&admin(), &Scope::All, ManualGrants::Keep)
            .await
            .unwrap_err();
        assert!(matches!(
            err.domain(),
            Some(DomainError::RedistributionRunning(_))
        ));
        // Once its lease has run out, opening the ledger finishes it.
        db.clock.advance(Duration::seconds(120));
        let reopened = db.reopen().await;
        let runs = reopened.redistributions(10).await.unwrap();
        assert_eq!(runs[0].status, "done");
        assert_eq!(runs[0].granted, 30);
        assert_eq!(runs[0].unmet, 10);
    }
    assert_eq!(used(db, "crm").await, 30);
    let needs = db.ledger.pending_needs(None, 100, 0).await.unwrap();
    let who: Vec<String> = needs.into_iter().map(|n| n.login).collect();
    let expected: Vec<String> = preview.unmet_needs.into_iter().map(|n| n.login).collect();
    assert_eq!(who, expected);
}

/// After a full run, a run for all users with the same option visits only the users changed
/// since (and those whose pending needs a freed seat could meet), with the full run's result.
pub async fn d4_a_second_run_for_all_visits_only_changed_users(db: &TestDb) {
    licensed(db, 12).await;
    let sales = org(db, "Sales", None).await;
    let support = org(db, "Support", None).await;
    let logins: Vec<String> = (0..20).map(|i| format!("v{i:02}")).collect();
    for l in &logins {
        db.ledger
            .create_user(&admin(), NewUser::active(l, Area::Employee))
            .await
            .unwrap();
    }
    db.ledger
        .set_role_members(&admin(), sales, &logins[..15], true)
        .await
        .unwrap();
    db.ledger
        .set_role_members(&admin(), support, &logins[10..], true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    db.ledger
        .set_role_product(&admin(), support, "mkt", true)
        .await
        .unwrap();
    let first = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!((first.granted, first.unmet), (12 + 10, 3));

    // Changes: v00 leaves Sales (frees a crm seat: the oldest pending need, v12, gets it),
    // v19 joins Sales (a new need), v15's mkt is recalled by hand (its role still wants it).
    db.ledger
        .set_role_members(&admin(), sales, &s(&["v00"]), false)
        .await
        .unwrap();
    db.ledger
        .set_role_members(&admin(), sales, &s(&["v19"]), true)
        .await
        .unwrap();
    db.ledger
        .recall(&admin(), &s(&["v15"]), &s(&["mkt"]))
        .await
        .unwrap();
    let preview = db
        .ledger
        .preview_redistribution(&Scope::All, ManualGrants::Keep, 100)
        .await
        .unwrap();
    let second = run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(
        (second.granted, second.recalled, second.unmet),
        (preview.granted, preview.recalled, preview.unmet)
    );
    assert_eq!(second.grants, preview.grants);
    assert_eq!(second.grants[0].login, "v12");
    let runs = db.ledger.redistributions(1).await.unwrap();
    assert_eq!(runs[0].mode, "incremental");
    assert!(runs[0].users < 20, "visited {} users", runs[0].users);

    // A change to the bindings makes the next run a full one again.
    db.ledger
        .set_role_product(&admin(), support, "crm", true)
        .await
        .unwrap();
    run(db, Scope::All, ManualGrants::Keep).await;
    assert_eq!(db.ledger.redistributions(1).await.unwrap()[0].mode, "full");
    // A different option is a full run too.
    run(db, Scope::All, ManualGrants::Remove).await;
    assert_eq!(db.ledger.redistributions(1).await.unwrap()[0].mode, "full");
}

/// The role tree reads counts, not member lists (the admin UI's roles page at any size), and
/// a role's members page through `role_members` by login.
pub async fn d2_role_tree_counts_members_and_lists_them_by_login(db: &TestDb) {
    users(db, &["cc", "aa", "bb"]).await;
    let team = org(db, "Team", None).await;
    db.ledger
        .set_role_members(&admin(), team, &s(&["cc", "aa", "bb"]), true)
        .await
        .unwrap();
    let tree = db.ledger.role_tree().await.unwrap();
    let t = tree.iter().find(|r| r.id == team).unwrap();
    assert_eq!((t.members, t.name.as_str()), (3, "Team"));
    let full = db.ledger.roles().await.unwrap();
    let f = full.iter().find(|r| r.id == team).unwrap();
    assert_eq!(f.members.len() as u64, t.members);
    assert_eq!(
        db.ledger.role_members(team, 2).await.unwrap(),
        vec!["aa", "bb"]
    );
}
