//! Role-based distribution (D2–D4, D6): the role tree, what each user wants from it, and the
//! redistribution plan — grants, recalls and unmet needs — computed without I/O.
//!
//! Precedence when seats run short (documented in docs/DISTRIBUTION.md):
//! 1. a seat already held is never taken away to serve someone else: only assignments the
//!    user no longer wants are recalled;
//! 2. seats freed by this plan's recalls serve suspended holders of that pool first, then new
//!    demands;
//! 3. a folder's seats go to that folder's users, and the root's seats to everyone left;
//! 4. within each of those passes, demands are served in order of user id (the oldest account
//!    first), then product code.
//!
//! The plan depends only on the set of facts it is given, never on their order.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::{Area, FolderId, PoolKey, ROOT_FOLDER, SeatKind, UserId};

pub type RoleId = i64;

/// "All employees": the root of the organizational tree. Every active user of the employee
/// area is a member, so a product bound to it goes to every employee.
pub const ROOT_ROLE: RoleId = 1;

/// What a redistribution does with licenses granted by hand that no role asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ManualGrants {
    #[default]
    Keep,
    Remove,
}

impl std::str::FromStr for ManualGrants {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "keep" => Ok(ManualGrants::Keep),
            "remove" => Ok(ManualGrants::Remove),
            other => Err(crate::Error::Invalid(format!(
                "unknown option {other:?} for manually granted licenses: expected \"keep\" or \"remove\""
            ))),
        }
    }
}

impl ManualGrants {
    pub fn as_str(self) -> &'static str {
        match self {
            ManualGrants::Keep => "keep",
            ManualGrants::Remove => "remove",
        }
    }
}

/// The role forest with the products bound to each role ("licenses to distribute with the
/// role").
#[derive(Debug, Clone, Default)]
pub struct RoleTree {
    parent: HashMap<RoleId, Option<RoleId>>,
    children: HashMap<RoleId, Vec<RoleId>>,
    bound: HashMap<RoleId, BTreeSet<String>>,
}

/// Why a role wants a product for a user: the user is a member of `role`, and the product is
/// bound to `via` (the role itself or one of its ancestors).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RoleReason {
    pub role: RoleId,
    pub via: RoleId,
}

impl RoleTree {
    pub fn new(
        roles: impl IntoIterator<Item = (RoleId, Option<RoleId>)>,
        bindings: impl IntoIterator<Item = (RoleId, String)>,
    ) -> RoleTree {
        let mut tree = RoleTree::default();
        for (id, parent) in roles {
            tree.parent.insert(id, parent);
        }
        for (id, parent) in &tree.parent {
            if let Some(p) = parent {
                tree.children.entry(*p).or_default().push(*id);
            }
        }
        for c in tree.children.values_mut() {
            c.sort_unstable();
        }
        for (role, product) in bindings {
            if tree.parent.contains_key(&role) {
                tree.bound.entry(role).or_default().insert(product);
            }
        }
        tree
    }

    pub fn contains(&self, role: RoleId) -> bool {
        self.parent.contains_key(&role)
    }

    pub fn bound(&self, role: RoleId) -> impl Iterator<Item = &String> {
        self.bound.get(&role).into_iter().flatten()
    }

    /// The role and its ancestors, nearest first. Stops at a cycle (the store refuses to make
    /// one, but a corrupt row must not hang the planner).
    pub fn ancestors(&self, role: RoleId) -> Vec<RoleId> {
        let mut out = Vec::new();
        let mut at = Some(role);
        while let Some(r) = at {
            if !self.parent.contains_key(&r) || out.contains(&r) {
                break;
            }
            out.push(r);
            at = self.parent.get(&r).copied().flatten();
        }
        out
    }

    /// The role and everything below it.
    pub fn descendants(&self, role: RoleId) -> BTreeSet<RoleId> {
        let mut out = BTreeSet::new();
        let mut stack = vec![role];
        while let Some(r) = stack.pop() {
            if out.insert(r) {
                stack.extend(self.children.get(&r).into_iter().flatten().copied());
            }
        }
        out
    }

    /// Whether moving `role` under `new_parent` would make a cycle.
    pub fn creates_cycle(&self, role: RoleId, new_parent: RoleId) -> bool {
        self.ancestors(new_parent).contains(&role)
    }

    /// Every reason the roles `member_of` give for `product`, sorted.
    pub fn reasons(&self, member_of: &[RoleId], product: &str) -> Vec<RoleReason> {
        let mut out = BTreeSet::new();
        for &role in member_of {
            for via in self.ancestors(role) {
                if self.bound.get(&via).is_some_and(|b| b.contains(product)) {
                    out.insert(RoleReason { role, via });
                }
            }
        }
        out.into_iter().collect()
    }

    /// Products wanted by a member of `member_of` (before the area filter).
    pub fn wanted(&self, member_of: &[RoleId]) -> BTreeSet<String> {
        member_of
            .iter()
            .flat_map(|r| self.ancestors(*r))
            .flat_map(|r| self.bound(r).cloned().collect::<Vec<_>>())
            .collect()
    }

    /// For each role, the products it gives (own and inherited) as indices into `products`:
    /// computed once per plan so that each user costs a few bit operations.
    fn effective(&self, products: &HashMap<&str, usize>, words: usize) -> HashMap<RoleId, Bits> {
        let mut out = HashMap::with_capacity(self.parent.len());
        for &role in self.parent.keys() {
            let mut bits = Bits::new(words);
            for via in self.ancestors(role) {
                for p in self.bound(via) {
                    if let Some(i) = products.get(p.as_str()) {
                        bits.set(*i);
                    }
                }
            }
            out.insert(role, bits);
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(words: usize) -> Bits {
        Bits(vec![0; words])
    }
    // Every set is sized for all products up front; growing on demand only keeps a bit
    // that would fall outside from being lost.
    fn set(&mut self, i: usize) {
        let word = i / 64;
        if word >= self.0.len() {
            self.0.resize(word + 1, 0);
        }
        if let Some(w) = self.0.get_mut(word) {
            *w |= 1 << (i % 64);
        }
    }
    fn get(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn or(&mut self, other: &Bits) {
        if other.0.len() > self.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// A user as the planner sees them. `roles` are the roles the user is a direct member of
/// (the store adds [`ROOT_ROLE`] for employees).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanUser {
    pub id: UserId,
    pub area: Area,
    pub folder: FolderId,
    pub active: bool,
    pub roles: Vec<RoleId>,
    /// Has a live session: a seat recalled now is released when the session ends (S4).
    pub logged_in: bool,
}

/// A named assignment held by a user in scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub user: UserId,
    pub pool: PoolKey,
    /// Granted by hand or taken at login: a reason of its own, apart from roles.
    pub manual: bool,
    /// Given by role-based distribution.
    pub by_role: bool,
    pub suspended: bool,
    /// Already recalled while its holder is logged in (S4).
    pub releasing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PlannedGrant {
    pub user: UserId,
    pub pool: PoolKey,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PlannedRecall {
    pub user: UserId,
    pub pool: PoolKey,
    /// The seat had a manual reason too (only with [`ManualGrants::Remove`]).
    pub manual: bool,
    /// The user is logged in: the seat is marked releasing and freed when the session ends.
    pub releasing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedReason {
    /// No free named seat of the product in the user's folder or the root.
    NoSeatFree,
}

impl NeedReason {
    pub fn as_str(self) -> &'static str {
        match self {
            NeedReason::NoSeatFree => "no_seat_free",
        }
    }
    pub fn message(self) -> &'static str {
        match self {
            NeedReason::NoSeatFree => "no free seat in the user's folder or the root",
        }
    }
}

impl std::str::FromStr for NeedReason {
    type Err = crate::Error;
    fn from_str(s: &str) -> Result<Self, crate::Error> {
        match s {
            "no_seat_free" => Ok(NeedReason::NoSeatFree),
            other => Err(crate::Error::Invalid(format!(
                "unknown need reason {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Need {
    pub user: UserId,
    pub product: String,
    pub area: Area,
    pub reason: NeedReason,
}

/// What a redistribution changes. Every list is sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub grants: Vec<PlannedGrant>,
    pub recalls: Vec<PlannedRecall>,
    /// Seats already held that a role now asks for: they gain the role reason (and a pending
    /// release is cancelled). No seat is taken.
    pub add_role_reason: Vec<(UserId, String)>,
    /// Seats kept for their manual reason that no role asks for any more.
    pub drop_role_reason: Vec<(UserId, String)>,
    pub unmet: Vec<Need>,
}

impl Plan {
    /// Nothing would change in the ledger (unmet needs may remain).
    pub fn is_noop(&self) -> bool {
        self.grants.is_empty()
            && self.recalls.is_empty()
            && self.add_role_reason.is_empty()
            && self.drop_role_reason.is_empty()
    }
}

/// Seats a plan may use per named pool: capacity − used − suspended, which may be negative
/// while a shrunken pool still has suspended assignments waiting to come back.
pub type Available = BTreeMap<PoolKey, i64>;

/// D3/D4: plans the redistribution for `users` (the scope). `holdings` are the named
/// assignments of those users; `available` has one entry per named pool that exists (a
/// product is wanted by a user only where it is sold as named seats in the user's area).
pub fn plan(
    roles: &RoleTree,
    users: &[PlanUser],
    holdings: &[Holding],
    available: &Available,
    manual: ManualGrants,
) -> Plan {
    let mut products: Vec<&str> = available.keys().map(|k| k.product.as_str()).collect();
    products.sort_unstable();
    products.dedup();
    let index: HashMap<&str, usize> = products.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    let words = products.len().div_ceil(64).max(1);
    let effective = roles.effective(&index, words);
    let sold: BTreeSet<(&str, Area)> = available
        .keys()
        .filter(|k| k.kind == SeatKind::Named)
        .map(|k| (k.product.as_str(), k.area))
        .collect();

    let mut users: Vec<&PlanUser> = users.iter().collect();
    users.sort_by_key(|u| u.id);
    users.dedup_by_key(|u| u.id);
    let mut held: HashMap<UserId, Vec<&Holding>> = HashMap::new();
    for h in holdings {
        held.entry(h.user).or_default().push(h);
    }

    let mut left = available.clone();
    let mut out = Plan::default();
    let mut demands: Vec<(UserId, Area, FolderId, &str)> = Vec::new();
    let mut wanted = Bits::new(words);
    for u in &users {
        if !u.active {
            continue;
        }
        wanted.0.iter_mut().for_each(|w| *w = 0);
        for r in &u.roles {
            if let Some(b) = effective.get(r) {
                wanted.or(b);
            }
        }
        let mut has = Bits::new(words);
        let mine = held.get(&u.id).map(Vec::as_slice).unwrap_or_default();
        for h in mine {
            let i = index.get(h.pool.product.as_str()).copied();
            let wants = i.is_some_and(|i| wanted.get(i))
                && sold.contains(&(h.pool.product.as_str(), u.area));
            if let Some(i) = i {
                has.set(i);
            }
            let product = h.pool.product.clone();
            if wants {
                if !h.by_role || h.releasing {
                    out.add_role_reason.push((u.id, product));
                }
                continue;
            }
            if h.releasing {
                continue;
            }
            let recall = match (h.by_role, h.manual, manual) {
                (_, false, _) => h.by_role,
                (_, true, ManualGrants::Remove) => true,
                (true, true, ManualGrants::Keep) => {
                    out.drop_role_reason.push((u.id, product));
                    false
                }
                (false, true, ManualGrants::Keep) => false,
            };
            if recall {
                // A suspended seat recalled also frees one: it no longer waits for a seat.
                if !u.logged_in {
                    *left.entry(h.pool.clone()).or_insert(0) += 1;
                }
                out.recalls.push(PlannedRecall {
                    user: u.id,
                    pool: h.pool.clone(),
                    manual: h.manual,
                    releasing: u.logged_in,
                });
            }
        }
        for (i, p) in products.iter().enumerate() {
            if wanted.get(i) && !has.get(i) && sold.contains(&(*p, u.area)) {
                demands.push((u.id, u.area, u.folder, *p));
            }
        }
    }

    // Own folder first, then the root, each in demand order (user id, then product).
    let mut placed: Vec<Option<FolderId>> = vec![None; demands.len()];
    for root_pass in [false, true] {
        for (slot, (_, area, folder, product)) in placed.iter_mut().zip(&demands) {
            if slot.is_some() || (!root_pass && *folder == ROOT_FOLDER) {
                continue;
            }
            let from = if root_pass { ROOT_FOLDER } else { *folder };
            let key = PoolKey {
                product: product.to_string(),
                area: *area,
                kind: SeatKind::Named,
                folder: from,
            };
            if let Some(n) = left.get_mut(&key).filter(|n| **n > 0) {
                *n -= 1;
                *slot = Some(from);
            }
        }
    }
    for ((user, area, _, product), slot) in demands.into_iter().zip(placed) {
        let product = product.to_string();
        match slot {
            Some(folder) => out.grants.push(PlannedGrant {
                user,
                pool: PoolKey {
                    product,
                    area,
                    kind: SeatKind::Named,
                    folder,
                },
            }),
            None => out.unmet.push(Need {
                user,
                product,
                area,
                reason: NeedReason::NoSeatFree,
            }),
        }
    }
    out.grants.sort();
    out.recalls.sort();
    out.add_role_reason.sort();
    out.drop_role_reason.sort();
    out.unmet.sort();
    out
}

/// D6: every reason a user holds a product, or why not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// Granted by hand (or taken at login when no role gave it).
    Manual,
    /// Given by `role` because the product is bound to `via` (the role or an ancestor).
    Role { role: RoleId, via: RoleId },
    /// Held for the length of a session from a floating pool.
    FloatingSession { session: String },
    /// Held, but its pool shrank below the assigned count (L4): unusable until seats return.
    Suspended,
    /// Recalled while the user is logged in: freed when the session ends (S4).
    Releasing,
    /// Not held: the user is blocked.
    Blocked,
    /// Not held: the product is not sold as named seats in the user's area.
    NotInArea,
    /// Not held: no role of the user (or their ancestors) carries the product.
    NotBound,
    /// Not held: wanted by a role, but no seat was free; kept as a pending need.
    NoSeatFree,
    /// Not held: wanted by a role, but role-based distribution is turned off.
    DistributionOff,
    /// Not held: wanted by a role; the next redistribution for this user will grant it.
    NotYetDistributed,
}

/// The facts about one user and one product that [`explain`] weighs.
#[derive(Debug, Clone, Default)]
pub struct ExplainFacts {
    pub active: bool,
    pub sold_in_area: bool,
    pub role_reasons: Vec<RoleReason>,
    pub holding: Option<Holding>,
    pub floating_sessions: Vec<String>,
    pub pending: bool,
    pub distribution_on: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    pub holds: bool,
    pub reasons: Vec<Reason>,
}

pub fn explain(f: &ExplainFacts) -> Explanation {
    let mut reasons = Vec::new();
    let roles = || {
        f.role_reasons.iter().map(|r| Reason::Role {
            role: r.role,
            via: r.via,
        })
    };
    if let Some(h) = &f.holding {
        if h.manual {
            reasons.push(Reason::Manual);
        }
        if h.by_role {
            reasons.extend(roles());
        }
        if h.suspended {
            reasons.push(Reason::Suspended);
        }
        if h.releasing {
            reasons.push(Reason::Releasing);
        }
    }
    reasons.extend(
        f.floating_sessions
            .iter()
            .map(|s| Reason::FloatingSession { session: s.clone() }),
    );
    let holds = f.holding.as_ref().is_some_and(|h| !h.suspended) || !f.floating_sessions.is_empty();
    if f.holding.is_none() && f.floating_sessions.is_empty() {
        if !f.active {
            reasons.push(Reason::Blocked);
        } else if f.role_reasons.is_empty() {
            reasons.push(Reason::NotBound);
        } else if !f.sold_in_area {
            reasons.push(Reason::NotInArea);
        } else if !f.distribution_on {
            reasons.push(Reason::DistributionOff);
        } else if f.pending {
            reasons.push(Reason::NoSeatFree);
        } else {
            reasons.push(Reason::NotYetDistributed);
        }
    }
    Explanation { holds, reasons }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(p: &str, folder: i64) -> PoolKey {
        PoolKey {
            product: p.into(),
            area: Area::Employee,
            kind: SeatKind::Named,
            folder: FolderId(folder),
        }
    }

    fn user(id: i64, roles: &[RoleId]) -> PlanUser {
        PlanUser {
            id: UserId(id),
            area: Area::Employee,
            folder: ROOT_FOLDER,
            active: true,
            roles: roles.to_vec(),
            logged_in: false,
        }
    }

    #[test]
    fn d2_products_are_inherited_down_the_tree() {
        let t = RoleTree::new(
            [(1, None), (10, Some(1)), (11, Some(10))],
            [(10, "crm".to_string()), (1, "base".to_string())],
        );
        assert_eq!(
            t.wanted(&[11]),
            ["base".to_string(), "crm".to_string()].into()
        );
        assert_eq!(
            t.reasons(&[11], "crm"),
            vec![RoleReason { role: 11, via: 10 }]
        );
        assert!(t.creates_cycle(10, 11));
        assert!(!t.creates_cycle(11, 1));
        assert_eq!(t.descendants(10), [10, 11].into());
    }

    #[test]
    fn d4_shortage_goes_to_the_oldest_account_and_holders_keep_seats() {
        let t = RoleTree::new([(1, None), (5, Some(1))], [(5, "crm".to_string())]);
        let users = [user(3, &[5]), user(2, &[5]), user(1, &[5])];
        let held = [Holding {
            user: UserId(3),
            pool: pool("crm", 1),
            manual: false,
            by_role: true,
            suspended: false,
            releasing: false,
        }];
        let avail = Available::from([(pool("crm", 1), 1)]);
        let p = plan(&t, &users, &held, &avail, ManualGrants::Keep);
        assert!(p.recalls.is_empty());
        assert_eq!(
            p.grants,
            vec![PlannedGrant {
                user: UserId(1),
                pool: pool("crm", 1)
            }]
        );
        assert_eq!(p.unmet.len(), 1);
        assert_eq!(p.unmet[0].user, UserId(2));
    }

    #[test]
    fn d3_keep_and_remove_treat_manual_grants_as_asked() {
        let t = RoleTree::new([(1, None)], []);
        let users = [user(1, &[])];
        let held = [Holding {
            user: UserId(1),
            pool: pool("crm", 1),
            manual: true,
            by_role: true,
            suspended: false,
            releasing: false,
        }];
        let avail = Available::from([(pool("crm", 1), 0)]);
        let keep = plan(&t, &users, &held, &avail, ManualGrants::Keep);
        assert!(keep.recalls.is_empty());
        assert_eq!(keep.drop_role_reason, vec![(UserId(1), "crm".to_string())]);
        let remove = plan(&t, &users, &held, &avail, ManualGrants::Remove);
        assert_eq!(remove.recalls.len(), 1);
    }
}
