#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Property tests of the level events (N1, X6): over any sequence of transaction ends, each
//! condition fires exactly once per time it goes from false to true, never while it stays
//! true, and the reported set always equals the conditions true at the last end.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use seatkeeper_core::events::{AreaLevel, PoolLevel, conditions, crossings};
use seatkeeper_core::{Area, SeatKind};
use time::{Duration, OffsetDateTime};

fn state() -> impl Strategy<Value = (Vec<AreaLevel>, Vec<PoolLevel>)> {
    (
        prop::collection::vec((0u64..12, prop::option::of(8u64..11)), 2),
        prop::collection::vec((0u64..12, 0u64..11, prop::option::of(50u8..=100)), 2),
    )
        .prop_map(|(areas, pools)| {
            let areas = areas
                .into_iter()
                .zip([Area::Employee, Area::Portal])
                .map(|((active, limit), area)| AreaLevel {
                    area,
                    active,
                    limit,
                })
                .collect();
            let pools = pools
                .into_iter()
                .zip(["crm", "erp"])
                .map(|((used, total, pct), product)| PoolLevel {
                    product: product.into(),
                    area: Area::Employee,
                    kind: SeatKind::Concurrent,
                    used: used.min(total),
                    total,
                    threshold_percent: pct,
                })
                .collect();
            (areas, pools)
        })
}

proptest! {
    #[test]
    fn n1_x6_each_condition_fires_once_per_rise(seq in prop::collection::vec(state(), 1..40)) {
        let mut reported: BTreeSet<String> = BTreeSet::new();
        let mut fired: BTreeMap<String, usize> = BTreeMap::new();
        let mut rises: BTreeMap<String, usize> = BTreeMap::new();
        let mut before: BTreeSet<String> = BTreeSet::new();
        for (areas, pools) in &seq {
            let now: BTreeSet<String> = conditions(areas, pools).into_keys().collect();
            for k in now.difference(&before) {
                *rises.entry(k.clone()).or_default() += 1;
            }
            let c = crossings(areas, pools, &reported);
            prop_assert_eq!(c.fire.len(), c.raise.len());
            for k in &c.raise {
                *fired.entry(k.clone()).or_default() += 1;
                prop_assert!(reported.insert(k.clone()), "raised twice: {}", k);
            }
            for k in &c.clear {
                prop_assert!(reported.remove(k));
            }
            prop_assert_eq!(&reported, &now);
            before = now;
        }
        prop_assert_eq!(fired, rises);
    }
}

#[test]
fn n1_expiry_notices_walk_down_the_configured_days() {
    use seatkeeper_core::events::{Ending, expiring_notices};
    let end = OffsetDateTime::UNIX_EPOCH + Duration::days(400);
    let ending = [Ending {
        license_id: "L".into(),
        customer: "ACME".into(),
        products: vec!["crm".into()],
        expires_at: end,
    }];
    // Asked every day from 40 days before to the end: three distinct notices.
    let mut keys = BTreeSet::new();
    for d in (0..=40).rev() {
        for e in expiring_notices(&ending, &[30, 7, 1], end - Duration::days(d)) {
            keys.insert(e.dedupe.unwrap());
        }
    }
    assert_eq!(keys.len(), 3, "{keys:?}");
}
