#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Fuzzing of the untrusted inputs the core parses (issue 13, item 10): license files
//! (envelope, base64, signature, payload JSON, dates, replaces, area limits) and users CSV
//! files. Random valid inputs are generated, then mutated (see `fuzz/mutate.rs`); every
//! target checks that nothing panics and that every refusal is a specific, readable error.
//!
//! Case counts: 2000 per target by default (CI); `SEATKEEPER_FUZZ_CASES` sets more, and
//! `scripts/fuzz.sh` runs them long and prints a table.

#[path = "fuzz/mutate.rs"]
mod mutate;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::SigningKey;
use mutate::{apply_bytes, apply_json, byte_edits, cases, json_edits, report};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use seatkeeper_core::capacity::{self, LicenseTerms};
use seatkeeper_core::license::{
    self, LicenseEnvelope, LicenseRequest, Order, OrderAreaLimit, OrderPackage,
};
use seatkeeper_core::{Area, Error, LicenseError, Product, SeatKind, users_csv};
use serde_json::Value;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOW: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);
/// A refusal message is for a person: it may quote the input, but not without bound.
const MAX_MESSAGE: usize = 2048;

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn runner(default_cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases(default_cases),
        failure_persistence: None,
        // Mutations of one seed rarely repeat; do not give up on rejected inputs.
        max_global_rejects: u32::MAX,
        ..Config::default()
    })
}

/// Runs a target and prints its line for `scripts/fuzz.sh`; a failing case fails the test
/// with proptest's smallest failing input.
fn run<S: Strategy>(
    target: &str,
    default_cases: u32,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let started = std::time::Instant::now();
    let executions = std::sync::atomic::AtomicU64::new(0);
    let result = runner(default_cases).run(&strategy, |input| {
        executions.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        test(input)
    });
    let n = executions.into_inner();
    match result {
        Ok(()) => report(target, n, "0", started),
        Err(e) => {
            report(target, n, "1", started);
            panic!("fuzz target {target} found a failing input: {e}");
        }
    }
}

// ── valid inputs ─────────────────────────────────────────────────────────────────────────

fn request() -> LicenseRequest {
    LicenseRequest {
        format: license::REQUEST_FORMAT.into(),
        company_id: "ACME".into(),
        instance_id: "inst-1".into(),
        application_version: "8.1".into(),
        generated_at: datetime!(2026-01-01 0:00 UTC),
        usage: vec![],
        active_users: BTreeMap::new(),
    }
}

fn area() -> impl Strategy<Value = Area> {
    prop_oneof![Just(Area::Employee), Just(Area::Portal)]
}

fn kind() -> impl Strategy<Value = SeatKind> {
    prop_oneof![Just(SeatKind::Named), Just(SeatKind::Concurrent)]
}

/// A random order that makes sense, so that `issue` signs it.
fn order() -> impl Strategy<Value = Order> {
    let products = prop::collection::btree_set("[a-z][a-z0-9_-]{0,8}", 1..4);
    let package = (
        any::<prop::sample::Index>(),
        kind(),
        area(),
        1u32..=u32::MAX,
        prop::option::of(0i64..400),
        prop::option::of(1i64..4000),
    );
    let limit = (area(), any::<u32>(), prop::option::of(1i64..4000));
    (
        products,
        prop::collection::vec(package, 1..5),
        prop::collection::vec(limit, 0..3),
        any::<bool>(),
    )
        .prop_map(|(products, packages, limits, renew)| {
            let products: Vec<Product> = products
                .into_iter()
                .map(|code| Product {
                    name: code.to_uppercase(),
                    features: vec!["f".into()],
                    all_modules: code.len() % 2 == 0,
                    code,
                })
                .collect();
            let mut packages: Vec<OrderPackage> = packages
                .into_iter()
                .enumerate()
                .map(|(i, (p, kind, area, seats, from, days))| {
                    let valid_from = from.map(|d| NOW + Duration::days(d));
                    OrderPackage {
                        serial: format!("S-{i}"),
                        product: products[p.index(products.len())].code.clone(),
                        kind,
                        area,
                        seats,
                        valid_from,
                        expires: days.map(|d| valid_from.unwrap_or(NOW) + Duration::days(d)),
                        replaces: vec![],
                    }
                })
                .collect();
            if renew && packages.len() > 1 {
                packages[1].replaces = vec!["S-0".into(), "OLD-1".into()];
            }
            Order {
                valid_from: Some(NOW),
                products,
                packages,
                area_limits: limits
                    .into_iter()
                    .map(|(area, max_users, days)| OrderAreaLimit {
                        area,
                        max_users,
                        valid_from: None,
                        expires: days.map(|d| NOW + Duration::days(d)),
                    })
                    .collect(),
            }
        })
}

fn issue(order: &Order) -> String {
    license::issue(&key(), &request(), order, "lic-1".into(), NOW).expect("a valid order signs")
}

/// A few fixed valid files, for splicing into mutated ones.
fn seed_files() -> Vec<Vec<u8>> {
    let mut runner = TestRunner::deterministic();
    (0..4)
        .map(|_| issue(&order().new_tree(&mut runner).unwrap().current()).into_bytes())
        .collect()
}

// ── properties ───────────────────────────────────────────────────────────────────────────

fn check_message(e: &impl std::fmt::Display) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(!m.trim().is_empty(), "empty error message");
    prop_assert!(
        m.len() <= MAX_MESSAGE,
        "error message of {} bytes: {}…",
        m.len(),
        &m[..m.floor_char_boundary(200)]
    );
    Ok(())
}

/// Everything the core does with a file an administrator imports: verify, the binding
/// checks, and the capacity and limits it would bring. Returns the verify result.
fn import_checks(
    text: &str,
) -> Result<Result<license::VerifiedLicense, LicenseError>, TestCaseError> {
    let trusted = [key().verifying_key()];
    if let Err(e) = license::decode_unverified(text) {
        check_message(&e)?;
    }
    let verified = license::verify(text, &trusted);
    match &verified {
        Ok(v) => {
            if let Err(e) = license::check_binding(&v.payload, Some("ACME"), "inst-1", NOW) {
                check_message(&e)?;
            }
            let _ = v.payload.latest_expiry();
            let packages = v.payload.packages.clone();
            let _ = capacity::pools_at(&packages, &Default::default(), NOW);
            let terms = [LicenseTerms {
                file: 1,
                packages,
                limits: v.payload.area_limits.clone(),
            }];
            let _ = capacity::area_limits_at(&terms, NOW);
            let _ = capacity::next_limit_change(&terms, NOW);
        }
        Err(e) => check_message(e)?,
    }
    Ok(verified)
}

#[test]
fn x13_10_fuzz_license_valid_files_always_verify() {
    run("license: valid files verify", 2000, order(), |order| {
        let text = issue(&order);
        let v = import_checks(&text)?;
        prop_assert!(v.is_ok(), "a freshly issued file was refused: {v:?}");
        Ok(())
    });
}

#[test]
fn x13_10_fuzz_license_mutated_text_is_refused_or_unchanged() {
    let seeds = seed_files();
    let trusted_digest: Vec<String> = seeds
        .iter()
        .map(|s| {
            license::verify(std::str::from_utf8(s).unwrap(), &[key().verifying_key()])
                .unwrap()
                .digest
        })
        .collect();
    let strategy = (any::<prop::sample::Index>(), byte_edits());
    run("license: mutated bytes", 2000, strategy, |(seed, edits)| {
        let i = seed.index(seeds.len());
        let bytes = apply_bytes(seeds[i].clone(), &edits, &seeds);
        // The CLI and the API refuse non-UTF-8 before the parser; here it still gets the text.
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(v) = import_checks(&text)? {
            // The signature covers the payload: a file can only verify with the exact
            // payload that was signed (whitespace around the fields may change).
            prop_assert!(
                trusted_digest.contains(&v.digest),
                "a mutated file verified with a payload that was never signed"
            );
        }
        Ok(())
    });
}

fn envelope(text: &str) -> LicenseEnvelope {
    serde_json::from_str(text).unwrap()
}

#[test]
fn x13_10_fuzz_license_any_change_to_the_signed_payload_is_a_signature_error() {
    let seeds = seed_files();
    let strategy = (any::<prop::sample::Index>(), byte_edits());
    run("license: payload bytes", 2000, strategy, |(seed, edits)| {
        let mut env = envelope(std::str::from_utf8(&seeds[seed.index(seeds.len())]).unwrap());
        let signed = B64.decode(&env.payload).unwrap();
        let changed = apply_bytes(signed.clone(), &edits, &[]);
        prop_assume!(changed != signed);
        env.payload = B64.encode(&changed);
        let text = serde_json::to_string(&env).unwrap();
        prop_assert_eq!(import_checks(&text)?.err(), Some(LicenseError::Tampered));
        Ok(())
    });
}

/// The vendor's key signs whatever the payload holds: what a buggy or hostile issuer could
/// send. Past the signature every such payload is a license or a clear refusal.
#[test]
fn x13_10_fuzz_license_signed_payload_of_any_shape() {
    let strategy = (order(), json_edits());
    run(
        "license: signed odd payloads",
        2000,
        strategy,
        |(order, edits)| {
            let env = envelope(&issue(&order));
            let payload: Value =
                serde_json::from_slice(&B64.decode(&env.payload).unwrap()).unwrap();
            let bytes = serde_json::to_vec(&apply_json(payload, &edits)).unwrap();
            let text = resign(env, &bytes);
            if let Err(e) = import_checks(&text)? {
                prop_assert!(
                    matches!(e, LicenseError::Malformed(_) | LicenseError::Invalid(_)),
                    "a signed payload was refused as {e:?}"
                );
            }
            Ok(())
        },
    );
}

fn resign(mut env: LicenseEnvelope, payload: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    env.payload = B64.encode(payload);
    env.signature = B64.encode(key().sign(payload).to_bytes());
    serde_json::to_string(&env).unwrap()
}

#[test]
fn x13_10_fuzz_license_envelope_of_any_shape() {
    let seeds = seed_files();
    let strategy = (any::<prop::sample::Index>(), json_edits());
    run("license: odd envelopes", 2000, strategy, |(seed, edits)| {
        let env: Value = serde_json::from_slice(&seeds[seed.index(seeds.len())]).unwrap();
        let text = serde_json::to_string(&apply_json(env, &edits)).unwrap();
        let _ = import_checks(&text)?;
        Ok(())
    });
}

// ── users CSV ────────────────────────────────────────────────────────────────────────────

fn csv_row() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9._-]{0,10}",
        "[A-Za-z ]{0,12}",
        prop::option::of("[a-z]{1,6}@[a-z]{1,6}\\.org"),
        prop::sample::select(vec!["employee", "portal", ""]),
        prop::sample::select(vec!["", "Sales", "Sales/North", "\"Support, EU\""]),
        prop::sample::select(vec!["active", "blocked", ""]),
    )
        .prop_map(|(login, name, email, area, folder, state)| {
            format!(
                "{login},{name},{},{area},{folder},{state}",
                email.unwrap_or_default()
            )
        })
}

fn csv_file() -> impl Strategy<Value = String> {
    prop::collection::vec(csv_row(), 0..20).prop_map(|rows| {
        let mut text = String::from("login,name,email,area,folder,state\n");
        for (i, r) in rows.iter().enumerate() {
            // Logins are unique in a valid file.
            text.push_str(&format!("{i}{r}"));
            text.push('\n');
        }
        text
    })
}

fn csv_checks(text: &str) -> Result<(), TestCaseError> {
    // A line number past the last line (a final row without newline) is still a line.
    // A bare `\r` ends a line too (the reader takes it as a record end).
    let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count() as u64;
    match users_csv::parse(text) {
        Ok(rows) => {
            for r in &rows {
                prop_assert!(r.line >= 2 && r.line <= lines, "row on line {}", r.line);
                prop_assert!(seatkeeper_core::validate::login(&r.login).is_ok());
            }
        }
        Err(Error::Csv(errors)) => {
            prop_assert!(!errors.is_empty());
            for e in &errors {
                prop_assert!(
                    e.line >= 1 && e.line <= lines,
                    "error on line {} of {lines}: {}",
                    e.line,
                    e.message
                );
                check_message(&e.message)?;
            }
        }
        Err(other) => prop_assert!(false, "not a CSV error: {other:?}"),
    }
    Ok(())
}

#[test]
fn x13_10_fuzz_users_csv_mutated_files() {
    let mut seeder = TestRunner::deterministic();
    let seeds: Vec<Vec<u8>> = (0..4)
        .map(|_| {
            csv_file()
                .new_tree(&mut seeder)
                .unwrap()
                .current()
                .into_bytes()
        })
        .collect();
    let strategy = (csv_file(), byte_edits());
    run(
        "users CSV: mutated files",
        2000,
        strategy,
        |(file, edits)| {
            prop_assert!(users_csv::parse(&file).is_ok(), "a valid file was refused");
            let bytes = apply_bytes(file.into_bytes(), &edits, &seeds);
            csv_checks(&String::from_utf8_lossy(&bytes))
        },
    );
}

#[test]
fn x13_10_fuzz_users_csv_random_text() {
    let strategy = prop_oneof![
        ".{0,400}",
        prop::collection::vec(
            prop::sample::select(vec![
                "login", ",", "\n", "\r", "\"", "a", " ", "\0", "é", "/"
            ]),
            0..200
        )
        .prop_map(|parts| parts.concat()),
    ];
    run("users CSV: random text", 2000, strategy, |text| {
        csv_checks(&text)
    });
}

// ── SCIM filters and PATCH paths (issue 16, I2) ─────────────────────────────────────────

const SCIM_SEEDS: &[&str] = &[
    r#"userName eq "bjensen""#,
    r#"name.familyName co "O'Malley" and meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J" or title pr"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#,
    r#"x ge -1.5e3 and active eq true and nickName eq null"#,
    r#"members[value eq "2819c223"].display"#,
];

/// Every outcome is a tree that prints and reads back the same and evaluates without
/// panicking, or an `invalidFilter` refusal with a position inside the input.
fn scim_checks(text: &str) -> Result<(), TestCaseError> {
    use seatkeeper_core::scim::{parse_filter, parse_path};
    let user = serde_json::json!({
        "userName": "bjensen", "active": true, "emails": [{"value": "b@example.com", "type": "work"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"}, "x": 3
    });
    match parse_filter(text) {
        Ok(filter) => {
            let printed = filter.to_string();
            prop_assert_eq!(
                parse_filter(&printed),
                Ok(filter.clone()),
                "printed {}",
                printed
            );
            let _ = filter.try_matches(&user);
        }
        Err(e) => {
            prop_assert_eq!(e.scim_type(), "invalidFilter");
            prop_assert!(e.position.is_some_and(|p| p <= text.len()), "{:?}", e);
            check_message(&e)?;
        }
    }
    match parse_path(text) {
        Ok(path) => prop_assert_eq!(parse_path(&path.to_string()), Ok(path.clone())),
        Err(e) => {
            prop_assert!(e.position.is_some_and(|p| p <= text.len()), "{:?}", e);
            check_message(&e)?;
        }
    }
    Ok(())
}

#[test]
fn i2_fuzz_scim_filter_mutated() {
    let seeds: Vec<Vec<u8>> = SCIM_SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    let strategy = (prop::sample::select(seeds.clone()), byte_edits());
    run(
        "SCIM filter: mutated filters",
        2000,
        strategy,
        |(seed, edits)| {
            let bytes = apply_bytes(seed, &edits, &seeds);
            scim_checks(&String::from_utf8_lossy(&bytes))
        },
    );
}

#[test]
fn i2_fuzz_scim_filter_random_text() {
    let strategy = prop_oneof![
        ".{0,200}",
        prop::collection::vec(
            prop::sample::select(vec![
                "a", "b.c", "urn:x:y", " ", "eq", "pr", "and", "or", "not", "(", ")", "[", "]",
                "\"s\"", "\"", "\\", "1", "-2.5e3", "true", "null", "\0", "é", ":", ".",
            ]),
            0..120
        )
        .prop_map(|parts| parts.concat()),
    ];
    run("SCIM filter: random text", 2000, strategy, |text| {
        scim_checks(&text)
    });
}

// ── regressions: inputs the fuzz run found ──────────────────────────────────────────────
// Each of these once gave an error message quoting megabytes of the input.

#[test]
fn x13_10_regression_license_error_quotes_a_huge_format_briefly() {
    let mut env = envelope(&issue(
        &order()
            .new_tree(&mut TestRunner::deterministic())
            .unwrap()
            .current(),
    ));
    env.format = "[".repeat(1_000_000);
    let e = license::verify(
        &serde_json::to_string(&env).unwrap(),
        &[key().verifying_key()],
    )
    .unwrap_err();
    assert!(matches!(e, LicenseError::UnsupportedFormat(_)));
    let m = e.to_string();
    assert!(m.len() < 300 && m.contains("1000000 bytes"), "{m}");
}

#[test]
fn x13_10_regression_license_parser_message_of_a_huge_value_is_brief() {
    // A JSON string where the envelope belongs: serde quotes it whole.
    let text = serde_json::to_string(&"\0".repeat(500_000)).unwrap();
    let e = license::verify(&text, &[key().verifying_key()]).unwrap_err();
    assert!(matches!(e, LicenseError::Malformed(_)));
    assert!(
        e.to_string().len() <= MAX_MESSAGE,
        "{} bytes",
        e.to_string().len()
    );
}

#[test]
fn x13_10_regression_csv_errors_quote_huge_cells_briefly() {
    let big = "x".repeat(1_000_000);
    for text in [
        format!("login,{big}\na\n"),
        format!("login,email\n{big},a b\n"),
        format!("login,area,state,folder\na,{big},{big},{big}/{big}\n"),
    ] {
        let Err(Error::Csv(rows)) = users_csv::parse(&text) else {
            panic!("expected CSV errors")
        };
        for r in rows {
            assert!(r.message.len() <= MAX_MESSAGE, "{} bytes", r.message.len());
        }
    }
}

/// Found by `x13_10_fuzz_users_csv_random_text`: with bare `\r` line ends every row was
/// reported on line 1, the header's.
#[test]
fn x13_10_regression_rows_after_a_bare_cr_are_on_their_own_lines() {
    let rows = users_csv::parse("login\ra\rb").unwrap();
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3]);
}
