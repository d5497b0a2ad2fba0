//! Capacity at an instant (L3, L4, U1): which packages count, how their seats split into
//! pools by folder, and each area's user limit.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::{Area, AreaLimit, FolderId, Package, PoolKey, ROOT_FOLDER, in_window};

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

/// One imported license file as far as user limits are concerned (U1): its packages (whose
/// `replaces` say which files it renews, and whose expiries end the file) and its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenseTerms {
    /// The ledger's id of the file (import order); breaks ties between mutual renewals.
    pub file: i64,
    pub packages: Vec<Package>,
    pub limits: Vec<AreaLimit>,
}

impl LicenseTerms {
    /// When nothing in the file counts any more; `None` while a package is perpetual.
    fn end(&self) -> Option<OffsetDateTime> {
        if self.packages.iter().any(|p| p.expires.is_none()) {
            return None;
        }
        self.packages.iter().filter_map(|p| p.expires).max()
    }

    /// When this file's limit for `area` takes over from the files it renews.
    fn start(&self, area: Area) -> Option<OffsetDateTime> {
        self.limits
            .iter()
            .filter(|l| l.area == area)
            .map(|l| l.valid_from)
            .min()
    }
}

/// For each file (by position), the files that renew it directly or through a chain of
/// renewals: a file renews another when one of its packages `replaces` one of the other's.
fn renewed_by(files: &[LicenseTerms]) -> Vec<BTreeSet<usize>> {
    let owner: BTreeMap<&str, usize> = files
        .iter()
        .enumerate()
        .flat_map(|(i, f)| f.packages.iter().map(move |p| (p.serial.as_str(), i)))
        .collect();
    let mut direct: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); files.len()];
    for (g, f) in files.iter().enumerate() {
        for r in f.packages.iter().flat_map(|p| &p.replaces) {
            if let Some(&old) = owner.get(r.as_str())
                && old != g
                && let Some(renewers) = direct.get_mut(old)
            {
                renewers.insert(g);
            }
        }
    }
    // Every position in `owner` comes from `files`, so each lookup below finds its set.
    let renewers_of = |g: usize| direct.get(g).into_iter().flatten().copied();
    (0..files.len())
        .map(|start| {
            let mut seen = BTreeSet::new();
            let mut todo: Vec<usize> = renewers_of(start).collect();
            while let Some(g) = todo.pop() {
                if g != start && seen.insert(g) {
                    todo.extend(renewers_of(g));
                }
            }
            seen
        })
        .collect()
}

/// Whether file `f`'s limits for `area` have been taken over at `now` by a renewal: a file
/// that renews it (directly or through a chain) and whose own limit for that area has
/// started. A renewal that later ends does not revive what it took over. Files that renew
/// each other (possible only through a serial imported after the file naming it): the one
/// whose limit starts later, then the one imported later, takes over.
fn limit_taken_over(
    files: &[LicenseTerms],
    renewers: &[BTreeSet<usize>],
    f: usize,
    area: Area,
    now: OffsetDateTime,
) -> bool {
    // `renewers` is `renewed_by(files)`: one set per file, positions taken from `files`.
    let (Some(file), Some(mine)) = (files.get(f), renewers.get(f)) else {
        return false;
    };
    let own = (file.start(area), file.file);
    mine.iter()
        .filter_map(|&g| Some((files.get(g)?, renewers.get(g)?)))
        .any(|(other, theirs)| {
            other
                .start(area)
                .is_some_and(|s| s <= now && (!theirs.contains(&f) || (Some(s), other.file) > own))
        })
}

/// Each area's user limit at `now` (U1), or `None` (no limit) when no limit is in force for
/// that area. A limit is in force inside its own window, which ends at the latest with its
/// file (the last expiry among the file's packages), unless a renewal of its file has taken
/// it over. Limits of files that do not renew one another add up: they are separate
/// purchases. See "User limits: renewal, replacement, expiry" in `docs/LICENSE-FILES.md`.
pub fn area_limits_at(files: &[LicenseTerms], now: OffsetDateTime) -> BTreeMap<Area, Option<u64>> {
    let renewers = renewed_by(files);
    let mut out: BTreeMap<Area, Option<u64>> = Area::ALL.iter().map(|a| (*a, None)).collect();
    for (i, f) in files.iter().enumerate() {
        let end = f.end();
        for l in &f.limits {
            let until = match (l.expires, end) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if in_window(l.valid_from, until, now)
                && !limit_taken_over(files, &renewers, i, l.area, now)
            {
                let slot = out.entry(l.area).or_default();
                *slot = Some(slot.unwrap_or(0) + u64::from(l.max_users));
            }
        }
    }
    out
}

/// The next instant at which any area limit may change: a limit starting (which is also when
/// a renewal takes over) or ending, or a file ending.
pub fn next_limit_change(files: &[LicenseTerms], now: OffsetDateTime) -> Option<OffsetDateTime> {
    files
        .iter()
        .flat_map(|f| {
            f.limits
                .iter()
                .flat_map(|l| [Some(l.valid_from), l.expires])
                .chain([f.end()])
        })
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

    fn limit(max_users: u32, from: OffsetDateTime, until: Option<OffsetDateTime>) -> AreaLimit {
        AreaLimit {
            area: Area::Employee,
            max_users,
            valid_from: from,
            expires: until,
        }
    }

    fn file(id: i64, packages: Vec<Package>, limits: Vec<AreaLimit>) -> LicenseTerms {
        LicenseTerms {
            file: id,
            packages,
            limits,
        }
    }

    #[test]
    fn u1_limits_of_independent_files_add_up_each_in_its_own_window() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-06-01 0:00 UTC);
        let files = vec![
            file(
                1,
                vec![pkg("a", 1, t0, None)],
                vec![limit(10, t0, Some(t1))],
            ),
            file(2, vec![pkg("b", 1, t0, None)], vec![limit(5, t0, None)]),
        ];
        assert_eq!(area_limits_at(&files, t0)[&Area::Employee], Some(15));
        assert_eq!(area_limits_at(&files, t1)[&Area::Employee], Some(5));
        assert_eq!(area_limits_at(&files, t1)[&Area::Portal], None);
        assert_eq!(next_limit_change(&files, t0), Some(t1));
    }

    #[test]
    fn x13_a_renewal_takes_over_the_limit_instead_of_adding_to_it() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-03-01 0:00 UTC);
        let t2 = datetime!(2027-01-01 0:00 UTC);
        let old = file(
            1,
            vec![pkg("S-2026", 1, t0, Some(t2))],
            vec![limit(60, t0, None)],
        );
        let mut renewing = pkg("S-2027", 1, t1, None);
        renewing.replaces = vec!["S-2026".into()];
        for (renewed, expect) in [(60, 60), (80, 80), (40, 40)] {
            let files = vec![
                old.clone(),
                file(2, vec![renewing.clone()], vec![limit(renewed, t1, None)]),
            ];
            assert_eq!(area_limits_at(&files, t0)[&Area::Employee], Some(60));
            assert_eq!(area_limits_at(&files, t1)[&Area::Employee], Some(expect));
            assert_eq!(area_limits_at(&files, t2)[&Area::Employee], Some(expect));
        }
    }

    #[test]
    fn x13_a_limit_ends_with_its_file_and_a_renewal_without_limits_keeps_the_old_one() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-03-01 0:00 UTC);
        let t2 = datetime!(2027-01-01 0:00 UTC);
        let old = file(
            1,
            vec![pkg("S-2026", 1, t0, Some(t2))],
            vec![limit(60, t0, None)],
        );
        let mut renewing = pkg("S-2027", 1, t1, None);
        renewing.replaces = vec!["S-2026".into()];
        let files = vec![old, file(2, vec![renewing], vec![])];
        assert_eq!(area_limits_at(&files, t1)[&Area::Employee], Some(60));
        assert_eq!(next_limit_change(&files, t1), Some(t2));
        assert_eq!(area_limits_at(&files, t2)[&Area::Employee], None);
    }

    #[test]
    fn x13_renewals_that_name_each_other_leave_one_limit_in_force() {
        let t0 = datetime!(2026-01-01 0:00 UTC);
        let t1 = datetime!(2026-03-01 0:00 UTC);
        let mut a = pkg("A", 1, t0, None);
        a.replaces = vec!["B".into()];
        let mut b = pkg("B", 1, t0, None);
        b.replaces = vec!["A".into()];
        let files = vec![
            file(1, vec![a], vec![limit(60, t0, None)]),
            file(2, vec![b], vec![limit(70, t1, None)]),
        ];
        assert_eq!(area_limits_at(&files, t0)[&Area::Employee], Some(60));
        assert_eq!(area_limits_at(&files, t1)[&Area::Employee], Some(70));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn at(day: i64) -> OffsetDateTime {
            datetime!(2026-01-01 0:00 UTC) + time::Duration::days(day)
        }

        /// A file: (limit, limit start day, limit length in days or perpetual, file length in
        /// days or perpetual, whether it carries a limit at all).
        type Spec = (u32, i64, Option<i64>, Option<i64>, bool);

        fn file_strategy() -> impl Strategy<Value = Spec> {
            (
                0u32..200,
                0i64..100,
                proptest::option::of(1i64..100),
                proptest::option::of(1i64..200),
                proptest::bool::weighted(0.8),
            )
        }

        fn build(specs: &[Spec], renewal_chain: bool) -> Vec<LicenseTerms> {
            specs
                .iter()
                .enumerate()
                .map(|(i, (max, from, len, file_len, has_limit))| {
                    let mut p = pkg(&format!("S-{i}"), 1, at(0), file_len.map(at));
                    if renewal_chain && i > 0 {
                        p.replaces = vec![format!("S-{}", i - 1)];
                    }
                    let limits = if *has_limit {
                        vec![limit(*max, at(*from), len.map(|l| at(from + l)))]
                    } else {
                        vec![]
                    };
                    file(i64::try_from(i).unwrap_or(0) + 1, vec![p], limits)
                })
                .collect()
        }

        fn in_own_window(f: &LicenseTerms, l: &AreaLimit, t: OffsetDateTime) -> bool {
            l.in_window(t) && f.end().is_none_or(|e| t < e)
        }

        proptest! {
            /// However the files of a renewal chain start and end, at most one of their limits
            /// is in force at any instant: renewing never adds the users up.
            #[test]
            fn x13_a_renewal_chain_never_adds_its_limits(
                specs in proptest::collection::vec(file_strategy(), 1..6),
                day in 0i64..250,
            ) {
                let files = build(&specs, true);
                let t = at(day);
                let got = area_limits_at(&files, t)[&Area::Employee];
                let candidates: Vec<u64> = files
                    .iter()
                    .flat_map(|f| f.limits.iter().filter(|l| in_own_window(f, l, t)))
                    .map(|l| u64::from(l.max_users))
                    .collect();
                match got {
                    None => {}
                    Some(n) => prop_assert!(candidates.contains(&n), "{n} not one of {candidates:?}"),
                }
                // The newest file whose limit has started decides while it is in force.
                let newest = files
                    .iter()
                    .rev()
                    .find(|f| f.limits.iter().any(|l| l.valid_from <= t));
                if let Some(f) = newest {
                    let own: Option<u64> = f
                        .limits
                        .iter()
                        .find(|l| in_own_window(f, l, t))
                        .map(|l| u64::from(l.max_users));
                    prop_assert_eq!(got, own);
                }
            }

            /// Files that do not renew one another add up, each limit inside its own window
            /// (capped by its file's end), and the answer changes only at the announced instants.
            #[test]
            fn x13_independent_files_add_within_their_windows(
                specs in proptest::collection::vec(file_strategy(), 1..6),
                day in 0i64..250,
            ) {
                let files = build(&specs, false);
                let t = at(day);
                let limited: Vec<u64> = files
                    .iter()
                    .flat_map(|f| f.limits.iter().filter(|l| in_own_window(f, l, t)))
                    .map(|l| u64::from(l.max_users))
                    .collect();
                let expect = (!limited.is_empty()).then(|| limited.iter().sum::<u64>());
                prop_assert_eq!(area_limits_at(&files, t)[&Area::Employee], expect);
                if let Some(next) = next_limit_change(&files, t) {
                    prop_assert!(next > t);
                    let before = next - time::Duration::seconds(1);
                    prop_assert_eq!(area_limits_at(&files, before), area_limits_at(&files, t));
                } else {
                    prop_assert_eq!(area_limits_at(&files, at(10_000)), area_limits_at(&files, t));
                }
            }
        }
    }
}
