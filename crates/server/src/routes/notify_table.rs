//! The notification routes (N1, I4): webhooks, deliveries, events.

use axum::http::Method;
use axum::routing::{delete, get, patch, post, put};
use seatkeeper_core::Permission::{ManageAccess, ManageLicenses, ViewLicenses};

use super::{Body, Route, r};
use crate::admin::notifications as n;
use crate::admin::webhooks as w;
use crate::auth::Access;

pub fn table() -> Vec<Route> {
    use Body::{Json as J, None as N};
    use Method as M;
    // Webhooks send the ledger's events (logins included) out of the network: managing them
    // is an access matter. Reading the log is a viewer's.
    const VIEW: Access = Access::Requires(ViewLicenses);
    const ACCESS: Access = Access::Requires(ManageAccess);
    // Who is mailed what is a setting, as on the settings page.
    const MANAGE: Access = Access::Requires(ManageLicenses);
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
        r(M::GET, "/api/v1/notifications/settings", VIEW, T, "Notification settings (N1, X6): the responsible address, mail per event class, digest, seat alert percentage (default and per product), license expiry notice days", N, &[], get(n::settings)),
        r(M::PUT, "/api/v1/notifications/settings", MANAGE, T, "Change the notification settings; omitted fields keep their value, `mail` changes only the classes it names, responsible_email \"\" clears the address", J, &[], put(n::put_settings)),
        r(M::POST, "/api/v1/notifications/test-mail", MANAGE, T, "Queue a test mail to `recipient` (optional body; default: the responsible address); answers the delivery id. 409 mail_not_configured without a [mail] section, 422 without an address", J, &[], post(n::test_mail)).accepted(),
        r(M::GET, "/api/v1/notifications/mail", VIEW, T, "The mail configuration in use (host, port, tls, from; never the password), the outbox's counts, and the mail deliveries that failed or wait for a retry, with their errors", N, &[], get(n::mail)),
        r(M::GET, "/api/v1/events", VIEW, T, "The outbox's events, newest first (type, before, limit)", N, &["type", "before", "limit"], get(w::events)),
    ]
}
