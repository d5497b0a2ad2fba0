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
