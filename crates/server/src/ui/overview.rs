//! Usage at a glance: seats used against total per product and active users against the
//! limit per area over time (from the usage history the server records), upcoming expiries
//! and the latest messages. Charts are inline SVG drawn here: no script, no chart library,
//! readable by screen readers through their labels and the data tables beside them.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use seatkeeper_core::Permission::ViewLicenses;
use seatkeeper_store::{PackageStatus, UsageSeries};
use serde::Deserialize;
use time::{Duration, OffsetDateTime};

use super::view::{self, n};
use super::{Ui, UiResult};
use crate::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct Range {
    days: Option<i64>,
}

const RANGES: [i64; 4] = [7, 30, 90, 365];

pub async fn page(
    State(state): State<AppState>,
    ui: Ui,
    Query(range): Query<Range>,
) -> UiResult<Response> {
    ui.require(ViewLicenses)?;
    let days = range.days.filter(|d| RANGES.contains(d)).unwrap_or(30);
    let now = state.ledger.now();
    let since = now - Duration::days(days);
    // The sampler runs every minute; sampling now too makes the charts end at the numbers
    // the cards show (it writes only what changed).
    if let Err(e) = state.ledger.record_usage().await {
        tracing::warn!(error = %e, "usage sampling failed");
    }
    let summary = state.ledger.summary(Duration::days(30)).await?;
    let history = state.ledger.usage_history(since).await?;
    let packages = state.ledger.packages().await?;
    let messages = state.ledger.messages(false, 5).await?;
    let mut expiring: Vec<_> = packages
        .iter()
        .filter(|p| matches!(p.status, PackageStatus::Valid | PackageStatus::NotYetValid))
        .filter_map(|p| p.expires.map(|e| (e, p)))
        .filter(|(e, _)| *e <= now + Duration::days(90))
        .collect();
    expiring.sort_by_key(|(e, p)| (*e, p.serial.clone()));
    Ok(view::page(
        &ui,
        "/ui/",
        "Overview",
        html! {
            section aria-labelledby="now-h" {
                h2 #now-h { "Now" }
                div.cards {
                    @for p in summary.products.iter().filter(|p| p.total > 0 || p.used > 0 || p.suspended > 0) {
                        div.card data-product=(p.product) {
                            h3 { (p.name) span.muted { " · " (p.area.as_str()) " " (p.kind.as_str()) } }
                            p.big { (n(p.used)) span.muted { " of " (n(p.total)) " used" } }
                            (view::meter(p.used, p.total))
                            p.muted { (n(p.free)) " free" @if p.suspended > 0 { ", " span.warn { (n(p.suspended)) " suspended" } } }
                        }
                    }
                    @for a in &summary.areas {
                        div.card data-area=(a.area.as_str()) {
                            h3 { "Active users · " (a.area.as_str()) }
                            p.big { (n(a.active_users)) span.muted { @match a.limit { Some(l) => { " of " (n(l)) " allowed" }, None => { " (no limit)" } } } }
                            @if let Some(l) = a.limit { (view::meter(a.active_users, l)) }
                        }
                    }
                    @if summary.products.is_empty() {
                        p.notice { "No license is loaded. " a href="/ui/licenses" { "Open the license manager" } "." }
                    }
                }
            }
            section aria-labelledby="hist-h" {
                h2 #hist-h { "Over time" }
                nav.ranges aria-label="Time range" {
                    @for d in RANGES {
                        @if d == days { strong aria-current="true" { (d) " days" } } @else { a href=(format!("/ui/?days={d}")) { (d) " days" } }
                    }
                }
                div.charts {
                    @for s in &history.products {
                        (chart(s, "Seats used", "total", since, history.at))
                    }
                    @for s in &history.areas {
                        (chart(s, "Active users", "limit", since, history.at))
                    }
                    @if history.products.is_empty() && history.areas.is_empty() {
                        p.muted { "No usage recorded yet: the server records a point on every change (checked every minute) and at least once a day." }
                    }
                }
            }
            div.grid2 {
                section aria-labelledby="exp-h" {
                    h2 #exp-h { "Upcoming expiries (90 days)" }
                    @if expiring.is_empty() { p.muted { "None." } } @else {
                        table #expiries {
                            thead { tr { th scope="col" { "Expires" } th scope="col" { "Product" } th.num scope="col" { "Seats" } th scope="col" { "Package" } } }
                            tbody { @for (e, p) in &expiring {
                                tr { td { (view::date(*e)) } td { (p.product) " · " (p.area.as_str()) " " (p.kind.as_str()) } td.num { (n(p.seats)) } td { code { (p.serial) } } }
                            } }
                        }
                    }
                }
                section aria-labelledby="msg-h" {
                    h2 #msg-h { "Latest messages" }
                    @if messages.is_empty() { p.muted { "None." } } @else {
                        ul.plain { @for m in &messages {
                            li { @if !m.read { strong { "New: " } } (view::datetime(m.at)) " — " (m.title) }
                        } }
                        p { a href="/ui/messages" { "All messages" } }
                    }
                }
            }
        },
    )
    .into_response())
}

const W: f64 = 560.0;
const H: f64 = 150.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 20.0;

/// At most this many points are drawn per chart: about one per pixel column.
const MAX_POINTS: usize = 560;

/// Keeps one point per time bucket — the one with the highest use, so a peak is never
/// hidden — when a series has more points than the chart has pixels.
fn thin(s: &UsageSeries, since: OffsetDateTime, now: OffsetDateTime) -> UsageSeries {
    if s.points.len() <= MAX_POINTS {
        return s.clone();
    }
    let span = (now - since).whole_seconds().max(1);
    let mut out: Vec<seatkeeper_store::UsagePoint> = Vec::with_capacity(MAX_POINTS + 1);
    let mut last_bucket = i64::MIN;
    for p in &s.points {
        let bucket = (p.at.max(since) - since).whole_seconds() * MAX_POINTS as i64 / span;
        match out.last_mut() {
            Some(prev) if bucket == last_bucket => {
                if p.used > prev.used {
                    prev.used = p.used;
                }
                prev.total = p.total;
                prev.suspended = p.suspended;
            }
            _ => out.push(p.clone()),
        }
        last_bucket = bucket;
    }
    UsageSeries {
        subject: s.subject.clone(),
        points: out,
    }
}

/// A step chart of `used` (solid, filled) and `total` (dashed) over [since, now].
fn chart(
    s: &UsageSeries,
    what: &str,
    total_name: &str,
    since: OffsetDateTime,
    now: OffsetDateTime,
) -> Markup {
    let s = &thin(s, since, now);
    let span = (now - since).whole_seconds().max(1) as f64;
    let x = |t: OffsetDateTime| {
        let secs = (t.max(since) - since).whole_seconds() as f64;
        LEFT + (W - LEFT) * (secs / span).clamp(0.0, 1.0)
    };
    let top = s
        .points
        .iter()
        .map(|p| p.used.max(p.total.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let ymax = (top as f64 * 1.1).ceil();
    let y = |v: u64| (H - BOTTOM) - (H - BOTTOM - 6.0) * (v as f64 / ymax);
    let step = |val: &dyn Fn(&seatkeeper_store::UsagePoint) -> Option<u64>| -> String {
        let mut d = String::new();
        let mut last: Option<u64> = None;
        for p in &s.points {
            let Some(v) = val(p) else {
                last = None;
                continue;
            };
            let px = x(p.at);
            match last {
                None => d += &format!("M{px:.1},{:.1}", y(v)),
                Some(_) => d += &format!("H{px:.1}V{:.1}", y(v)),
            }
            last = Some(v);
        }
        if last.is_some() {
            d += &format!("H{:.1}", x(now));
        }
        d
    };
    let used = step(&|p| Some(p.used));
    let total = step(&|p| p.total);
    let area = if used.is_empty() {
        String::new()
    } else {
        format!(
            "{used}V{:.1}H{:.1}Z",
            H - BOTTOM,
            x(s.points.first().map_or(since, |p| p.at))
        )
    };
    let last = s.points.last();
    let label = format!(
        "{what} for {}: now {}{}, over {} recorded point(s).",
        s.subject,
        last.map_or(0, |p| p.used),
        last.and_then(|p| p.total)
            .map(|t| format!(" of {t} {total_name}"))
            .unwrap_or_default(),
        s.points.len()
    );
    html! {
        figure.chart data-subject=(s.subject) {
            figcaption { strong { (s.subject) } " — " (what) " " span.legend-used { "used" } " / " span.legend-total { (total_name) } }
            svg viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(label) {
                line.axis x1=(LEFT) y1=(H - BOTTOM) x2=(W) y2=(H - BOTTOM) {}
                line.grid x1=(LEFT) y1=(y(top)) x2=(W) y2=(y(top)) {}
                text.tick x=(LEFT - 4.0) y=(y(top) + 4.0) text-anchor="end" { (n(top)) }
                text.tick x=(LEFT - 4.0) y=(H - BOTTOM) text-anchor="end" { "0" }
                text.tick x=(LEFT) y=(H - 4.0) { (view::date(since)) }
                text.tick x=(W) y=(H - 4.0) text-anchor="end" { (view::date(now)) }
                @if !area.is_empty() { path.used-area d=(area) {} }
                @if !used.is_empty() { path.used d=(used) {} }
                @if !total.is_empty() { path.total d=(total) {} }
                // The latest value as a dot, so a history of one point still shows.
                @if let Some(p) = last { circle.now cx=(format!("{:.1}", x(now))) cy=(format!("{:.1}", y(p.used))) r="3" {} }
            }
            details {
                summary { "Data" }
                table {
                    thead { tr { th scope="col" { "At" } th.num scope="col" { "Used" } th.num scope="col" { (total_name) } } }
                    tbody { @for p in s.points.iter().rev().take(50) {
                        tr { td { (view::datetime(p.at)) } td.num { (n(p.used)) } td.num { @match p.total { Some(t) => (n(t)), None => "—" } } }
                    } }
                }
            }
        }
    }
}
