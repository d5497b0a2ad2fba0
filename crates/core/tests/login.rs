#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the login decision (S1–S4, L4, L5): random users, assignments, pools,
//! area limits and batches of logins, checked against the rules as SPEC.md states them.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use seatkeeper_core::login::{
    AreaUsers, HeldAssignment, LoginAttempt, LoginDecision, LoginFacts, PoolSeats, ProductFacts,
    Refusal, SeatUse, UserFacts, allocation_order, decide, needs_area_rank, needs_seat,
};
use seatkeeper_core::{Area, FolderId, PoolKey, ROOT_FOLDER, SeatKind, UserId, UserState};

/// Two all-modules products and one module product.
const PRODUCTS: [(&str, bool); 3] = [("all", true), ("alt", true), ("mod", false)];
const FOLDERS: [FolderId; 3] = [ROOT_FOLDER, FolderId(2), FolderId(3)];
const AREAS: [Area; 2] = [Area::Employee, Area::Portal];
const KINDS: [SeatKind; 2] = [SeatKind::Concurrent, SeatKind::Named];

fn held_strategy() -> impl Strategy<Value = HeldAssignment> {
    (
        0..3usize,
        0..3usize,
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(p, f, suspended, releasing)| HeldAssignment {
            product: PRODUCTS[p].0.into(),
            folder: FOLDERS[f],
            suspended,
            releasing,
        })
}

#[allow(clippy::type_complexity)]
fn user_strategy() -> impl Strategy<Value = (usize, usize, bool, bool, bool, Vec<HeldAssignment>)> {
    (
        0..2usize,
        0..3usize,
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.2),
        prop::collection::vec(held_strategy(), 0..3),
    )
}

fn pool_strategy() -> impl Strategy<Value = (PoolKey, PoolSeats)> {
    (0..3usize, 0..2usize, 0..2usize, 0..3usize, 1..4u64, 0..4u64).prop_map(
        |(p, a, k, f, capacity, free)| {
            (
                PoolKey {
                    product: PRODUCTS[p].0.into(),
                    area: AREAS[a],
                    kind: KINDS[k],
                    folder: FOLDERS[f],
                },
                PoolSeats {
                    capacity,
                    free: free.min(capacity),
                },
            )
        },
    )
}

#[derive(Debug, Clone)]
struct World {
    facts: LoginFacts,
    attempts: Vec<LoginAttempt>,
}

fn world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec(user_strategy(), 0..7),
        prop::collection::btree_map(pool_strategy().prop_map(|(k, _)| k), Just(()), 0..10),
        prop::collection::vec(pool_strategy().prop_map(|(_, s)| s), 10),
        prop::collection::vec((0..8u64, prop::option::of(0..6u64)), 2),
        prop::bool::weighted(0.85),
        prop::collection::vec(0..3usize, 0..2),
        prop::collection::vec((0..9usize, prop::bool::ANY), 0..12),
    )
        .prop_map(
            |(users, pool_keys, pool_seats, areas, loaded, expired, asks)| {
                let mut facts = LoginFacts {
                    licenses_loaded: loaded,
                    products: PRODUCTS
                        .iter()
                        .map(|(code, all)| {
                            (
                                code.to_string(),
                                ProductFacts {
                                    name: code.to_uppercase(),
                                    features: vec![format!("{code}-feature")],
                                    all_modules: *all,
                                },
                            )
                        })
                        .collect(),
                    pools: pool_keys.into_keys().zip(pool_seats).collect(),
                    areas: AREAS
                        .iter()
                        .zip(areas)
                        .map(|(a, (active, limit))| (*a, AreaUsers { active, limit }))
                        .collect(),
                    expired_products: expired.iter().map(|p| PRODUCTS[*p].0.into()).collect(),
                    folder_paths: FOLDERS.iter().map(|f| (*f, format!("F{}", f.0))).collect(),
                    ..LoginFacts::default()
                };
                let mut ranks: BTreeMap<Area, u64> = BTreeMap::new();
                for (i, (area, folder, blocked, builtin, manager, held)) in
                    users.into_iter().enumerate()
                {
                    let area = AREAS[area];
                    let rank = ranks.entry(area).or_insert(0);
                    let u = UserFacts {
                        id: UserId(i as i64 + 1),
                        login: format!("User{i}"),
                        name: format!("user {i}"),
                        area,
                        folder: FOLDERS[folder],
                        state: if blocked {
                            UserState::Blocked
                        } else {
                            UserState::Active
                        },
                        builtin,
                        manages_licenses: manager,
                        area_rank: Some(*rank),
                        held,
                    };
                    *rank += 1;
                    facts.users.insert(u.login.to_ascii_lowercase(), u);
                }
                let attempts = asks
                    .into_iter()
                    .enumerate()
                    .map(|(n, (i, upper))| {
                        // Indexes past the users ask for someone unknown.
                        let login = format!("User{i}");
                        LoginAttempt {
                            login: if upper { login.to_uppercase() } else { login },
                            session_id: format!("session-{n}"),
                        }
                    })
                    .collect();
                World { facts, attempts }
            },
        )
}

fn is_all_modules(facts: &LoginFacts, product: &str) -> bool {
    facts.products.get(product).is_some_and(|p| p.all_modules)
}

fn over_limit(facts: &LoginFacts, area: Area) -> Option<u64> {
    facts
        .areas
        .get(&area)
        .and_then(|a| a.limit.filter(|l| a.active > *l))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// S3, S2: a batch never takes more seats of a pool than are free, floating holds come
    /// from concurrent pools and named grants from named ones, and every seat taken is an
    /// all-modules seat of the user's area, in the user's folder or the root (module seats are
    /// never auto-assigned).
    #[test]
    fn s3_seats_taken_never_exceed_free_seats_and_are_all_modules(w in world()) {
        let decisions = decide(&w.facts, &w.attempts);
        prop_assert_eq!(decisions.len(), w.attempts.len());
        let mut taken: BTreeMap<PoolKey, u64> = BTreeMap::new();
        for (attempt, d) in w.attempts.iter().zip(&decisions) {
            let LoginDecision::Admitted(a) = d else { continue };
            let user = &w.facts.users[&attempt.login.to_ascii_lowercase()];
            prop_assert!(a.hold.is_none() || a.grant.is_none());
            if let Some(k) = &a.hold {
                prop_assert_eq!(k.kind, SeatKind::Concurrent);
            }
            if let Some(k) = &a.grant {
                prop_assert_eq!(k.kind, SeatKind::Named);
            }
            for k in a.hold.iter().chain(&a.grant) {
                prop_assert!(is_all_modules(&w.facts, &k.product));
                prop_assert_eq!(k.area, user.area);
                prop_assert!(k.folder == user.folder || k.folder == ROOT_FOLDER);
                *taken.entry(k.clone()).or_insert(0) += 1;
                prop_assert!(!user.builtin);
            }
        }
        for (k, n) in taken {
            prop_assert!(n <= w.facts.pools.get(&k).map_or(0, |p| p.free), "pool {:?}", k);
        }
    }

    /// S2: auto-allocation takes the first step of the order (floating in the folder, in the
    /// root, dedicated in the folder, in the root) that has a free seat the user may take when
    /// the login is decided; a user refused for want of a license had none free anywhere.
    #[test]
    fn s2_auto_allocation_takes_the_earliest_step_with_a_free_seat(w in world()) {
        let decisions = decide(&w.facts, &w.attempts);
        let mut free: BTreeMap<PoolKey, u64> =
            w.facts.pools.iter().map(|(k, p)| (k.clone(), p.free)).collect();
        let mut granted: BTreeMap<UserId, BTreeSet<String>> = BTreeMap::new();
        for (attempt, d) in w.attempts.iter().zip(&decisions) {
            let Some(user) = w.facts.users.get(&attempt.login.to_ascii_lowercase()) else {
                continue;
            };
            let mut rows: BTreeSet<String> = user.held.iter().map(|h| h.product.clone()).collect();
            rows.extend(granted.get(&user.id).cloned().unwrap_or_default());
            let order = allocation_order(user.folder);
            // The first step with a seat this user may take, now.
            let first_free = order.iter().position(|(kind, folder)| {
                free.iter().any(|(k, n)| {
                    *n > 0
                        && k.area == user.area
                        && k.kind == *kind
                        && k.folder == *folder
                        && is_all_modules(&w.facts, &k.product)
                        && (k.kind == SeatKind::Concurrent || !rows.contains(&k.product))
                })
            });
            match d {
                LoginDecision::Admitted(a) => {
                    if let Some(k) = a.hold.as_ref().or(a.grant.as_ref()) {
                        let step = order.iter().position(|s| *s == (k.kind, k.folder));
                        prop_assert_eq!(step, first_free);
                        *free.get_mut(k).unwrap() -= 1;
                        if let Some(g) = &a.grant {
                            granted.entry(user.id).or_default().insert(g.product.clone());
                        }
                    } else {
                        // A license manager beyond the area's limit gets in with nothing.
                        let seats_skipped = a.answer.license_manager && a.answer.products.is_empty();
                        let needed = !user.builtin && !a.answer.all_modules;
                        if needed && !seats_skipped {
                            // Needed a seat and took none: there was none to take.
                            prop_assert_eq!(first_free, None);
                        }
                    }
                }
                LoginDecision::Refused(r) => {
                    if matches!(r.reason, Refusal::NoLicense | Refusal::LicensesExpired) {
                        prop_assert_eq!(first_free, None);
                    }
                }
            }
        }
    }

    /// S1: unknown users are refused under the login as typed; blocked users are never
    /// admitted; an admitted user's answer names the user as stored, with the attempt's session.
    #[test]
    fn s1_unknown_and_blocked_users_are_never_admitted(w in world()) {
        for (attempt, d) in w.attempts.iter().zip(decide(&w.facts, &w.attempts)) {
            match w.facts.users.get(&attempt.login.to_ascii_lowercase()) {
                None => {
                    let LoginDecision::Refused(r) = d else {
                        return Err(TestCaseError::fail("an unknown user was admitted"));
                    };
                    prop_assert_eq!(r.reason, Refusal::UnknownUser);
                    prop_assert_eq!(&r.login, &attempt.login);
                }
                Some(u) if u.state == UserState::Blocked => {
                    let LoginDecision::Refused(r) = d else {
                        return Err(TestCaseError::fail("a blocked user was admitted"));
                    };
                    prop_assert_eq!(r.reason, Refusal::Blocked);
                }
                Some(u) => {
                    if let LoginDecision::Admitted(a) = d {
                        prop_assert_eq!(&a.answer.login, &u.login);
                        prop_assert_eq!(&a.answer.session_id, &attempt.session_id);
                        prop_assert_eq!(a.user, u.id);
                        // Only license managers get in with nothing to use.
                        prop_assert!(!a.answer.products.is_empty() || a.answer.license_manager);
                    }
                }
            }
        }
    }

    /// L4, S4: a refusal says "licenses expired" exactly when the user has a suspended seat;
    /// suspended and releasing seats are never in an answer; with no license loaded (L5) only
    /// the built-in administrator manages licenses.
    #[test]
    fn l4_l5_expired_and_unloaded_licenses(w in world()) {
        let mut granted: BTreeMap<UserId, BTreeSet<String>> = BTreeMap::new();
        for (attempt, d) in w.attempts.iter().zip(decide(&w.facts, &w.attempts)) {
            let Some(u) = w.facts.users.get(&attempt.login.to_ascii_lowercase()) else { continue };
            let mut usable: BTreeSet<String> = u
                .held
                .iter()
                .filter(|h| !h.suspended && !h.releasing)
                .map(|h| h.product.clone())
                .collect();
            usable.extend(granted.get(&u.id).cloned().unwrap_or_default());
            match d {
                LoginDecision::Refused(r) => match r.reason {
                    Refusal::LicensesExpired => prop_assert!(u.held.iter().any(|h| h.suspended)),
                    Refusal::NoLicense => prop_assert!(!u.held.iter().any(|h| h.suspended)),
                    _ => {}
                },
                LoginDecision::Admitted(a) => {
                    if let Some(g) = &a.grant {
                        usable.insert(g.product.clone());
                        granted.entry(u.id).or_default().insert(g.product.clone());
                    }
                    for p in &a.answer.products {
                        match p.seat {
                            SeatUse::Dedicated => prop_assert!(usable.contains(&p.product)),
                            SeatUse::Floating => prop_assert_eq!(
                                a.hold.as_ref().map(|h| &h.product),
                                Some(&p.product)
                            ),
                        }
                    }
                    if !w.facts.licenses_loaded && a.answer.license_manager {
                        prop_assert!(u.builtin);
                    }
                    prop_assert_eq!(a.answer.licenses_loaded, w.facts.licenses_loaded || !a.answer.license_manager);
                    prop_assert_eq!(a.answer.licenses_expired, a.answer.license_manager && !w.facts.expired_products.is_empty());
                }
            }
        }
    }

    /// X13 (area limits): in an area over its limit, a user beyond the limit is refused, or —
    /// a license manager — admitted with nothing; answers from such an area are never
    /// remembered, and a remembered answer took no named seat and either the user's own
    /// all-modules seat or a floating seat of the pool it names.
    #[test]
    fn x13_area_limits_and_what_may_be_remembered(w in world()) {
        for (attempt, d) in w.attempts.iter().zip(decide(&w.facts, &w.attempts)) {
            let Some(u) = w.facts.users.get(&attempt.login.to_ascii_lowercase()) else { continue };
            let beyond = !u.builtin
                && over_limit(&w.facts, u.area).is_some_and(|l| u.area_rank.unwrap_or(u64::MAX) >= l);
            if u.state == UserState::Active && !u.builtin {
                prop_assert_eq!(needs_area_rank(u, &w.facts.areas), over_limit(&w.facts, u.area).is_some());
            }
            match d {
                LoginDecision::Refused(r) => {
                    prop_assert_eq!(r.reason == Refusal::AreaLimit, beyond && u.state == UserState::Active);
                }
                LoginDecision::Admitted(a) => {
                    if beyond {
                        prop_assert!(a.answer.license_manager);
                        prop_assert!(a.answer.products.is_empty() && a.hold.is_none() && a.grant.is_none());
                    }
                    if let Some(r) = &a.repeatable {
                        prop_assert!(over_limit(&w.facts, u.area).is_none());
                        prop_assert!(a.grant.is_none());
                        prop_assert_eq!(&r.floating, &a.hold);
                        if r.floating.is_none() {
                            prop_assert!(a.answer.products.iter().any(|p| p.all_modules && p.seat == SeatUse::Dedicated));
                        }
                    }
                    if a.hold.is_some() || a.grant.is_some() {
                        prop_assert!(needs_seat(u, &w.facts.products));
                    }
                }
            }
        }
    }
}
