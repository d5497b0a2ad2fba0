//! The license manager: upload with preview (L2), a refused file (L3), delete all (L5).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, Ui, order};

fn counts(t: &str, u: &str, f: &str) -> (String, String, String) {
    (t.to_string(), u.to_string(), f.to_string())
}

/// Uploads `file` through the form and answers when the next page is there.
async fn upload(ui: &Ui, file: &std::path::Path) {
    ui.wait("form#upload-license input[type=file][name=file]")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("choose the file");
    ui.submit("form#upload-license [type=submit]").await;
}

/// A license is uploaded, previewed and imported: the seat counts on the license manager
/// follow; a second file adds seats; delete all takes them away again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_l2_upload_preview_import_counts_change() {
    let Some(ui) = Ui::start("ui_l2_upload_preview_import_counts_change").await else {
        return;
    };
    assert_eq!(ui.signin(PASSWORD).await, "/ui/licenses");
    assert!(ui.exists("form#license-request, a#download-request").await);
    assert!(!ui.exists("#products tr[data-product]").await);
    ui.shot("license-manager-empty").await;

    let first = ui.issue("first", &order(5, 2, 100));
    upload(&ui, &first).await;
    let preview = ui.text("#license-preview").await;
    assert!(
        preview.contains("CRM-1") && preview.contains("AN-1"),
        "{preview}"
    );
    ui.shot("license-preview").await;
    // Nothing changes before the import is confirmed.
    assert_eq!(ui.api.product("crm").await, Value::Null);
    ui.submit("form#confirm-import [type=submit]").await;
    ui.wait_path("/ui/licenses").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Imported license"), "{flash}");
    assert_eq!(ui.counts("crm").await, counts("5", "0", "5"));
    assert_eq!(ui.counts("analytics").await, counts("2", "0", "2"));
    let employees = "#areas tr[data-area='employee']";
    assert_eq!(ui.cell(employees, "limit").await, "100");
    assert_eq!(ui.cell(employees, "active").await, "0");

    // A second file adds three crm seats.
    let mut more = order(3, 0, 100);
    more["products"] = json!([more["products"][0]]);
    more["packages"] = json!([{"serial": "CRM-2", "product": "crm", "kind": "named", "area": "employee", "seats": 3}]);
    let second = ui.issue("second", &more);
    upload(&ui, &second).await;
    ui.wait("#license-preview").await;
    ui.submit("form#confirm-import [type=submit]").await;
    ui.wait_path("/ui/licenses").await;
    ui.wait(".flash[role=status]").await;
    assert_eq!(ui.counts("crm").await, counts("8", "0", "8"));
    ui.shot("license-manager").await;

    // L5: delete all, after confirming.
    ui.submit("a#delete-all").await;
    ui.wait("form#confirm-delete-all").await;
    ui.shot("license-delete-all").await;
    ui.click("form#confirm-delete-all input[type=checkbox]")
        .await;
    ui.submit("form#confirm-delete-all [type=submit]").await;
    ui.wait_path("/ui/licenses").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Deleted 2 license file(s)"), "{flash}");
    ui.shot("license-manager-deleted").await;
    assert!(!ui.exists("#packages tr[data-serial]").await);
    ui.finish().await;
}

/// A license file altered after signing is refused with that reason, and nothing changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_l3_tampered_license_refused() {
    let Some(ui) = Ui::start("ui_l3_tampered_license_refused").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/licenses").await;
    assert_eq!(ui.counts("crm").await, counts("5", "0", "5"));

    // The vendor's file for 5 more seats, edited to say 500.
    let mut more = order(5, 0, 100);
    more["products"] = json!([more["products"][0]]);
    more["packages"] = json!([{"serial": "CRM-9", "product": "crm", "kind": "named", "area": "employee", "seats": 5}]);
    let good = ui.issue("good", &more);
    let mut envelope: Value = serde_json::from_slice(&std::fs::read(&good).unwrap()).unwrap();
    let mut payload: Value =
        serde_json::from_slice(&B64.decode(envelope["payload"].as_str().unwrap()).unwrap())
            .unwrap();
    payload["packages"][0]["seats"] = json!(500);
    envelope["payload"] = json!(B64.encode(serde_json::to_vec(&payload).unwrap()));
    let forged = ui.dir.path().join("forged.json");
    std::fs::write(&forged, envelope.to_string()).unwrap();

    upload(&ui, &forged).await;
    let error = ui.text(".error[role=alert]").await;
    assert!(
        error.contains("altered after signing") && error.contains("Nothing was changed"),
        "{error}"
    );
    assert!(!ui.exists("#license-preview").await);
    assert!(!ui.exists("form#confirm-import").await);
    ui.shot("license-refused").await;
    ui.goto("/ui/licenses").await;
    assert_eq!(ui.counts("crm").await, counts("5", "0", "5"));
    assert!(!ui.exists("#packages tr[data-serial='CRM-9']").await);
    assert_eq!(ui.api.product("crm").await["total"], 5);
    ui.finish().await;
}
