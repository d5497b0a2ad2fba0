//! Issue 17: the events a real server raises match the JSON Schemas that
//! docs/NOTIFICATIONS.md publishes (read from the file, so the two cannot drift), and each
//! level event is raised once per crossing.

use std::collections::BTreeMap;
use std::path::Path;

use reqwest::Method;
use serde_json::{Value, json};

use super::webhooks::{Receiver, start_notifying, subscribe};
use super::{Api, T0, create_user, prepare, set_clock, world_limited};
use crate::issue_license;

/// The schemas of docs/NOTIFICATIONS.md by `$id` (`…/schemas/<name>.json` → `<name>`).
fn documented() -> BTreeMap<String, Value> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/NOTIFICATIONS.md"),
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for block in doc.split("```json").skip(1) {
        let text = block.split("```").next().unwrap();
        let schema: Value = serde_json::from_str(text).unwrap_or_else(|e| {
            panic!("a JSON block of NOTIFICATIONS.md does not parse ({e}): {text}")
        });
        let id = schema["$id"].as_str().unwrap();
        let name = id
            .rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(".json")
            .to_string();
        out.insert(name, schema);
    }
    out
}

/// The part of JSON Schema the document uses: type (one or several), required, properties,
/// items, enum and `$ref` to another block by its `$id`.
fn check(schemas: &BTreeMap<String, Value>, schema: &Value, v: &Value, at: &str) {
    if let Some(r) = schema["$ref"].as_str() {
        return check(schemas, &schemas[r], v, at);
    }
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![kind],
    };
    assert!(allowed.contains(&kind), "{at}: {v} is not {allowed:?}");
    if let Some(values) = schema["enum"].as_array() {
        assert!(values.contains(v), "{at}: {v} is not one of {values:?}");
    }
    if let Some(required) = schema["required"].as_array() {
        for r in required {
            let r = r.as_str().unwrap();
            assert!(v.get(r).is_some(), "{at}: {r} is missing from {v}");
        }
    }
    if let (Some(props), Some(obj)) = (schema["properties"].as_object(), v.as_object()) {
        for (k, sub) in props {
            if let Some(x) = obj.get(k) {
                check(schemas, sub, x, &format!("{at}.{k}"));
            }
        }
        for k in obj.keys() {
            assert!(props.contains_key(k), "{at}: {k} is not documented ({v})");
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
        for (i, x) in arr.iter().enumerate() {
            check(schemas, items, x, &format!("{at}[{i}]"));
        }
    }
}

async fn events(api: &Api, admin: &str) -> Vec<Value> {
    api.ok(Method::GET, "/api/v1/events?limit=1000", admin, None)
        .await
        .as_array()
        .unwrap()
        .clone()
}

/// Which schema a type's data follows.
fn schema_of(t: &str) -> &str {
    match t {
        "limit.exceeded" => "limit.reached",
        "seats.exhausted" => "seats.threshold",
        other => other,
    }
}

async fn every_event_matches_its_schema(db: &str, dir: &Path) {
    let schemas = documented();
    prepare(db, dir);
    let server = start_notifying(db, dir);
    let api = Api::new(&server);
    // Two named crm seats, one floating; at most 4 employees.
    let w = world_limited(db, dir, &api, 2, 1, 4).await;
    let receiver = Receiver::start(0).await;
    subscribe(&api, &w, &receiver, &["*"]).await;
    for u in ["m1", "m2", "m3", "m4"] {
        create_user(&api, &w, u, "").await;
    }
    // The area is full: more users are refused, and raise nothing more.
    for u in ["x1", "x2"] {
        let (s, _) = api
            .call(
                Method::POST,
                "/api/v1/users",
                Some(&w.admin),
                Some(json!({"login": u, "area": "employee"})),
            )
            .await;
        assert_eq!(s, reqwest::StatusCode::CONFLICT);
    }
    // Three members want crm, two seats: granted, threshold, exhausted, one need unmet.
    let role = api
        .ok(
            Method::POST,
            "/api/v1/roles",
            &w.admin,
            Some(json!({"name": "Sales", "kind": "organizational"})),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    api.ok(
        Method::POST,
        &format!("/api/v1/roles/{role}/members"),
        &w.admin,
        Some(json!({"logins": ["m1", "m2", "m3"]})),
    )
    .await;
    api.ok(
        Method::PUT,
        &format!("/api/v1/roles/{role}/products/crm"),
        &w.admin,
        None,
    )
    .await;
    api.ok(
        Method::POST,
        "/api/v1/redistributions",
        &w.admin,
        Some(json!({"scope": {"kind": "role", "role": role}})),
    )
    .await;
    api.ok(
        Method::POST,
        "/api/v1/users/m4/block",
        &w.admin,
        Some(json!({"reason": "left"})),
    )
    .await;
    api.ok(Method::POST, "/api/v1/users/m4/activate", &w.admin, None)
        .await;
    // A second license ending in five days: its 7-day notice, then its end.
    let order = json!({
        "products": [{"code": "erp", "name": "ERP", "features": ["ledger"], "all_modules": true}],
        "packages": [{"serial": "E-1", "product": "erp", "kind": "named", "area": "employee",
            "seats": 3, "expires": "2027-01-06T00:00:00Z"}]
    });
    issue_license(db, dir, &order);
    let license = std::fs::read_to_string(dir.join("lic.json")).unwrap();
    let imported = api
        .http
        .post(format!("{}/api/v1/licenses", api.base))
        .bearer_auth(&w.admin)
        .body(license)
        .send()
        .await
        .unwrap();
    assert!(imported.status().is_success());
    let has = |all: &[Value], t: &str| all.iter().filter(|e| e["type"] == t).count();
    let mut all = Vec::new();
    for _ in 0..50 {
        all = events(&api, &w.admin).await;
        if has(&all, "license.expiring") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    set_clock(dir, T0 + 6 * 86_400);
    for _ in 0..50 {
        all = events(&api, &w.admin).await;
        if has(&all, "license.expired") > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    for (t, n) in [
        ("license.imported", 2),
        // m1–m4 filled the area; blocking m4 re-armed it; activating m4 filled it again.
        ("limit.reached", 2),
        ("seats.threshold", 1),
        ("seats.exhausted", 1),
        ("redistribution.completed", 1),
        ("needs.unmet", 1),
        ("user.blocked", 1),
        ("user.activated", 1),
        ("license.expiring", 1),
        ("license.expired", 1),
    ] {
        assert_eq!(has(&all, t), n, "{t}: {all:#?}");
    }
    for e in &all {
        let t = e["type"].as_str().unwrap();
        let schema = schemas
            .get(schema_of(t))
            .unwrap_or_else(|| panic!("{t} has no schema in NOTIFICATIONS.md"));
        check(&schemas, schema, &e["data"], t);
    }
    let expiring = all
        .iter()
        .find(|e| e["type"] == "license.expiring")
        .unwrap();
    assert_eq!(expiring["data"]["days_ahead"], 7, "{expiring}");
    let unmet = all.iter().find(|e| e["type"] == "needs.unmet").unwrap();
    assert_eq!(unmet["data"]["unmet"], 1, "{unmet}");

    // What a webhook receives is the documented envelope around the same data.
    // Every event but the first license import, which came before the subscription.
    let seen = receiver.wait_for(30, |s| s.len() + 1 >= all.len()).await;
    for s in &seen {
        assert!(s.signature_ok);
        check(&schemas, &schemas["envelope"], &s.body, "envelope");
    }
    drop(server);
}

super::scim::on_both!(
    every_event_matches_its_schema,
    x17_events_match_their_documented_schemas_on_sqlite,
    x17_events_match_their_documented_schemas_on_postgres
);
