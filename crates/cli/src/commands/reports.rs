//! Reports: the per-area and per-product summary (U4) and the audit log (N3).

use seatkeeper_store::{AuditFilter, Ledger};

use crate::error::CliError;
use crate::output::{Out, date, limit, table};

pub async fn summary(
    expiring_within_days: i64,
    ledger: &Ledger,
    out: &Out,
) -> Result<(), CliError> {
    let s = ledger
        .summary(time::Duration::days(expiring_within_days))
        .await?;
    out.show(&s, print_summary)
}

pub async fn audit(
    action: Option<&str>,
    target: Option<&str>,
    limit: u64,
    ledger: &Ledger,
    out: &Out,
) -> Result<(), CliError> {
    let log = ledger
        .audit_log(&AuditFilter {
            action: action.map(str::to_string),
            target: target.map(str::to_string),
            limit: Some(limit),
            ..Default::default()
        })
        .await?;
    out.show(&log, |log| {
        println!(
            "{}",
            table(
                &["when", "who", "from", "what", "target", "details"],
                log.iter().map(|e| vec![
                    date(e.at),
                    e.actor.clone(),
                    // The channel, and the client's address when it came over HTTP.
                    e.address
                        .as_ref()
                        .map_or_else(|| e.origin.clone(), |a| format!("{} {a}", e.origin)),
                    e.action.clone(),
                    e.target.clone(),
                    e.details.to_string()
                ])
            )
        )
    })
}

pub fn print_summary(s: &seatkeeper_store::Summary) {
    println!(
        "{}",
        table(
            &["area", "active users", "limit", "blocked"],
            s.areas.iter().map(|a| vec![
                a.area.to_string(),
                a.active_users.to_string(),
                limit(a.limit),
                a.blocked_users.to_string()
            ])
        )
    );
    if s.products.is_empty() {
        println!("no licenses loaded (demo mode): only the built-in administrator can log in");
        return;
    }
    println!(
        "{}",
        table(
            &[
                "product",
                "area",
                "kind",
                "total",
                "used",
                "free",
                "suspended",
                "expiring soon",
                "next expiry"
            ],
            s.products.iter().map(|p| vec![
                format!("{} ({})", p.product, p.name),
                p.area.to_string(),
                p.kind.to_string(),
                p.total.to_string(),
                p.used.to_string(),
                p.free.to_string(),
                p.suspended.to_string(),
                p.expiring_soon.to_string(),
                p.next_expiry.map_or_else(String::new, date),
            ])
        )
    );
}
