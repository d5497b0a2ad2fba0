#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! The directory sync planner (I1, U2, D5): unit cases named after the features, and
//! property tests over random snapshots, ledgers and mappings.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use seatkeeper_core::directory::{
    AreaMatch, CreatedRoles, DisabledRule, Entry, FolderRule, LedgerRole, LedgerState, LedgerUser,
    Mapping, RemovedAction, RoleKind, SkipReason, Snapshot, Source, SyncPlan, Waiting, apply, plan,
    waiting_to_activate,
};
use seatkeeper_core::{Area, UserState};
use time::OffsetDateTime;
use time::macros::datetime;

fn entry(dn: &str, attrs: &[(&str, &str)]) -> Entry {
    let mut e = Entry {
        dn: dn.into(),
        attrs: BTreeMap::new(),
    };
    for (a, v) in attrs {
        e.attrs
            .entry(a.to_ascii_lowercase())
            .or_default()
            .push((*v).to_string());
    }
    e
}

fn person(login: &str) -> Entry {
    entry(
        &format!("uid={login},ou=People,dc=ex,dc=com"),
        &[
            ("objectClass", "inetOrgPerson"),
            ("uid", login),
            ("cn", &format!("{login} name")),
            ("mail", &format!("{login}@ex.com")),
        ],
    )
}

fn dir_user(login: &str, state: UserState, reason: Option<&str>, age: i64) -> LedgerUser {
    LedgerUser {
        login: login.into(),
        name: format!("{login} name"),
        email: format!("{login}@ex.com"),
        area: Area::Employee,
        folder: String::new(),
        state,
        block_reason: reason.map(str::to_string),
        source: Source::Directory {
            dn: format!("uid={login},ou=People,dc=ex,dc=com"),
        },
        created_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::days(age),
    }
}

fn room(employee: Option<i64>) -> BTreeMap<Area, Option<i64>> {
    BTreeMap::from([(Area::Employee, employee), (Area::Portal, None)])
}

const NOW: OffsetDateTime = datetime!(2026-12-05 18:00 UTC);

fn logins(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn i1_openldap_entry_becomes_a_user() {
    let snap = Snapshot {
        users: vec![person("ann")],
        groups: vec![],
    };
    let p = plan(&snap, &LedgerState::default(), &Mapping::openldap());
    assert_eq!(p.create.len(), 1);
    let c = &p.create[0];
    assert_eq!(
        (c.login.as_str(), c.name.as_str(), c.email.as_str()),
        ("ann", "ann name", "ann@ex.com")
    );
    assert_eq!(
        (c.area, c.folder.as_str(), c.blocked.as_deref()),
        (Area::Employee, "", None)
    );
    assert!(p.touched.contains("ann"));
    assert!(p.skipped.is_empty());
    // Synced again: nothing to do.
    let after = apply(&LedgerState::default(), &p, NOW);
    assert!(plan(&snap, &after, &Mapping::openldap()).is_empty());
}

#[test]
fn i1_active_directory_user_account_control_514_is_disabled() {
    let ad = |sam: &str, uac: &str| {
        entry(
            &format!("CN={sam},OU=Staff,DC=corp,DC=example"),
            &[
                ("sAMAccountName", sam),
                ("displayName", &format!("{sam} display")),
                ("mail", &format!("{sam}@corp.example")),
                ("userAccountControl", uac),
            ],
        )
    };
    let snap = Snapshot {
        users: vec![ad("jdoe", "514"), ad("jroe", "512")],
        groups: vec![],
    };
    let p = plan(&snap, &LedgerState::default(), &Mapping::active_directory());
    let by: BTreeMap<&str, Option<&str>> = p
        .create
        .iter()
        .map(|c| (c.login.as_str(), c.blocked.as_deref()))
        .collect();
    assert_eq!(by["jdoe"], Some("directory_disabled"));
    assert_eq!(by["jroe"], None);
    assert_eq!(p.create[1].name, "jroe display");

    // An active user whose account gets disabled is blocked, and the seat room is freed.
    let mut u = dir_user("jroe", UserState::Active, None, 0);
    u.name = "jroe display".into();
    u.email = "jroe@corp.example".into();
    u.source = Source::Directory {
        dn: "cn=jroe,ou=staff,dc=corp,dc=example".into(),
    };
    let ledger = LedgerState {
        users: vec![u],
        roles: vec![],
        room: room(Some(0)),
    };
    let snap = Snapshot {
        users: vec![ad("jroe", "66050")], // 0x10202: NORMAL | DONT_EXPIRE | ACCOUNTDISABLE
        groups: vec![],
    };
    let p = plan(&snap, &ledger, &Mapping::active_directory());
    assert_eq!(p.block.len(), 1);
    assert_eq!(p.block[0].reason, "directory_disabled");
    assert!(
        p.update.is_empty(),
        "the DN differs only in case: {:?}",
        p.update
    );
    assert!(p.touched.contains("jroe"));
    // Re-enabled later: activated again (there is room: its own).
    let after = apply(&ledger, &p, NOW);
    assert_eq!(after.room_in(Area::Employee), Some(1));
    let snap = Snapshot {
        users: vec![ad("jroe", "512")],
        groups: vec![],
    };
    let p = plan(&snap, &after, &Mapping::active_directory());
    assert_eq!(logins(&p.activate), ["jroe"]);
}

#[test]
fn i1_ou_path_becomes_the_folder_and_a_move_updates_it() {
    let mapping = Mapping {
        folder: FolderRule::OuPath {
            base_dn: "dc=ex,dc=com".into(),
        },
        ..Mapping::openldap()
    };
    let mut e = person("ann");
    e.dn = "uid=ann,ou=North,ou=Sales,dc=ex,dc=com".into();
    let mut outside = person("bob");
    outside.dn = "uid=bob,ou=Elsewhere,o=other".into();
    let mut container = person("cat");
    container.dn = "uid=cat,cn=Users,ou=R/D,dc=ex,dc=com".into();
    let snap = Snapshot {
        users: vec![e.clone(), outside, container],
        groups: vec![],
    };
    let p = plan(&snap, &LedgerState::default(), &mapping);
    let folders: BTreeMap<&str, &str> = p
        .create
        .iter()
        .map(|c| (c.login.as_str(), c.folder.as_str()))
        .collect();
    assert_eq!(folders["ann"], "Sales/North");
    assert_eq!(folders["bob"], "", "outside the base DN: the root");
    assert_eq!(
        folders["cat"], "R-D",
        "only ou levels; '/' cannot be in a folder name"
    );

    let ledger = apply(&LedgerState::default(), &p, NOW);
    e.dn = "uid=ann,ou=South,ou=Sales,dc=ex,dc=com".into();
    let snap = Snapshot {
        users: vec![e],
        groups: vec![],
    };
    let p = plan(&snap, &ledger, &mapping);
    let up = p.update.iter().find(|u| u.login == "ann").unwrap();
    assert_eq!(up.folder.as_deref(), Some("Sales/South"));
    assert_eq!(up.name, None);
    assert_eq!(up.email, None);
    assert!(up.dn.is_some());
}

#[test]
fn i1_area_rules_by_dn_suffix_and_attribute() {
    let mapping = Mapping {
        area: seatkeeper_core::directory::AreaRule {
            default: Area::Employee,
            rules: vec![
                AreaMatch::DnSuffix {
                    suffix: "OU=Partners, dc=ex,dc=com".into(),
                    area: Area::Portal,
                },
                AreaMatch::Attribute {
                    attr: "employeeType".into(),
                    value: "external".into(),
                    area: Area::Portal,
                },
            ],
        },
        ..Mapping::openldap()
    };
    let mut partner = person("pat");
    partner.dn = "uid=pat,ou=partners,dc=ex,dc=com".into();
    let mut ext = person("eve");
    ext.attrs
        .insert("employeetype".into(), vec!["External".into()]);
    let snap = Snapshot {
        users: vec![partner, ext, person("ann")],
        groups: vec![],
    };
    let p = plan(&snap, &LedgerState::default(), &mapping);
    let areas: BTreeMap<&str, Area> = p
        .create
        .iter()
        .map(|c| (c.login.as_str(), c.area))
        .collect();
    assert_eq!(areas["pat"], Area::Portal);
    assert_eq!(areas["eve"], Area::Portal);
    assert_eq!(areas["ann"], Area::Employee);
}

#[test]
fn i1_mapping_reads_from_config_with_defaults() {
    let m: Mapping = serde_json::from_value(serde_json::json!({
        "login_attr": "sAMAccountName",
        "folder": {"by": "ou_path", "base_dn": "dc=ex,dc=com"},
        "area": {"rules": [{"by": "dn_suffix", "suffix": "ou=Partners,dc=ex,dc=com", "area": "portal"}]},
        "roles": {"create": {"parent": "Directory", "kind": "organizational"},
                  "explicit": {"cn=admins,dc=ex,dc=com": "System administrators"}},
        "disabled": {"by": "attribute", "attr": "pwdAccountLockedTime"},
        "removed": "delete"
    }))
    .unwrap();
    assert_eq!(m.name_attr, "cn");
    assert_eq!(m.member_attr, "member");
    assert_eq!(m.area.default, Area::Employee);
    assert_eq!(m.removed, RemovedAction::Delete);
    assert_eq!(
        m.roles.create.as_ref().unwrap().kind,
        RoleKind::Organizational
    );
    assert_eq!(Mapping::default(), Mapping::openldap());
    assert!(serde_json::from_value::<Mapping>(serde_json::json!({"loginattr": "uid"})).is_err());
}

fn group(cn: &str, members: &[&str]) -> Entry {
    let dn = format!("cn={cn},ou=Groups,dc=ex,dc=com");
    let mut attrs: Vec<(&str, &str)> = vec![("objectClass", "groupOfNames"), ("cn", cn)];
    attrs.extend(members.iter().map(|m| ("member", *m)));
    entry(&dn, &attrs)
}

fn gdn(cn: &str) -> String {
    format!("cn={cn},ou=Groups,dc=ex,dc=com")
}
fn udn(login: &str) -> String {
    format!("uid={login},ou=People,dc=ex,dc=com")
}

#[test]
fn i1_nested_groups_become_the_role_tree() {
    let mapping = Mapping {
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::new(),
            create: Some(CreatedRoles {
                parent: None,
                kind: RoleKind::Organizational,
            }),
        },
        ..Mapping::openldap()
    };
    let snap = Snapshot {
        users: vec![person("ann"), person("bob")],
        groups: vec![
            group("North", &[&udn("ann")]),
            group("Sales", &[&gdn("North"), &udn("bob")]),
            group("Staff", &[&gdn("Sales")]),
        ],
    };
    let p = plan(&snap, &LedgerState::default(), &mapping);
    let made: Vec<(&str, Option<&str>)> = p
        .roles_create
        .iter()
        .map(|r| (r.name.as_str(), r.parent.as_deref()))
        .collect();
    assert_eq!(
        made,
        [
            ("Staff", Some("All employees")),
            ("Sales", Some("Staff")),
            ("North", Some("Sales"))
        ],
        "parents first; the top under the organizational root"
    );
    let members: Vec<(&str, &str)> = p
        .add_members
        .iter()
        .map(|m| (m.role.as_str(), m.login.as_str()))
        .collect();
    assert_eq!(members, [("North", "ann"), ("Sales", "bob")]);
    let ledger = apply(&LedgerState::default(), &p, NOW);
    assert!(plan(&snap, &ledger, &mapping).is_empty());

    // North moves up under Staff; ann leaves it: a re-parent and a removal, both touch ann.
    let snap = Snapshot {
        users: vec![person("ann"), person("bob")],
        groups: vec![
            group("North", &[]),
            group("Sales", &[&udn("bob")]),
            group("Staff", &[&gdn("Sales"), &gdn("North")]),
        ],
    };
    let p = plan(&snap, &ledger, &mapping);
    assert_eq!(p.roles_reparent.len(), 1);
    assert_eq!(p.roles_reparent[0].role, "North");
    assert_eq!(p.roles_reparent[0].parent.as_deref(), Some("Staff"));
    assert_eq!(p.remove_members.len(), 1);
    assert_eq!(p.touched, BTreeSet::from(["ann".to_string()]));
    assert!(p.roles_create.is_empty() && p.add_members.is_empty());
}

#[test]
fn i1_group_cycle_is_cut_and_group_names_never_steal_a_role() {
    let mapping = Mapping {
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::new(),
            create: Some(CreatedRoles::default()),
        },
        ..Mapping::openldap()
    };
    let ledger = LedgerState {
        roles: vec![LedgerRole {
            name: "Taken".into(),
            parent: None,
            kind: RoleKind::Functional,
            source_dn: None,
            members: BTreeSet::new(),
        }],
        ..LedgerState::default()
    };
    let snap = Snapshot {
        users: vec![],
        groups: vec![
            group("A", &[&gdn("B")]),
            group("B", &[&gdn("A")]),
            group("taken", &[]),
        ],
    };
    let p = plan(&snap, &ledger, &mapping);
    let made: Vec<(&str, Option<&str>)> = p
        .roles_create
        .iter()
        .map(|r| (r.name.as_str(), r.parent.as_deref()))
        .collect();
    assert_eq!(made, [("A", None), ("B", Some("A"))]);
    assert_eq!(p.skipped.len(), 1);
    assert!(matches!(p.skipped[0].reason, SkipReason::RoleNameTaken(_)));
    let after = apply(&ledger, &p, NOW);
    assert!(plan(&snap, &after, &mapping).is_empty());
}

#[test]
fn i1_member_uid_groups_list_logins() {
    let mapping = Mapping {
        member_attr: "memberUid".into(),
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::from([(
                "cn=devs,ou=Groups,dc=ex,dc=com".to_string(),
                "Developers".to_string(),
            )]),
            create: None,
        },
        ..Mapping::openldap()
    };
    let devs = entry(
        "cn=devs,ou=Groups,dc=ex,dc=com",
        &[
            ("objectClass", "posixGroup"),
            ("cn", "devs"),
            ("memberUid", "ann"),
            ("memberUid", "BOB"),
            ("memberUid", "zed"),
        ],
    );
    let mut hand = dir_user("hal", UserState::Active, None, 0);
    hand.source = Source::Other;
    let ledger = LedgerState {
        users: vec![
            dir_user("bob", UserState::Active, None, 1),
            hand,
            dir_user("cy", UserState::Active, None, 2),
        ],
        roles: vec![LedgerRole {
            name: "Developers".into(),
            parent: None,
            kind: RoleKind::Functional,
            source_dn: None,
            members: BTreeSet::from(["hal".to_string(), "cy".to_string()]),
        }],
        room: room(None),
    };
    let snap = Snapshot {
        users: vec![person("ann"), person("bob"), person("cy")],
        groups: vec![devs, group("ignored", &[&udn("ann")])],
    };
    let p = plan(&snap, &ledger, &mapping);
    let added: Vec<&str> = p.add_members.iter().map(|m| m.login.as_str()).collect();
    assert_eq!(added, ["ann", "bob"], "case-insensitive; zed is nobody");
    let removed: Vec<&str> = p.remove_members.iter().map(|m| m.login.as_str()).collect();
    assert_eq!(
        removed,
        ["cy"],
        "hal was added by hand and is not the sync's"
    );
    assert!(
        p.roles_create.is_empty(),
        "no `create`: unmapped groups are ignored"
    );
    let after = apply(&ledger, &p, NOW);
    assert!(plan(&snap, &after, &mapping).is_empty());
}

#[test]
fn u2_full_area_creates_users_blocked_and_later_activates_them_oldest_first() {
    let ledger = LedgerState {
        users: vec![
            dir_user("old", UserState::Blocked, Some("license_limit"), 1),
            dir_user("older", UserState::Blocked, Some("license_limit"), 0),
            dir_user("hand", UserState::Blocked, Some("left the company"), -5),
            dir_user("busy", UserState::Active, None, -9),
        ],
        roles: vec![],
        room: room(Some(1)),
    };
    let snap = Snapshot {
        users: ["old", "older", "hand", "busy", "new1", "new2"]
            .map(person)
            .to_vec(),
        groups: vec![],
    };
    let m = Mapping::openldap();
    let p = plan(&snap, &ledger, &m);
    assert_eq!(
        logins(&p.activate),
        ["older"],
        "oldest first; never the hand-blocked one"
    );
    let created: Vec<(&str, Option<&str>)> = p
        .create
        .iter()
        .map(|c| (c.login.as_str(), c.blocked.as_deref()))
        .collect();
    assert_eq!(
        created,
        [
            ("new1", Some("license_limit")),
            ("new2", Some("license_limit"))
        ]
    );
    let after = apply(&ledger, &p, NOW);
    assert_eq!(after.room_in(Area::Employee), Some(0));
    assert!(plan(&snap, &after, &m).is_empty(), "no room, no change");

    // busy leaves the directory: blocked, and its seat goes to the oldest waiting user (old),
    // before the newly created ones.
    let snap2 = Snapshot {
        users: ["old", "older", "hand", "new1", "new2"]
            .map(person)
            .to_vec(),
        groups: vec![],
    };
    let p = plan(&snap2, &after, &m);
    assert_eq!(p.block.len(), 1);
    assert_eq!(
        (p.block[0].login.as_str(), p.block[0].reason.as_str()),
        ("busy", "directory_removed")
    );
    assert_eq!(logins(&p.activate), ["old"]);
    // Two more seats: the new users, oldest (then by login) first.
    let mut more = apply(&after, &p, NOW);
    more.room.insert(Area::Employee, Some(2));
    let p = plan(&snap2, &more, &m);
    assert_eq!(logins(&p.activate), ["new1", "new2"]);
    assert!(!p.activate.contains(&"hand".to_string()));
}

#[test]
fn u2_a_reenabled_user_beyond_the_limit_waits_with_license_limit() {
    let ledger = LedgerState {
        users: vec![dir_user(
            "ann",
            UserState::Blocked,
            Some("directory_disabled"),
            0,
        )],
        roles: vec![],
        room: room(Some(0)),
    };
    let snap = Snapshot {
        users: vec![person("ann")],
        groups: vec![],
    };
    let p = plan(&snap, &ledger, &Mapping::openldap());
    assert!(p.activate.is_empty());
    assert_eq!(p.block[0].reason, "license_limit");
    assert!(
        !p.touched.contains("ann"),
        "still blocked: nothing to redistribute"
    );
}

#[test]
fn i1_bad_entries_are_skipped_with_their_dn_and_their_users_left_alone() {
    let mut other = dir_user("ext", UserState::Active, None, 0);
    other.source = Source::Other;
    other.name = "Hand Made".into();
    let ledger = LedgerState {
        users: vec![
            other,
            dir_user("dup", UserState::Active, None, 1),
            dir_user("bad", UserState::Active, None, 2),
        ],
        roles: vec![],
        room: room(None),
    };
    let mut no_login = person("x");
    no_login.attrs.remove("uid");
    no_login.dn = "cn=nologin,dc=ex,dc=com".into();
    let mut dup2 = person("DUP");
    dup2.dn = "uid=DUP,ou=Other,dc=ex,dc=com".into();
    let mut bad = person("bad");
    bad.attrs
        .insert("mail".into(), vec!["not an address".into()]);
    let snap = Snapshot {
        users: vec![
            no_login,
            person("dup"),
            dup2,
            bad,
            person("ext"),
            person("ok"),
        ],
        groups: vec![],
    };
    let p = plan(&snap, &ledger, &Mapping::openldap());
    let skipped: Vec<(&str, String)> = p
        .skipped
        .iter()
        .map(|s| (s.dn.as_str(), s.reason.to_string()))
        .collect();
    assert_eq!(skipped.len(), 5, "{skipped:?}");
    assert!(
        skipped
            .iter()
            .any(|(d, r)| *d == "cn=nologin,dc=ex,dc=com" && r == "no login attribute")
    );
    assert_eq!(
        skipped
            .iter()
            .filter(|(_, r)| r.starts_with("duplicate login"))
            .count(),
        2
    );
    assert!(skipped.iter().any(|(_, r)| r.starts_with("invalid e-mail")));
    assert!(
        skipped
            .iter()
            .any(|(_, r)| r == "user \"ext\" exists, not from the directory")
    );
    // Only `ok` is created; dup and bad are neither updated nor blocked as removed.
    assert_eq!(p.create.len(), 1);
    assert!(p.block.is_empty() && p.update.is_empty() && p.delete.is_empty());
}

#[test]
fn i1_removed_entries_are_deleted_only_when_configured() {
    let ledger = LedgerState {
        users: vec![dir_user("gone", UserState::Active, None, 0)],
        roles: vec![],
        room: room(Some(0)),
    };
    let snap = Snapshot {
        users: vec![person("new")],
        groups: vec![],
    };
    let p = plan(&snap, &ledger, &Mapping::openldap());
    assert_eq!(p.block[0].reason, "directory_removed");
    assert!(p.delete.is_empty());
    assert_eq!(p.create[0].blocked, None, "the block freed the seat first");
    let m = Mapping {
        removed: RemovedAction::Delete,
        ..Mapping::openldap()
    };
    let p = plan(&snap, &ledger, &m);
    assert_eq!(logins(&p.delete), ["gone"]);
    assert!(p.block.is_empty());
    assert_eq!(p.create[0].blocked, None);
    assert!(!p.touched.contains("gone"));
}

#[test]
fn d5_touched_lists_exactly_the_users_whose_state_or_roles_changed() {
    let mapping = Mapping {
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::new(),
            create: Some(CreatedRoles::default()),
        },
        ..Mapping::openldap()
    };
    let snap = Snapshot {
        users: vec![person("ann"), person("bob"), person("cy")],
        groups: vec![group("Sales", &[&udn("ann"), &udn("bob")])],
    };
    let ledger = apply(
        &LedgerState::default(),
        &plan(&snap, &LedgerState::default(), &mapping),
        NOW,
    );
    let mut snap2 = snap.clone();
    snap2.groups = vec![group("Sales", &[&udn("ann"), &udn("cy")])];
    snap2.users[0]
        .attrs
        .insert("cn".into(), vec!["Ann Renamed".into()]);
    let p = plan(&snap2, &ledger, &mapping);
    assert_eq!(p.update.len(), 1, "ann's name");
    assert_eq!(
        p.touched,
        BTreeSet::from(["bob".to_string(), "cy".to_string()]),
        "a name change is not a role change"
    );
}

#[test]
fn i1_a_login_renamed_in_the_directory_is_a_removal_and_a_new_user() {
    let mapping = Mapping {
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::new(),
            create: Some(CreatedRoles::default()),
        },
        ..Mapping::openldap()
    };
    let ledger = LedgerState {
        users: vec![dir_user("bob", UserState::Active, None, 0)],
        roles: vec![LedgerRole {
            name: "Sales".into(),
            parent: None,
            kind: RoleKind::Functional,
            source_dn: Some(gdn("Sales")),
            members: BTreeSet::from(["bob".to_string()]),
        }],
        room: room(None),
    };
    // Same DN, new uid: the DN (and the group membership) now belongs to `robert`.
    let mut robert = person("robert");
    robert.dn = udn("bob");
    let snap = Snapshot {
        users: vec![robert],
        groups: vec![group("Sales", &[&udn("bob")])],
    };
    let p = plan(&snap, &ledger, &mapping);
    assert_eq!(p.block[0].login, "bob");
    assert_eq!(p.create[0].login, "robert");
    assert_eq!(p.add_members[0].login, "robert");
    assert_eq!(p.remove_members[0].login, "bob");
    assert!(plan(&snap, &apply(&ledger, &p, NOW), &mapping).is_empty());
}

/// I1 at the benchmark's shape, scaled down (10,000 users in 100 groups of 100): a first
/// sync creates everyone, and the same directory again plans nothing. Speed belongs to the
/// sync benchmark, not here.
#[test]
fn i1_a_large_directory_plans_once_and_then_nothing() {
    let mapping = Mapping {
        folder: FolderRule::OuPath {
            base_dn: "dc=ex,dc=com".into(),
        },
        roles: seatkeeper_core::directory::RoleRule {
            explicit: BTreeMap::new(),
            create: Some(CreatedRoles::default()),
        },
        ..Mapping::openldap()
    };
    let users: Vec<Entry> = (0..10_000).map(|i| person(&format!("u{i:06}"))).collect();
    let groups: Vec<Entry> = (0..100)
        .map(|g| {
            let members: Vec<String> = (0..100)
                .map(|k| udn(&format!("u{:06}", g * 100 + k)))
                .collect();
            let refs: Vec<&str> = members.iter().map(String::as_str).collect();
            group(&format!("g{g:04}"), &refs)
        })
        .collect();
    let snap = Snapshot { users, groups };
    let first = plan(&snap, &LedgerState::default(), &mapping);
    assert_eq!(first.create.len(), 10_000);
    let ledger = apply_fast(&first);
    let again = plan(&snap, &ledger, &mapping);
    assert!(again.is_empty());
}

/// `apply` is quadratic (it is the plans' meaning, for small property-test ledgers); the
/// scale test builds the ledger of a first sync directly.
fn apply_fast(p: &SyncPlan) -> LedgerState {
    let mut roles: BTreeMap<String, LedgerRole> = p
        .roles_create
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                LedgerRole {
                    name: r.name.clone(),
                    parent: r.parent.clone(),
                    kind: r.kind,
                    source_dn: Some(r.dn.clone()),
                    members: BTreeSet::new(),
                },
            )
        })
        .collect();
    for m in &p.add_members {
        roles
            .get_mut(&m.role)
            .unwrap()
            .members
            .insert(m.login.clone());
    }
    LedgerState {
        users: p
            .create
            .iter()
            .map(|c| LedgerUser {
                login: c.login.clone(),
                name: c.name.clone(),
                email: c.email.clone(),
                area: c.area,
                folder: c.folder.clone(),
                state: UserState::Active,
                block_reason: None,
                source: Source::Directory { dn: c.dn.clone() },
                created_at: NOW,
            })
            .collect(),
        roles: roles.into_values().collect(),
        room: BTreeMap::new(),
    }
}

// ---- properties ----

const LOGINS: [&str; 8] = ["ann", "Ann", "bob", "cat", "dan", "eve", "fay", "gus"];
const OUS: [&str; 3] = ["Sales", "North", "People"];
const GROUPS: [&str; 4] = ["g0", "g1", "g2", "Managers"];
const REASONS: [Option<&str>; 5] = [
    None,
    Some("license_limit"),
    Some("directory_disabled"),
    Some("directory_removed"),
    Some("by hand"),
];

fn pdn(login: &str, ou: usize) -> String {
    format!("uid={login},ou={},dc=ex", OUS[ou % OUS.len()])
}

fn arb_ledger_user() -> impl Strategy<Value = LedgerUser> {
    (
        0..LOGINS.len(),
        0..OUS.len(),
        any::<bool>(),
        0..REASONS.len(),
        any::<bool>(),
        0..40i64,
        0..2usize,
    )
        .prop_map(|(l, ou, other, r, portal, age, mail)| {
            let login = LOGINS[l];
            let reason = REASONS[r];
            LedgerUser {
                login: login.into(),
                name: format!("{login} name"),
                email: if mail == 0 {
                    String::new()
                } else {
                    format!("{login}@ex")
                },
                area: if portal { Area::Portal } else { Area::Employee },
                folder: if ou == 0 {
                    String::new()
                } else {
                    OUS[ou].to_string()
                },
                state: if reason.is_none() {
                    UserState::Active
                } else {
                    UserState::Blocked
                },
                block_reason: reason.map(str::to_string),
                source: if other {
                    Source::Other
                } else {
                    Source::Directory { dn: pdn(login, ou) }
                },
                created_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::hours(age),
            }
        })
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        prop::option::weighted(0.9, 0..LOGINS.len()),
        0..OUS.len(),
        0..3usize,
        any::<bool>(),
        prop::bool::weighted(0.2),
        0..100u32,
    )
        .prop_map(|(l, ou, mail, portal, disabled, n)| {
            let mut attrs: Vec<(&str, String)> = Vec::new();
            let dn = match l {
                Some(l) => {
                    attrs.push(("uid", LOGINS[l].to_string()));
                    pdn(LOGINS[l], ou)
                }
                None => format!("cn=nologin{n},dc=ex"),
            };
            attrs.push(("cn", format!("name {}", n % 2)));
            match mail {
                0 => {}
                1 => attrs.push(("mail", "x@ex".into())),
                _ => attrs.push(("mail", "not an address".into())),
            }
            if portal {
                attrs.push(("employeeType", "partner".into()));
            }
            if disabled {
                attrs.push(("pwdAccountLockedTime", "20260101000000Z".into()));
            }
            let pairs: Vec<(&str, &str)> = attrs.iter().map(|(a, v)| (*a, v.as_str())).collect();
            entry(&dn, &pairs)
        })
}

#[derive(Debug, Clone)]
struct World {
    ledger: LedgerState,
    snapshot: Snapshot,
    mapping: Mapping,
}

fn arb_world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(arb_ledger_user(), 0..7),
        prop::collection::vec(arb_entry(), 0..9),
        prop::collection::vec(
            (
                0..GROUPS.len(),
                prop::collection::vec((any::<bool>(), 0..LOGINS.len(), 0..OUS.len()), 0..5),
            ),
            0..5,
        ),
        prop::collection::vec(
            (
                0..GROUPS.len(),
                prop::option::of(0..GROUPS.len()),
                prop::collection::vec(0..LOGINS.len(), 0..3),
            ),
            0..3,
        ),
        (prop::option::of(0..3i64), prop::option::of(0..3i64)),
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                users,
                entries,
                groups,
                roles,
                (re, rp),
                (uid_members, delete, create, org, explicit),
            )| {
                // Unique logins (case-insensitively), as the store guarantees.
                let mut seen = BTreeSet::new();
                let users: Vec<LedgerUser> = users
                    .into_iter()
                    .filter(|u| seen.insert(u.login.to_lowercase()))
                    .collect();
                let mut ledger_roles: Vec<LedgerRole> = Vec::new();
                let mut role_names = BTreeSet::new();
                for (g, parent, members) in roles {
                    let name = GROUPS[g].to_string();
                    if !role_names.insert(name.clone()) {
                        continue;
                    }
                    ledger_roles.push(LedgerRole {
                        // "Managers" is a role made by hand; the others came from a sync.
                        source_dn: (name != "Managers")
                            .then(|| format!("cn={name},ou=Groups,dc=ex")),
                        name,
                        parent: parent.map(|p| GROUPS[p].to_string()),
                        kind: RoleKind::Functional,
                        members: members.into_iter().map(|l| LOGINS[l].to_string()).collect(),
                    });
                }
                let groups = groups
                    .into_iter()
                    .map(|(g, members)| {
                        let cn = GROUPS[g];
                        let values: Vec<String> = members
                            .into_iter()
                            .map(|(is_group, l, ou)| {
                                if uid_members {
                                    LOGINS[l].to_uppercase()
                                } else if is_group {
                                    format!("cn={},ou=Groups,dc=ex", GROUPS[l % GROUPS.len()])
                                } else {
                                    pdn(LOGINS[l], ou)
                                }
                            })
                            .collect();
                        let attr = if uid_members { "memberUid" } else { "member" };
                        let mut pairs: Vec<(&str, &str)> = vec![("cn", cn)];
                        pairs.extend(values.iter().map(|v| (attr, v.as_str())));
                        entry(&format!("cn={cn},ou=Groups,dc=ex"), &pairs)
                    })
                    .collect();
                let mapping = Mapping {
                    folder: FolderRule::OuPath {
                        base_dn: "dc=ex".into(),
                    },
                    area: seatkeeper_core::directory::AreaRule {
                        default: Area::Employee,
                        rules: vec![AreaMatch::Attribute {
                            attr: "employeeType".into(),
                            value: "partner".into(),
                            area: Area::Portal,
                        }],
                    },
                    member_attr: if uid_members {
                        "memberUid".into()
                    } else {
                        "member".into()
                    },
                    roles: seatkeeper_core::directory::RoleRule {
                        explicit: if explicit {
                            BTreeMap::from([(
                                "cn=g2,ou=Groups,dc=ex".to_string(),
                                "Managers".to_string(),
                            )])
                        } else {
                            BTreeMap::new()
                        },
                        create: create.then_some(CreatedRoles {
                            parent: None,
                            kind: if org {
                                RoleKind::Organizational
                            } else {
                                RoleKind::Functional
                            },
                        }),
                    },
                    disabled: DisabledRule::Attribute {
                        attr: "pwdAccountLockedTime".into(),
                        value: None,
                    },
                    removed: if delete {
                        RemovedAction::Delete
                    } else {
                        RemovedAction::Block
                    },
                    ..Mapping::openldap()
                };
                World {
                    ledger: LedgerState {
                        users,
                        roles: ledger_roles,
                        room: BTreeMap::from([(Area::Employee, re), (Area::Portal, rp)]),
                    },
                    snapshot: Snapshot {
                        users: entries,
                        groups,
                    },
                    mapping,
                }
            },
        )
}

fn has_cycle(l: &LedgerState) -> bool {
    let parent: BTreeMap<String, Option<String>> = l
        .roles
        .iter()
        .map(|r| {
            (
                r.name.to_lowercase(),
                r.parent.as_ref().map(|p| p.to_lowercase()),
            )
        })
        .collect();
    parent.keys().any(|start| {
        let mut at = parent.get(start).cloned().flatten();
        for _ in 0..=parent.len() {
            match at {
                None => return false,
                Some(ref r) if r == start => return true,
                Some(r) => at = parent.get(&r).cloned().flatten(),
            }
        }
        false
    })
}

fn all_logins(p: &SyncPlan) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    v.extend(p.create.iter().map(|c| c.login.clone()));
    v.extend(p.update.iter().map(|c| c.login.clone()));
    v.extend(p.block.iter().map(|c| c.login.clone()));
    v.extend(p.delete.iter().cloned());
    v.extend(p.activate.iter().cloned());
    v.extend(p.add_members.iter().map(|c| c.login.clone()));
    v.extend(p.remove_members.iter().map(|c| c.login.clone()));
    v.extend(p.touched.iter().cloned());
    v.into_iter().map(|l| l.to_lowercase()).collect()
}

/// A permutation of `v` drawn from `seed` (a small LCG: enough to reorder a dozen entries).
fn shuffled<T: Clone>(v: &[T], seed: u64) -> Vec<T> {
    let mut out = v.to_vec();
    let mut s = seed | 1;
    for i in (1..out.len()).rev() {
        s = s
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (s >> 33) as usize % (i + 1);
        out.swap(i, j);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// (a) Applying the plan and syncing again changes nothing; (b) no area ends over its
    /// limit.
    #[test]
    fn i1_u2_sync_is_idempotent_and_never_exceeds_a_limit(w in arb_world()) {
        let p = plan(&w.snapshot, &w.ledger, &w.mapping);
        let after = apply(&w.ledger, &p, NOW);
        let again = plan(&w.snapshot, &after, &w.mapping);
        prop_assert!(again.is_empty(), "first: {p:#?}\nagain: {again:#?}");
        for area in Area::ALL {
            if let Some(r) = after.room_in(area) {
                prop_assert!(r >= 0, "{area}: room {r}");
            }
        }
        // The store refuses a cycle in the role tree: a plan never makes one.
        if !has_cycle(&w.ledger) {
            prop_assert!(!has_cycle(&after), "{p:#?}\n{after:#?}");
        }
    }

    /// (c) Users from other sources are never in any list; (d) users blocked by hand are never
    /// activated.
    #[test]
    fn i1_u2_other_sources_and_hand_blocks_are_left_alone(w in arb_world()) {
        let p = plan(&w.snapshot, &w.ledger, &w.mapping);
        let listed: BTreeSet<String> = all_logins(&p).into_iter().collect();
        for u in &w.ledger.users {
            if u.source == Source::Other {
                prop_assert!(!listed.contains(&u.login.to_lowercase()), "{} listed: {p:#?}", u.login);
            }
            if u.state == UserState::Blocked && u.block_reason.as_deref() == Some("by hand") {
                prop_assert!(!p.activate.iter().any(|a| a.eq_ignore_ascii_case(&u.login)));
                prop_assert!(!p.block.iter().any(|b| b.login.eq_ignore_ascii_case(&u.login)));
            }
        }
    }

    /// (e) Room goes to the oldest first: after the sync, nobody still waiting with
    /// `license_limit` is older than someone the sync activated or created active in that area.
    #[test]
    fn u2_license_limit_activations_are_oldest_first(w in arb_world()) {
        let p = plan(&w.snapshot, &w.ledger, &w.mapping);
        let after = apply(&w.ledger, &p, NOW);
        // Users whose entries were skipped are not the sync's to compare.
        let skipped: BTreeSet<String> = p
            .skipped
            .iter()
            .filter_map(|s| s.dn.strip_prefix("uid=").and_then(|r| r.split(',').next()))
            .map(str::to_lowercase)
            .collect();
        let got: BTreeSet<String> = p
            .activate
            .iter()
            .cloned()
            .chain(p.create.iter().filter(|c| c.blocked.is_none()).map(|c| c.login.clone()))
            .map(|l| l.to_lowercase())
            .collect();
        for area in Area::ALL {
            let in_area = after.users.iter().filter(|u| u.area == area);
            let newest_got = in_area
                .clone()
                .filter(|u| got.contains(&u.login.to_lowercase()))
                .map(|u| (u.created_at, u.login.to_lowercase()))
                .max();
            let oldest_waiting = in_area
                .filter(|u| u.block_reason.as_deref() == Some("license_limit"))
                .filter(|u| !skipped.contains(&u.login.to_lowercase()))
                .filter(|u| matches!(u.source, Source::Directory { .. }))
                .map(|u| (u.created_at, u.login.to_lowercase()))
                .min();
            if let (Some(g), Some(o)) = (newest_got, oldest_waiting) {
                prop_assert!(g <= o, "{area}: activated {g:?} after waiting {o:?}: {p:#?}");
            }
        }
    }

    /// (f) The plan does not depend on the order the directory returned entries in.
    #[test]
    fn i1_plan_does_not_depend_on_entry_order(w in arb_world(), seed in any::<u64>()) {
        let p = plan(&w.snapshot, &w.ledger, &w.mapping);
        let shuffled_snapshot = Snapshot {
            users: shuffled(&w.snapshot.users, seed),
            groups: shuffled(&w.snapshot.groups, seed ^ 0x9e37_79b9),
        };
        prop_assert_eq!(p, plan(&shuffled_snapshot, &w.ledger, &w.mapping));
    }
}

/// Users of one area, some waiting for room (`license_limit`), some blocked for other
/// reasons, some active; ids unique, creation times colliding often (ties go by id).
fn arb_waiting() -> impl Strategy<Value = Vec<Waiting>> {
    prop::collection::vec((0i64..6, 0u8..5), 0..24).prop_map(|rows| {
        rows.into_iter()
            .enumerate()
            .map(|(i, (age, kind))| {
                let (state, reason) = match kind {
                    0 | 1 => (UserState::Blocked, Some("license_limit")),
                    2 => (UserState::Blocked, Some("on leave")),
                    3 => (UserState::Blocked, Some("directory_disabled")),
                    _ => (UserState::Active, None),
                };
                Waiting {
                    id: 100 - i as i64,
                    login: format!("u{i:02}"),
                    created_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::days(age),
                    state,
                    block_reason: reason.map(str::to_string),
                }
            })
            .collect()
    })
}

#[test]
fn u2_an_event_activates_the_oldest_license_limit_users_while_there_is_room() {
    let w = |id: i64, login: &str, age: i64, reason: Option<&str>| Waiting {
        id,
        login: login.into(),
        created_at: datetime!(2026-01-01 0:00 UTC) + time::Duration::days(age),
        state: if reason.is_some() {
            UserState::Blocked
        } else {
            UserState::Active
        },
        block_reason: reason.map(str::to_string),
    };
    let users = vec![
        w(4, "dave", 3, Some("license_limit")),
        w(1, "ann", 0, Some("on leave")),
        w(3, "carl", 2, Some("license_limit")),
        // Same instant as carl, later row: after carl.
        w(5, "cleo", 2, Some("license_limit")),
        w(2, "bob", 1, None),
    ];
    assert_eq!(waiting_to_activate(Some(1), &users), vec!["carl"]);
    assert_eq!(waiting_to_activate(Some(2), &users), vec!["carl", "cleo"]);
    // No limit: everyone waiting; a hand block (ann) never.
    assert_eq!(
        waiting_to_activate(None, &users),
        vec!["carl", "cleo", "dave"]
    );
    assert!(waiting_to_activate(Some(0), &users).is_empty());
    assert!(waiting_to_activate(Some(-3), &users).is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Only `license_limit` users are activated, as many as fit (all with no limit), and
    /// they are the oldest of them, in order: nobody left waiting is older than someone
    /// activated. The answer does not depend on the order of the input.
    #[test]
    fn u2_waiting_users_are_activated_oldest_first_and_only_license_limit(
        users in arb_waiting(),
        room in prop::option::of(-2i64..30),
        seed in any::<u64>(),
    ) {
        let got = waiting_to_activate(room, &users);
        let waiting: Vec<&Waiting> = users
            .iter()
            .filter(|u| u.state == UserState::Blocked && u.block_reason.as_deref() == Some("license_limit"))
            .collect();
        let fits = match room {
            None => waiting.len(),
            Some(r) => (r.max(0) as usize).min(waiting.len()),
        };
        prop_assert_eq!(got.len(), fits);
        let by_login = |l: &str| users.iter().find(|u| u.login == l).unwrap();
        for l in &got {
            let u = by_login(l);
            prop_assert_eq!(u.block_reason.as_deref(), Some("license_limit"));
            prop_assert_eq!(u.state, UserState::Blocked);
        }
        let keys: Vec<_> = got.iter().map(|l| { let u = by_login(l); (u.created_at, u.id) }).collect();
        prop_assert!(keys.windows(2).all(|k| k[0] < k[1]), "not oldest first: {keys:?}");
        if let Some(newest) = keys.last() {
            for u in &waiting {
                if !got.contains(&u.login) {
                    prop_assert!((u.created_at, u.id) > *newest, "{} waits, older than {newest:?}", u.login);
                }
            }
        }
        prop_assert_eq!(got, waiting_to_activate(room, &shuffled(&users, seed)));
    }
}
