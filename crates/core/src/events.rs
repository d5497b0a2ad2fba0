//! Events that leave Seatkeeper (N1, I4, X6): what they are, what they carry, and when a
//! level crosses a line. Pure: the store loads the levels and the conditions already
//! reported, calls [`crossings`], and writes the events it answers into the outbox in the
//! same transaction as the change; mail and webhooks deliver them from there.
//!
//! A level event fires when its condition becomes true and is re-armed when the condition
//! is false again at the end of a later transaction, so each crossing is reported once
//! however many users are refused while it lasts, and a condition that came and went inside
//! one transaction is not reported at all.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::{Area, SeatKind};

/// Every event type. The list is open: receivers must ignore types they do not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "limit.reached")]
    LimitReached,
    #[serde(rename = "limit.exceeded")]
    LimitExceeded,
    #[serde(rename = "seats.threshold")]
    SeatsThreshold,
    #[serde(rename = "seats.exhausted")]
    SeatsExhausted,
    #[serde(rename = "license.expiring")]
    LicenseExpiring,
    #[serde(rename = "license.expired")]
    LicenseExpired,
    #[serde(rename = "license.imported")]
    LicenseImported,
    #[serde(rename = "redistribution.completed")]
    RedistributionCompleted,
    #[serde(rename = "needs.unmet")]
    NeedsUnmet,
    #[serde(rename = "user.blocked")]
    UserBlocked,
    #[serde(rename = "user.activated")]
    UserActivated,
    #[serde(rename = "directory.sync.completed")]
    DirectorySyncCompleted,
    #[serde(rename = "directory.sync.failed")]
    DirectorySyncFailed,
    /// Sent only by "Send test" (mail or a webhook), never by a change.
    #[serde(rename = "test")]
    Test,
}

/// The classes an administrator turns mail on or off for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventClass {
    Limits,
    Seats,
    Licenses,
    Distribution,
    Users,
    Directory,
    Test,
}

impl EventClass {
    pub const ALL: [EventClass; 6] = [
        EventClass::Limits,
        EventClass::Seats,
        EventClass::Licenses,
        EventClass::Distribution,
        EventClass::Users,
        EventClass::Directory,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventClass::Limits => "limits",
            EventClass::Seats => "seats",
            EventClass::Licenses => "licenses",
            EventClass::Distribution => "distribution",
            EventClass::Users => "users",
            EventClass::Directory => "directory",
            EventClass::Test => "test",
        }
    }

    /// Whether mail for this class is sent when nobody has said otherwise: what a
    /// responsible person must act on is on; per-user noise is off.
    pub fn mailed_by_default(self) -> bool {
        !matches!(self, EventClass::Users | EventClass::Directory)
    }

    pub fn parse(s: &str) -> Option<EventClass> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl EventType {
    pub const ALL: [EventType; 13] = [
        EventType::LimitReached,
        EventType::LimitExceeded,
        EventType::SeatsThreshold,
        EventType::SeatsExhausted,
        EventType::LicenseExpiring,
        EventType::LicenseExpired,
        EventType::LicenseImported,
        EventType::RedistributionCompleted,
        EventType::NeedsUnmet,
        EventType::UserBlocked,
        EventType::UserActivated,
        EventType::DirectorySyncCompleted,
        EventType::DirectorySyncFailed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::LimitReached => "limit.reached",
            EventType::LimitExceeded => "limit.exceeded",
            EventType::SeatsThreshold => "seats.threshold",
            EventType::SeatsExhausted => "seats.exhausted",
            EventType::LicenseExpiring => "license.expiring",
            EventType::LicenseExpired => "license.expired",
            EventType::LicenseImported => "license.imported",
            EventType::RedistributionCompleted => "redistribution.completed",
            EventType::NeedsUnmet => "needs.unmet",
            EventType::UserBlocked => "user.blocked",
            EventType::UserActivated => "user.activated",
            EventType::DirectorySyncCompleted => "directory.sync.completed",
            EventType::DirectorySyncFailed => "directory.sync.failed",
            EventType::Test => "test",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        Self::ALL
            .into_iter()
            .chain([EventType::Test])
            .find(|t| t.as_str() == s)
    }

    pub fn class(self) -> EventClass {
        match self {
            EventType::LimitReached | EventType::LimitExceeded => EventClass::Limits,
            EventType::SeatsThreshold | EventType::SeatsExhausted => EventClass::Seats,
            EventType::LicenseExpiring | EventType::LicenseExpired | EventType::LicenseImported => {
                EventClass::Licenses
            }
            EventType::RedistributionCompleted | EventType::NeedsUnmet => EventClass::Distribution,
            EventType::UserBlocked | EventType::UserActivated => EventClass::Users,
            EventType::DirectorySyncCompleted | EventType::DirectorySyncFailed => {
                EventClass::Directory
            }
            EventType::Test => EventClass::Test,
        }
    }
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as the outbox keeps it: its type, its payload (the `data` of what is delivered)
/// and, for events that time raises rather than a change, the key that makes a second
/// notice of the same thing a no-op.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event_type: EventType,
    pub dedupe: Option<String>,
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(event_type: EventType, data: &impl Serialize) -> Event {
        Event {
            event_type,
            dedupe: None,
            // Serialising a plain struct of strings and numbers cannot fail.
            data: serde_json::to_value(data).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// `limit.reached` / `limit.exceeded`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimitData {
    pub area: Area,
    pub active_users: u64,
    pub user_limit: u64,
}

/// `seats.threshold` / `seats.exhausted`: one product's seats of one kind in one area,
/// all folders together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeatsData {
    pub product: String,
    pub area: Area,
    pub kind: SeatKind,
    pub used: u64,
    pub total: u64,
    pub free: u64,
    /// The configured percentage (`seats.threshold`; 100 for `seats.exhausted`).
    pub threshold_percent: u8,
}

/// An area's active users against its limit, as the store reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaLevel {
    pub area: Area,
    pub active: u64,
    pub limit: Option<u64>,
}

/// One product's seats of one kind in one area (all folders), and its alert percentage
/// (`None`: no threshold alert for this product).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolLevel {
    pub product: String,
    pub area: Area,
    pub kind: SeatKind,
    pub used: u64,
    pub total: u64,
    pub threshold_percent: Option<u8>,
}

/// The default `seats.threshold` percentage (X6).
pub const DEFAULT_THRESHOLD_PERCENT: u8 = 90;

/// What a transaction's end changes: events to write, and the conditions now reported
/// (`raise`) or re-armed (`clear`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Crossings {
    pub fire: Vec<Event>,
    pub raise: Vec<String>,
    pub clear: Vec<String>,
}

impl Crossings {
    pub fn is_empty(&self) -> bool {
        self.fire.is_empty() && self.raise.is_empty() && self.clear.is_empty()
    }
}

/// The level conditions true for these levels, each with the event it fires, by key.
pub fn conditions(areas: &[AreaLevel], pools: &[PoolLevel]) -> BTreeMap<String, Event> {
    let mut out = BTreeMap::new();
    for a in areas {
        let Some(limit) = a.limit else { continue };
        let data = LimitData {
            area: a.area,
            active_users: a.active,
            user_limit: limit,
        };
        if a.active >= limit {
            out.insert(
                format!("limit.reached:{}", a.area.as_str()),
                Event::new(EventType::LimitReached, &data),
            );
        }
        if a.active > limit {
            out.insert(
                format!("limit.exceeded:{}", a.area.as_str()),
                Event::new(EventType::LimitExceeded, &data),
            );
        }
    }
    for p in pools {
        if p.total == 0 {
            // No seats at all (an expired or removed license): nothing to run out of.
            continue;
        }
        let key = format!("{}:{}:{}", p.product, p.area.as_str(), p.kind.as_str());
        let data = |percent: u8| SeatsData {
            product: p.product.clone(),
            area: p.area,
            kind: p.kind,
            used: p.used,
            total: p.total,
            free: p.total.saturating_sub(p.used),
            threshold_percent: percent,
        };
        if let Some(pct) = p.threshold_percent
            && u128::from(p.used) * 100 >= u128::from(p.total) * u128::from(pct)
        {
            out.insert(
                format!("seats.threshold:{key}"),
                Event::new(EventType::SeatsThreshold, &data(pct)),
            );
        }
        if p.used >= p.total {
            out.insert(
                format!("seats.exhausted:{key}"),
                Event::new(EventType::SeatsExhausted, &data(100)),
            );
        }
    }
    out
}

/// Compares the conditions true now with those already reported: a condition newly true
/// fires its event once; one reported and no longer true is re-armed.
pub fn crossings(
    areas: &[AreaLevel],
    pools: &[PoolLevel],
    reported: &BTreeSet<String>,
) -> Crossings {
    let now = conditions(areas, pools);
    let mut out = Crossings::default();
    for (key, event) in &now {
        if !reported.contains(key) {
            out.raise.push(key.clone());
            out.fire.push(event.clone());
        }
    }
    out.clear = reported
        .iter()
        .filter(|k| !now.contains_key(*k))
        .cloned()
        .collect();
    out
}

/// `license.expiring`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpiringData {
    pub license_id: String,
    pub customer: String,
    pub products: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// The notice this is: 30, 7 or 1 (the configured days ahead).
    pub days_ahead: u32,
}

/// A license that ends, as the expiry notices see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    pub license_id: String,
    pub customer: String,
    pub products: Vec<String>,
    pub expires_at: OffsetDateTime,
}

/// The `license.expiring` notices due at `now`: for each license not yet expired, the
/// nearest configured notice it is within (a license imported five days before its end gets
/// the 7-day notice, not the 30-day one as well). Each carries a dedupe key, so asking
/// again — every minute, on every node — adds nothing.
pub fn expiring_notices(endings: &[Ending], days_ahead: &[u32], now: OffsetDateTime) -> Vec<Event> {
    let mut days: Vec<u32> = days_ahead.iter().copied().filter(|d| *d > 0).collect();
    days.sort_unstable();
    days.dedup();
    endings
        .iter()
        .filter(|e| e.expires_at > now)
        .filter_map(|e| {
            let left = e.expires_at - now;
            let d = days
                .iter()
                .copied()
                .find(|d| left <= Duration::days(i64::from(*d)))?;
            let mut event = Event::new(
                EventType::LicenseExpiring,
                &ExpiringData {
                    license_id: e.license_id.clone(),
                    customer: e.customer.clone(),
                    products: e.products.clone(),
                    expires_at: e.expires_at,
                    days_ahead: d,
                },
            );
            event.dedupe = Some(format!("license.expiring:{}:{d}", e.license_id));
            Some(event)
        })
        .collect()
}

/// The default `license.expiring` notices, in days ahead.
pub const DEFAULT_EXPIRY_NOTICES: [u32; 3] = [30, 7, 1];

/// When a delivery that failed `attempts` times (≥ 1) is tried again: exponential backoff
/// from `base`, doubled each time and capped at an hour, for as long as the next attempt is
/// within `give_up_after` of the event; `None` once it is not (the delivery is then failed).
pub fn next_attempt(
    attempts: u32,
    created_at: OffsetDateTime,
    now: OffsetDateTime,
    base: Duration,
    give_up_after: Duration,
) -> Option<OffsetDateTime> {
    let doubling = attempts.saturating_sub(1).min(20);
    let wait = base
        .checked_mul(1_i32 << doubling)
        .unwrap_or(Duration::HOUR)
        .min(Duration::HOUR)
        .max(Duration::ZERO);
    let next = now + wait;
    (next <= created_at + give_up_after).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(active: u64, limit: Option<u64>) -> AreaLevel {
        AreaLevel {
            area: Area::Employee,
            active,
            limit,
        }
    }

    fn pool(used: u64, total: u64) -> PoolLevel {
        PoolLevel {
            product: "CRM".into(),
            area: Area::Employee,
            kind: SeatKind::Concurrent,
            used,
            total,
            threshold_percent: Some(90),
        }
    }

    fn types(c: &Crossings) -> Vec<&'static str> {
        c.fire.iter().map(|e| e.event_type.as_str()).collect()
    }

    #[test]
    fn n1_limit_reached_once_per_crossing_and_re_armed_below() {
        let mut reported = BTreeSet::new();
        let c = crossings(&[area(10, Some(10))], &[], &reported);
        assert_eq!(types(&c), ["limit.reached"]);
        reported.extend(c.raise);
        // Still at the limit (users refused meanwhile): nothing more.
        assert!(crossings(&[area(10, Some(10))], &[], &reported).is_empty());
        // Over it (the limit was lowered): exceeded, reached stays reported.
        let c = crossings(&[area(11, Some(10))], &[], &reported);
        assert_eq!(types(&c), ["limit.exceeded"]);
        reported.extend(c.raise);
        // Back below: both re-armed, and the next crossing fires again.
        let c = crossings(&[area(9, Some(10))], &[], &reported);
        assert!(c.fire.is_empty());
        assert_eq!(c.clear.len(), 2);
        for k in &c.clear {
            reported.remove(k);
        }
        assert_eq!(
            types(&crossings(&[area(10, Some(10))], &[], &reported)),
            ["limit.reached"]
        );
    }

    #[test]
    fn x6_threshold_and_exhausted_per_pool() {
        let none = BTreeSet::new();
        assert!(crossings(&[], &[pool(8, 10)], &none).fire.is_empty());
        assert_eq!(
            types(&crossings(&[], &[pool(9, 10)], &none)),
            ["seats.threshold"]
        );
        assert_eq!(
            types(&crossings(&[], &[pool(10, 10)], &none)),
            ["seats.exhausted", "seats.threshold"]
        );
        // No seats at all: nothing to report; no threshold configured: only exhaustion.
        assert!(crossings(&[], &[pool(0, 0)], &none).fire.is_empty());
        let mut off = pool(10, 10);
        off.threshold_percent = None;
        assert_eq!(types(&crossings(&[], &[off], &none)), ["seats.exhausted"]);
    }

    #[test]
    fn license_expiring_takes_the_nearest_notice_once() {
        let now = OffsetDateTime::UNIX_EPOCH + Duration::days(1000);
        let ending = |days: i64| Ending {
            license_id: "L1".into(),
            customer: "ACME".into(),
            products: vec!["CRM".into()],
            expires_at: now + Duration::days(days),
        };
        let key = |days: i64| {
            expiring_notices(&[ending(days)], &DEFAULT_EXPIRY_NOTICES, now)
                .into_iter()
                .map(|e| e.dedupe.unwrap_or_default())
                .collect::<Vec<_>>()
        };
        assert!(key(31).is_empty());
        assert_eq!(key(30), ["license.expiring:L1:30"]);
        assert_eq!(key(5), ["license.expiring:L1:7"]);
        assert_eq!(key(1), ["license.expiring:L1:1"]);
        assert!(key(0).is_empty());
    }

    #[test]
    fn i4_backoff_doubles_caps_at_an_hour_and_gives_up_after_a_day() {
        let t0 = OffsetDateTime::UNIX_EPOCH;
        let base = Duration::seconds(30);
        let day = Duration::DAY;
        assert_eq!(next_attempt(1, t0, t0, base, day), Some(t0 + base));
        assert_eq!(next_attempt(3, t0, t0, base, day), Some(t0 + base * 4));
        assert_eq!(
            next_attempt(30, t0, t0, base, day),
            Some(t0 + Duration::HOUR)
        );
        assert_eq!(next_attempt(30, t0, t0 + day, base, day), None);
    }

    #[test]
    fn every_type_parses_back_and_has_a_class() {
        for t in EventType::ALL.into_iter().chain([EventType::Test]) {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            let json = serde_json::to_value(t).unwrap_or_default();
            assert_eq!(json.as_str(), Some(t.as_str()));
        }
        assert_eq!(EventType::parse("nope"), None);
    }
}
