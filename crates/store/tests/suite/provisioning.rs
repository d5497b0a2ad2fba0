//! Provisioning (I2 SCIM, I3 SSO), the store's part, on both backends: one write path that
//! creates or updates a user with their roles, keeps the area limit (U1 refuse / U2 block and
//! wait), blocks and deletes, and redistributes for whoever it touched (D5).

use std::collections::BTreeSet;

use seatkeeper_core::{Area, Permission, SeatKind, UserState};
use seatkeeper_store::{
    DeleteMode, GroupChange, GroupLookup, LimitPolicy, Provisioner, RoleSync, UserLookup,
    UserUpsert,
};

use crate::support::*;

fn products(u: &seatkeeper_store::UserView) -> Vec<String> {
    u.licenses.iter().map(|l| l.product.clone()).collect()
}

/// crm: 5 named employee seats; employee area limited to `max_users` when given; a role
/// "Sales" with crm bound to it.
async fn licensed(db: &TestDb, max_users: Option<u32>) -> i64 {
    let mut o = order(
        vec![product("crm", false)],
        vec![package("C1", "crm", SeatKind::Named, Area::Employee, 5)],
    );
    if let Some(n) = max_users {
        o.area_limits = vec![limit(Area::Employee, n)];
    }
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    let sales = db
        .ledger
        .create_role(&admin(), "Sales", "organizational", None)
        .await
        .unwrap()
        .id;
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    sales
}

fn upsert(login: &str, roles: &[&str]) -> UserUpsert {
    UserUpsert {
        login: login.into(),
        name: Some(format!("{login} Person")),
        email: Some(format!("{login}@ex.com")),
        roles: Some(RoleSync {
            managed: None,
            wanted: roles.iter().map(|r| r.to_string()).collect(),
        }),
        ..UserUpsert::default()
    }
}

pub async fn i3_provisioning_creates_updates_and_redistributes_for_the_user(db: &TestDb) {
    licensed(db, None).await;
    let p = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Sso,
            upsert("ann", &["sales"]),
            LimitPolicy::Refuse,
        )
        .await
        .unwrap();
    assert!(p.created);
    assert_eq!(p.user.source, "sso");
    assert_eq!(p.user.name, "ann Person");
    // D5: the role-bound product came with the role.
    assert_eq!(products(&p.user), vec!["crm"]);
    // The same description again: no change.
    let again = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Sso,
            upsert("ann", &["sales"]),
            LimitPolicy::Refuse,
        )
        .await
        .unwrap();
    assert!(!again.created && !again.changed);
    // The group is gone from the token: the role goes, and the product with it.
    let gone = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Sso,
            upsert("ann", &[]),
            LimitPolicy::Refuse,
        )
        .await
        .unwrap();
    assert!(gone.changed);
    assert!(gone.user.licenses.is_empty());
    // Roles outside `managed` are left alone.
    let other = db
        .ledger
        .create_role(&admin(), "Support", "organizational", None)
        .await
        .unwrap()
        .id;
    db.ledger
        .set_role_member(&admin(), other, "ann", true)
        .await
        .unwrap();
    let mut up = upsert("ann", &["sales"]);
    up.roles = Some(RoleSync {
        managed: Some(BTreeSet::from(["Sales".to_string()])),
        wanted: BTreeSet::from(["Sales".to_string()]),
    });
    db.ledger
        .provision_user(&admin(), Provisioner::Sso, up, LimitPolicy::Refuse)
        .await
        .unwrap();
    let members = db.ledger.role_members(other, 10).await.unwrap();
    assert_eq!(members, vec!["ann".to_string()]);
}

pub async fn i2_provisioning_may_not_touch_privileged_roles_or_the_directorys_users(db: &TestDb) {
    licensed(db, None).await;
    // The built-in administrators' role carries permissions: refused, nothing written.
    let err = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Scim,
            upsert("eve", &["System administrators"]),
            LimitPolicy::Block,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permissions"), "{err}");
    assert!(db.ledger.user("eve").await.is_err());
    // A role given a permission later is out of provisioning's reach too.
    let ops = db
        .ledger
        .create_role(&admin(), "Ops", "functional", None)
        .await
        .unwrap()
        .id;
    db.ledger
        .set_role_permission(&admin(), ops, Permission::ManageLicenses, true)
        .await
        .unwrap();
    assert!(
        db.ledger
            .provision_user(
                &admin(),
                Provisioner::Scim,
                upsert("eve", &["Ops"]),
                LimitPolicy::Block
            )
            .await
            .is_err()
    );
    // An unknown role is named.
    let err = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Scim,
            upsert("eve", &["nope"]),
            LimitPolicy::Block,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    // The built-in administrator cannot be provisioned.
    assert!(
        db.ledger
            .provision_user(
                &admin(),
                Provisioner::Sso,
                upsert("admin", &[]),
                LimitPolicy::Block
            )
            .await
            .is_err()
    );
    let (_, seen) = db
        .ledger
        .scim_users(&UserLookup::All, 0, None)
        .await
        .unwrap();
    assert!(seen.iter().all(|u| u.login != "admin"));
    // SCIM's groups are the provisionable roles only.
    let (_, groups) = db
        .ledger
        .scim_groups(&GroupLookup::All, 0, None, false)
        .await
        .unwrap();
    let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, vec!["Sales"]);
}

pub async fn u1_u2_provisioning_beyond_the_limit_refuses_or_waits_blocked(db: &TestDb) {
    licensed(db, Some(1)).await;
    db.ledger
        .provision_user(
            &admin(),
            Provisioner::Sso,
            upsert("ann", &[]),
            LimitPolicy::Refuse,
        )
        .await
        .unwrap();
    // U1: refused, nothing written.
    let err = db
        .ledger
        .provision_user(
            &admin(),
            Provisioner::Sso,
            upsert("bob", &[]),
            LimitPolicy::Refuse,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("limit"), "{err}");
    assert!(db.ledger.user("bob").await.is_err());
    // U2: created blocked, waiting for room.
    let bob = db
        .ledger
        .scim_create_user(&admin(), upsert("bob", &["sales"]), LimitPolicy::Block)
        .await
        .unwrap();
    assert_eq!(bob.state, UserState::Blocked);
    assert_eq!(bob.block_reason.as_deref(), Some("license_limit"));
    // ann deactivated over SCIM: her room goes to bob at once, and his role's product too.
    let ann = db
        .ledger
        .scim_users(&UserLookup::UserName("ANN".into()), 0, None)
        .await
        .unwrap()
        .1;
    let ann_id = ann[0].id;
    let out = db
        .ledger
        .scim_update_user(&admin(), ann_id, LimitPolicy::Block, |_| {
            Ok::<_, ()>(UserUpsert {
                login: "ann".into(),
                active: Some(false),
                ..UserUpsert::default()
            })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.block_reason.as_deref(), Some("deactivated"));
    let bob = db.ledger.user("bob").await.unwrap();
    assert_eq!(bob.state, UserState::Active);
    // ann back to active: no room, so she waits (Block) ...
    let out = db
        .ledger
        .scim_update_user(&admin(), ann_id, LimitPolicy::Block, |_| {
            Ok::<_, ()>(UserUpsert {
                login: "ann".into(),
                active: Some(true),
                ..UserUpsert::default()
            })
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.block_reason.as_deref(), Some("license_limit"));
    // ... and bob's SCIM delete (block) hands her the room.
    let bob_id = db
        .ledger
        .scim_users(&UserLookup::UserName("bob".into()), 0, None)
        .await
        .unwrap()
        .1[0]
        .id;
    db.ledger
        .scim_delete_user(&admin(), bob_id, DeleteMode::Block, |_| Ok::<_, ()>(()))
        .await
        .unwrap()
        .unwrap();
    let bob = db.ledger.user("bob").await.unwrap();
    assert_eq!(bob.block_reason.as_deref(), Some("deprovisioned"));
    assert!(bob.licenses.is_empty());
    assert_eq!(
        db.ledger.user("ann").await.unwrap().state,
        UserState::Active
    );
    // Deleted for SCIM (RFC 7644 §3.6): not found by id nor by name ...
    assert!(
        db.ledger
            .scim_users(&UserLookup::Id(bob_id), 0, None)
            .await
            .unwrap()
            .1
            .is_empty()
    );
    assert_eq!(
        db.ledger
            .scim_users(&UserLookup::UserName("bob".into()), 0, None)
            .await
            .unwrap()
            .0,
        0
    );
    // ... until the identity provider creates them again: the same user comes back, and
    // waits for room as any new one would.
    let again = db
        .ledger
        .scim_create_user(&admin(), upsert("bob", &[]), LimitPolicy::Block)
        .await
        .unwrap();
    assert_eq!(again.id, bob_id);
    assert_eq!(again.block_reason.as_deref(), Some("license_limit"));
    // A refusal from the caller's check writes nothing.
    let refused = db
        .ledger
        .scim_update_user(&admin(), ann_id, LimitPolicy::Block, |_| {
            Err::<UserUpsert, _>("412")
        })
        .await
        .unwrap();
    assert_eq!(refused.unwrap_err(), "412");
}

pub async fn d5_scim_group_membership_changes_move_role_bound_products(db: &TestDb) {
    licensed(db, None).await;
    let mut ids = Vec::new();
    for l in ["ann", "bob", "cid"] {
        let u = db
            .ledger
            .scim_create_user(&admin(), upsert(l, &[]), LimitPolicy::Block)
            .await
            .unwrap();
        assert!(u.groups.is_empty());
        ids.push(u.id);
    }
    let g = db
        .ledger
        .scim_create_group(
            &admin(),
            "Field",
            Some("ext-1".into()),
            vec![ids[0]],
            Some("Sales"),
        )
        .await
        .unwrap();
    assert_eq!(g.provisioned_by.as_deref(), Some("scim"));
    assert_eq!(g.members.len(), 1);
    // Field is under Sales: its members get Sales' product (D2), given at once (D5).
    assert_eq!(products(&db.ledger.user("ann").await.unwrap()), vec!["crm"]);
    let g = db
        .ledger
        .scim_update_group(&admin(), g.id, |_| {
            Ok::<_, ()>(vec![
                GroupChange::Add(vec![ids[1], ids[2]]),
                GroupChange::Remove(vec![ids[0]]),
                GroupChange::Rename("Field team".into()),
            ])
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g.name, "Field team");
    assert_eq!(g.members.len(), 2);
    assert!(db.ledger.user("ann").await.unwrap().licenses.is_empty());
    assert_eq!(products(&db.ledger.user("bob").await.unwrap()), vec!["crm"]);
    let bob = db
        .ledger
        .scim_users(&UserLookup::Id(ids[1]), 0, None)
        .await
        .unwrap()
        .1;
    assert_eq!(bob[0].groups, vec![(g.id, "Field team".to_string())]);
    // A member SCIM does not see (here the built-in administrator, added by hand) is not
    // shown and survives a remove-all: the identity provider manages only its own.
    db.ledger
        .set_role_member(&admin(), g.id, "admin", true)
        .await
        .unwrap();
    let g2 = db
        .ledger
        .scim_update_group(&admin(), g.id, |seen| {
            assert_eq!(seen.members.len(), 2, "the administrator is not shown");
            Ok::<_, ()>(vec![
                GroupChange::RemoveAll,
                GroupChange::Add(vec![ids[1], ids[2]]),
            ])
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(g2.members.len(), 2);
    assert!(
        db.ledger
            .role_members(g.id, 10)
            .await
            .unwrap()
            .contains(&"admin".to_string())
    );
    // An unknown member refuses the whole change.
    let err = db
        .ledger
        .scim_update_group(&admin(), g.id, |_| {
            Ok::<_, ()>(vec![GroupChange::Replace(vec![ids[0], 999_999])])
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("999999"), "{err}");
    assert_eq!(
        db.ledger
            .scim_groups(&GroupLookup::ExternalId("ext-1".into()), 0, None, true)
            .await
            .unwrap()
            .1[0]
            .members
            .len(),
        2
    );
    // Deleting the group recalls what it gave.
    db.ledger
        .scim_delete_group(&admin(), g.id, |_| Ok::<_, ()>(()))
        .await
        .unwrap()
        .unwrap();
    assert!(db.ledger.user("bob").await.unwrap().licenses.is_empty());
    // A second group with a taken name is a conflict.
    assert!(
        db.ledger
            .scim_create_group(&admin(), "sales", None, vec![], None)
            .await
            .is_err()
    );
}
