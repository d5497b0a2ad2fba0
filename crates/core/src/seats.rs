//! Seat rules: which assignments a shrunken pool suspends and which come back (L4), and where
//! granted seats come from (D1, X1).

use std::collections::BTreeMap;

use crate::{Area, Error, FolderId, PoolKey, ROOT_FOLDER, SeatKind, UserId};

/// An assignment as the rules see it: its id and its age (grant time, then id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    pub granted_at: i64,
    pub id: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolChange {
    pub suspend: Vec<i64>,
    pub restore: Vec<i64>,
}

/// L4: when a pool holds more active assignments than seats, the newest are suspended; when
/// seats return, the oldest suspended come back first.
pub fn reconcile_pool(capacity: u64, active: &[Held], suspended: &[Held]) -> PoolChange {
    let mut change = PoolChange::default();
    let active_n = active.len() as u64;
    if active_n > capacity {
        let mut newest_first = active.to_vec();
        newest_first.sort_by(|a, b| b.cmp(a));
        let surplus = (active_n - capacity) as usize;
        change.suspend = newest_first.iter().take(surplus).map(|h| h.id).collect();
    } else if !suspended.is_empty() {
        let mut oldest_first = suspended.to_vec();
        oldest_first.sort();
        let room = (capacity - active_n) as usize;
        change.restore = oldest_first.iter().take(room).map(|h| h.id).collect();
    }
    change
}

/// A user who needs a named seat of a product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatDemand {
    pub user: UserId,
    pub product: String,
    pub area: Area,
    pub folder: FolderId,
}

/// D1 / X1: finds a named seat for every demand, all or nothing. Seats in a user's own folder
/// are used first (only that folder's users can use them); the root serves the rest.
/// Returns the pool of each demand, in the order given.
pub fn place_named_seats(
    demands: &[SeatDemand],
    free: &BTreeMap<PoolKey, u64>,
) -> Result<Vec<PoolKey>, Error> {
    let mut left = free.clone();
    let mut placed: Vec<Option<PoolKey>> = vec![None; demands.len()];
    let key = |d: &SeatDemand, folder| PoolKey {
        product: d.product.clone(),
        area: d.area,
        kind: SeatKind::Named,
        folder,
    };
    // Pass 1: own folder; pass 2: the root.
    for pass_root in [false, true] {
        for (slot, d) in placed.iter_mut().zip(demands) {
            if slot.is_some() || (!pass_root && d.folder == ROOT_FOLDER) {
                continue;
            }
            let k = key(d, if pass_root { ROOT_FOLDER } else { d.folder });
            if let Some(n) = left.get_mut(&k).filter(|n| **n > 0) {
                *n -= 1;
                *slot = Some(k);
            }
        }
    }
    if let Some((d, _)) = demands.iter().zip(&placed).find(|(_, p)| p.is_none()) {
        let same = |o: &SeatDemand| o.product == d.product && o.area == d.area;
        let needed = demands.iter().filter(|o| same(o)).count() as u64;
        let folders: std::collections::BTreeSet<FolderId> = demands
            .iter()
            .filter(|o| same(o))
            .map(|o| o.folder)
            .collect();
        // Own folder first, then the root, is optimal: what was placed is exactly how many
        // of these seats these users could use.
        let initially = demands
            .iter()
            .zip(&placed)
            .filter(|(o, p)| same(o) && p.is_some())
            .count() as u64;
        let where_ = if folders.iter().all(|f| *f == ROOT_FOLDER) {
            String::new()
        } else {
            " in the users' folders and the root".to_string()
        };
        return Err(Error::NoSeatFree {
            product: d.product.clone(),
            area: d.area,
            kind: SeatKind::Named,
            needed,
            free: initially,
            where_,
        });
    }
    Ok(placed.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(t: i64, id: i64) -> Held {
        Held { granted_at: t, id }
    }

    #[test]
    fn l4_newest_are_suspended_oldest_come_back() {
        let active = [h(1, 1), h(3, 3), h(2, 2)];
        assert_eq!(reconcile_pool(1, &active, &[]).suspend, vec![3, 2]);
        let suspended = [h(3, 3), h(2, 2)];
        assert_eq!(reconcile_pool(2, &[h(1, 1)], &suspended).restore, vec![2]);
        assert_eq!(
            reconcile_pool(1, &[h(1, 1)], &suspended),
            PoolChange::default()
        );
    }

    #[test]
    fn d1_shortfall_counts_only_seats_these_users_can_use() {
        let root = PoolKey {
            product: "crm".into(),
            area: Area::Employee,
            kind: SeatKind::Named,
            folder: ROOT_FOLDER,
        };
        let f2 = PoolKey {
            folder: FolderId(2),
            ..root.clone()
        };
        let free = BTreeMap::from([(root, 1), (f2, 5)]);
        let d = |u, folder| SeatDemand {
            user: UserId(u),
            product: "crm".into(),
            area: Area::Employee,
            folder,
        };
        let err = place_named_seats(
            &[d(1, ROOT_FOLDER), d(2, ROOT_FOLDER), d(3, FolderId(2))],
            &free,
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NoSeatFree {
                    needed: 3,
                    free: 2,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn d1_own_folder_first_then_root_all_or_nothing() {
        let root = PoolKey {
            product: "crm".into(),
            area: Area::Employee,
            kind: SeatKind::Named,
            folder: ROOT_FOLDER,
        };
        let f2 = PoolKey {
            folder: FolderId(2),
            ..root.clone()
        };
        let free = BTreeMap::from([(root.clone(), 1), (f2.clone(), 1)]);
        let d = |u, folder| SeatDemand {
            user: UserId(u),
            product: "crm".into(),
            area: Area::Employee,
            folder,
        };
        // The root user must not lose the root seat to the folder user.
        let got = place_named_seats(&[d(1, ROOT_FOLDER), d(2, FolderId(2))], &free).unwrap();
        assert_eq!(got, vec![root.clone(), f2.clone()]);
        let err = place_named_seats(&[d(1, ROOT_FOLDER), d(2, ROOT_FOLDER)], &free).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NoSeatFree {
                    needed: 2,
                    free: 1,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
