#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the domain core's seat rules (L3, L4, U3, D1, X1).
//!
//! The store applies `capacity::pools_at`, `seats::reconcile_pool` and
//! `seats::place_named_seats` inside database transactions. Here a small in-memory ledger
//! applies the same rules the same way, so random sequences of operations can check the
//! invariants that the store relies on without a database.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngSeed;
use seatkeeper_core::capacity::{self, Placements};
use seatkeeper_core::seats::{Held, SeatDemand, place_named_seats, reconcile_pool};
use seatkeeper_core::{
    Area, AssignmentStatus, Error, FolderId, Package, PoolKey, ROOT_FOLDER, SeatKind, UserId,
    UserState,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const PRODUCTS: [&str; 2] = ["crm", "mkt"];
/// The one folder besides the root; enough to exercise "own folder first, then the root".
const FOLDER: FolderId = FolderId(2);
/// Few users, so that grants compete for seats and pools run full.
const USERS: usize = 8;

// ---------------------------------------------------------------------------------------
// The model ledger
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
struct User {
    area: Area,
    folder: FolderId,
    state: UserState,
}

#[derive(Debug, Clone, PartialEq)]
struct Assignment {
    id: i64,
    user: i64,
    pool: PoolKey,
    granted_at: i64,
    status: AssignmentStatus,
}

impl Assignment {
    fn held(&self) -> Held {
        Held {
            granted_at: self.granted_at,
            id: self.id,
        }
    }
}

/// What an import op asks for; turned into a `Package` relative to the ledger's clock.
#[derive(Debug, Clone)]
struct PkgSpec {
    product: usize,
    area: Area,
    seats: u32,
    /// Days from the ledger's `now` (negative: already started).
    from_days: i64,
    /// Length of the window in days; `None` is perpetual.
    lasts_days: Option<i64>,
    /// Seats placed in `FOLDER` (ignored for renewals, which inherit placements like the store does).
    in_folder: u32,
    /// Picks an earlier package of the same product/area/kind to replace, if there is one.
    replaces: Option<Index>,
}

#[derive(Debug, Clone)]
enum Op {
    Import(PkgSpec),
    Advance(i64),
    /// One grant of one product to several users (user indices, may repeat).
    Grant(Vec<usize>, usize),
    Recall(usize, usize),
    Block(usize),
    Unblock(usize),
    Delete(usize),
}

#[derive(Debug, Clone, PartialEq)]
struct Ledger {
    now: OffsetDateTime,
    packages: Vec<Package>,
    placements: Placements,
    users: BTreeMap<i64, User>,
    assignments: Vec<Assignment>,
    next_id: i64,
}

/// What one grant saw and decided, for the D1 checks.
#[derive(Debug)]
struct GrantTrace {
    before: Ledger,
    demands: Vec<SeatDemand>,
    free: BTreeMap<PoolKey, u64>,
    result: Result<Vec<PoolKey>, Error>,
}

#[derive(Debug, Default)]
struct Reconciled {
    suspended: Vec<i64>,
    restored: Vec<i64>,
}

#[derive(Debug)]
struct Step {
    grant: Option<GrantTrace>,
    reconciled: Reconciled,
}

fn uid(index: usize) -> i64 {
    index as i64 + 1
}

impl Ledger {
    fn new(users: &[(Area, bool)]) -> Self {
        let users = users
            .iter()
            .enumerate()
            .map(|(i, (area, in_folder))| {
                let folder = if *in_folder { FOLDER } else { ROOT_FOLDER };
                (
                    uid(i),
                    User {
                        area: *area,
                        folder,
                        state: UserState::Active,
                    },
                )
            })
            .collect();
        Ledger {
            now: T0,
            packages: Vec::new(),
            placements: Placements::new(),
            users,
            assignments: Vec::new(),
            next_id: 1,
        }
    }

    fn capacity(&self) -> BTreeMap<PoolKey, u64> {
        capacity::pools_at(&self.packages, &self.placements, self.now).pools
    }

    fn in_pool(&self, pool: &PoolKey, status: AssignmentStatus) -> Vec<&Assignment> {
        self.assignments
            .iter()
            .filter(|a| &a.pool == pool && a.status == status)
            .collect()
    }

    /// Every pool that has seats or holders; a pool that lost all its packages has capacity 0.
    fn pools(&self) -> BTreeMap<PoolKey, u64> {
        let mut pools = self.capacity();
        for a in &self.assignments {
            pools.entry(a.pool.clone()).or_insert(0);
        }
        pools
    }

    fn apply(&mut self, op: &Op) -> Step {
        let mut grant = None;
        match op {
            Op::Import(spec) => self.import(spec),
            Op::Advance(days) => self.now += Duration::days(*days),
            Op::Grant(users, product) => grant = Some(self.grant(users, PRODUCTS[*product])),
            Op::Recall(u, product) => self
                .assignments
                .retain(|a| !(a.user == uid(*u) && a.pool.product == PRODUCTS[*product])),
            Op::Block(u) => {
                if let Some(user) = self.users.get_mut(&uid(*u)) {
                    user.state = UserState::Blocked;
                    self.assignments.retain(|a| a.user != uid(*u));
                }
            }
            Op::Unblock(u) => {
                if let Some(user) = self.users.get_mut(&uid(*u)) {
                    user.state = UserState::Active;
                }
            }
            Op::Delete(u) => {
                self.users.remove(&uid(*u));
                self.assignments.retain(|a| a.user != uid(*u));
            }
        }
        // The store reconciles after every write (and before reads once something is due).
        let reconciled = self.reconcile();
        Step { grant, reconciled }
    }

    fn import(&mut self, spec: &PkgSpec) {
        let serial = format!("S{}", self.packages.len() + 1);
        let product = PRODUCTS[spec.product];
        let valid_from = self.now + Duration::days(spec.from_days);
        let expires = spec.lasts_days.map(|d| valid_from + Duration::days(d));
        let same: Vec<&Package> = self
            .packages
            .iter()
            .filter(|p| p.product == product && p.area == spec.area && p.kind == SeatKind::Named)
            .collect();
        let replaces: Vec<String> = match spec.replaces {
            Some(i) if !same.is_empty() => vec![same[i.index(same.len())].serial.clone()],
            _ => Vec::new(),
        };
        // Like the store: a renewal takes over the placement of what it replaces.
        let placement = if replaces.is_empty() {
            if spec.in_folder > 0 {
                BTreeMap::from([(FOLDER, spec.in_folder.min(spec.seats))])
            } else {
                BTreeMap::new()
            }
        } else {
            let old: Vec<_> = replaces
                .iter()
                .filter_map(|r| self.placements.get(r))
                .collect();
            capacity::inherited_placements(spec.seats, &old)
        };
        if !placement.is_empty() {
            self.placements.insert(serial.clone(), placement);
        }
        self.packages.push(Package {
            serial,
            product: product.into(),
            kind: SeatKind::Named,
            area: spec.area,
            seats: spec.seats,
            valid_from,
            expires,
            replaces,
        });
    }

    /// Free named seats per pool, as the store computes them: capacity minus active holders,
    /// pools with capacity only.
    fn free(&self) -> BTreeMap<PoolKey, u64> {
        self.capacity()
            .into_iter()
            .filter(|(k, c)| k.kind == SeatKind::Named && *c > 0)
            .map(|(k, c)| {
                let used = self.in_pool(&k, AssignmentStatus::Active).len() as u64;
                (k, c.saturating_sub(used))
            })
            .collect()
    }

    fn grant(&mut self, picks: &[usize], product: &str) -> GrantTrace {
        let before = self.clone();
        let free = self.free();
        let mut demands = Vec::new();
        let picked: BTreeSet<i64> = picks.iter().map(|u| uid(*u)).collect();
        let mut refusal = None;
        for id in &picked {
            match self.users.get(id) {
                None => refusal = refusal.or(Some(Error::UnknownUser(id.to_string()))),
                Some(u) if u.state == UserState::Blocked => {
                    refusal = refusal.or(Some(Error::UserBlocked {
                        login: id.to_string(),
                    }))
                }
                Some(u) => {
                    // Pairs already held (active or suspended) are left as they are.
                    let held = self
                        .assignments
                        .iter()
                        .any(|a| a.user == *id && a.pool.product == product);
                    if !held {
                        demands.push(SeatDemand {
                            user: UserId(*id),
                            product: product.into(),
                            area: u.area,
                            folder: u.folder,
                        });
                    }
                }
            }
        }
        let result = match refusal {
            Some(e) => Err(e),
            None => place_named_seats(&demands, &free),
        };
        if let Ok(placed) = &result {
            for (d, pool) in demands.iter().zip(placed) {
                self.assignments.push(Assignment {
                    id: self.next_id,
                    user: d.user.0,
                    pool: pool.clone(),
                    granted_at: self.now.unix_timestamp(),
                    status: AssignmentStatus::Active,
                });
                self.next_id += 1;
            }
        }
        GrantTrace {
            before,
            demands,
            free,
            result,
        }
    }

    /// Exactly the store's reconcile: per pool, suspend the surplus or restore into free seats.
    fn reconcile(&mut self) -> Reconciled {
        let mut out = Reconciled::default();
        for (pool, cap) in self.pools() {
            let active: Vec<Held> = self
                .in_pool(&pool, AssignmentStatus::Active)
                .iter()
                .map(|a| a.held())
                .collect();
            let suspended: Vec<Held> = self
                .in_pool(&pool, AssignmentStatus::Suspended)
                .iter()
                .map(|a| a.held())
                .collect();
            let change = reconcile_pool(cap, &active, &suspended);
            // The rule may only move assignments that are in the state it moves them out of.
            assert!(
                change
                    .suspend
                    .iter()
                    .all(|id| active.iter().any(|h| h.id == *id)),
                "{change:?}"
            );
            assert!(
                change
                    .restore
                    .iter()
                    .all(|id| suspended.iter().any(|h| h.id == *id)),
                "{change:?}"
            );
            for a in &mut self.assignments {
                if change.suspend.contains(&a.id) {
                    a.status = AssignmentStatus::Suspended;
                } else if change.restore.contains(&a.id) {
                    a.status = AssignmentStatus::Active;
                }
            }
            out.suspended.extend(change.suspend);
            out.restored.extend(change.restore);
        }
        out
    }
}

/// Runs `ops` on a fresh ledger and calls `check` after every op.
fn run(
    users: &[(Area, bool)],
    ops: &[Op],
    mut check: impl FnMut(&Ledger, &Op, &Step) -> Result<(), TestCaseError>,
) -> Result<(), TestCaseError> {
    let mut ledger = Ledger::new(users);
    for op in ops {
        let step = ledger.apply(op);
        check(&ledger, op, &step)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Independent oracles
// ---------------------------------------------------------------------------------------

/// Whether every demand can get a seat: folder seats serve only their folder's users, so
/// it's enough that what the folders can't cover fits in the root, per product and area.
fn feasible(demands: &[SeatDemand], free: &BTreeMap<PoolKey, u64>) -> bool {
    let mut groups: BTreeMap<(String, Area), BTreeMap<FolderId, u64>> = BTreeMap::new();
    for d in demands {
        *groups
            .entry((d.product.clone(), d.area))
            .or_default()
            .entry(d.folder)
            .or_default() += 1;
    }
    groups.into_iter().all(|((product, area), by_folder)| {
        let key = |folder| PoolKey {
            product: product.clone(),
            area,
            kind: SeatKind::Named,
            folder,
        };
        let need_root: u64 = by_folder
            .iter()
            .map(|(f, n)| {
                let own = if *f == ROOT_FOLDER {
                    0
                } else {
                    free.get(&key(*f)).copied().unwrap_or(0)
                };
                n.saturating_sub(own)
            })
            .sum();
        need_root <= free.get(&key(ROOT_FOLDER)).copied().unwrap_or(0)
    })
}

/// D1/X1 on one call of `place_named_seats`: refused exactly when infeasible; when placed,
/// every seat is a free seat of the right pool, and the root is used only after the
/// user's own folder is full.
fn check_placement(
    demands: &[SeatDemand],
    free: &BTreeMap<PoolKey, u64>,
    result: &Result<Vec<PoolKey>, Error>,
) -> Result<(), TestCaseError> {
    match result {
        Err(e) => {
            prop_assert!(!feasible(demands, free), "refused a feasible grant: {e}");
            let Error::NoSeatFree {
                product,
                area,
                kind,
                needed,
                ..
            } = e
            else {
                return Err(TestCaseError::fail(format!("unexpected refusal {e:?}")));
            };
            prop_assert_eq!(*kind, SeatKind::Named);
            // The refusal names a product/area that really is short.
            let group: Vec<SeatDemand> = demands
                .iter()
                .filter(|d| &d.product == product && d.area == *area)
                .cloned()
                .collect();
            prop_assert_eq!(*needed, group.len() as u64);
            prop_assert!(
                !feasible(&group, free),
                "refusal names {product}/{area}, which is not short"
            );
        }
        Ok(placed) => {
            prop_assert!(feasible(demands, free));
            prop_assert_eq!(placed.len(), demands.len());
            let mut taken: BTreeMap<&PoolKey, u64> = BTreeMap::new();
            for (d, pool) in demands.iter().zip(placed) {
                prop_assert_eq!(&pool.product, &d.product);
                prop_assert_eq!(pool.area, d.area);
                prop_assert_eq!(pool.kind, SeatKind::Named);
                prop_assert!(
                    pool.folder == d.folder || pool.folder == ROOT_FOLDER,
                    "{d:?} got {pool:?}"
                );
                *taken.entry(pool).or_default() += 1;
            }
            for (pool, n) in &taken {
                prop_assert!(
                    *n <= free.get(*pool).copied().unwrap_or(0),
                    "{pool:?} overdrawn: {n}"
                );
            }
            // Own folder first: a folder user only falls back to the root once its folder is used up.
            for (d, pool) in demands.iter().zip(placed) {
                if d.folder != ROOT_FOLDER && pool.folder == ROOT_FOLDER {
                    let own = PoolKey {
                        folder: d.folder,
                        ..pool.clone()
                    };
                    let have = free.get(&own).copied().unwrap_or(0);
                    prop_assert_eq!(
                        taken.get(&own).copied().unwrap_or(0),
                        have,
                        "{:?} skipped its folder",
                        d
                    );
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------

/// Mostly employees, so that users and packages meet often enough for pools to fill up.
fn area() -> impl Strategy<Value = Area> {
    prop_oneof![3 => Just(Area::Employee), 1 => Just(Area::Portal)]
}

/// Mostly "crm", for the same reason.
fn product() -> impl Strategy<Value = usize> {
    prop_oneof![3 => Just(0usize), 1 => Just(1usize)]
}

fn pkg_spec() -> impl Strategy<Value = PkgSpec> {
    (
        product(),
        area(),
        1u32..=5,
        // Mostly already started, so that grants find seats; some start later (L3).
        prop_oneof![3 => -30i64..=0, 1 => 1i64..=20],
        prop::option::weighted(0.8, 10i64..=60),
        prop_oneof![3 => Just(0u32), 2 => 1u32..=5],
        prop::option::weighted(0.3, any::<Index>()),
    )
        .prop_map(
            |(product, area, seats, from_days, lasts_days, in_folder, replaces)| PkgSpec {
                product,
                area,
                seats,
                from_days,
                lasts_days,
                in_folder,
                replaces,
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    prop_oneof![
        3 => pkg_spec().prop_map(Op::Import),
        3 => (1i64..=30).prop_map(Op::Advance),
        6 => (prop::collection::vec(user.clone(), 1..=3), product()).prop_map(|(u, p)| Op::Grant(u, p)),
        2 => (user.clone(), product()).prop_map(|(u, p)| Op::Recall(u, p)),
        1 => user.clone().prop_map(Op::Block),
        2 => user.clone().prop_map(Op::Unblock),
        1 => user.prop_map(Op::Delete),
    ]
}

/// Initial users (area, in `FOLDER`?) and an op sequence.
fn scenario() -> impl Strategy<Value = (Vec<(Area, bool)>, Vec<Op>)> {
    (
        prop::collection::vec((area(), any::<bool>()), USERS),
        prop::collection::vec(op(), 1..40),
    )
}

/// Deterministic (a fixed seed, so a failure reproduces on every run and machine) and
/// without a regressions file next to the test; change the seed to explore other cases.
fn config() -> ProptestConfig {
    ProptestConfig {
        rng_seed: RngSeed::Fixed(0x5ea7_6ee9),
        failure_persistence: None,
        ..ProptestConfig::with_cases(512)
    }
}

// ---------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    /// L4: a pool never has more active holders than seats, and no seat stays free while
    /// someone in that pool is suspended.
    #[test]
    fn l4_used_never_exceeds_capacity_and_suspended_come_back((users, ops) in scenario()) {
        run(&users, &ops, |l, op, _| {
            for (pool, cap) in l.pools() {
                let active = l.in_pool(&pool, AssignmentStatus::Active).len() as u64;
                let suspended = l.in_pool(&pool, AssignmentStatus::Suspended).len();
                prop_assert!(active <= cap, "after {op:?}: {pool:?} has {active} active of {cap}");
                if suspended > 0 {
                    prop_assert_eq!(active, cap, "after {:?}: {:?} has a free seat and {} suspended", op, pool, suspended);
                }
            }
            Ok(())
        })?;
    }

    /// L4: the newest are suspended first, so in every pool each suspended assignment is at
    /// least as new as every active one. Checked after every op, which covers every
    /// reconcile that suspends (and shows that restores and grants keep the order too).
    #[test]
    fn l4_newest_are_suspended_first((users, ops) in scenario()) {
        run(&users, &ops, |l, op, step| {
            for pool in l.pools().keys() {
                let newest_active = l.in_pool(pool, AssignmentStatus::Active).iter().map(|a| a.held()).max();
                let oldest_suspended = l.in_pool(pool, AssignmentStatus::Suspended).iter().map(|a| a.held()).min();
                if let (Some(a), Some(s)) = (newest_active, oldest_suspended) {
                    prop_assert!(a < s, "after {op:?} ({:?}): {pool:?} keeps {a:?} active but suspends {s:?}", step.reconciled);
                }
            }
            Ok(())
        })?;
    }

    /// U3: blocked (and deleted) users hold nothing, active or suspended, and a grant that
    /// names a blocked user is refused.
    #[test]
    fn u3_blocked_users_hold_nothing((users, ops) in scenario()) {
        run(&users, &ops, |l, op, step| {
            for a in &l.assignments {
                let user = l.users.get(&a.user);
                prop_assert!(user.is_some(), "after {op:?}: deleted user {} holds {a:?}", a.user);
                prop_assert_eq!(user.map(|u| u.state), Some(UserState::Active), "after {:?}: blocked user holds {:?}", op, a);
            }
            if let (Some(g), Op::Grant(picks, _)) = (&step.grant, op) {
                let names_blocked = picks.iter().any(|u| {
                    g.before.users.get(&uid(*u)).is_some_and(|u| u.state == UserState::Blocked)
                });
                if names_blocked {
                    prop_assert!(g.result.is_err(), "grant to a blocked user went through: {op:?}");
                }
            }
            Ok(())
        })?;
    }

    /// D1 in the ledger: a refused grant changes nothing; an accepted one takes only free
    /// seats of the right pools, so the reconcile after it suspends nobody.
    #[test]
    fn d1_grant_is_all_or_nothing((users, ops) in scenario()) {
        run(&users, &ops, |l, op, step| {
            let Some(g) = &step.grant else { return Ok(()) };
            match &g.result {
                Err(Error::NoSeatFree { .. }) | Ok(_) => check_placement(&g.demands, &g.free, &g.result)?,
                Err(_) => {}
            }
            match &g.result {
                Err(e) => prop_assert_eq!(l, &g.before, "refused {:?} ({}) but the ledger changed", op, e),
                Ok(placed) => {
                    prop_assert_eq!(l.assignments.len(), g.before.assignments.len() + placed.len());
                    prop_assert!(step.reconciled.suspended.is_empty(), "{op:?} overdrew: {:?}", step.reconciled);
                }
            }
            Ok(())
        })?;
    }

    /// D1/X1 on `place_named_seats` alone, with arbitrary free counts over several folders:
    /// refused exactly when no placement exists, otherwise a valid own-folder-first placement.
    #[test]
    fn d1_x1_placement_is_refused_exactly_when_seats_are_short(
        free in prop::collection::btree_map(
            (0..PRODUCTS.len(), area(), 1i64..=3),
            0u64..=3,
            0..10,
        ),
        demands in prop::collection::vec((0..PRODUCTS.len(), area(), 1i64..=3), 0..8),
    ) {
        let free: BTreeMap<PoolKey, u64> = free
            .into_iter()
            .map(|((p, area, f), n)| {
                (PoolKey { product: PRODUCTS[p].into(), area, kind: SeatKind::Named, folder: FolderId(f) }, n)
            })
            .collect();
        let demands: Vec<SeatDemand> = demands
            .into_iter()
            .enumerate()
            .map(|(i, (p, area, f))| SeatDemand { user: UserId(uid(i)), product: PRODUCTS[p].into(), area, folder: FolderId(f) })
            .collect();
        let result = place_named_seats(&demands, &free);
        check_placement(&demands, &free, &result)?;
    }

    /// L4 end to end: seats that expire suspend all their holders; a new perpetual package of
    /// the same product and area brings every one of them back.
    #[test]
    fn l4_expired_seats_are_suspended_and_a_new_package_restores_them(
        n in 1u32..=5,
        area in area(),
        folders in prop::collection::vec(any::<bool>(), 5),
        in_folder in 0u32..=5,
        renewal in prop::option::of(any::<Index>()),
    ) {
        let users: Vec<(Area, bool)> = folders.iter().map(|f| (area, *f)).collect();
        // Folder seats serve only folder users: place at most as many as the grantees in
        // FOLDER, so that the grant below always fits.
        let folder_grantees = folders.iter().take(n as usize).filter(|f| **f).count() as u32;
        let in_folder = in_folder.min(folder_grantees);
        let mut l = Ledger::new(&users);
        let spec = |replaces: Option<Index>, lasts_days, in_folder| PkgSpec {
            product: 0, area, seats: n, from_days: 0, lasts_days, in_folder, replaces,
        };
        l.apply(&Op::Import(spec(None, Some(30), in_folder)));
        let picks: Vec<usize> = (0..n as usize).collect();
        let step = l.apply(&Op::Grant(picks, 0));
        prop_assert!(step.grant.is_some_and(|g| g.result.is_ok()));
        let all = |l: &Ledger, status| l.assignments.iter().filter(|a| a.status == status).count();
        prop_assert_eq!(all(&l, AssignmentStatus::Active), n as usize);

        l.apply(&Op::Advance(31));
        prop_assert_eq!(all(&l, AssignmentStatus::Suspended), n as usize);

        // Same product/area, no placement of its own: the folder holders must still come back
        // (unless it renews the old serial, whose placement it then inherits).
        let renews = renewal.is_some();
        l.apply(&Op::Import(spec(renewal, None, 0)));
        let suspended = all(&l, AssignmentStatus::Suspended);
        let in_folder_holders = l.assignments.iter().filter(|a| a.pool.folder == FOLDER).count();
        if renews || in_folder_holders == 0 {
            prop_assert_eq!(all(&l, AssignmentStatus::Active), n as usize, "{:?}", l.assignments);
        } else {
            // The new package's seats are all in the root, so the holders in FOLDER's pool
            // (which now has no seats) stay suspended: pools are per folder (X1).
            prop_assert_eq!(suspended, in_folder_holders, "{:?}", l.assignments);
        }
    }

    /// L3: capacity depends on which packages exist, not on the order they are listed in.
    #[test]
    fn l3_capacity_is_independent_of_package_order(
        (packages, shuffled) in packages().prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle())),
        placements in prop::collection::btree_map(
            0usize..8,
            prop::collection::btree_map(prop_oneof![Just(ROOT_FOLDER), Just(FolderId(2)), Just(FolderId(3))], 0u32..=6, 0..3),
            0..5,
        ),
        at_days in 0i64..=150,
    ) {
        let placements: Placements = placements.into_iter().map(|(i, p)| (format!("P{i}"), p)).collect();
        let now = T0 + Duration::days(at_days);
        let view = capacity::pools_at(&packages, &placements, now);
        prop_assert_eq!(&view, &capacity::pools_at(&shuffled, &placements, now));
        // And the pools of each product/area/kind add up to the seats of the packages that count.
        let mut by_group: BTreeMap<(String, Area, SeatKind), u64> = BTreeMap::new();
        for (k, c) in &view.pools {
            *by_group.entry((k.product.clone(), k.area, k.kind)).or_default() += c;
        }
        for (group, total) in by_group {
            let expected: u64 = packages
                .iter()
                .filter(|p| (p.product.clone(), p.area, p.kind) == group && capacity::counts(p, &packages, now))
                .map(|p| u64::from(p.seats))
                .sum();
            prop_assert_eq!(total, expected, "{:?}", group);
        }
    }
}

/// Up to 8 packages with distinct serials P0..; any may replace any other (even a later or
/// cyclic one), which order independence must survive too.
fn packages() -> impl Strategy<Value = Vec<Package>> {
    let one = (
        0..PRODUCTS.len(),
        area(),
        prop_oneof![Just(SeatKind::Named), Just(SeatKind::Concurrent)],
        1u32..=5,
        0i64..=60,
        prop::option::weighted(0.7, 1i64..=90),
        prop::option::weighted(0.3, 0usize..8),
    );
    prop::collection::vec(one, 0..8).prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (p, area, kind, seats, from, lasts, replaces))| {
                let valid_from = T0 + Duration::days(from);
                Package {
                    serial: format!("P{i}"),
                    product: PRODUCTS[p].into(),
                    kind,
                    area,
                    seats,
                    valid_from,
                    expires: lasts.map(|d| valid_from + Duration::days(d)),
                    replaces: replaces.map(|r| format!("P{r}")).into_iter().collect(),
                }
            })
            .collect()
    })
}
