//! The login rules (S1, S2, L4, L5): who may start a session, which seat auto-allocation takes
//! for a user who holds no all-modules license, and which answers may be repeated from memory.
//!
//! [`decide`] is the whole login decision as a pure function: the store loads the facts
//! ([`LoginFacts`]) inside its write transaction, asks, and applies the [`LoginDecision`]s
//! (session rows, the floating holds and named grants they list, the answers it may
//! remember). Nothing here reads a clock: a login decision does not depend on the time, only on
//! the facts (the store has already brought capacity up to "now").

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Area, FolderId, PoolKey, ROOT_FOLDER, SeatKind, UserId, UserState};

/// Why a login is refused. The application shows the message; the code is stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Refusal {
    UnknownUser,
    Blocked,
    NoLicense,
    AreaLimit,
    LicensesExpired,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "unknown_user",
            Refusal::Blocked => "blocked",
            Refusal::NoLicense => "no_license",
            Refusal::AreaLimit => "area_limit",
            Refusal::LicensesExpired => "licenses_expired",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::UnknownUser => "no such user",
            Refusal::Blocked => "the user is blocked",
            Refusal::NoLicense => {
                "the user holds no license and no all-modules seat is free in their folder or the root"
            }
            Refusal::AreaLimit => {
                "the user's area has more active users than its license allows; the newest users \
                 beyond the limit cannot log in"
            }
            Refusal::LicensesExpired => {
                "the user's licenses have expired or were removed; an administrator must import \
                 new licenses"
            }
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The four places auto-allocation looks (S2, the order of Efecte's auto-allocation): floating
/// seats in the user's folder, then the root; then dedicated seats in the user's folder, then
/// the root. A user in the root gets two steps, not four.
pub fn allocation_order(folder: FolderId) -> Vec<(SeatKind, FolderId)> {
    let mut order = Vec::with_capacity(4);
    for kind in [SeatKind::Concurrent, SeatKind::Named] {
        order.push((kind, folder));
        if folder != ROOT_FOLDER {
            order.push((kind, ROOT_FOLDER));
        }
    }
    order
}

/// Picks the seat auto-allocation takes, or `None` when none is free. `free` holds the free
/// seats of the *all-modules* pools only: module-specific seats are never auto-assigned. Within
/// one step the product with the smallest code wins, so the choice is deterministic.
pub fn pick_seat(area: Area, folder: FolderId, free: &BTreeMap<PoolKey, u64>) -> Option<PoolKey> {
    allocation_order(folder).into_iter().find_map(|(kind, f)| {
        free.iter()
            .find(|(k, n)| k.area == area && k.kind == kind && k.folder == f && **n > 0)
            .map(|(k, _)| k.clone())
    })
}

/// Whether the user ranked `rank` (0 = oldest active user of the area) may log in when the
/// area allows `limit` users. An expiry can leave more active users than the limit; the
/// oldest keep working, the newest beyond the limit are refused (`Refusal::AreaLimit`).
pub fn within_area_limit(rank: u64, limit: Option<u64>) -> bool {
    limit.is_none_or(|l| rank < l)
}

/// How a product is held in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeatUse {
    /// The user's own named seat.
    Dedicated,
    /// A concurrent seat held by this session only.
    Floating,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionProduct {
    pub product: String,
    pub name: String,
    pub features: Vec<String>,
    pub all_modules: bool,
    pub seat: SeatUse,
    /// The folder whose seat it is.
    pub folder: String,
}

/// The answer to one login, as the application receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LoginAnswer {
    Allowed(AllowedLogin),
    Refused(RefusedLogin),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AllowedLogin {
    pub session_id: String,
    pub login: String,
    pub name: String,
    pub area: Area,
    pub products: Vec<SessionProduct>,
    /// Every feature the session may use; `all_modules` covers features not listed.
    pub features: Vec<String>,
    pub all_modules: bool,
    /// The seat auto-allocation took for this login (S2), if it took one.
    pub auto_allocated: Option<SessionProduct>,
    /// The user may manage licenses (holds `manage_licenses`, or is the built-in admin).
    pub license_manager: bool,
    /// For license managers only (L4): some products' licenses have all expired, so the
    /// application should open the license manager.
    pub licenses_expired: bool,
    pub expired_products: Vec<String>,
    /// For license managers only: whether any license is loaded at all (after "delete all
    /// licenses" (L5) none is, and only the built-in administrator can log in).
    pub licenses_loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedLogin {
    pub login: String,
    pub reason: Refusal,
    pub message: String,
}

impl RefusedLogin {
    pub fn new(login: &str, reason: Refusal) -> RefusedLogin {
        RefusedLogin {
            login: login.to_string(),
            reason,
            message: reason.message().to_string(),
        }
    }
}

/// A product as a login sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFacts {
    pub name: String,
    pub features: Vec<String>,
    pub all_modules: bool,
}

/// One of the user's assignments (named seats), whatever its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldAssignment {
    pub product: String,
    pub folder: FolderId,
    /// Suspended after its licenses expired (L4): it gives no access.
    pub suspended: bool,
    /// Recalled while the user was logged in (S4): it gives no new session access.
    pub releasing: bool,
}

impl HeldAssignment {
    fn usable(&self) -> bool {
        !self.suspended && !self.releasing
    }
}

/// What the ledger knows about a user who is logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub id: UserId,
    /// As stored (answers name the user so, whatever case the application sent).
    pub login: String,
    pub name: String,
    pub area: Area,
    pub folder: FolderId,
    pub state: UserState,
    /// The built-in administrator.
    pub builtin: bool,
    /// Holds `manage_licenses` through a role.
    pub manages_licenses: bool,
    /// The user's place among the area's active users, oldest first (0 = oldest). Needed only
    /// when [`needs_area_rank`] says so; `None` there counts as beyond the limit.
    pub area_rank: Option<u64>,
    pub held: Vec<HeldAssignment>,
}

/// An area's active users and its user limit (`None`: unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AreaUsers {
    pub active: u64,
    pub limit: Option<u64>,
}

/// A pool's capacity and how many of its seats are free now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSeats {
    pub capacity: u64,
    pub free: u64,
}

/// Everything a batch of login decisions depends on, read in one write transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginFacts {
    /// The users asked for, by lower-case login.
    pub users: BTreeMap<String, UserFacts>,
    /// The products held by those users and those of `pools`.
    pub products: BTreeMap<String, ProductFacts>,
    /// The all-modules pools auto-allocation may take from. Read only when [`needs_seat`] is
    /// true for someone; empty otherwise. Pools of module products are never used.
    pub pools: BTreeMap<PoolKey, PoolSeats>,
    pub areas: BTreeMap<Area, AreaUsers>,
    /// Products whose licenses have all expired (L4), told to license managers.
    pub expired_products: Vec<String>,
    /// Whether any license is loaded (L5: with none, only the built-in administrator gets in).
    pub licenses_loaded: bool,
    /// Folder paths for the answers ("Sales/North", "/"), for every folder of `held` and
    /// `pools`; a folder not listed is shown as the root.
    pub folder_paths: BTreeMap<FolderId, String>,
}

/// One login asked for: the login as typed, and the id its session gets if it is allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginAttempt {
    pub login: String,
    pub session_id: String,
}

/// The decision about one login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginDecision {
    Refused(RefusedLogin),
    Admitted(Box<Admission>),
}

impl LoginDecision {
    /// The answer the application receives.
    pub fn answer(&self) -> LoginAnswer {
        match self {
            LoginDecision::Refused(r) => LoginAnswer::Refused(r.clone()),
            LoginDecision::Admitted(a) => LoginAnswer::Allowed(a.answer.clone()),
        }
    }
}

/// An allowed login and what the store writes for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    pub user: UserId,
    pub answer: AllowedLogin,
    /// The floating seat the session takes (a hold on this pool).
    pub hold: Option<PoolKey>,
    /// The named seat auto-allocation grants the user (a new active assignment).
    pub grant: Option<PoolKey>,
    /// `Some` when the same answer may be given again from memory for as long as nothing
    /// it depends on changes (`login_cache` in the store).
    pub repeatable: Option<Repeatable>,
}

/// How a remembered answer is repeated: on the user's own seat, or by taking a floating seat of
/// `floating`, the pool every login of this user goes to first while it has a free seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repeatable {
    pub floating: Option<PoolKey>,
}

/// Whether the store must read `user`'s area rank: the area has more active users than its
/// limit, and the user is neither blocked nor the built-in administrator.
pub fn needs_area_rank(user: &UserFacts, areas: &BTreeMap<Area, AreaUsers>) -> bool {
    !user.builtin && user.state != UserState::Blocked && over_limit(areas, user.area).is_some()
}

/// Whether `user` may need a seat by auto-allocation (holds no usable all-modules seat): only
/// then does the store read the free pools.
pub fn needs_seat(user: &UserFacts, products: &BTreeMap<String, ProductFacts>) -> bool {
    user.state == UserState::Active
        && !user.builtin
        && !user
            .held
            .iter()
            .any(|h| h.usable() && products.get(&h.product).is_some_and(|p| p.all_modules))
}

/// The limit of an area that has more active users than it allows.
fn over_limit(areas: &BTreeMap<Area, AreaUsers>, area: Area) -> Option<u64> {
    areas
        .get(&area)
        .and_then(|a| a.limit.filter(|l| a.active > *l))
}

/// Decides a batch of logins, in order (S1, S2, L4, L5). Earlier logins of the batch take
/// their seats first: a floating or named seat one takes is not free for the next.
///
/// The order of refusals: an unknown user; a blocked user; a user beyond the area's limit
/// (the oldest users keep working) — except a license manager, who gets in with no products,
/// to the license manager only; then the user's usable seats, and auto-allocation if none of
/// them is all-modules; a user left with no product is refused, `LicensesExpired` if some of
/// their seats are suspended, else `NoLicense` — except a license manager, who gets in.
/// With no license loaded (L5) only the built-in administrator counts as a license manager.
pub fn decide(facts: &LoginFacts, attempts: &[LoginAttempt]) -> Vec<LoginDecision> {
    let mut free: BTreeMap<PoolKey, u64> = facts
        .pools
        .iter()
        .filter(|(k, _)| {
            facts
                .products
                .get(&k.product)
                .is_some_and(|p| p.all_modules)
        })
        .map(|(k, p)| (k.clone(), p.free))
        .collect();
    // Named seats granted by earlier logins of this batch, per user.
    let mut granted: BTreeMap<UserId, Vec<HeldAssignment>> = BTreeMap::new();
    let mut out = Vec::with_capacity(attempts.len());
    for attempt in attempts {
        let Some(user) = facts.users.get(&attempt.login.to_ascii_lowercase()) else {
            out.push(refuse(&attempt.login, Refusal::UnknownUser));
            continue;
        };
        let own: Vec<HeldAssignment> = user
            .held
            .iter()
            .chain(granted.get(&user.id).into_iter().flatten())
            .cloned()
            .collect();
        let decision = decide_one(facts, &mut free, user, &own, &attempt.session_id);
        if let LoginDecision::Admitted(admission) = &decision
            && let Some(key) = &admission.grant
        {
            granted.entry(user.id).or_default().push(HeldAssignment {
                product: key.product.clone(),
                folder: key.folder,
                suspended: false,
                releasing: false,
            });
        }
        out.push(decision);
    }
    out
}

fn decide_one(
    facts: &LoginFacts,
    free: &mut BTreeMap<PoolKey, u64>,
    user: &UserFacts,
    own: &[HeldAssignment],
    session_id: &str,
) -> LoginDecision {
    if user.state == UserState::Blocked {
        return refuse(&user.login, Refusal::Blocked);
    }
    // With no license loaded at all (L5), only the built-in administrator gets in.
    let manager = user.builtin || (facts.licenses_loaded && user.manages_licenses);
    let area_over = over_limit(&facts.areas, user.area);
    let mut allowed_seats = true;
    if !user.builtin
        && let Some(limit) = area_over
        && !within_area_limit(user.area_rank.unwrap_or(u64::MAX), Some(limit))
    {
        if !manager {
            return refuse(&user.login, Refusal::AreaLimit);
        }
        // A license manager still gets in, to the license manager only.
        allowed_seats = false;
    }
    let mut products: Vec<SessionProduct> = Vec::new();
    let mut auto = None;
    let mut hold = None;
    let mut grant = None;
    // The floating pool taken, when it is the one any login of this user goes to first.
    let mut first_floating = None;
    if allowed_seats {
        for h in own.iter().filter(|h| h.usable()) {
            products.push(view(facts, &h.product, SeatUse::Dedicated, h.folder));
        }
        // The built-in administrator is let in without a seat and never takes a paid one by
        // auto-allocation (it would keep it, and a real user would go without).
        if !products.iter().any(|p| p.all_modules) && !user.builtin {
            // Products the user has a row for (suspended, releasing) cannot get a second
            // named row; floating seats of them are fine.
            let taken: BTreeSet<&str> = own.iter().map(|h| h.product.as_str()).collect();
            let candidates: BTreeMap<PoolKey, u64> = free
                .iter()
                .filter(|(k, _)| {
                    k.kind == SeatKind::Concurrent || !taken.contains(k.product.as_str())
                })
                .map(|(k, n)| (k.clone(), *n))
                .collect();
            if let Some(key) = pick_seat(user.area, user.folder, &candidates) {
                if let Some(n) = free.get_mut(&key) {
                    *n -= 1;
                }
                // The first pool in the allocation order by capacity is where a login goes
                // whenever it has a free seat: only such a floating login may be repeated.
                let by_capacity: BTreeMap<PoolKey, u64> = facts
                    .pools
                    .iter()
                    .filter(|(k, _)| candidates.contains_key(k))
                    .map(|(k, p)| (k.clone(), p.capacity))
                    .collect();
                if key.kind == SeatKind::Concurrent
                    && pick_seat(user.area, user.folder, &by_capacity).as_ref() == Some(&key)
                {
                    first_floating = Some(key.clone());
                }
                let seat = match key.kind {
                    SeatKind::Concurrent => {
                        hold = Some(key.clone());
                        SeatUse::Floating
                    }
                    SeatKind::Named => {
                        grant = Some(key.clone());
                        SeatUse::Dedicated
                    }
                };
                let p = view(facts, &key.product, seat, key.folder);
                auto = Some(p.clone());
                products.push(p);
            }
        }
    }
    if products.is_empty() && !manager {
        let reason = if own.iter().any(|h| h.suspended) {
            Refusal::LicensesExpired
        } else {
            Refusal::NoLicense
        };
        return refuse(&user.login, reason);
    }
    let features: BTreeSet<String> = products
        .iter()
        .flat_map(|p| p.features.iter().cloned())
        .collect();
    // The same answer holds for this user's next login for as long as nothing it depends on
    // changes, provided no user-limit rank was involved and it took either no seat (the
    // user's own all-modules seat) or a floating seat of the first pool in the allocation
    // order (a later login takes one there too, or is decided in full).
    let own_all_modules = auto.is_none()
        && products
            .iter()
            .any(|p| p.all_modules && p.seat == SeatUse::Dedicated);
    let repeatable =
        (allowed_seats && area_over.is_none() && (own_all_modules || first_floating.is_some()))
            .then_some(Repeatable {
                floating: first_floating,
            });
    LoginDecision::Admitted(Box::new(Admission {
        user: user.id,
        answer: AllowedLogin {
            session_id: session_id.to_string(),
            login: user.login.clone(),
            name: user.name.clone(),
            area: user.area,
            all_modules: products.iter().any(|p| p.all_modules),
            features: features.into_iter().collect(),
            products,
            auto_allocated: auto,
            license_manager: manager,
            licenses_expired: manager && !facts.expired_products.is_empty(),
            expired_products: if manager {
                facts.expired_products.clone()
            } else {
                Vec::new()
            },
            licenses_loaded: facts.licenses_loaded || !manager,
        },
        hold,
        grant,
        repeatable,
    }))
}

fn refuse(login: &str, reason: Refusal) -> LoginDecision {
    LoginDecision::Refused(RefusedLogin::new(login, reason))
}

fn view(facts: &LoginFacts, code: &str, seat: SeatUse, folder: FolderId) -> SessionProduct {
    let info = facts.products.get(code);
    SessionProduct {
        product: code.to_string(),
        name: info.map(|i| i.name.clone()).unwrap_or_default(),
        features: info.map(|i| i.features.clone()).unwrap_or_default(),
        all_modules: info.is_some_and(|i| i.all_modules),
        seat,
        folder: facts
            .folder_paths
            .get(&folder)
            .cloned()
            .unwrap_or_else(|| "/".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: SeatKind, folder: i64, product: &str) -> PoolKey {
        PoolKey {
            product: product.into(),
            area: Area::Employee,
            kind,
            folder: FolderId(folder),
        }
    }

    #[test]
    fn s2_order_is_floating_folder_root_then_dedicated_folder_root() {
        let sales = FolderId(5);
        assert_eq!(
            allocation_order(sales),
            vec![
                (SeatKind::Concurrent, sales),
                (SeatKind::Concurrent, ROOT_FOLDER),
                (SeatKind::Named, sales),
                (SeatKind::Named, ROOT_FOLDER),
            ]
        );
        assert_eq!(allocation_order(ROOT_FOLDER).len(), 2);
    }

    #[test]
    fn s2_each_step_is_taken_only_when_the_earlier_ones_are_full() {
        let mut free = BTreeMap::from([
            (key(SeatKind::Named, 1, "all"), 1),
            (key(SeatKind::Named, 5, "all"), 1),
            (key(SeatKind::Concurrent, 1, "all"), 1),
            (key(SeatKind::Concurrent, 5, "all"), 1),
        ]);
        let mut taken = Vec::new();
        while let Some(k) = pick_seat(Area::Employee, FolderId(5), &free) {
            if let Some(n) = free.get_mut(&k) {
                *n -= 1;
            }
            taken.push((k.kind, k.folder.0));
        }
        assert_eq!(
            taken,
            vec![
                (SeatKind::Concurrent, 5),
                (SeatKind::Concurrent, 1),
                (SeatKind::Named, 5),
                (SeatKind::Named, 1)
            ]
        );
    }

    #[test]
    fn s2_other_folders_and_areas_are_never_used() {
        let mut other_area = key(SeatKind::Concurrent, 1, "all");
        other_area.area = Area::Portal;
        let free = BTreeMap::from([(key(SeatKind::Named, 7, "all"), 3), (other_area, 3)]);
        assert_eq!(pick_seat(Area::Employee, FolderId(5), &free), None);
    }

    #[test]
    fn area_limit_lets_the_oldest_users_in() {
        assert!(within_area_limit(0, Some(1)));
        assert!(!within_area_limit(1, Some(1)));
        assert!(within_area_limit(1_000, None));
    }

    // The login decision (`decide`), feature by feature.

    fn product(all_modules: bool) -> ProductFacts {
        ProductFacts {
            name: "P".into(),
            features: vec!["f".into()],
            all_modules,
        }
    }

    fn user(id: i64, login: &str) -> UserFacts {
        UserFacts {
            id: UserId(id),
            login: login.into(),
            name: login.to_uppercase(),
            area: Area::Employee,
            folder: FolderId(5),
            state: UserState::Active,
            builtin: false,
            manages_licenses: false,
            area_rank: None,
            held: Vec::new(),
        }
    }

    fn held(product: &str, suspended: bool, releasing: bool) -> HeldAssignment {
        HeldAssignment {
            product: product.into(),
            folder: ROOT_FOLDER,
            suspended,
            releasing,
        }
    }

    fn facts(users: Vec<UserFacts>) -> LoginFacts {
        LoginFacts {
            users: users
                .into_iter()
                .map(|u| (u.login.to_ascii_lowercase(), u))
                .collect(),
            products: BTreeMap::from([
                ("all".to_string(), product(true)),
                ("mod".to_string(), product(false)),
            ]),
            licenses_loaded: true,
            folder_paths: BTreeMap::from([
                (ROOT_FOLDER, "/".into()),
                (FolderId(5), "Sales".into()),
            ]),
            ..LoginFacts::default()
        }
    }

    fn seats(capacity: u64, free: u64) -> PoolSeats {
        PoolSeats { capacity, free }
    }

    fn ask(facts: &LoginFacts, logins: &[&str]) -> Vec<LoginDecision> {
        let attempts: Vec<LoginAttempt> = logins
            .iter()
            .enumerate()
            .map(|(i, l)| LoginAttempt {
                login: (*l).into(),
                session_id: format!("s{i}"),
            })
            .collect();
        decide(facts, &attempts)
    }

    fn refusal(d: &LoginDecision) -> Option<Refusal> {
        match d {
            LoginDecision::Refused(r) => Some(r.reason),
            LoginDecision::Admitted(_) => None,
        }
    }

    fn admitted(d: &LoginDecision) -> &Admission {
        match d {
            LoginDecision::Admitted(a) => a,
            LoginDecision::Refused(r) => panic!("refused: {r:?}"),
        }
    }

    #[test]
    fn s1_unknown_users_are_refused_under_the_login_as_typed() {
        let d = ask(&facts(vec![]), &["Ghost"]);
        assert_eq!(
            d,
            vec![LoginDecision::Refused(RefusedLogin::new(
                "Ghost",
                Refusal::UnknownUser
            ))]
        );
    }

    #[test]
    fn s1_logins_match_whatever_the_case_and_answer_with_the_stored_login() {
        let mut u = user(1, "Ann");
        u.held.push(held("all", false, false));
        let d = ask(&facts(vec![u]), &["aNN"]);
        let a = admitted(&d[0]);
        assert_eq!(a.answer.login, "Ann");
        assert_eq!(a.answer.session_id, "s0");
        assert!(a.answer.all_modules);
        assert_eq!(a.hold, None);
        assert_eq!(a.grant, None);
    }

    #[test]
    fn s1_blocked_users_are_refused_even_when_they_manage_licenses() {
        let mut u = user(1, "ann");
        u.state = UserState::Blocked;
        u.manages_licenses = true;
        u.held.push(held("all", false, false));
        assert_eq!(
            refusal(&ask(&facts(vec![u]), &["ann"])[0]),
            Some(Refusal::Blocked)
        );
    }

    #[test]
    fn l4_a_user_left_with_suspended_seats_only_is_refused_licenses_expired() {
        let mut u = user(1, "ann");
        u.held.push(held("all", true, false));
        let mut v = user(2, "bob");
        v.held.push(held("mod", false, true));
        let d = ask(&facts(vec![u, v]), &["ann", "bob"]);
        assert_eq!(refusal(&d[0]), Some(Refusal::LicensesExpired));
        // S4: a releasing seat gives no access either, but it is not an expiry.
        assert_eq!(refusal(&d[1]), Some(Refusal::NoLicense));
    }

    #[test]
    fn l4_license_managers_get_in_without_seats_and_are_told_what_expired() {
        let mut u = user(1, "ann");
        u.manages_licenses = true;
        let mut f = facts(vec![u, user(2, "bob")]);
        f.expired_products = vec!["all".into()];
        let d = ask(&f, &["ann", "bob"]);
        let a = admitted(&d[0]);
        assert!(a.answer.license_manager && a.answer.licenses_expired);
        assert_eq!(a.answer.expired_products, vec!["all".to_string()]);
        assert!(a.answer.products.is_empty());
        assert_eq!(refusal(&d[1]), Some(Refusal::NoLicense));
    }

    #[test]
    fn l5_with_no_license_loaded_only_the_builtin_admin_manages_licenses() {
        let mut manager = user(1, "ann");
        manager.manages_licenses = true;
        let mut admin = user(2, "admin");
        admin.builtin = true;
        let mut f = facts(vec![manager, admin]);
        f.licenses_loaded = false;
        let d = ask(&f, &["ann", "admin"]);
        assert_eq!(refusal(&d[0]), Some(Refusal::NoLicense));
        let a = admitted(&d[1]);
        assert!(a.answer.license_manager);
        assert!(!a.answer.licenses_loaded);
    }

    #[test]
    fn x13_an_area_over_its_limit_refuses_its_newest_users_but_lets_a_license_manager_in() {
        let mut old = user(1, "old");
        old.area_rank = Some(0);
        old.held.push(held("all", false, false));
        let mut new = user(2, "new");
        new.area_rank = Some(1);
        new.held.push(held("all", false, false));
        let mut manager = user(3, "manager");
        manager.area_rank = Some(2);
        manager.manages_licenses = true;
        manager.held.push(held("all", false, false));
        let mut f = facts(vec![old, new, manager]);
        f.areas.insert(
            Area::Employee,
            AreaUsers {
                active: 3,
                limit: Some(1),
            },
        );
        for u in f.users.values() {
            assert!(needs_area_rank(u, &f.areas));
        }
        let d = ask(&f, &["old", "new", "manager"]);
        let a = admitted(&d[0]);
        // Admitted, but never remembered while the area is over its limit.
        assert!(a.repeatable.is_none());
        assert_eq!(refusal(&d[1]), Some(Refusal::AreaLimit));
        let m = admitted(&d[2]);
        assert!(m.answer.license_manager && m.answer.products.is_empty());
    }

    #[test]
    fn s2_a_batch_takes_seats_in_order_and_never_a_module_seat() {
        let mut f = facts(vec![user(1, "ann"), user(2, "bob"), user(3, "cy")]);
        f.pools = BTreeMap::from([
            (key(SeatKind::Concurrent, 5, "all"), seats(1, 1)),
            (key(SeatKind::Named, 1, "all"), seats(3, 1)),
            (key(SeatKind::Concurrent, 5, "mod"), seats(9, 9)),
        ]);
        let d = ask(&f, &["ann", "bob", "cy"]);
        let a = admitted(&d[0]);
        assert_eq!(a.hold, Some(key(SeatKind::Concurrent, 5, "all")));
        assert_eq!(
            a.answer.auto_allocated.as_ref().map(|p| p.seat),
            Some(SeatUse::Floating)
        );
        assert_eq!(a.answer.products[0].folder, "Sales");
        let b = admitted(&d[1]);
        assert_eq!(b.grant, Some(key(SeatKind::Named, 1, "all")));
        assert_eq!(refusal(&d[2]), Some(Refusal::NoLicense));
    }

    #[test]
    fn s2_a_named_seat_granted_earlier_in_the_batch_serves_the_users_next_login() {
        let mut f = facts(vec![user(1, "ann")]);
        f.pools = BTreeMap::from([(key(SeatKind::Named, 5, "all"), seats(2, 2))]);
        let d = ask(&f, &["ann", "ann"]);
        assert!(admitted(&d[0]).grant.is_some());
        let second = admitted(&d[1]);
        assert_eq!(second.grant, None);
        assert_eq!(second.answer.products[0].seat, SeatUse::Dedicated);
        assert_eq!(second.answer.auto_allocated, None);
    }

    #[test]
    fn s2_the_builtin_admin_never_takes_a_seat() {
        let mut admin = user(1, "admin");
        admin.builtin = true;
        let mut f = facts(vec![admin]);
        f.pools = BTreeMap::from([(key(SeatKind::Concurrent, 5, "all"), seats(1, 1))]);
        assert!(!needs_seat(&f.users["admin"], &f.products));
        let d = ask(&f, &["admin"]);
        let a = admitted(&d[0]);
        assert_eq!((a.hold.as_ref(), a.grant.as_ref()), (None, None));
    }

    #[test]
    fn s3_only_own_seat_and_first_floating_pool_answers_are_repeatable() {
        let mut own = user(1, "own");
        own.held.push(held("all", false, false));
        let mut f = facts(vec![own, user(2, "a"), user(3, "b")]);
        // The folder's floating pool is first in the order; with one seat free, the second
        // floating login goes to the root, which is not where a login goes first.
        f.pools = BTreeMap::from([
            (key(SeatKind::Concurrent, 5, "all"), seats(4, 1)),
            (key(SeatKind::Concurrent, 1, "all"), seats(4, 4)),
        ]);
        let d = ask(&f, &["own", "a", "b"]);
        assert_eq!(
            admitted(&d[0]).repeatable,
            Some(Repeatable { floating: None })
        );
        assert_eq!(
            admitted(&d[1]).repeatable,
            Some(Repeatable {
                floating: Some(key(SeatKind::Concurrent, 5, "all"))
            })
        );
        assert_eq!(
            admitted(&d[2]).hold,
            Some(key(SeatKind::Concurrent, 1, "all"))
        );
        assert_eq!(admitted(&d[2]).repeatable, None);
    }
}
