//! Directory sync, the store's part (I1, U2, D5), on both backends: plans made by the core's
//! planner from snapshots built in code (no LDAP server), written by `apply_directory_plan`,
//! and the ledger read back through `directory_state`.

use std::collections::BTreeMap;

use seatkeeper_core::directory::{
    CreatedRoles, DisabledRule, Entry, FolderRule, Mapping, RoleKind, Snapshot, Source, plan,
};
use seatkeeper_core::{Area, SeatKind, UserState};
use seatkeeper_store::{
    AuditFilter, DirectorySyncReport, DistributionSettings, LoginAnswer, LoginRequest,
};

use crate::support::*;

const BASE: &str = "dc=ex,dc=com";

fn person(uid: &str, disabled: bool) -> Entry {
    let mut attrs = BTreeMap::new();
    attrs.insert("uid".to_string(), vec![uid.to_string()]);
    attrs.insert("cn".to_string(), vec![format!("{uid} Person")]);
    attrs.insert("mail".to_string(), vec![format!("{uid}@ex.com")]);
    if disabled {
        attrs.insert(
            "pwdaccountlockedtime".to_string(),
            vec!["000001010000Z".to_string()],
        );
    }
    Entry {
        dn: format!("uid={uid},ou=North,ou=Sales,{BASE}"),
        attrs,
    }
}

fn group(cn: &str, members: &[&str]) -> Entry {
    let mut attrs = BTreeMap::new();
    attrs.insert("cn".to_string(), vec![cn.to_string()]);
    attrs.insert(
        "member".to_string(),
        members
            .iter()
            .map(|m| {
                if m.starts_with("cn=") {
                    format!("{m},ou=Groups,{BASE}")
                } else {
                    format!("uid={m},ou=North,ou=Sales,{BASE}")
                }
            })
            .collect(),
    );
    Entry {
        dn: format!("cn={cn},ou=Groups,{BASE}"),
        attrs,
    }
}

fn mapping() -> Mapping {
    let mut m = Mapping::openldap();
    m.folder = FolderRule::OuPath {
        base_dn: BASE.to_string(),
    };
    m.disabled = DisabledRule::Attribute {
        attr: "pwdAccountLockedTime".to_string(),
        value: None,
    };
    m.roles.create = Some(CreatedRoles {
        parent: None,
        kind: RoleKind::Organizational,
    });
    m
}

async fn sync(db: &TestDb, snap: &Snapshot) -> DirectorySyncReport {
    let state = db.ledger.directory_state().await.unwrap();
    let p = plan(snap, &state, &mapping());
    db.ledger.apply_directory_plan(&admin(), &p).await.unwrap()
}

async fn audit_rows(db: &TestDb) -> Vec<String> {
    db.ledger
        .audit_log(&AuditFilter {
            limit: Some(100_000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.action)
        .collect()
}

fn products(u: &seatkeeper_store::UserView) -> Vec<String> {
    u.licenses.iter().map(|l| l.product.clone()).collect()
}

/// crm: 5 named employee seats; employee area limited to `max_users` when given.
async fn licensed(db: &TestDb, max_users: Option<u32>) {
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
}

pub async fn i1_first_sync_creates_users_roles_and_members_and_a_second_writes_nothing(
    db: &TestDb,
) {
    users(db, &["hand"]).await;
    let snap = Snapshot {
        users: vec![
            person("ann", false),
            person("bob", false),
            person("carl", true),
        ],
        groups: vec![
            group("sales", &["ann", "bob", "cn=north"]),
            group("north", &["carl"]),
        ],
    };
    let first = sync(db, &snap).await;
    assert!(first.run_id.is_some());
    assert_eq!(first.counts.created, 3);
    assert_eq!(first.counts.created_blocked, 1);
    assert_eq!(first.counts.roles_created, 2);
    assert_eq!(first.counts.members_added, 3);

    let ann = db.ledger.user("ann").await.unwrap();
    assert_eq!(ann.state, UserState::Active);
    assert_eq!(ann.name, "ann Person");
    assert_eq!(ann.email, "ann@ex.com");
    assert_eq!(ann.folder, "Sales/North");
    let carl = db.ledger.user("carl").await.unwrap();
    assert_eq!(carl.state, UserState::Blocked);
    assert_eq!(carl.block_reason.as_deref(), Some("directory_disabled"));

    let state = db.ledger.directory_state().await.unwrap();
    let sales = state.roles.iter().find(|r| r.name == "sales").unwrap();
    assert_eq!(sales.parent.as_deref(), Some("All employees"));
    assert_eq!(
        sales.source_dn.as_deref(),
        Some("cn=sales,ou=Groups,dc=ex,dc=com")
    );
    assert_eq!(
        sales.members.iter().cloned().collect::<Vec<_>>(),
        vec!["ann", "bob"]
    );
    let north = state.roles.iter().find(|r| r.name == "north").unwrap();
    assert_eq!(north.parent.as_deref(), Some("sales"));
    let hand = state.users.iter().find(|u| u.login == "hand").unwrap();
    assert_eq!(hand.source, Source::Other);
    assert!(matches!(
        &state.users.iter().find(|u| u.login == "ann").unwrap().source,
        Source::Directory { dn } if dn == "uid=ann,ou=North,ou=Sales,dc=ex,dc=com"
    ));

    // One audit record for the run, one system message, one run in the history.
    let actions = audit_rows(db).await;
    assert_eq!(actions.iter().filter(|a| *a == "directory.sync").count(), 1);
    let messages = db.ledger.messages(false, 50).await.unwrap();
    assert_eq!(messages.iter().filter(|m| m.kind == "directory").count(), 1);
    let runs = db.ledger.directory_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, "succeeded");
    assert_eq!(runs[0].counts["created"], 3);
    // Issue 17: one directory.sync.completed event, and carl, created disabled, user.blocked.
    let done = db
        .ledger
        .events(Some("directory.sync.completed"), None, 10)
        .await
        .unwrap();
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].data["counts"]["created"], 3);
    let blocked = db
        .ledger
        .events(Some("user.blocked"), None, 10)
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].data["login"], "carl");
    assert_eq!(blocked[0].data["reason"], "directory_disabled");

    // Planning again against what the store loads finds nothing to do, and applying that
    // writes nothing: no audit row, no message, no run.
    let again = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert!(again.is_empty(), "{again:?}");
    let second = db
        .ledger
        .apply_directory_plan(&admin(), &again)
        .await
        .unwrap();
    assert_eq!(second, DirectorySyncReport::default());
    assert_eq!(audit_rows(db).await, actions);
    assert_eq!(
        db.ledger.messages(false, 50).await.unwrap().len(),
        messages.len()
    );
    assert_eq!(db.ledger.directory_runs(10).await.unwrap().len(), 1);

    // A name change in the directory is an update, and the user created by hand is never
    // touched although the directory does not list it.
    let mut renamed = snap.clone();
    renamed.users[1]
        .attrs
        .insert("cn".to_string(), vec!["Robert".to_string()]);
    renamed.users[1].dn = format!("uid=bob,ou=South,ou=Sales,{BASE}");
    let third = sync(db, &renamed).await;
    assert_eq!(third.counts.updated, 1);
    assert_eq!(third.counts.blocked, 0);
    let bob = db.ledger.user("bob").await.unwrap();
    assert_eq!(
        (bob.name.as_str(), bob.folder.as_str()),
        ("Robert", "Sales/South")
    );
    let state = db.ledger.directory_state().await.unwrap();
    assert!(matches!(
        &state.users.iter().find(|u| u.login == "bob").unwrap().source,
        Source::Directory { dn } if dn.contains("ou=South")
    ));
    let hand = db.ledger.user("hand").await.unwrap();
    assert_eq!(hand.state, UserState::Active);
}

pub async fn i1_disabled_and_removed_users_are_blocked_with_their_reasons_and_seats_freed(
    db: &TestDb,
) {
    licensed(db, None).await;
    users(db, &["hand"]).await;
    let snap = Snapshot {
        users: vec![
            person("ann", false),
            person("bob", false),
            person("carl", false),
        ],
        groups: vec![],
    };
    sync(db, &snap).await;
    db.ledger
        .grant(&admin(), &s(&["ann", "bob", "hand"]), &s(&["crm"]))
        .await
        .unwrap();
    // ann is logged in when the sync blocks her (S4: her session ends with the block).
    let session = match db
        .ledger
        .login_many(&[LoginRequest {
            login: "ann".into(),
            client: "test".into(),
        }])
        .await
        .unwrap()
        .remove(0)
    {
        LoginAnswer::Allowed(a) => a.session_id,
        LoginAnswer::Refused(r) => panic!("ann refused: {r:?}"),
    };
    let entitled = |id: String| {
        let ledger = &db.ledger;
        async move {
            ledger
                .entitlement(Some(&id), None, "crm.use")
                .await
                .map(|e| e.allowed)
                .unwrap_or(false)
        }
    };
    assert!(entitled(session.clone()).await);

    let snap = Snapshot {
        users: vec![person("ann", true), person("carl", false)],
        groups: vec![],
    };
    let r = sync(db, &snap).await;
    assert_eq!(r.counts.blocked, 2);
    let ann = db.ledger.user("ann").await.unwrap();
    assert_eq!(ann.state, UserState::Blocked);
    assert_eq!(ann.block_reason.as_deref(), Some("directory_disabled"));
    assert!(ann.licenses.is_empty());
    assert!(!entitled(session).await, "the block ended ann's session");
    let bob = db.ledger.user("bob").await.unwrap();
    assert_eq!(bob.state, UserState::Blocked);
    assert_eq!(bob.block_reason.as_deref(), Some("directory_removed"));
    assert!(bob.licenses.is_empty());
    // The user created by hand is not in the directory and keeps everything.
    let hand = db.ledger.user("hand").await.unwrap();
    assert_eq!(hand.state, UserState::Active);
    assert_eq!(products(&hand), vec!["crm"]);
    // Each block wrote the audit record a block by hand writes.
    let actions = audit_rows(db).await;
    assert_eq!(actions.iter().filter(|a| *a == "user.block").count(), 2);
}

pub async fn u2_a_full_area_creates_users_blocked_and_a_later_sync_activates_them_oldest_first(
    db: &TestDb,
) {
    licensed(db, Some(2)).await;
    let mut snap = Snapshot {
        users: vec![person("ann", false), person("bob", false)],
        groups: vec![],
    };
    sync(db, &snap).await;
    // carl arrives before dave: carl is older.
    db.clock.advance(time::Duration::minutes(1));
    snap.users.push(person("carl", false));
    let r = sync(db, &snap).await;
    assert_eq!(r.counts.created_blocked, 1);
    db.clock.advance(time::Duration::minutes(1));
    snap.users.push(person("dave", false));
    sync(db, &snap).await;
    for login in ["carl", "dave"] {
        let u = db.ledger.user(login).await.unwrap();
        assert_eq!(u.state, UserState::Blocked, "{login}");
        assert_eq!(u.block_reason.as_deref(), Some("license_limit"), "{login}");
    }
    // dave's entry is disabled: he no longer waits for room.
    snap.users[3] = person("dave", true);
    sync(db, &snap).await;
    assert_eq!(
        db.ledger
            .user("dave")
            .await
            .unwrap()
            .block_reason
            .as_deref(),
        Some("directory_disabled")
    );
    // An administrator blocks bob: carl (waiting) takes the room at once (U2 on events), and
    // bob (blocked by hand) stays blocked. Then ann: room, and nobody waiting for it.
    for login in ["bob", "ann"] {
        db.ledger
            .block_user(&admin(), login, "on leave")
            .await
            .unwrap();
    }
    assert_eq!(
        db.ledger.user("carl").await.unwrap().state,
        UserState::Active
    );
    // dave is enabled again: a plan made now activates him; if the room is taken before it
    // is written (here by a user created by hand), the activation waits instead of failing
    // the sync.
    snap.users[3] = person("dave", false);
    let p = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert_eq!(p.activate, vec!["dave".to_string()]);
    users(db, &["hand"]).await;
    let r = db.ledger.apply_directory_plan(&admin(), &p).await.unwrap();
    assert_eq!((r.counts.activated, r.counts.not_activated), (0, 1));
    let dave = db.ledger.user("dave").await.unwrap();
    assert_eq!(dave.block_reason.as_deref(), Some("license_limit"));
    // The room frees again: dave, waiting, is activated by the delete itself.
    db.ledger.delete_user(&admin(), "hand").await.unwrap();
    assert_eq!(
        db.ledger.user("dave").await.unwrap().state,
        UserState::Active
    );
    for login in ["ann", "bob"] {
        let u = db.ledger.user(login).await.unwrap();
        assert_eq!(u.block_reason.as_deref(), Some("on leave"), "{login}");
    }
    // Nothing more to do.
    let again = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert!(again.is_empty(), "{again:?}");
}

pub async fn d5_a_product_bound_to_a_role_follows_a_group_membership_change(db: &TestDb) {
    licensed(db, None).await;
    let mut snap = Snapshot {
        users: vec![person("ann", false), person("bob", false)],
        groups: vec![group("sales", &["ann"])],
    };
    sync(db, &snap).await;
    let sales = db
        .ledger
        .roles()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "sales")
        .unwrap()
        .id;
    db.ledger
        .set_role_product(&admin(), sales, "crm", true)
        .await
        .unwrap();
    // bob joins the group: the sync redistributes for him, and he gets crm.
    snap.groups = vec![group("sales", &["ann", "bob"])];
    let r = sync(db, &snap).await;
    assert_eq!(r.counts.members_added, 1);
    assert_eq!(r.counts.redistributed, 1);
    assert_eq!(products(&db.ledger.user("bob").await.unwrap()), vec!["crm"]);
    // ann was not touched: no redistribution ran for her.
    assert!(db.ledger.user("ann").await.unwrap().licenses.is_empty());
    // bob leaves the group: the seat goes with the membership.
    snap.groups = vec![group("sales", &["ann"])];
    let r = sync(db, &snap).await;
    assert_eq!(r.counts.members_removed, 1);
    assert!(db.ledger.user("bob").await.unwrap().licenses.is_empty());
    // With role-based distribution off, a sync changes memberships and nothing else.
    db.ledger
        .set_distribution_settings(
            &admin(),
            DistributionSettings {
                redistribute_on_role_change: false,
                role_based_distribution: false,
            },
        )
        .await
        .unwrap();
    snap.groups = vec![group("sales", &["ann", "bob"])];
    let r = sync(db, &snap).await;
    assert_eq!((r.counts.members_added, r.counts.redistributed), (1, 0));
    assert!(db.ledger.user("bob").await.unwrap().licenses.is_empty());
}

/// Employee limit 2: ann and bob active (from the directory), carl then dave (a minute
/// apart, so carl is older) waiting with `license_limit`.
async fn two_waiting(db: &TestDb) -> Snapshot {
    licensed(db, Some(2)).await;
    let mut snap = Snapshot {
        users: vec![person("ann", false), person("bob", false)],
        groups: vec![],
    };
    sync(db, &snap).await;
    for login in ["carl", "dave"] {
        db.clock.advance(time::Duration::minutes(1));
        snap.users.push(person(login, false));
        sync(db, &snap).await;
        let u = db.ledger.user(login).await.unwrap();
        assert_eq!(u.block_reason.as_deref(), Some("license_limit"), "{login}");
    }
    snap
}

async fn state_of(db: &TestDb, login: &str) -> (UserState, Option<String>) {
    let u = db.ledger.user(login).await.unwrap();
    (u.state, u.block_reason)
}

fn waits() -> (UserState, Option<String>) {
    (UserState::Blocked, Some("license_limit".to_string()))
}

const ACTIVE: (UserState, Option<String>) = (UserState::Active, None);

pub async fn u2_a_block_frees_room_and_the_oldest_license_limit_user_is_activated(db: &TestDb) {
    let snap = two_waiting(db).await;
    db.ledger
        .block_user(&admin(), "bob", "on leave")
        .await
        .unwrap();
    // In the block's own transaction: no sync needed.
    assert_eq!(state_of(db, "carl").await, ACTIVE);
    assert_eq!(state_of(db, "dave").await, waits());
    assert_eq!(
        state_of(db, "bob").await,
        (UserState::Blocked, Some("on leave".to_string()))
    );
    let activations: Vec<_> = db
        .ledger
        .audit_log(&AuditFilter {
            limit: Some(1000),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.action == "user.activate")
        .map(|a| a.target)
        .collect();
    assert_eq!(activations, vec!["carl".to_string()]);
    // The sync finds nothing left to do.
    let again = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert!(again.is_empty(), "{again:?}");
}

pub async fn u2_a_delete_frees_room_and_the_oldest_license_limit_user_is_activated(db: &TestDb) {
    two_waiting(db).await;
    db.ledger.delete_user(&admin(), "ann").await.unwrap();
    assert_eq!(state_of(db, "carl").await, ACTIVE);
    assert_eq!(state_of(db, "dave").await, waits());
    db.ledger.delete_user(&admin(), "bob").await.unwrap();
    assert_eq!(state_of(db, "dave").await, ACTIVE);
}

pub async fn u2_a_hand_blocked_user_is_never_activated(db: &TestDb) {
    two_waiting(db).await;
    // A hand block cannot carry a reason the system writes itself (it would be lifted).
    for reason in ["license_limit", "directory_removed"] {
        let refused = db.ledger.block_user(&admin(), "ann", reason).await;
        assert!(refused.is_err(), "{reason}");
    }
    assert_eq!(state_of(db, "ann").await, ACTIVE);
    // bob is blocked by hand: carl (waiting) takes his place at once.
    db.ledger
        .block_user(&admin(), "bob", "on leave")
        .await
        .unwrap();
    assert_eq!(state_of(db, "carl").await, ACTIVE);
    // ann goes: room for dave, never for bob (older, but blocked by hand).
    db.ledger.delete_user(&admin(), "ann").await.unwrap();
    assert_eq!(state_of(db, "dave").await, ACTIVE);
    db.ledger.delete_user(&admin(), "carl").await.unwrap();
    assert_eq!(
        state_of(db, "bob").await,
        (UserState::Blocked, Some("on leave".to_string()))
    );
    let s = db.ledger.summary(time::Duration::days(30)).await.unwrap();
    let employee = s.areas.iter().find(|a| a.area == Area::Employee).unwrap();
    assert_eq!((employee.active_users, employee.limit), (1, Some(2)));
}

pub async fn u2_a_raised_limit_activates_waiting_users_oldest_first(db: &TestDb) {
    two_waiting(db).await;
    db.clock.advance(time::Duration::minutes(1));
    let mut snap = Snapshot {
        users: ["ann", "bob", "carl", "dave", "erin"]
            .iter()
            .map(|l| person(l, false))
            .collect(),
        groups: vec![],
    };
    sync(db, &snap).await;
    assert_eq!(state_of(db, "erin").await, waits());
    // A renewal raising the limit to 3: carl (the oldest waiting) comes in.
    let mut renewal = package("C2", "crm", SeatKind::Named, Area::Employee, 5);
    renewal.replaces = vec!["C1".to_string()];
    let mut o = order(vec![product("crm", false)], vec![renewal]);
    o.area_limits = vec![limit(Area::Employee, 3)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    assert_eq!(state_of(db, "carl").await, ACTIVE);
    assert_eq!(state_of(db, "dave").await, waits());
    assert_eq!(state_of(db, "erin").await, waits());
    // A renewal with room for all: everyone waiting comes in.
    let mut renewal = package("C3", "crm", SeatKind::Named, Area::Employee, 5);
    renewal.replaces = vec!["C2".to_string()];
    let mut o = order(vec![product("crm", false)], vec![renewal]);
    o.area_limits = vec![limit(Area::Employee, 10)];
    db.ledger
        .import_license(&admin(), &issue(db, &o).await, &trusted())
        .await
        .unwrap();
    assert_eq!(state_of(db, "dave").await, ACTIVE);
    assert_eq!(state_of(db, "erin").await, ACTIVE);
    snap.users.truncate(5);
    let again = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert!(again.is_empty(), "{again:?}");
}

pub async fn u2_a_move_to_another_area_frees_room_for_the_oldest_waiting_user(db: &TestDb) {
    two_waiting(db).await;
    // The CSV import moves ann to the portal area (no limit there).
    db.ledger
        .import_users_csv(&admin(), "login,area\nann,portal\n")
        .await
        .unwrap();
    assert_eq!(state_of(db, "carl").await, ACTIVE);
    assert_eq!(state_of(db, "dave").await, waits());
}

pub async fn i1_a_run_a_stopped_process_left_running_is_closed_as_interrupted(db: &TestDb) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into());
    // A run of a process that is gone (no such pid here), and one of a live process (this
    // one, as another sync going on would be).
    let dead = format!("{host}:4194000:x");
    let live = format!("{host}:{}:y", std::process::id());
    let mut raw = db.raw().await;
    for owner in [&dead, &live] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO directory_runs (started_at, status, preview, owner) \
             VALUES ({}, 'running', 0, '{owner}')",
            T0.unix_timestamp()
        )))
        .execute(&mut raw)
        .await
        .unwrap();
    }
    let snap = Snapshot {
        users: vec![person("ann", false)],
        groups: vec![],
    };
    sync(db, &snap).await;
    let runs = db.ledger.directory_runs(10).await.unwrap();
    let statuses: Vec<&str> = runs.iter().map(|r| r.status.as_str()).collect();
    // Newest first: this sync, the live run, the dead one.
    assert_eq!(statuses, vec!["succeeded", "running", "interrupted"]);
    assert!(runs[2].finished_at.is_some() && runs[2].error.is_some());
    // A day on, the other run is taken for dead too, even by a sync with nothing to do.
    db.clock.advance(time::Duration::days(2));
    assert_eq!(
        db.ledger
            .close_interrupted_directory_runs(false)
            .await
            .unwrap(),
        1
    );
    let runs = db.ledger.directory_runs(10).await.unwrap();
    assert_eq!(runs[1].status, "interrupted");
}

pub async fn i1_a_login_taken_by_a_user_not_from_the_directory_is_skipped_not_fatal(db: &TestDb) {
    // Made by hand before the sync: the planner skips the entry, naming its DN.
    users(db, &["hand"]).await;
    let snap = Snapshot {
        users: vec![
            person("ann", false),
            person("hand", false),
            person("late", false),
            person("zed", false),
        ],
        groups: vec![],
    };
    let p = plan(
        &snap,
        &db.ledger.directory_state().await.unwrap(),
        &mapping(),
    );
    assert_eq!(p.skipped.len(), 1, "{p:?}");
    assert_eq!(p.skipped[0].dn, person("hand", false).dn);
    assert_eq!(
        p.skipped[0].reason.to_string(),
        "user \"hand\" exists, not from the directory"
    );
    // Made by hand after the plan, before it is written: that create is left out, the rest
    // of the sync goes on.
    users(db, &["late"]).await;
    let r = db.ledger.apply_directory_plan(&admin(), &p).await.unwrap();
    assert_eq!((r.counts.created, r.counts.skipped), (2, 2));
    for login in ["ann", "zed"] {
        db.ledger.user(login).await.unwrap();
    }
    let state = db.ledger.directory_state().await.unwrap();
    for login in ["hand", "late"] {
        let u = state.users.iter().find(|u| u.login == login).unwrap();
        assert_eq!(
            u.source,
            Source::Other,
            "{login} is still the hand-made user"
        );
    }
    let runs = db.ledger.directory_runs(1).await.unwrap();
    assert_eq!(runs[0].status, "succeeded");
    // The next sync lists both as skipped and changes nothing.
    let again = plan(&snap, &state, &mapping());
    assert!(again.is_empty(), "{again:?}");
    assert_eq!(again.skipped.len(), 2);
}
