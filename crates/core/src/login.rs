//! The login rules (S1, S2): who may start a session, and which seat auto-allocation takes
//! for a user who holds no all-modules license.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Area, FolderId, PoolKey, ROOT_FOLDER, SeatKind};

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
}
