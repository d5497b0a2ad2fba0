//! The notification routes (N1, I4): webhooks, deliveries, events.

use axum::http::Method;
use axum::routing::{delete, get, patch, post};
use seatkeeper_core::Permission::{ManageAccess, ViewLicenses};

use super::{Body, Route, r};
use crate::admin::webhooks as w;
use crate::auth::Access;

pub fn table() -> Vec<Route> {
    use Body::{Json as J, None as N};
    use Method as M;
    // Webhooks send the ledger's events (logins included) out of the network: managing them
    // is an access matter. Reading the log is a viewer's.
    const VIEW: Access = Access::Requires(ViewLicenses);
    const ACCESS: Access = Access::Requires(ManageAccess);
    const T: &str = "notifications";
    const PAGE: &[&str] = &["state", "channel", "before", "limit"];
    vec![
        r(M::GET, "/api/v1/webhooks", VIEW, T, "Webhook subscriptions (I4); secrets are never shown again", N, &[], get(w::webhooks)),
        r(M::POST, "/api/v1/webhooks", ACCESS, T, "Subscribe a receiver: url (http/https, public unless the server allows internal targets), event types or \"*\", optional secret; the signing secret is in this answer only", J, &[], post(w::create_webhook)).created(),
        r(M::GET, "/api/v1/webhooks/{id}", VIEW, T, "One webhook subscription", N, &[], get(w::webhook)),
        r(M::PATCH, "/api/v1/webhooks/{id}", ACCESS, T, "Change a subscription (url, events, description, active); rotate_secret: true answers a new secret once", J, &[], patch(w::update_webhook)),
        r(M::DELETE, "/api/v1/webhooks/{id}", ACCESS, T, "Remove a subscription with its delivery log", N, &[], delete(w::delete_webhook)),
        r(M::POST, "/api/v1/webhooks/{id}/test", ACCESS, T, "Queue a signed \"test\" event to this webhook; answers the delivery id", N, &[], post(w::test_webhook)).accepted(),
        r(M::GET, "/api/v1/webhooks/{id}/deliveries", VIEW, T, "The webhook's delivery log, newest first: state, attempts, last status code, error, duration", N, PAGE, get(w::webhook_deliveries)),
        r(M::GET, "/api/v1/deliveries", VIEW, T, "Every delivery (webhooks and mail), newest first; filter by state and channel", N, PAGE, get(w::deliveries)),
        r(M::GET, "/api/v1/deliveries/{id}", VIEW, T, "One delivery with each of its attempts", N, &[], get(w::delivery)),
        r(M::POST, "/api/v1/deliveries/{id}/redeliver", ACCESS, T, "Send a delivery again now, with a new retry window (same delivery id, so receivers can drop duplicates)", N, &[], post(w::redeliver)),
        r(M::GET, "/api/v1/events", VIEW, T, "The outbox's events, newest first (type, before, limit)", N, &["type", "before", "limit"], get(w::events)),
    ]
}
