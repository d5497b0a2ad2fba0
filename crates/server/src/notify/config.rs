//! The `[notifications]` section of `serve`'s config file: how deliveries leave (a leaf, so
//! that the server's configuration can name it without depending on the dispatcher).

use std::time::Duration;

use seatkeeper_store::RetryPolicy;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NotificationsConfig {
    /// Webhooks may target loopback, private, link-local and other internal addresses.
    /// Off by default: a webhook URL is typed by an administrator but called by the server,
    /// from inside the network.
    pub allow_private_targets: bool,
    /// The first wait after a failed delivery; doubled each time, at most an hour.
    pub retry_base_secs: u64,
    /// A delivery not done this many hours after it was made is failed.
    pub retry_hours: u64,
    /// How long a webhook receiver may take to answer.
    pub timeout_secs: u64,
    /// How often a node looks for due deliveries when it found none.
    pub poll_interval_ms: u64,
    /// How long a node holds a delivery it claimed; a node that dies mid-delivery loses it
    /// after this, and another node delivers it.
    pub claim_lease_secs: u64,
    /// Events whose deliveries are all done are kept this many days (the delivery log).
    pub keep_days: u64,
    /// How many deliveries one node sends at the same time.
    pub concurrency: usize,
    /// How often a node raises the license notices time brings and prunes the outbox.
    pub notice_interval_secs: u64,
}

impl Default for NotificationsConfig {
    fn default() -> Self {
        NotificationsConfig {
            allow_private_targets: false,
            retry_base_secs: 30,
            retry_hours: 24,
            timeout_secs: 10,
            poll_interval_ms: 1000,
            claim_lease_secs: 60,
            keep_days: 30,
            concurrency: 8,
            notice_interval_secs: 60,
        }
    }
}

impl NotificationsConfig {
    pub fn check(&self) -> Result<(), String> {
        let range = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!(
                    "[notifications] {name} must be between {lo} and {hi}"
                ))
            }
        };
        range("retry_base_secs", self.retry_base_secs, 1, 3600)?;
        range("retry_hours", self.retry_hours, 1, 24 * 7)?;
        range("timeout_secs", self.timeout_secs, 1, 120)?;
        range("poll_interval_ms", self.poll_interval_ms, 50, 60_000)?;
        range("keep_days", self.keep_days, 1, 3650)?;
        // A lease must outlast an attempt, or a slow receiver gets the delivery twice.
        range(
            "claim_lease_secs",
            self.claim_lease_secs,
            self.timeout_secs + 5,
            3600,
        )?;
        range("concurrency", self.concurrency as u64, 1, 64)?;
        range("notice_interval_secs", self.notice_interval_secs, 1, 3600)?;
        Ok(())
    }

    pub fn retry(&self) -> RetryPolicy {
        RetryPolicy {
            base: time::Duration::seconds(i64::try_from(self.retry_base_secs).unwrap_or(30)),
            give_up_after: time::Duration::hours(i64::try_from(self.retry_hours).unwrap_or(24)),
        }
    }

    pub fn lease(&self) -> time::Duration {
        time::Duration::seconds(i64::try_from(self.claim_lease_secs).unwrap_or(60))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }

    pub fn notice_interval(&self) -> Duration {
        Duration::from_secs(self.notice_interval_secs)
    }

    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}
