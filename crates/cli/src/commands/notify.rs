//! `seatkeeper notify`: notification settings, test mail, failed mail (N1).

use std::collections::BTreeMap;

use seatkeeper_server::admin::notifications::{SettingsBody, SettingsView, merged};
use seatkeeper_store::{Actor, DeliveryFilter, DeliveryView, Ledger, ServerSettings};
use serde_json::json;

use crate::args::NotifyCmd;
use crate::error::CliError;
use crate::output::{Out, date, table};

pub async fn notify_cmd(
    cmd: &NotifyCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        NotifyCmd::Settings {
            responsible_email,
            mail,
            digest,
            threshold,
            product_threshold,
            expiry_days,
        } => {
            let mut classes = BTreeMap::new();
            for m in mail {
                let (class, on) = m.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!("--mail {m:?}: write CLASS=on or CLASS=off"))
                })?;
                let on = match on.trim() {
                    "on" | "true" | "yes" => true,
                    "off" | "false" | "no" => false,
                    other => {
                        return Err(CliError::Usage(format!(
                            "--mail {class}={other}: on or off"
                        )));
                    }
                };
                classes.insert(class.trim().to_string(), on);
            }
            let current = ledger.notification_settings().await?;
            let mut products = current.product_thresholds.clone();
            for p in product_threshold {
                let (code, pct) = p.split_once('=').ok_or_else(|| {
                    CliError::Usage(format!(
                        "--product-threshold {p:?}: write PRODUCT=PERCENT (PRODUCT= drops it)"
                    ))
                })?;
                if pct.trim().is_empty() {
                    products.remove(code.trim());
                } else {
                    let pct = pct.trim().parse::<u8>().map_err(|_| {
                        CliError::Usage(format!(
                            "--product-threshold {p:?}: {pct:?} is not a percentage"
                        ))
                    })?;
                    products.insert(code.trim().to_string(), pct);
                }
            }
            let body = SettingsBody {
                responsible_email: responsible_email.clone(),
                mail: (!classes.is_empty()).then_some(classes),
                digest: *digest,
                threshold_percent: *threshold,
                product_thresholds: (!product_threshold.is_empty()).then_some(products),
                expiry_notice_days: expiry_days.clone(),
            };
            let changes = body.responsible_email.is_some()
                || body.mail.is_some()
                || body.digest.is_some()
                || body.threshold_percent.is_some()
                || body.product_thresholds.is_some()
                || body.expiry_notice_days.is_some();
            if changes {
                let new = merged(current, &body).map_err(|e| CliError::Usage(e.message))?;
                if let Some(email) = &body.responsible_email {
                    let s = ServerSettings {
                        responsible_email: Some(email.trim().to_string()).filter(|e| !e.is_empty()),
                        ..ledger.server_settings().await?
                    };
                    s.validate()?;
                    ledger.set_notification_settings(who, &new).await?;
                    ledger.set_server_settings(who, s).await?;
                } else {
                    ledger.set_notification_settings(who, &new).await?;
                }
            }
            let s = ledger.notification_settings().await?;
            let email = ledger.server_settings().await?.responsible_email;
            let v = SettingsView {
                responsible_email: email.clone(),
                settings: s.clone(),
            };
            out.show(&v, |_| {
                println!(
                    "responsible_email:  {}",
                    email.as_deref().unwrap_or("(none: no mail is sent)")
                );
                for (c, on) in &s.mail {
                    println!(
                        "mail.{:<14} {}",
                        format!("{}:", c.as_str()),
                        if *on { "on" } else { "off" }
                    );
                }
                println!(
                    "digest:             {}",
                    if s.digest { "on" } else { "off" }
                );
                println!("threshold:          {}%", s.threshold_percent);
                for (p, pct) in &s.product_thresholds {
                    println!("threshold.{p}: {pct}%");
                }
                println!(
                    "expiry_days:        {}",
                    s.expiry_notice_days
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
            })
        }
        NotifyCmd::TestMail { to } => {
            let id = ledger.queue_test_mail(who, to.as_deref()).await?;
            out.show(&json!({"delivery": id}), |_| {
                println!(
                    "test mail queued as delivery {id}: the running server sends it through its \
                     [mail] SMTP server within seconds (`seatkeeper notify mail` shows it if it fails)"
                );
            })
        }
        NotifyCmd::Mail => {
            let stats = ledger.outbox_stats().await?;
            let mut list = Vec::new();
            for state in ["failed", "pending"] {
                list.extend(
                    ledger
                        .deliveries(&DeliveryFilter {
                            channel: Some("mail".into()),
                            state: Some(state.into()),
                            limit: 50,
                            ..Default::default()
                        })
                        .await?
                        .into_iter()
                        .filter(|d| d.state == "failed" || d.attempts > 0),
                );
            }
            out.show(&json!({"outbox": stats, "failed": list}), |_| {
                println!(
                    "outbox: {} pending, {} waiting for the digest, {} delivered, {} failed ({} mail)",
                    stats.pending, stats.digest, stats.delivered, stats.failed, stats.failed_mail
                );
                if list.is_empty() {
                    println!("no failed mail");
                } else {
                    println!("{}", deliveries(&list));
                }
            })
        }
        NotifyCmd::Retry { id } => {
            let d = ledger.redeliver(who, *id).await?;
            out.show(&d, |d| {
                println!("delivery {} is due again now", d.id);
            })
        }
    }
}

fn deliveries(list: &[DeliveryView]) -> comfy_table::Table {
    table(
        &[
            "id",
            "event",
            "to",
            "state",
            "attempts",
            "last attempt",
            "error",
        ],
        list.iter().map(|d| {
            vec![
                d.id.to_string(),
                d.event.event_type.clone(),
                d.recipient.clone().unwrap_or_default(),
                if d.state == "failed" {
                    "failed".into()
                } else {
                    "retrying".into()
                },
                d.attempts.to_string(),
                d.last_attempt_at.map(date).unwrap_or_default(),
                d.last_error.clone().unwrap_or_default(),
            ]
        }),
    )
}
