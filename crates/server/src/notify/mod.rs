//! The dispatcher (N1, I4): what makes events leave the server.
//!
//! Every node of a deployment runs one. It claims due deliveries from the outbox (a lease,
//! and on PostgreSQL `SKIP LOCKED`, so two nodes never hold the same one), sends them —
//! webhooks here, mail through `mail` when `[mail]` is configured — and records each attempt:
//! delivered, retried after a backoff, or failed when the retry window is over. A node that
//! dies mid-delivery loses its claims when their lease ends and another node (or itself,
//! restarted) sends them: at least once, never lost. Once a minute (`notice_interval_secs`)
//! it also raises the license notices time brings (`license.expiring`, `license.expired`)
//! and drops old events whose deliveries are done.

pub mod config;
pub mod mail;
pub mod webhook;

use std::time::Duration;

use seatkeeper_store::{Claimed, DeliveryOutcome, Ledger};
use tokio::task::JoinSet;

use config::NotificationsConfig;

/// Deliveries claimed per round.
const CLAIM: i64 = 32;

/// One node's dispatcher.
pub struct Dispatcher {
    ledger: Ledger,
    config: NotificationsConfig,
    node: String,
    webhooks: webhook::Sender,
    /// The `[mail]` section's mailer: none, and this node leaves mail to a node with one.
    mailer: Option<mail::Mailer>,
    /// The day (of the ledger's clock) this process last sent the daily digest.
    digest_day: std::sync::Mutex<Option<time::Date>>,
}

impl Dispatcher {
    pub fn new(ledger: Ledger, config: NotificationsConfig) -> Result<Dispatcher, String> {
        let webhooks = webhook::Sender::new(config.timeout(), config.allow_private_targets)?;
        Ok(Dispatcher {
            ledger,
            node: node_name(),
            webhooks,
            config,
            mailer: None,
            digest_day: std::sync::Mutex::new(None),
        })
    }

    /// Sends mail through `mailer` (deliveries with channel "mail", and the daily digest).
    pub fn with_mail(mut self, mailer: Option<mail::Mailer>) -> Dispatcher {
        self.mailer = mailer;
        self
    }

    /// Runs until the task is aborted. Errors (a database that is away) are logged and the
    /// loop goes on.
    pub async fn run_forever(self) {
        let mut last_housekeeping: Option<tokio::time::Instant> = None;
        // While the database is away, the loop waits longer each time (up to 30 s) rather
        // than logging a warning every poll.
        let mut failures: u32 = 0;
        loop {
            if last_housekeeping.is_none_or(|t| t.elapsed() >= self.config.notice_interval()) {
                self.housekeeping().await;
                last_housekeeping = Some(tokio::time::Instant::now());
            }
            self.digest().await;
            match self.round().await {
                Ok(n) => {
                    failures = 0;
                    if n > 0 {
                        continue;
                    }
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, failures, "notifications: claiming deliveries failed");
                }
            }
            let wait = self
                .config
                .poll()
                .saturating_mul(1 << failures.min(5))
                .min(Duration::from_secs(30));
            tokio::time::sleep(wait).await;
        }
    }

    /// Claims due deliveries and sends them, at most `concurrency` at a time. How many it
    /// claimed.
    pub async fn round(&self) -> Result<usize, seatkeeper_store::StoreError> {
        let claimed = self
            .ledger
            .claim_deliveries(
                &self.node,
                self.config.lease(),
                self.mailer.is_some(),
                CLAIM,
            )
            .await?;
        let n = claimed.len();
        let mut running = JoinSet::new();
        for c in claimed {
            while running.len() >= self.config.concurrency {
                running.join_next().await;
            }
            let (ledger, node, sender, mailer, retry) = (
                self.ledger.clone(),
                self.node.clone(),
                self.webhooks.clone(),
                self.mailer.clone(),
                self.config.retry(),
            );
            running.spawn(async move {
                let outcome = send(&sender, mailer.as_ref(), &ledger, &c).await;
                log_outcome(&c, &outcome);
                if let Err(e) = ledger.finish_delivery(&node, &c, &outcome, retry).await {
                    // The claim runs out and the delivery is sent again: at least once.
                    tracing::warn!(delivery = c.id, error = %e, "notifications: recording a delivery failed");
                }
            });
        }
        while running.join_next().await.is_some() {}
        Ok(n)
    }

    /// The daily digest (N1): once a day, at the first round after `[mail] digest_hour`
    /// (UTC, by the ledger's clock), every mail waiting for it goes out as one mail per
    /// recipient. Claiming is atomic, so with several nodes one of them sends it.
    async fn digest(&self) {
        let Some(mailer) = &self.mailer else { return };
        let now = self.ledger.now();
        if now.hour() < mailer.digest_hour() {
            return;
        }
        {
            let Ok(mut day) = self.digest_day.lock() else {
                return;
            };
            if *day == Some(now.date()) {
                return;
            }
            *day = Some(now.date());
        }
        let batches = match self
            .ledger
            .claim_digest(&self.node, self.config.lease())
            .await
        {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(error = %e, "notifications: claiming the digest failed");
                return;
            }
        };
        for batch in batches {
            let outcome = mailer.deliver_digest(&batch).await;
            for c in &batch.deliveries {
                log_outcome(c, &outcome);
                if let Err(e) = self
                    .ledger
                    .finish_delivery(&self.node, c, &outcome, self.config.retry())
                    .await
                {
                    tracing::warn!(delivery = c.id, error = %e, "notifications: recording a delivery failed");
                }
            }
        }
    }

    async fn housekeeping(&self) {
        match self.ledger.raise_license_notices().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(raised = n, "notifications: license notices raised"),
            Err(e) => tracing::warn!(error = %e, "notifications: license notices failed"),
        }
        let keep = time::Duration::days(i64::try_from(self.config.keep_days).unwrap_or(30));
        if let Err(e) = self.ledger.prune_outbox(keep).await {
            tracing::warn!(error = %e, "notifications: pruning the outbox failed");
        }
    }
}

async fn send(
    sender: &webhook::Sender,
    mailer: Option<&mail::Mailer>,
    ledger: &Ledger,
    c: &Claimed,
) -> DeliveryOutcome {
    match (c.channel.as_str(), mailer) {
        ("webhook", _) => sender.deliver(c, ledger.now()).await,
        ("mail", Some(mailer)) => mailer.deliver(c).await,
        (other, _) => DeliveryOutcome {
            delivered: false,
            status: None,
            error: Some(format!("no sender for {other} deliveries on this node")),
            duration: Duration::ZERO,
        },
    }
}

fn log_outcome(c: &Claimed, o: &DeliveryOutcome) {
    if o.delivered {
        tracing::debug!(delivery = c.id, event = %c.event.event_type, channel = %c.channel, "delivered");
    } else {
        tracing::info!(
            delivery = c.id,
            event = %c.event.event_type,
            channel = %c.channel,
            attempt = c.attempts + 1,
            error = o.error.as_deref().unwrap_or(""),
            "delivery failed; retried after a backoff"
        );
    }
}

/// This process's name in claims and the delivery log: host, process id and a random part
/// (a restarted process is a new node; its old claims run out).
fn node_name() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into());
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        id.get(..6).unwrap_or("")
    )
}
