//! Capacity at an instant (L3, L4, U1): which packages count, how their seats split into
//! pools by folder, and each area's user limit.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::{Area, AreaLimit, FolderId, Package, PoolKey, ROOT_FOLDER};

/// Seats of one package placed in folders; the rest stay in the root (X1).
pub type Placements = BTreeMap<String, BTreeMap<FolderId, u32>>;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CapacityView {
    /// Seats per pool. Pools of packages that no longer count appear with 0, so that callers
    /// can shrink them.
    pub pools: BTreeMap<PoolKey, u64>,
    /// The next instant at which this view changes (a package or limit starts or ends).
    pub next_change: Option<OffsetDateTime>,
}

/// Whether `pkg` counts at `now`: inside its window and not replaced by a package that has
/// already started (a replacement that later expires does not revive what it replaced).
pub fn counts(pkg: &Package, all: &[Package], now: OffsetDateTime) -> bool {
    pkg.in_window(now) && !replaced_at(&pkg.serial, all, now)
}

fn replaced_at(serial: &str, all: &[Package], now: OffsetDateTime) -> bool {
    all.iter()
        .any(|q| q.valid_from <= now && q.replaces.iter().any(|r| r == serial))
}

/// The pools and their capacity at `now`.
pub fn pools_at(
    packages: &[Package],
    placements: &Placements,
    now: OffsetDateTime,
) -> CapacityView {
    let mut view = CapacityView::default();
    let mut note = |t: OffsetDateTime| {
        if t > now {
            view.next_change = Some(view.next_change.map_or(t, |n: OffsetDateTime| n.min(t)));
        }
    };
    for pkg in packages {
        note(pkg.valid_from);
        if let Some(e) = pkg.expires {
            note(e);
        }
    }
    for pkg in packages {
        let counting = counts(pkg, packages, now);
        let placed = placements.get(&pkg.serial);
        let mut in_folders: u64 = 0;
        for (folder, seats) in placed.into_iter().flatten() {
            if *folder == ROOT_FOLDER {
                continue;
            }
            let seats = u64::from(*seats).min(u64::from(pkg.seats) - in_folders);
            in_folders += seats;
            *view.pools.entry(pool(pkg, *folder)).or_default() += if counting { seats } else { 0 };
        }
        *view.pools.entry(pool(pkg, ROOT_FOLDER)).or_default() += if counting {
            u64::from(pkg.seats) - in_folders
        } else {
            0
        };
    }
    view
}

fn pool(pkg: &Package, folder: FolderId) -> PoolKey {
    PoolKey {
        product: pkg.product.clone(),
        area: pkg.area,
        kind: pkg.kind,
        folder,
    }
}

/// Each area's user limit at `now`: the sum of the limits of the license files in force, or
/// `None` (unlimited) when no file in force limits that area.
pub fn area_limits_at(limits: &[AreaLimit], now: OffsetDateTime) -> BTreeMap<Area, Option<u64>> {
    let mut out: BTreeMap<Area, Option<u64>> = Area::ALL.iter().map(|a| (*a, None)).collect();
    for l in limits.iter().filter(|l| l.in_window(now)) {
        let slot = out.entry(l.area).or_default();
        *slot = Some(slot.unwrap_or(0) + u64::from(l.max_users));
    }
    out
}

/// The next instant at which any area limit starts or ends.
pub fn next_limit_change(limits: &[AreaLimit], now: OffsetDateTime) -> Option<OffsetDateTime> {
    limits
        .iter()
        .flat_map(|l| [Some(l.valid_from), l.expires])
        .flatten()
        .filter(|t| *t > now)
        .min()
}

/// A renewal takes over the folder placement of what it replaces, so that seats stay where
/// their users are (L3); capped at the renewal's own seat count, folders in id order.
pub fn inherited_placements(
    renewal_seats: u32,
    replaced: &[&BTreeMap<FolderId, u32>],
) -> BTreeMap<FolderId, u32> {
    let mut merged: BTreeMap<FolderId, u32> = BTreeMap::new();
    for p in replaced {
        for (f, s) in *p {
            if *f != ROOT_FOLDER {
                *merged.entry(*f).or_default() += s;
            }
        }
    }
    let mut left = renewal_seats;
    merged
        .into_iter()
        .filter_map(|(f, s)| {
            let take = s.min(left);
            left -= take;
            (take > 0).then_some((f, take))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeatKind;
    use time::macros::datetime;

    fn pkg(
        serial: &str,
        seats: u32,
        from: OffsetDateTime,
        until: Option<OffsetDateTime>,
    ) -> Package {
        Package {
            serial: serial.into(),
            product: "crm".into(),
            kind: SeatKind::Named,
            area: Area::Employee,
            seats,
            valid_from: from,
            expires: until,
            replaces: vec![],
        }
    }

    #[test]
    fn l3_capacity_is_the_sum_of_valid_packages_split_by_folder() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-06-01 0:00 UTC);
        let pkgs = vec![pkg("a", 10, t0, Some(t1)), pkg("b", 5, t0, None)];
        let mut placements = Placements::new();
        placements.insert("a".into(), BTreeMap::from([(FolderId(7), 4)]));
        let v = pools_at(&pkgs, &placements, t0);
        let root = PoolKey {
            product: "crm".into(),
            area: Area::Employee,
            kind: SeatKind::Named,
            folder: ROOT_FOLDER,
        };
        let f7 = PoolKey {
            folder: FolderId(7),
            ..root.clone()
        };
        assert_eq!(v.pools[&root], 11);
        assert_eq!(v.pools[&f7], 4);
        assert_eq!(v.next_change, Some(t1));
        let later = pools_at(&pkgs, &placements, t1);
        assert_eq!(later.pools[&root], 5);
        assert_eq!(later.pools[&f7], 0);
    }

    #[test]
    fn l3_a_renewal_stops_the_old_serial_counting_once_it_starts() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-03-01 0:00 UTC);
        let t2 = datetime!(2026-06-01 0:00 UTC);
        let old = pkg("old", 10, t0, Some(t2));
        let mut new = pkg("new", 12, t1, None);
        new.replaces = vec!["old".into()];
        let pkgs = vec![old, new];
        let root = PoolKey {
            product: "crm".into(),
            area: Area::Employee,
            kind: SeatKind::Named,
            folder: ROOT_FOLDER,
        };
        assert_eq!(pools_at(&pkgs, &Placements::new(), t0).pools[&root], 10);
        assert_eq!(pools_at(&pkgs, &Placements::new(), t1).pools[&root], 12);
    }

    #[test]
    fn u1_limits_add_up_across_files_in_force() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-06-01 0:00 UTC);
        let limits = vec![
            AreaLimit {
                area: Area::Employee,
                max_users: 10,
                valid_from: t0,
                expires: Some(t1),
            },
            AreaLimit {
                area: Area::Employee,
                max_users: 5,
                valid_from: t0,
                expires: None,
            },
        ];
        assert_eq!(area_limits_at(&limits, t0)[&Area::Employee], Some(15));
        assert_eq!(area_limits_at(&limits, t1)[&Area::Employee], Some(5));
        assert_eq!(area_limits_at(&limits, t1)[&Area::Portal], None);
    }
}
