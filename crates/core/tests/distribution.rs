#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the redistribution planner (D2–D4): random role forests, memberships,
//! bindings, manual grants and capacities.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use seatkeeper_core::distribution::{
    Available, Holding, ManualGrants, Plan, PlanUser, RoleTree, plan,
};
use seatkeeper_core::{Area, FolderId, PoolKey, ROOT_FOLDER, SeatKind, UserId};

const PRODUCTS: [&str; 3] = ["crm", "mkt", "svc"];
const FOLDERS: [FolderId; 2] = [ROOT_FOLDER, FolderId(2)];

#[derive(Debug, Clone)]
struct World {
    parents: Vec<(i64, Option<i64>)>,
    bindings: Vec<(i64, String)>,
    users: Vec<PlanUser>,
    holdings: Vec<Holding>,
    capacity: BTreeMap<PoolKey, i64>,
}

impl World {
    fn tree(&self) -> RoleTree {
        RoleTree::new(self.parents.clone(), self.bindings.clone())
    }

    /// Seats a plan may use: capacity − active − suspended, per pool.
    fn available(&self) -> Available {
        let mut a: Available = self.capacity.clone();
        for h in &self.holdings {
            *a.entry(h.pool.clone()).or_insert(0) -= 1;
        }
        a
    }

    fn active_used(&self, pool: &PoolKey) -> i64 {
        self.holdings
            .iter()
            .filter(|h| &h.pool == pool && !h.suspended)
            .count() as i64
    }

    fn wanted(&self, tree: &RoleTree, u: &PlanUser) -> BTreeSet<String> {
        tree.wanted(&u.roles)
            .into_iter()
            .filter(|p| {
                self.capacity
                    .keys()
                    .any(|k| &k.product == p && k.area == u.area)
            })
            .collect()
    }

    /// Applies a plan the way the store does.
    fn apply(&self, p: &Plan) -> World {
        let mut next = self.clone();
        for r in &p.recalls {
            let i = next
                .holdings
                .iter()
                .position(|h| h.user == r.user && h.pool == r.pool)
                .unwrap();
            if r.releasing {
                next.holdings[i].releasing = true;
            } else {
                next.holdings.remove(i);
            }
        }
        for (user, product) in &p.add_role_reason {
            let h = next
                .holdings
                .iter_mut()
                .find(|h| h.user == *user && &h.pool.product == product)
                .unwrap();
            h.by_role = true;
            h.releasing = false;
        }
        for (user, product) in &p.drop_role_reason {
            let h = next
                .holdings
                .iter_mut()
                .find(|h| h.user == *user && &h.pool.product == product)
                .unwrap();
            h.by_role = false;
        }
        for g in &p.grants {
            next.holdings.push(Holding {
                user: g.user,
                pool: g.pool.clone(),
                manual: false,
                by_role: true,
                suspended: false,
                releasing: false,
            });
        }
        next
    }
}

fn pool(product: &str, folder: FolderId) -> PoolKey {
    PoolKey {
        product: product.to_string(),
        area: Area::Employee,
        kind: SeatKind::Named,
        folder,
    }
}

fn world() -> impl Strategy<Value = World> {
    (1usize..10, 1usize..12).prop_flat_map(|(roles, users)| {
        (
            proptest::collection::vec(any::<prop::sample::Index>(), roles),
            proptest::collection::vec((0..roles, 0..PRODUCTS.len()), 0..8),
            proptest::collection::vec(
                (
                    any::<bool>(),
                    0..2usize,
                    proptest::collection::vec(0..roles, 0..3),
                    prop::bool::weighted(0.85),
                    prop::bool::weighted(0.2),
                ),
                users,
            ),
            proptest::collection::vec(
                (
                    0..users,
                    0..PRODUCTS.len(),
                    0..2usize,
                    any::<bool>(),
                    any::<bool>(),
                    prop::bool::weighted(0.15),
                ),
                0..10,
            ),
            proptest::collection::vec((0..3i64, 0..3i64), PRODUCTS.len() * FOLDERS.len()),
        )
            .prop_map(
                move |(parent_picks, bindings, user_specs, holding_specs, caps)| {
                    // A forest: each role's parent is an earlier role or none.
                    let parents: Vec<(i64, Option<i64>)> = parent_picks
                        .iter()
                        .enumerate()
                        .map(|(i, pick)| {
                            let id = i as i64 + 1;
                            let parent = if i == 0 || pick.index(3) == 0 {
                                None
                            } else {
                                Some(pick.index(i) as i64 + 1)
                            };
                            (id, parent)
                        })
                        .collect();
                    let bindings = bindings
                        .into_iter()
                        .map(|(r, p)| (r as i64 + 1, PRODUCTS[p].to_string()))
                        .collect();
                    let users: Vec<PlanUser> = user_specs
                        .into_iter()
                        .enumerate()
                        .map(|(i, (portal, folder, roles, active, logged_in))| PlanUser {
                            id: UserId(i as i64 + 10),
                            area: if portal && i % 3 == 0 {
                                Area::Portal
                            } else {
                                Area::Employee
                            },
                            folder: FOLDERS[folder],
                            active,
                            roles: roles.into_iter().map(|r| r as i64 + 1).collect(),
                            logged_in,
                        })
                        .collect();
                    // Holdings: at most one per user and product, only for active users,
                    // only in an employee pool the user can use; capacity covers the active
                    // ones (the database CHECK), plus some spare seats.
                    let mut holdings: Vec<Holding> = Vec::new();
                    for (u, p, f, manual, by_role, suspended) in holding_specs {
                        let user = &users[u];
                        if !user.active || user.area != Area::Employee {
                            continue;
                        }
                        let folder = if f == 1 { user.folder } else { ROOT_FOLDER };
                        if holdings
                            .iter()
                            .any(|h| h.user == user.id && h.pool.product == PRODUCTS[p])
                        {
                            continue;
                        }
                        holdings.push(Holding {
                            user: user.id,
                            pool: pool(PRODUCTS[p], folder),
                            manual: manual || !by_role,
                            by_role,
                            suspended,
                            releasing: false,
                        });
                    }
                    let mut capacity = BTreeMap::new();
                    let mut i = 0;
                    for p in PRODUCTS {
                        for f in FOLDERS {
                            let k = pool(p, f);
                            let active = holdings
                                .iter()
                                .filter(|h| h.pool == k && !h.suspended)
                                .count() as i64;
                            capacity.insert(k, active + caps[i].0);
                            i += 1;
                        }
                    }
                    World {
                        parents,
                        bindings,
                        users,
                        holdings,
                        capacity,
                    }
                },
            )
    })
}

fn option() -> impl Strategy<Value = ManualGrants> {
    prop_oneof![Just(ManualGrants::Keep), Just(ManualGrants::Remove)]
}

fn run(w: &World, m: ManualGrants) -> Plan {
    plan(&w.tree(), &w.users, &w.holdings, &w.available(), m)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// D4: no pool ends with more active seats than capacity, and suspended holders are
    /// served before new demands.
    #[test]
    fn d4_capacity_is_never_exceeded(w in world(), m in option()) {
        let p = run(&w, m);
        let after = w.apply(&p);
        for (k, cap) in &w.capacity {
            prop_assert!(after.active_used(k) <= *cap, "pool {k:?} over capacity");
            let before_free = w.available().get(k).copied().unwrap_or(0);
            let freed = p.recalls.iter().filter(|r| &r.pool == k && !r.releasing).count() as i64;
            let granted = p.grants.iter().filter(|g| &g.pool == k).count() as i64;
            prop_assert!(granted <= (before_free + freed).max(0));
        }
    }

    /// D4: applying a plan and planning again changes nothing; the unmet needs stay.
    #[test]
    fn d4_second_apply_is_a_noop(w in world(), m in option()) {
        let first = run(&w, m);
        let after = w.apply(&first);
        let second = run(&after, m);
        prop_assert!(second.is_noop(), "second plan {second:?}");
        prop_assert_eq!(second.unmet, first.unmet);
    }

    /// D4: a recall only ever removes a seat its user no longer wants, so a holder never loses
    /// a seat to someone else; blocked users are left alone.
    #[test]
    fn d4_holders_never_lose_a_seat_to_others(w in world(), m in option()) {
        let tree = w.tree();
        let p = run(&w, m);
        for r in &p.recalls {
            let u = w.users.iter().find(|u| u.id == r.user).unwrap();
            prop_assert!(u.active);
            prop_assert!(!w.wanted(&tree, u).contains(&r.pool.product));
        }
        for g in &p.grants {
            let u = w.users.iter().find(|u| u.id == g.user).unwrap();
            prop_assert!(u.active);
            prop_assert!(w.wanted(&tree, u).contains(&g.pool.product));
            prop_assert!(g.pool.folder == ROOT_FOLDER || g.pool.folder == u.folder);
        }
        // An unmet need means nothing usable was left for it.
        let left = {
            let mut a = w.available();
            for r in p.recalls.iter().filter(|r| !r.releasing) {
                *a.get_mut(&r.pool).unwrap() += 1;
            }
            for g in &p.grants {
                *a.get_mut(&g.pool).unwrap() -= 1;
            }
            a
        };
        for n in &p.unmet {
            let u = w.users.iter().find(|u| u.id == n.user).unwrap();
            for f in [u.folder, ROOT_FOLDER] {
                prop_assert!(left.get(&pool(&n.product, f)).copied().unwrap_or(0) <= 0);
            }
        }
    }

    /// D3: with "keep", no manually granted license is recalled.
    #[test]
    fn d3_keep_never_recalls_a_manual_grant(w in world()) {
        let p = run(&w, ManualGrants::Keep);
        for r in &p.recalls {
            let h = w.holdings.iter().find(|h| h.user == r.user && h.pool == r.pool).unwrap();
            prop_assert!(!h.manual, "manual grant recalled: {r:?}");
        }
    }

    /// D4: the plan does not depend on the order in which facts are listed.
    #[test]
    fn d4_plan_is_independent_of_input_order(w in world(), m in option(), seed in any::<u64>()) {
        let p = run(&w, m);
        let mut shuffled = w.clone();
        let key = |i: usize| (i as u64).wrapping_mul(seed | 1).rotate_left(17) ^ seed;
        let mut order: Vec<usize> = (0..shuffled.users.len()).collect();
        order.sort_by_key(|i| key(*i));
        shuffled.users = order.iter().map(|i| w.users[*i].clone()).collect();
        for u in &mut shuffled.users {
            u.roles.reverse();
        }
        shuffled.holdings.reverse();
        shuffled.parents.reverse();
        shuffled.bindings.reverse();
        prop_assert_eq!(run(&shuffled, m), p);
    }
}

// ---- Fulfilment of pending needs (seatkeeper_core::fulfilment) ----

use seatkeeper_core::distribution::{Need, NeedReason};
use seatkeeper_core::fulfilment::{fulfil, quotas};

/// Pending needs: the (user, product) pairs whose bit is set, in the user's area.
fn pending_of(w: &World, bits: &[bool]) -> Vec<Need> {
    let mut out = Vec::new();
    for (i, u) in w.users.iter().enumerate() {
        for (j, p) in PRODUCTS.iter().enumerate() {
            if bits.get(i * PRODUCTS.len() + j).copied().unwrap_or(false) {
                out.push(Need {
                    user: u.id,
                    product: p.to_string(),
                    area: u.area,
                    reason: NeedReason::NoSeatFree,
                });
            }
        }
    }
    out
}

fn pending_bits() -> impl Strategy<Value = Vec<bool>> {
    proptest::collection::vec(prop::bool::weighted(0.4), 12 * PRODUCTS.len())
}

/// The users of `pending` that the store would load for `available`: per quota, the oldest
/// pending users (as its SQL does with ORDER BY user_id LIMIT seats).
fn candidates(w: &World, pending: &[Need], available: &Available) -> Vec<PlanUser> {
    let mut ids = BTreeSet::new();
    for q in quotas(available) {
        let mut users: Vec<UserId> = pending
            .iter()
            .filter(|n| n.product == q.product && n.area == q.area)
            .filter(|n| {
                q.folder
                    .is_none_or(|f| w.users.iter().any(|u| u.id == n.user && u.folder == f))
            })
            .map(|n| n.user)
            .collect();
        users.sort();
        users.dedup();
        ids.extend(users.into_iter().take(q.seats as usize));
    }
    w.users
        .iter()
        .filter(|u| ids.contains(&u.id))
        .cloned()
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// D4: a fulfilment grants pending needs only, from free seats only, takes nothing back,
    /// and leaves `available` with what remains.
    #[test]
    fn d4_fulfilment_grants_pending_needs_from_free_seats(w in world(), bits in pending_bits()) {
        let pending = pending_of(&w, &bits);
        let before = w.available();
        let mut left = before.clone();
        let p = fulfil(&w.tree(), &w.users, &w.holdings, &mut left, &pending);
        prop_assert!(p.recalls.is_empty() && p.add_role_reason.is_empty() && p.drop_role_reason.is_empty());
        for g in &p.grants {
            prop_assert!(pending.iter().any(|n| n.user == g.user && n.product == g.pool.product));
            let u = w.users.iter().find(|u| u.id == g.user).unwrap();
            prop_assert!(u.active);
            prop_assert!(g.pool.folder == ROOT_FOLDER || g.pool.folder == u.folder);
        }
        for (k, free) in &before {
            let granted = p.grants.iter().filter(|g| &g.pool == k).count() as i64;
            prop_assert!(granted <= (*free).max(0), "pool {k:?}: {granted} granted, {free} free");
            prop_assert_eq!(left.get(k).copied(), Some(free - granted));
        }
        // Applied, no pool is over capacity.
        let after = w.apply(&p);
        for (k, cap) in &w.capacity {
            prop_assert!(after.active_used(k) <= *cap, "pool {k:?} over capacity");
        }
    }

    /// D4: every pending need ends granted, still pending, or dropped because its user no
    /// longer wants it; what stays pending is what was stored.
    #[test]
    fn d4_fulfilment_keeps_or_drops_each_need_for_a_reason(w in world(), bits in pending_bits()) {
        let pending = pending_of(&w, &bits);
        let tree = w.tree();
        let p = fulfil(&tree, &w.users, &w.holdings, &mut w.available(), &pending);
        for n in &p.unmet {
            prop_assert!(pending.contains(n));
        }
        for n in &pending {
            let granted = p.grants.iter().any(|g| g.user == n.user && g.pool.product == n.product);
            let kept = p.unmet.contains(n);
            prop_assert!(!(granted && kept));
            if !granted && !kept {
                let u = w.users.iter().find(|u| u.id == n.user).unwrap();
                let holds = w.holdings.iter().any(|h| h.user == n.user && h.pool.product == n.product);
                prop_assert!(!u.active || holds || !w.wanted(&tree, u).contains(&n.product),
                    "need {n:?} dropped but still wanted");
            }
        }
    }

    /// D4: oldest account first: no need stays pending while a younger user of the same
    /// folder (or anyone, for the root's seats) gets that product.
    #[test]
    fn d4_fulfilment_serves_the_oldest_account_first(w in world(), bits in pending_bits()) {
        let pending = pending_of(&w, &bits);
        let p = fulfil(&w.tree(), &w.users, &w.holdings, &mut w.available(), &pending);
        for n in &p.unmet {
            let u = w.users.iter().find(|u| u.id == n.user).unwrap();
            for g in p.grants.iter().filter(|g| g.pool.product == n.product && g.pool.area == n.area) {
                if g.pool.folder == ROOT_FOLDER || g.pool.folder == u.folder {
                    prop_assert!(g.user < n.user, "{g:?} served before the older {n:?}");
                }
            }
        }
    }

    /// D4: when every pending need is still wanted (as a run leaves them), planning only the
    /// users that `quotas` names grants what planning every pending user would. (A stale
    /// need — its user blocked, or no role asks any more — may hold a place until a
    /// fulfilment or run drops it; the younger user is served at the next one.)
    #[test]
    fn d4_fulfilment_quotas_name_every_user_that_gets_a_seat(w in world(), bits in pending_bits()) {
        let tree = w.tree();
        let pending: Vec<Need> = pending_of(&w, &bits).into_iter().filter(|n| {
            let u = w.users.iter().find(|u| u.id == n.user).unwrap();
            u.active
                && w.wanted(&tree, u).contains(&n.product)
                && !w.holdings.iter().any(|h| h.user == n.user && h.pool.product == n.product)
        }).collect();
        let all: Vec<PlanUser> = w.users.iter()
            .filter(|u| pending.iter().any(|n| n.user == u.id)).cloned().collect();
        let everyone = fulfil(&tree, &all, &w.holdings, &mut w.available(), &pending);
        let few = candidates(&w, &pending, &w.available());
        let some = fulfil(&tree, &few, &w.holdings, &mut w.available(), &pending);
        // The seat may come from another pool (a non-pending want of an older user took
        // the folder's seat in the larger plan), but the same user gets the product.
        for g in &everyone.grants {
            prop_assert!(
                some.grants.iter().any(|s| s.user == g.user && s.pool.product == g.pool.product),
                "{g:?} lost by planning only {few:?}"
            );
        }
    }

    /// D4: the fulfilment does not depend on the order in which facts are listed.
    #[test]
    fn d4_fulfilment_is_independent_of_input_order(w in world(), bits in pending_bits()) {
        let mut pending = pending_of(&w, &bits);
        let p = fulfil(&w.tree(), &w.users, &w.holdings, &mut w.available(), &pending);
        let mut users = w.users.clone();
        users.reverse();
        let mut holdings = w.holdings.clone();
        holdings.reverse();
        pending.reverse();
        prop_assert_eq!(fulfil(&w.tree(), &users, &holdings, &mut w.available(), &pending), p);
    }
}
