//! Fulfilment of pending needs (D4): when seats come free outside a redistribution (a recall,
//! an expiry undone, a larger license, distribution turned back on), which of the users
//! waiting for a seat get one, and in what order — computed without I/O.
//!
//! The order is the planner's ([`crate::distribution::plan`]): a folder's free seats go to
//! that folder's users, the root's to everyone left, each pass oldest account first. A
//! fulfilment only grants what was pending: it takes no seat back, changes no reason and
//! records no new want — those wait for a redistribution.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use crate::distribution::{Available, Holding, ManualGrants, Need, Plan, PlanUser, RoleTree, plan};
use crate::{Area, FolderId, ROOT_FOLDER, UserId};

/// Which pending needs to look at: per product and area, the oldest `seats` pending users
/// (of `folder` only, when it is set). Anyone after them would find the seats taken by those
/// before them, so a store asks for these users only, not for every pending one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quota {
    pub product: String,
    pub area: Area,
    pub folder: Option<FolderId>,
    pub seats: i64,
}

/// The users worth planning for free `available` seats: per product and area, as many of the
/// oldest pending users as there are free seats in total (root and folders), and per folder
/// with free seats, that many of the folder's oldest.
pub fn quotas(available: &Available) -> Vec<Quota> {
    let mut total: BTreeMap<(&str, Area), i64> = BTreeMap::new();
    let mut out = Vec::new();
    for (k, n) in available.iter().filter(|(_, n)| **n > 0) {
        *total.entry((k.product.as_str(), k.area)).or_insert(0) += n;
        if k.folder != ROOT_FOLDER {
            out.push(Quota {
                product: k.product.clone(),
                area: k.area,
                folder: Some(k.folder),
                seats: *n,
            });
        }
    }
    out.extend(total.into_iter().map(|((product, area), seats)| Quota {
        product: product.to_string(),
        area,
        folder: None,
        seats,
    }));
    out.sort();
    out
}

/// Plans the fulfilment of `pending` for `users` (with their `holdings`) from `available`.
///
/// The plan's grants are pending needs only; its `unmet` are the pending needs of `users`
/// that stay (as they were stored); a pending need that its user no longer wants (no role
/// asks for it, or it is held now) is in neither and is dropped. No recalls, no reason
/// changes. `available` is left with the seats that remain, so a store can plan its
/// candidates a chunk at a time.
pub fn fulfil(
    roles: &RoleTree,
    users: &[PlanUser],
    holdings: &[Holding],
    available: &mut Available,
    pending: &[Need],
) -> Plan {
    // Nothing is taken back here, so nothing a user holds may count as freed: the planner
    // sees every holding as kept by hand, which it never recalls with "keep".
    let kept: Vec<Holding> = holdings
        .iter()
        .map(|h| Holding {
            manual: true,
            ..h.clone()
        })
        .collect();
    let mut p = plan(roles, users, &kept, available, ManualGrants::Keep);
    let waiting: HashSet<(UserId, &str)> = pending
        .iter()
        .map(|n| (n.user, n.product.as_str()))
        .collect();
    p.grants
        .retain(|g| waiting.contains(&(g.user, g.pool.product.as_str())));
    let still: HashSet<(UserId, &str)> = p
        .unmet
        .iter()
        .map(|n| (n.user, n.product.as_str()))
        .collect();
    let in_scope: BTreeSet<UserId> = users.iter().map(|u| u.id).collect();
    let mut unmet: Vec<Need> = pending
        .iter()
        .filter(|n| in_scope.contains(&n.user) && still.contains(&(n.user, n.product.as_str())))
        .cloned()
        .collect();
    unmet.sort();
    unmet.dedup();
    for g in &p.grants {
        if let Some(n) = available.get_mut(&g.pool) {
            *n -= 1;
        }
    }
    Plan {
        grants: p.grants,
        unmet,
        ..Plan::default()
    }
}
