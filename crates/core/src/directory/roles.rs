//! Groups → roles: which roles the sync manages, which it creates, where they sit in the tree
//! (nested groups become the role tree) and who their direct members are.

use std::collections::{BTreeMap, BTreeSet};

use super::Entry;
use super::dn::{member_dn, normalize_dn, rdn_value};
use super::ledger::LedgerState;
use super::mapping::{Mapping, MemberKind};
use super::sync_plan::{Membership, NewRole, Reparent, SkipReason, Skipped, SyncPlan};

fn key(s: &str) -> String {
    s.to_lowercase()
}

/// A role whose direct directory members follow a group.
struct Managed<'a> {
    dn_norm: String,
    role: String,
    /// Created by the sync (its place in the tree is the sync's too); explicitly mapped
    /// roles keep the place an administrator gave them.
    sync_made: bool,
    new: bool,
    /// `None`: the group is gone from the directory, so the role has no directory members.
    entry: Option<&'a Entry>,
}

/// `members`: login key → (DN normalized, login) of every directory user the sync keeps.
pub(crate) fn plan_roles(
    snapshot: &super::Snapshot,
    ledger: &LedgerState,
    mapping: &Mapping,
    members: &BTreeMap<String, (String, String)>,
    out: &mut SyncPlan,
) {
    let explicit: BTreeMap<String, &String> = mapping
        .roles
        .explicit
        .iter()
        .map(|(dn, role)| (normalize_dn(dn), role))
        .collect();
    let ledger_by_name: BTreeMap<String, &super::LedgerRole> =
        ledger.roles.iter().map(|r| (key(&r.name), r)).collect();
    let ledger_by_dn: BTreeMap<String, &super::LedgerRole> = ledger
        .roles
        .iter()
        .filter_map(|r| r.source_dn.as_deref().map(|d| (normalize_dn(d), r)))
        .collect();

    let mut groups: Vec<(String, &Entry)> = snapshot
        .groups
        .iter()
        .map(|g| (normalize_dn(&g.dn), g))
        .collect();
    groups.sort_by(|a, b| (&a.0, &a.1.dn, &a.1.attrs).cmp(&(&b.0, &b.1.dn, &b.1.attrs)));

    let mut managed: Vec<Managed> = Vec::new();
    let mut deferred: Vec<(&String, &Entry, &String)> = Vec::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut names_taken: BTreeSet<String> = ledger_by_name.keys().cloned().collect();
    let skip = |out: &mut SyncPlan, g: &Entry, reason| {
        out.skipped.push(Skipped {
            dn: g.dn.clone(),
            reason,
        })
    };
    for (dn_norm, g) in &groups {
        if !seen.insert(dn_norm.clone()) {
            skip(out, g, SkipReason::DuplicateGroup);
            continue;
        }
        if let Some(role) = explicit.get(dn_norm) {
            // Resolved below, once the roles this plan creates are known: a mapping may name
            // a role that another group creates.
            deferred.push((dn_norm, *g, *role));
        } else if let Some(r) = ledger_by_dn.get(dn_norm) {
            // A role keeps the name it was created with: renaming the group does not rename
            // it (an administrator may have renamed the role on purpose).
            managed.push(Managed {
                dn_norm: dn_norm.clone(),
                role: r.name.clone(),
                sync_made: true,
                new: false,
                entry: Some(g),
            });
        } else if mapping.roles.create.is_some() {
            let name = g
                .first(&mapping.group_name_attr)
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map_or_else(|| rdn_value(&g.dn), str::to_string);
            if let Err(err) = crate::validate::name(&name) {
                skip(out, g, SkipReason::InvalidRoleName(err.to_string()));
            } else if name.is_empty() {
                skip(out, g, SkipReason::InvalidRoleName("empty".into()));
            } else if !names_taken.insert(key(&name)) {
                skip(out, g, SkipReason::RoleNameTaken(name));
            } else {
                managed.push(Managed {
                    dn_norm: dn_norm.clone(),
                    role: name,
                    sync_made: true,
                    new: true,
                    entry: Some(g),
                });
            }
        }
    }
    let made_now: BTreeMap<String, String> = managed
        .iter()
        .filter(|m| m.new)
        .map(|m| (key(&m.role), m.role.clone()))
        .collect();
    for (dn_norm, g, role) in deferred {
        let found = ledger_by_name
            .get(&key(role))
            .map(|r| r.name.clone())
            .or_else(|| made_now.get(&key(role)).cloned());
        match found {
            Some(name) => managed.push(Managed {
                dn_norm: dn_norm.clone(),
                role: name,
                sync_made: false,
                new: false,
                entry: Some(g),
            }),
            None => skip(out, g, SkipReason::MappedRoleMissing(role.clone())),
        }
    }
    // Managed roles whose group is gone: their directory members leave them.
    let present: BTreeSet<String> = managed.iter().map(|m| key(&m.role)).collect();
    let mut gone: BTreeMap<String, Managed> = BTreeMap::new();
    let in_snapshot: BTreeSet<String> = groups.iter().map(|(d, _)| d.clone()).collect();
    for (dn_norm, r) in &ledger_by_dn {
        if !present.contains(&key(&r.name)) && !in_snapshot.contains(dn_norm) {
            gone.entry(key(&r.name)).or_insert(Managed {
                dn_norm: dn_norm.clone(),
                role: r.name.clone(),
                sync_made: true,
                new: false,
                entry: None,
            });
        }
    }
    for (dn_norm, role) in &explicit {
        if let Some(r) = ledger_by_name.get(&key(role))
            && !present.contains(&key(&r.name))
            && !in_snapshot.contains(dn_norm)
        {
            gone.entry(key(&r.name)).or_insert(Managed {
                dn_norm: dn_norm.clone(),
                role: r.name.clone(),
                sync_made: false,
                new: false,
                entry: None,
            });
        }
    }
    managed.extend(gone.into_values());

    let kind = mapping.member_kind();
    // Each member value is normalized once and resolved at once: to a user the sync keeps
    // (login keys, by reference), and, for nesting, to another managed group. Keeping every
    // normalized value (200,000 strings for 100,000 users) would cost memory for nothing.
    let by_dn: BTreeMap<&str, &String> = members
        .iter()
        .filter(|(_, (dn, _))| !dn.is_empty())
        .map(|(lkey, (dn, _))| (dn.as_str(), lkey))
        .collect();
    let group_dns: BTreeSet<&str> = managed
        .iter()
        .filter(|m| m.entry.is_some())
        .map(|m| m.dn_norm.as_str())
        .collect();
    // Group DN → the logins (keys) of its direct user members, and the managed groups
    // among its members.
    let mut user_members: BTreeMap<&str, Vec<&String>> = BTreeMap::new();
    let mut member_sets: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for m in &managed {
        let Some(e) = m.entry else { continue };
        let users = user_members.entry(m.dn_norm.as_str()).or_default();
        let groups = member_sets.entry(m.dn_norm.as_str()).or_default();
        for v in e.all(&mapping.member_attr) {
            let v = match kind {
                MemberKind::Dn => member_dn(v),
                MemberKind::Login => key(v.trim()),
            };
            // Look each member value up (not each user against each group): a sync of
            // 100,000 users in 1,000 groups stays linear in the memberships.
            let user = match kind {
                MemberKind::Dn => by_dn.get(v.as_str()).copied(),
                MemberKind::Login => members.get_key_value(&v).map(|(k, _)| k),
            };
            users.extend(user);
            if group_dns.contains(v.as_str()) {
                groups.insert(v);
            }
        }
    }

    // Nesting: a group listed as a member of another managed group sits under its role;
    // with several such groups, the first by DN (a role has one parent).
    if let Some(create) = &mapping.roles.create {
        let role_of: BTreeMap<&str, &str> = managed
            .iter()
            .filter(|m| m.entry.is_some())
            .map(|m| (m.dn_norm.as_str(), m.role.as_str()))
            .collect();
        let mut parent_of: BTreeMap<&str, &str> = BTreeMap::new();
        if kind == MemberKind::Dn {
            for m in managed.iter().filter(|m| m.sync_made && m.entry.is_some()) {
                let parent = member_sets
                    .iter()
                    .find(|(p, set)| **p != m.dn_norm && set.contains(&m.dn_norm))
                    .map(|(p, _)| *p);
                if let Some(p) = parent {
                    parent_of.insert(m.dn_norm.as_str(), p);
                }
            }
            break_cycles(&mut parent_of);
        }
        let mut wanted_parent: BTreeMap<&str, Option<String>> = managed
            .iter()
            .filter(|m| m.sync_made && m.entry.is_some())
            .map(|m| {
                let parent = match parent_of
                    .get(m.dn_norm.as_str())
                    .and_then(|p| role_of.get(p))
                {
                    Some(r) => Some((*r).to_string()),
                    None => create.top_parent(),
                };
                (m.dn_norm.as_str(), parent)
            })
            .collect();
        untangle(ledger, &managed, create.top_parent(), &mut wanted_parent);
        let desired = |m: &Managed| -> Option<String> {
            wanted_parent.get(m.dn_norm.as_str()).cloned().flatten()
        };
        // New roles, parents first.
        let mut pending: Vec<(&Managed, Option<String>)> = managed
            .iter()
            .filter(|m| m.new)
            .map(|m| (m, desired(m)))
            .collect();
        let mut made: BTreeSet<String> = BTreeSet::new();
        let new_names: BTreeSet<String> = pending.iter().map(|(m, _)| key(&m.role)).collect();
        while !pending.is_empty() {
            let before = pending.len();
            let mut rest = Vec::new();
            for (m, parent) in pending {
                let waits = parent
                    .as_ref()
                    .is_some_and(|p| new_names.contains(&key(p)) && !made.contains(&key(p)));
                if waits {
                    rest.push((m, parent));
                } else {
                    made.insert(key(&m.role));
                    out.roles_create.push(NewRole {
                        name: m.role.clone(),
                        parent,
                        kind: create.kind,
                        dn: m.entry.map(|e| e.dn.clone()).unwrap_or_default(),
                    });
                }
            }
            if rest.len() == before {
                // Cannot happen once cycles are broken; never loop forever on it.
                for (m, parent) in rest {
                    out.roles_create.push(NewRole {
                        name: m.role.clone(),
                        parent,
                        kind: create.kind,
                        dn: m.entry.map(|e| e.dn.clone()).unwrap_or_default(),
                    });
                }
                break;
            }
            pending = rest;
        }
        for m in managed
            .iter()
            .filter(|m| m.sync_made && !m.new && m.entry.is_some())
        {
            let want = desired(m);
            let have = ledger_by_name
                .get(&key(&m.role))
                .and_then(|r| r.parent.clone());
            if want.as_deref().map(key) != have.as_deref().map(key) {
                out.roles_reparent.push(Reparent {
                    role: m.role.clone(),
                    parent: want,
                });
                touch_subtree(ledger, &m.role, members, &mut out.touched);
            }
        }
        out.roles_reparent.sort_by_key(|r| key(&r.role));
    }

    // Direct members: the group's, among the directory users the sync keeps; others' stay.
    // Several groups may map to one role: its members are then the union.
    let mut wanted_by_role: BTreeMap<String, (&Managed, BTreeSet<&String>)> = BTreeMap::new();
    for m in &managed {
        let slot = wanted_by_role
            .entry(key(&m.role))
            .or_insert_with(|| (m, BTreeSet::new()));
        if let Some(users) = m.entry.and_then(|_| user_members.get(m.dn_norm.as_str())) {
            slot.1.extend(users.iter().copied());
        }
    }
    drop(user_members);
    // Additions are gathered by reference and copied once into a list of the exact size: a
    // first sync adds every membership (200,000 for 100,000 users).
    let mut adds: Vec<(&str, &String)> = Vec::new();
    for (m, wanted) in wanted_by_role.values() {
        let current: BTreeMap<String, &String> = ledger_by_name
            .get(&key(&m.role))
            .filter(|_| !m.new)
            .map(|r| {
                r.members
                    .iter()
                    .map(|l| (key(l), l))
                    .filter(|(k, _)| members.contains_key(k))
                    .collect()
            })
            .unwrap_or_default();
        for lkey in wanted {
            if !current.contains_key(*lkey)
                && let Some((_, login)) = members.get(*lkey)
            {
                adds.push((m.role.as_str(), login));
            }
        }
        for (lkey, login) in &current {
            if !wanted.contains(lkey) {
                out.remove_members.push(Membership {
                    role: m.role.clone(),
                    login: (*login).clone(),
                });
                touch(&mut out.touched, login);
            }
        }
    }
    out.add_members.reserve_exact(adds.len());
    for (role, login) in adds {
        out.add_members.push(Membership {
            role: role.to_string(),
            login: login.clone(),
        });
        touch(&mut out.touched, login);
    }
    // (role, login) pairs are unique: an unstable sort gives the one order, without a buffer.
    out.add_members.sort_unstable();
    out.remove_members.sort_unstable();
}

/// Marks `login` touched, copying it only when it is not already.
fn touch(touched: &mut BTreeSet<String>, login: &str) {
    if !touched.contains(login) {
        touched.insert(login.to_string());
    }
}

/// The role tree after the plan must have no cycle, also through roles the sync does not move
/// (an explicitly mapped role an administrator put below a sync-created one, or the configured
/// parent): a sync-created role that would close one goes to the configured parent instead,
/// or to the top when that closes one too.
fn untangle<'m>(
    ledger: &LedgerState,
    managed: &'m [Managed],
    top: Option<String>,
    wanted: &mut BTreeMap<&'m str, Option<String>>,
) {
    // dn of each sync-made role, by role name key.
    let movable: BTreeMap<String, &'m str> = managed
        .iter()
        .filter(|m| wanted.contains_key(m.dn_norm.as_str()))
        .map(|m| (key(&m.role), m.dn_norm.as_str()))
        .collect();
    // Each fix moves one role to `top` or to the top level, so this ends; the bound is a guard.
    for _ in 0..=2 * movable.len() {
        let mut parent: BTreeMap<String, Option<String>> = ledger
            .roles
            .iter()
            .map(|r| (key(&r.name), r.parent.as_deref().map(key)))
            .collect();
        for (role, dn) in &movable {
            let p = wanted.get(dn).cloned().flatten();
            parent.insert(role.clone(), p.as_deref().map(key));
        }
        // Cycles the ledger already had, among roles the sync does not move, are not the
        // sync's to mend.
        let Some(dn) = find_cycle(&parent, |r| movable.get(r).copied()) else {
            return;
        };
        let current = wanted.get(dn).cloned().flatten();
        let fallback = if current.as_deref().map(key) == top.as_deref().map(key) {
            None
        } else {
            top.clone()
        };
        wanted.insert(dn, fallback);
    }
}

/// A cycle in a parent map (role keys) through a movable role: that role's smallest DN.
fn find_cycle<'m>(
    parent: &BTreeMap<String, Option<String>>,
    movable: impl Fn(&str) -> Option<&'m str>,
) -> Option<&'m str> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for start in parent.keys() {
        let mut path: Vec<&str> = Vec::new();
        let mut at = Some(start.as_str());
        while let Some(r) = at {
            if done.contains(r) {
                break;
            }
            if let Some(i) = path.iter().position(|x| *x == r) {
                let cycle = path.get(i..).unwrap_or(&[]);
                if let Some(dn) = cycle.iter().filter_map(|r| movable(r)).min() {
                    return Some(dn);
                }
                break;
            }
            path.push(r);
            at = parent.get(r).and_then(|p| p.as_deref());
        }
        done.extend(path);
    }
    None
}

/// Cuts every cycle in `parent_of` at its smallest DN (which then sits at the top).
fn break_cycles(parent_of: &mut BTreeMap<&str, &str>) {
    let starts: Vec<&str> = parent_of.keys().copied().collect();
    for start in starts {
        let mut path: Vec<&str> = vec![start];
        let mut at = start;
        while let Some(p) = parent_of.get(at).copied() {
            if let Some(i) = path.iter().position(|x| *x == p) {
                let cycle = path.get(i..).unwrap_or(&[]);
                if let Some(min) = cycle.iter().min().copied() {
                    parent_of.remove(min);
                }
                break;
            }
            path.push(p);
            at = p;
        }
    }
}

/// The directory members of `role` and of every role below it in the ledger: their
/// inherited roles change when `role` moves.
fn touch_subtree(
    ledger: &LedgerState,
    role: &str,
    members: &BTreeMap<String, (String, String)>,
    touched: &mut BTreeSet<String>,
) {
    let mut todo = vec![key(role)];
    let mut seen = BTreeSet::new();
    while let Some(r) = todo.pop() {
        if !seen.insert(r.clone()) {
            continue;
        }
        for lr in &ledger.roles {
            if key(&lr.name) == r {
                for l in &lr.members {
                    if let Some((_, login)) = members.get(&key(l)) {
                        touched.insert(login.clone());
                    }
                }
            }
            if lr.parent.as_deref().map(key).as_deref() == Some(r.as_str()) {
                todo.push(key(&lr.name));
            }
        }
    }
}
