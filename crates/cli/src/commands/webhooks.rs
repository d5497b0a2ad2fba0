//! `seatkeeper webhook …` (I4): the admin API's webhook routes, on the ledger directly.

use seatkeeper_server::notify::webhook::check_url;
use seatkeeper_store::{Actor, DeliveryFilter, Ledger, NewWebhook, WebhookChange, WebhookView};

use crate::args::WebhookCmd;
use crate::error::CliError;
use crate::output::{Out, date, opt_date, table, yes_no};

fn show_secret(out: &Out, view: &WebhookView) -> Result<(), CliError> {
    out.show(view, |v| {
        println!("webhook {} → {} ({})", v.id, v.url, v.events.join(", "));
        if let Some(s) = &v.secret {
            println!("signing secret: {s}\n(shown once; keep it where the receiver verifies)");
        }
    })
}

pub async fn webhook_cmd(
    cmd: &WebhookCmd,
    ledger: &Ledger,
    who: &Actor,
    out: &Out,
) -> Result<(), CliError> {
    match cmd {
        WebhookCmd::Create {
            url,
            events,
            description,
            allow_private_target,
        } => {
            check_url(url, *allow_private_target)
                .await
                .map_err(CliError::Usage)?;
            let view = ledger
                .create_webhook(
                    who,
                    &NewWebhook {
                        url: url.clone(),
                        events: events.clone(),
                        description: description.clone(),
                        active: true,
                        secret: None,
                    },
                )
                .await?;
            show_secret(out, &view)
        }
        WebhookCmd::List => {
            let hooks = ledger.webhooks().await?;
            out.show(&hooks, |hooks| {
                println!(
                    "{}",
                    table(
                        &["id", "url", "events", "active", "created", "description"],
                        hooks.iter().map(|h| {
                            vec![
                                h.id.to_string(),
                                h.url.clone(),
                                h.events.join(","),
                                yes_no(h.active),
                                date(h.created_at),
                                h.description.clone(),
                            ]
                        }),
                    )
                );
            })
        }
        WebhookCmd::Update {
            id,
            url,
            events,
            description,
            active,
            rotate_secret,
            allow_private_target,
        } => {
            if let Some(u) = url {
                check_url(u, *allow_private_target)
                    .await
                    .map_err(CliError::Usage)?;
            }
            let view = ledger
                .update_webhook(
                    who,
                    *id,
                    &WebhookChange {
                        url: url.clone(),
                        events: events.clone(),
                        description: description.clone(),
                        active: *active,
                        rotate_secret: *rotate_secret,
                    },
                )
                .await?;
            show_secret(out, &view)
        }
        WebhookCmd::Delete { id } => {
            ledger.delete_webhook(who, *id).await?;
            out.show(&serde_json::json!({"deleted": id}), |_| {
                println!("webhook {id} removed");
            })
        }
        WebhookCmd::Test { id } => {
            let delivery = ledger.test_webhook(who, *id).await?;
            out.show(&serde_json::json!({"delivery": delivery}), |_| {
                println!(
                    "test delivery {delivery} queued; a running server sends it \
                     (see `seatkeeper webhook delivery {delivery}`)"
                );
            })
        }
        WebhookCmd::Deliveries {
            webhook,
            state,
            limit,
        } => {
            let list = ledger
                .deliveries(&DeliveryFilter {
                    webhook_id: *webhook,
                    state: state.clone(),
                    limit: *limit,
                    ..Default::default()
                })
                .await?;
            out.show(&list, |list| {
                println!(
                    "{}",
                    table(
                        &[
                            "id", "event", "to", "state", "attempts", "last", "status", "error"
                        ],
                        list.iter().map(|d| {
                            vec![
                                d.id.to_string(),
                                d.event.event_type.clone(),
                                d.webhook_id
                                    .map(|w| format!("webhook {w}"))
                                    .or(d.recipient.clone())
                                    .unwrap_or_default(),
                                d.state.clone(),
                                d.attempts.to_string(),
                                opt_date(d.last_attempt_at),
                                d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                                d.last_error.clone().unwrap_or_default(),
                            ]
                        }),
                    )
                );
            })
        }
        WebhookCmd::Delivery { id } => {
            let (d, attempts) = ledger.delivery(*id).await?;
            let both = serde_json::json!({"delivery": d, "attempts": attempts});
            out.show(&both, |_| {
                println!(
                    "delivery {} of event {} ({}): {}, {} attempt(s)",
                    d.id, d.event.id, d.event.event_type, d.state, d.attempts
                );
                println!(
                    "{}",
                    table(
                        &["at", "node", "status", "ms", "error"],
                        attempts.iter().map(|a| {
                            vec![
                                date(a.at),
                                a.node.clone(),
                                a.status.map(|s| s.to_string()).unwrap_or_default(),
                                a.duration_ms.to_string(),
                                a.error.clone().unwrap_or_default(),
                            ]
                        }),
                    )
                );
            })
        }
        WebhookCmd::Redeliver { id } => {
            let d = ledger.redeliver(who, *id).await?;
            out.show(&d, |d| {
                println!(
                    "delivery {} is due again now; a running server sends it",
                    d.id
                );
            })
        }
        WebhookCmd::Events { event_type, limit } => {
            let events = ledger.events(event_type.as_deref(), None, *limit).await?;
            out.show(&events, |events| {
                println!(
                    "{}",
                    table(
                        &["id", "at", "type", "data"],
                        events.iter().map(|e| {
                            vec![
                                e.id.to_string(),
                                date(e.at),
                                e.event_type.clone(),
                                e.data.to_string(),
                            ]
                        }),
                    )
                );
            })
        }
    }
}
