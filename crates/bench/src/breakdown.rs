//! `--breakdown`: where the time of a phase goes, statement by statement. sqlx reports every
//! statement it runs (target `sqlx::query`, with its text and elapsed time) to `tracing`;
//! this layer adds them up per phase and per statement shape.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

pub const PHASES: [&str; 6] = ["load", "run1", "floor", "change", "run2", "end"];
static PHASE: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Default, Clone, Copy)]
pub struct Stat {
    pub count: u64,
    pub secs: f64,
    pub rows: u64,
}

type Table = HashMap<(usize, String), Stat>;

fn table() -> &'static Mutex<Table> {
    static T: OnceLock<Mutex<Table>> = OnceLock::new();
    T.get_or_init(|| Mutex::new(HashMap::new()))
}

pub fn set_phase(name: &str) {
    if let Some(i) = PHASES.iter().position(|p| *p == name) {
        PHASE.store(i, Ordering::Relaxed);
    }
}

pub fn install() {
    let layer = Collector.with_filter(filter_fn(|m| m.target() == "sqlx::query"));
    // Fails only if a subscriber is already installed; then there is nothing to add up.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// The statement's shape: whitespace collapsed, `VALUES` lists cut to their first row and
/// runs of placeholders (`$3, $4, $5`) to their first.
fn shape(sql: &str) -> String {
    let s = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = fold_values(&s);
    let s = fold_placeholders(&s);
    let s = fold_numbers(&s);
    if s.chars().count() > 150 {
        let mut t: String = s.chars().take(150).collect();
        t.push('…');
        t
    } else {
        s
    }
}

/// Index just past the `)` matching the `(` at `open`.
fn group_end(s: &[u8], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, c) in s.iter().enumerate().skip(open) {
        match c {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
    }
    s.len()
}

fn fold_values(s: &str) -> String {
    let Some(at) = s.find("VALUES (") else {
        return s.to_string();
    };
    let b = s.as_bytes();
    let open = at + "VALUES ".len();
    let first = group_end(b, open);
    let mut end = first;
    while s[end..].starts_with(", (") {
        end = group_end(b, end + 2);
    }
    let more = if end > first { ", …" } else { "" };
    format!("{}{more}{}", &s[..first], &s[end..])
}

/// `IN (6159,6160,…)` lists of literal ids → `IN (…)`.
fn fold_numbers(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find("IN (") {
        let open = at + "IN (".len();
        out.push_str(&rest[..open]);
        let body = &rest[open..];
        let len = body
            .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == ' '))
            .unwrap_or(body.len());
        if len > 0 && body[..len].contains(',') {
            out.push('…');
            rest = &body[len..];
        } else {
            rest = body;
        }
    }
    out.push_str(rest);
    out
}

fn fold_placeholders(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // Length of "$123" at i, if any.
    let ph = |i: usize| -> usize {
        if b.get(i) != Some(&b'$') {
            return 0;
        }
        let n = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 { 0 } else { n + 1 }
    };
    while i < b.len() {
        let n = ph(i);
        if n == 0 {
            let c = s[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        out.push_str(&s[i..i + n]);
        let mut j = i + n;
        let mut folded = false;
        while s[j..].starts_with(", ") && ph(j + 2) > 0 {
            j += 2 + ph(j + 2);
            folded = true;
        }
        if folded {
            out.push_str(", …");
        }
        i = j;
    }
    out
}

struct Collector;

#[derive(Default)]
struct Fields {
    summary: String,
    statement: String,
    secs: f64,
    rows: u64,
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        if field.name() == "elapsed_secs" {
            self.secs = value;
        }
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        // PostgreSQL reports a SELECT's rows as both; count them once.
        if field.name() == "rows_affected" || field.name() == "rows_returned" {
            self.rows = self.rows.max(value);
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_string(),
            "db.statement" => self.statement = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.summary = format!("{value:?}").trim_matches('"').to_string();
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Collector {
    fn on_event(
        &self,
        event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut f = Fields::default();
        event.record(&mut f);
        let text = if f.statement.trim().is_empty() {
            f.summary
        } else {
            f.statement
        };
        let key = (PHASE.load(Ordering::Relaxed), shape(&text));
        if let Ok(mut t) = table().lock() {
            let e = t.entry(key).or_default();
            e.count += 1;
            e.secs += f.secs;
            e.rows += f.rows;
        }
    }
}

/// The statements of `phase`, most time first, and their total.
pub fn report(phase: &str) -> (Vec<(String, Stat)>, f64) {
    let Some(p) = PHASES.iter().position(|x| *x == phase) else {
        return (Vec::new(), 0.0);
    };
    let Ok(t) = table().lock() else {
        return (Vec::new(), 0.0);
    };
    let mut v: Vec<(String, Stat)> = t
        .iter()
        .filter(|((ph, _), _)| *ph == p)
        .map(|((_, s), st)| (s.clone(), *st))
        .collect();
    v.sort_by(|a, b| b.1.secs.total_cmp(&a.1.secs));
    let total = v.iter().map(|(_, s)| s.secs).sum();
    (v, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_fold_value_and_placeholder_lists() {
        assert_eq!(
            shape("INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"),
            "INSERT INTO t (a, b) VALUES ($1, …), …"
        );
        assert_eq!(
            shape("DELETE FROM a WHERE id IN ($1, $2, $3, $4)"),
            "DELETE FROM a WHERE id IN ($1, …)"
        );
        assert_eq!(
            shape("SELECT a FROM u WHERE u.id IN (5,6,7) ORDER BY a"),
            "SELECT a FROM u WHERE u.id IN (…) ORDER BY a"
        );
        assert_eq!(
            shape("SELECT  x\n   FROM y WHERE a = $1"),
            "SELECT x FROM y WHERE a = $1"
        );
    }
}
