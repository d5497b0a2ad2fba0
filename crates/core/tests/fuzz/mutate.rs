//! Input mutation for the fuzz tests (issue 13, item 10): start from a valid input and break
//! it the ways a careless or hostile sender would — flipped and inserted bytes, truncation,
//! splices of another valid input, NUL bytes, invalid UTF-8, huge numbers, deep nesting, and
//! (on JSON) values swapped for values of another type.
//!
//! Shared by the core and server fuzz tests (the server includes this file by path), so both
//! mutate the same way without a crate of their own.
#![allow(dead_code)]

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// Byte strings that tend to break parsers.
pub const NASTY: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xc3\x28",
    b"\xed\xa0\x80",
    "\u{feff}".as_bytes(),
    "\u{202e}".as_bytes(),
    b"\"",
    b"\\",
    b"\\u0000",
    b"\\ud800",
    b",",
    b":",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\n",
    b"\r\n",
    b"\r",
    b"null",
    b"true",
    b"-0",
    b"1e999999",
    b"-1",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"99999999999999999999999999999999999999",
    b"0.5",
    b"NaN",
    b"2026-13-45T25:61:61Z",
    b"+999999-01-01T00:00:00Z",
    b"9999-12-31T23:59:59Z",
    b"=",
    b"/",
    b"..",
    b"@",
];

/// One edit of a byte string. Positions are fractions of the current length, so one edit
/// plan applies to inputs of any size.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    Truncate(Index),
    /// Copies a range of the input to another place in it.
    Duplicate(Index, usize, Index),
    /// Puts a range of another valid input (chosen by the caller's list) at a position.
    Splice(Index, Index, usize, Index),
    /// Repeats a byte many times (long strings, deep `[[[[`).
    Repeat(Index, u8, usize),
}

fn nasty() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(NASTY).prop_map(<[u8]>::to_vec),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

pub fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| ByteEdit::FlipBit(i, b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::SetByte(i, b)),
        3 => (any::<Index>(), nasty()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        2 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
        1 => (any::<Index>(), 1usize..64, any::<Index>())
            .prop_map(|(i, n, to)| ByteEdit::Duplicate(i, n, to)),
        1 => (any::<Index>(), any::<Index>(), 1usize..256, any::<Index>())
            .prop_map(|(s, from, n, to)| ByteEdit::Splice(s, from, n, to)),
        1 => (any::<Index>(), prop::sample::select(&b"[{\"0a \0\xff"[..]), 1usize..5000)
            .prop_map(|(i, b, n)| ByteEdit::Repeat(i, b, n)),
    ]
}

pub fn byte_edits() -> impl Strategy<Value = Vec<ByteEdit>> {
    prop::collection::vec(byte_edit(), 1..6)
}

/// `Index::index` needs a non-zero size; positions on an empty input are 0.
fn at(i: &Index, len: usize) -> usize {
    if len == 0 { 0 } else { i.index(len) }
}

pub fn apply_bytes(mut data: Vec<u8>, edits: &[ByteEdit], others: &[Vec<u8>]) -> Vec<u8> {
    for e in edits {
        let len = data.len();
        match e {
            ByteEdit::FlipBit(i, b) if len > 0 => data[at(i, len)] ^= 1 << b,
            ByteEdit::SetByte(i, v) if len > 0 => data[at(i, len)] = *v,
            ByteEdit::Insert(i, bytes) => {
                let p = at(i, len + 1);
                data.splice(p..p, bytes.iter().copied());
            }
            ByteEdit::Delete(i, n) if len > 0 => {
                let p = at(i, len);
                data.drain(p..(p + n).min(len));
            }
            ByteEdit::Truncate(i) => data.truncate(at(i, len)),
            ByteEdit::Duplicate(i, n, to) if len > 0 => {
                let p = at(i, len);
                let piece = data[p..(p + n).min(len)].to_vec();
                let q = at(to, len + 1);
                data.splice(q..q, piece);
            }
            ByteEdit::Splice(s, from, n, to) if !others.is_empty() => {
                let src = &others[s.index(others.len())];
                let p = at(from, src.len());
                let piece = src[p..(p + n).min(src.len())].to_vec();
                let q = at(to, len + 1);
                data.splice(q..q, piece);
            }
            ByteEdit::Repeat(i, b, n) => {
                let p = at(i, len + 1);
                data.splice(p..p, std::iter::repeat_n(*b, *n));
            }
            _ => {}
        }
    }
    data
}

/// One edit of a JSON document that keeps it JSON, so that it gets past the parser and
/// reaches the checks behind it.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    /// Replaces the n-th node (in document order) with another value.
    Replace(Index, Replacement),
    /// Removes a key of the n-th object.
    RemoveKey(Index, Index),
    /// Adds an unknown key to the n-th object.
    AddKey(Index, String),
}

#[derive(Debug, Clone)]
pub enum Replacement {
    Null,
    Bool(bool),
    Int(i64),
    U64Max,
    Float(f64),
    Str(String),
    LongStr(usize, char),
    /// `[[[[…]]]]`, deeper than serde_json's recursion limit when large.
    Nested(usize),
    EmptyArray,
    EmptyObject,
    /// The same node, wrapped in an array (a scalar where a list is expected and back).
    Wrapped,
}

fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        Just(Replacement::Null),
        any::<bool>().prop_map(Replacement::Bool),
        prop_oneof![
            any::<i64>(),
            Just(0i64),
            Just(-1),
            Just(i64::MAX),
            Just(i64::MIN),
            Just(u32::MAX as i64 + 1),
            Just(4_294_967_295),
            Just(253_402_300_800) // year 10000
        ]
        .prop_map(Replacement::Int),
        Just(Replacement::U64Max),
        prop_oneof![
            Just(f64::MAX),
            Just(-0.0f64),
            Just(1.5),
            Just(1e300),
            any::<f64>()
        ]
        .prop_map(Replacement::Float),
        prop_oneof![
            Just(String::new()),
            Just("\0".to_string()),
            Just("../..".to_string()),
            Just(" ".to_string()),
            Just("\u{feff}".to_string()),
            Just("=cmd|' /C calc'!A0".to_string()),
            Just("2026-02-30T00:00:00Z".to_string()),
            Just("-9999-01-01T00:00:00Z".to_string()),
            Just("9999-12-31T23:59:59.999999999+23:59".to_string()),
            Just("emp001".to_string()),
            Just("crm".to_string()),
            Just("employee".to_string()),
            Just("all".to_string()),
            ".{0,40}",
        ]
        .prop_map(Replacement::Str),
        (
            1usize..200_000,
            prop::sample::select(&['a', '/', '\0', 'é', ' '][..])
        )
            .prop_map(|(n, c)| Replacement::LongStr(n, c)),
        (1usize..3000).prop_map(Replacement::Nested),
        Just(Replacement::EmptyArray),
        Just(Replacement::EmptyObject),
        Just(Replacement::Wrapped),
    ]
}

pub fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        5 => (any::<Index>(), replacement()).prop_map(|(i, r)| JsonEdit::Replace(i, r)),
        2 => (any::<Index>(), any::<Index>()).prop_map(|(i, k)| JsonEdit::RemoveKey(i, k)),
        1 => (any::<Index>(), "[a-z_]{1,12}").prop_map(|(i, k)| JsonEdit::AddKey(i, k)),
    ]
}

pub fn json_edits() -> impl Strategy<Value = Vec<JsonEdit>> {
    prop::collection::vec(json_edit(), 1..4)
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Calls `f` on the n-th node in document order.
fn visit<F: FnOnce(&mut Value)>(v: &mut Value, n: &mut usize, f: &mut Option<F>) -> bool {
    if *n == 0 {
        if let Some(f) = f.take() {
            f(v);
        }
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| visit(c, n, f)),
        Value::Object(o) => o.values_mut().any(|c| visit(c, n, f)),
        _ => false,
    }
}

fn with_nth(v: &mut Value, i: &Index, f: impl FnOnce(&mut Value)) {
    let mut n = i.index(count(v));
    visit(v, &mut n, &mut Some(f));
}

/// `[[[…]]]` as a value; kept under serde_json's recursion limit (128) so that it can be
/// serialised: deeper raw nesting is sent by [`nested_text`].
fn nested(depth: usize) -> Value {
    (0..depth.min(120)).fold(Value::Array(vec![]), |inner, _| Value::Array(vec![inner]))
}

pub fn apply_json(mut v: Value, edits: &[JsonEdit]) -> Value {
    for e in edits {
        match e {
            JsonEdit::Replace(i, r) => with_nth(&mut v, i, |node| {
                *node = match r {
                    Replacement::Null => Value::Null,
                    Replacement::Bool(b) => Value::Bool(*b),
                    Replacement::Int(n) => Value::from(*n),
                    Replacement::U64Max => Value::from(u64::MAX),
                    Replacement::Float(f) => {
                        serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
                    }
                    Replacement::Str(s) => Value::String(s.clone()),
                    Replacement::LongStr(n, c) => {
                        Value::String(std::iter::repeat_n(*c, *n).collect())
                    }
                    Replacement::Nested(d) => nested(*d),
                    Replacement::EmptyArray => Value::Array(vec![]),
                    Replacement::EmptyObject => Value::Object(Default::default()),
                    Replacement::Wrapped => Value::Array(vec![node.take()]),
                }
            }),
            JsonEdit::RemoveKey(i, k) => with_nth(&mut v, i, |node| {
                if let Value::Object(o) = node
                    && !o.is_empty()
                {
                    let key = o.keys().nth(k.index(o.len())).cloned();
                    if let Some(key) = key {
                        o.remove(&key);
                    }
                }
            }),
            JsonEdit::AddKey(i, key) => with_nth(&mut v, i, |node| {
                if let Value::Object(o) = node {
                    o.insert(key.clone(), Value::from(1));
                }
            }),
        }
    }
    v
}

/// Text nested deeper than any parser should follow (serde_json stops at 128 levels).
pub fn nested_text(depth: usize) -> Vec<u8> {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
}

/// How many cases a fuzz target runs: `SEATKEEPER_FUZZ_CASES` scaled by the target's weight
/// (CI's default keeps the whole fuzz suite under a minute in a debug build).
pub fn cases(default: u32) -> u32 {
    match std::env::var("SEATKEEPER_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        // The variable sets the pure targets' count; heavier targets keep their proportion.
        Some(n) => u32::try_from(n.saturating_mul(u64::from(default)) / 2000)
            .unwrap_or(u32::MAX)
            .max(1),
        None => default,
    }
}

/// One line per target for `scripts/fuzz.sh` to tabulate.
pub fn report(target: &str, executions: u64, findings: &str, started: std::time::Instant) {
    println!(
        "FUZZ-RESULT target={target} executions={executions} findings={findings} seconds={:.1}",
        started.elapsed().as_secs_f64()
    );
}
