//! More of the admin UI: CSV import and export (U1, U4), a user's Licenses tab explaining a
//! role via its ancestor (D6), settings (D5, S3), folders with placed seats (X1), and the
//! users list's paging and filters (U1).

use fantoccini::Locator;
use serde_json::json;

use crate::harness::{PASSWORD, Ui, order};

fn row(login: &str) -> String {
    format!("#users tr[data-login='{login}']")
}

/// The logins listed in the users table, in order.
async fn logins(ui: &Ui) -> Vec<String> {
    ui.wait("#users").await;
    let mut out = Vec::new();
    for r in
        ui.c.find_all(Locator::Css("#users tr[data-login]"))
            .await
            .expect("user rows")
    {
        out.push(
            r.attr("data-login")
                .await
                .expect("data-login")
                .unwrap_or_default(),
        );
    }
    out
}

/// Writes `text` as `name` in the test folder and chooses it in the file input `css`.
async fn choose_file(ui: &Ui, css: &str, name: &str, text: &str) {
    let file = ui.dir.path().join(name);
    std::fs::write(&file, text).expect("write the upload");
    ui.wait(css)
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("choose the file");
}

/// Imports `text` through the users list's CSV form; answers when the next page is there.
async fn import_csv(ui: &Ui, name: &str, text: &str) {
    choose_file(ui, "form#import-csv input#csv[type=file]", name, text).await;
    ui.submit("form#import-csv [type=submit]").await;
}

/// A file with two bad lines is refused whole and the refusal lists both; a good file creates
/// its users, who are then found by the search and are in the CSV export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_u1_u4_csv_import_reports_every_bad_line_and_export_downloads() {
    let Some(ui) =
        Ui::start("ui_u1_u4_csv_import_reports_every_bad_line_and_export_downloads").await
    else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/users").await;
    let count = ui.text("#user-count").await;

    let bad = "login,name,email,area,folder,state\n\
               eve,Eve,eve@example.com,employee,,active\n\
               bad login,Bad,,employee,,active\n\
               fay,Fay,,mars,,active\n\
               gus,Gus,,portal,,blocked\n";
    import_csv(&ui, "bad.csv", bad).await;
    assert_eq!(ui.text("h1").await, "CSV refused");
    let alert = ui.text(".error[role=alert]").await;
    assert!(alert.contains("2 line(s)"), "{alert}");
    let mut refused = Vec::new();
    for r in
        ui.c.find_all(Locator::Css("#csv-errors tbody tr"))
            .await
            .unwrap()
    {
        refused.push(r.text().await.unwrap());
    }
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert!(
        refused[0].split_whitespace().next() == Some("3")
            && refused[0].contains("\"bad login\" is not valid"),
        "{refused:?}"
    );
    assert!(
        refused[1].split_whitespace().next() == Some("4")
            && refused[1].contains("unknown area \"mars\""),
        "{refused:?}"
    );
    ui.shot("users-csv-refused").await;
    // Nothing was imported, not even the good lines.
    ui.goto("/ui/users").await;
    assert_eq!(ui.text("#user-count").await, count);
    assert!(!ui.exists(&row("eve")).await);

    let good = "login,name,email,area,folder,state\n\
                eve,Eve Adams,eve@example.com,employee,,active\n\
                fay,Fay,,employee,,active\n\
                gus,Gus,,portal,,blocked\n";
    import_csv(&ui, "good.csv", good).await;
    ui.wait_path("/ui/users").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("3 created"), "{flash}");
    for l in ["eve", "fay", "gus"] {
        ui.wait(&row(l)).await;
    }
    assert_eq!(
        ui.find(&row("gus")).await.attr("data-state").await.unwrap(),
        Some("blocked".into())
    );
    ui.fill("form#user-filter input[name=q]", "Adams").await;
    ui.submit("form#user-filter [type=submit]").await;
    ui.wait_query("/ui/users", "q=Adams").await;
    assert_eq!(logins(&ui).await, ["eve"]);

    // The export link answers a CSV with the imported users.
    let href = ui
        .find("a#export-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .expect("export href");
    let (status, kind, csv) = ui.fetch_get(&href).await;
    assert_eq!(status, 200, "{csv}");
    assert!(kind.starts_with("text/csv"), "{kind}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("login,"), "{csv}");
    for l in ["eve", "fay", "gus"] {
        assert!(
            lines.iter().any(|x| x.starts_with(&format!("{l},"))),
            "{l} not in {csv}"
        );
    }
    assert!(csv.contains("eve@example.com"), "{csv}");
    ui.finish().await;
}

/// A product bound to the parent role reaches a member of the child role; the user's
/// Licenses tab says so (role and ancestor), and recalling from the tab is confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_d6_user_licenses_tab_explains_role_via_ancestor() {
    let Some(ui) = Ui::start("ui_d6_user_licenses_tab_explains_role_via_ancestor").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    ui.api.users(&["ann", "bob"]).await;
    let sales = ui
        .api
        .post(
            "/api/v1/roles",
            json!({"name": "Sales", "kind": "organizational"}),
        )
        .await["id"]
        .as_i64()
        .expect("role id");
    let north = ui
        .api
        .post(
            "/api/v1/roles",
            json!({"name": "North", "kind": "organizational", "parent_id": sales}),
        )
        .await["id"]
        .as_i64()
        .expect("role id");
    ui.api
        .post(
            &format!("/api/v1/roles/{north}/members"),
            json!({"logins": ["ann"]}),
        )
        .await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");

    ui.goto(&format!("/ui/roles/{sales}")).await;
    ui.wait("form#bind-product select[name=product]")
        .await
        .select_by_value("crm")
        .await
        .expect("choose crm");
    ui.submit("form#bind-product [type=submit]").await;
    ui.wait_path(&format!("/ui/roles/{sales}")).await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("crm"), "{flash}");
    // The child role shows it as inherited.
    ui.goto(&format!("/ui/roles/{north}")).await;
    let inherited = ui
        .text("#role-licenses tr[data-product='crm'][data-inherited='true']")
        .await;
    assert!(inherited.contains("ancestor Sales"), "{inherited}");

    ui.goto(&format!("/ui/roles/{sales}")).await;
    ui.click("form#redistribute input[name=manual][value=keep]")
        .await;
    ui.submit("form#redistribute [type=submit]").await;
    ui.wait("#preview").await;
    let grants = ui.text("#grants").await;
    assert!(
        grants.contains("ann") && !grants.contains("bob"),
        "{grants}"
    );
    assert_eq!(ui.api.product("crm").await["used"], 0);
    ui.submit("form#apply [type=submit]").await;
    ui.wait_path(&format!("/ui/roles/{sales}")).await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("1 granted"), "{flash}");

    ui.goto("/ui/users/ann").await;
    let crm = "#licenses tr[data-product='crm']";
    assert_eq!(
        ui.find(crm).await.attr("data-holds").await.unwrap(),
        Some("true".into())
    );
    assert_eq!(ui.cell(crm, "holds").await, "yes");
    let reasons = ui.cell(crm, "reasons").await;
    assert!(
        reasons.contains("given by role \"North\" via its ancestor \"Sales\""),
        "{reasons}"
    );
    let other = ui
        .cell("#licenses tr[data-product='analytics']", "reasons")
        .await;
    assert!(other.contains("not bound"), "{other}");
    ui.shot("user-licenses-tab").await;

    ui.submit(&format!("{crm} button[name=action][value=recall]"))
        .await;
    ui.wait_path("/ui/users/ann").await;
    let flash = ui.text(".flash[role=status]").await;
    assert_eq!(flash, "Recalled crm from ann.");
    assert_eq!(ui.cell(crm, "holds").await, "no");
    assert!(ui.exists(&format!("{crm} button[value=grant]")).await);
    assert_eq!(ui.api.product("crm").await["used"], 0);
    ui.finish().await;
}

/// Submits the settings form; `validate` false submits it as a form the browser does not
/// check (what an older browser, or a value the browser lets through, would send).
async fn save_settings(ui: &Ui, validate: bool) {
    if !validate {
        ui.c.execute(
            "document.querySelector('form#settings').noValidate = true;",
            vec![],
        )
        .await
        .expect("turn off the browser's checks");
    }
    ui.submit("form#settings button[type=submit]").await;
    ui.wait_path("/ui/settings").await;
}

async fn value(ui: &Ui, css: &str) -> String {
    ui.wait(css)
        .await
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

/// A bad idle timeout is refused (by the browser, and by the server with the range) and
/// changes nothing; good values are saved and shown; turning role-based distribution off is
/// noticed on the roles page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_settings_refuse_bad_values_and_save_good_ones() {
    let Some(ui) = Ui::start("ui_settings_refuse_bad_values_and_save_good_ones").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/roles").await;
    ui.wait("#org-tree").await;
    assert!(!ui.exists(".notice").await);

    ui.goto("/ui/settings").await;
    assert_eq!(value(&ui, "#idle").await, "");
    assert_eq!(value(&ui, "#email").await, "");
    ui.shot("settings").await;

    // The browser stops 5 seconds at the form already.
    ui.fill("#idle", "5").await;
    ui.click("form#settings button[type=submit]").await;
    let under =
        ui.c.execute(
            "return document.querySelector('#idle').validity.rangeUnderflow;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(under, json!(true));
    assert_eq!(ui.path().await, "/ui/settings");
    assert!(!ui.exists(".flash, .error[role=alert]").await);
    // The server refuses it too, naming the range, and changes nothing.
    save_settings(&ui, false).await;
    let error = ui.text(".error[role=alert]").await;
    assert!(
        error.contains("between 60 seconds and 604800 seconds") && error.contains("not 5"),
        "{error}"
    );
    ui.goto("/ui/settings").await;
    assert_eq!(value(&ui, "#idle").await, "");
    assert!(!ui.exists(".error[role=alert]").await);

    ui.fill("#idle", "600").await;
    ui.fill("#email", "licenses@example.com").await;
    save_settings(&ui, true).await;
    assert_eq!(ui.text(".flash[role=status]").await, "Settings saved.");
    ui.goto("/ui/settings").await;
    assert_eq!(value(&ui, "#idle").await, "600");
    assert_eq!(value(&ui, "#email").await, "licenses@example.com");
    let role_based = "form#settings input[name=role_based_distribution]";
    assert_eq!(
        ui.find(role_based).await.prop("checked").await.unwrap(),
        Some("true".into())
    );

    ui.click(role_based).await;
    save_settings(&ui, true).await;
    assert_eq!(ui.text(".flash[role=status]").await, "Settings saved.");
    ui.goto("/ui/settings").await;
    assert_eq!(
        ui.find(role_based).await.prop("checked").await.unwrap(),
        Some("false".into())
    );
    // The other values were kept.
    assert_eq!(value(&ui, "#idle").await, "600");
    assert_eq!(value(&ui, "#email").await, "licenses@example.com");
    ui.goto("/ui/roles").await;
    let notice = ui.text(".notice").await;
    assert!(
        notice.contains("Role-based distribution is turned off"),
        "{notice}"
    );
    ui.finish().await;
}

/// Places `seats` seats of CRM-1 in Support through the form.
async fn place(ui: &Ui, seats: &str) {
    ui.wait("form#place-seats select[name=serial]")
        .await
        .select_by_value("CRM-1")
        .await
        .expect("choose CRM-1");
    ui.wait("form#place-seats select[name=folder]")
        .await
        .select_by_value("Support")
        .await
        .expect("choose Support");
    ui.fill("form#place-seats input[name=seats]", seats).await;
    ui.submit("form#place-seats [type=submit]").await;
    ui.wait_path("/ui/folders").await;
}

/// Places seats of a package into a new folder: the folder's row shows them; asking for more
/// seats than the package has is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_x1_folders_create_and_place_seats() {
    let Some(ui) = Ui::start("ui_x1_folders_create_and_place_seats").await else {
        return;
    };
    ui.licensed(&order(5, 2, 100)).await;
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");
    ui.goto("/ui/folders").await;
    ui.fill("form#new-folder input[name=path]", "Support").await;
    ui.submit("form#new-folder [type=submit]").await;
    ui.wait_path("/ui/folders").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Support"), "{flash}");
    let support = "#folders tr[data-folder='Support']";
    ui.wait(support).await;

    place(&ui, "2").await;
    let flash = ui.text(".flash[role=status]").await;
    assert!(flash.contains("Placed 2 seat(s) of CRM-1"), "{flash}");
    let placed = ui.text(&format!("{support} .tag")).await;
    assert_eq!(placed, "crm employee named: 2 (CRM-1)");
    ui.shot("folders").await;

    place(&ui, "6").await;
    let error = ui.text(".error[role=alert]").await;
    assert!(
        error.contains("CRM-1") && error.contains("the package has 5 seats"),
        "{error}"
    );
    assert!(!ui.exists(".flash[role=status]").await);
    assert_eq!(ui.text(&format!("{support} .tag")).await, placed);
    let tags =
        ui.c.find_all(Locator::Css(&format!("{support} .tag")))
            .await
            .unwrap();
    assert_eq!(tags.len(), 1);
    ui.finish().await;
}

/// 120 users (every tenth blocked) and the built-in administrator: three pages of 50; the
/// next page lists others; the state filter shows only blocked users.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_u1_users_list_pages_and_filters() {
    let Some(ui) = Ui::start("ui_u1_users_list_pages_and_filters").await else {
        return;
    };
    ui.licensed(&order(5, 2, 1000)).await;
    let mut csv = String::from("login,state\n");
    for i in 1..=120 {
        let state = if i % 10 == 0 { "blocked" } else { "active" };
        csv += &format!("u{i:03},{state}\n");
    }
    let report = ui.api.import_users(&csv).await;
    assert_eq!(report["created"], 120, "{report}");
    assert_eq!(ui.signin(PASSWORD).await, "/ui/");

    ui.goto("/ui/users").await;
    let count = ui.text("#user-count").await;
    assert!(count.contains("page 1 of 3"), "{count}");
    assert_eq!(ui.text("nav.pager span").await, "Page 1 of 3");
    assert!(!ui.exists("nav.pager a[rel=prev]").await);
    let first = logins(&ui).await;
    assert_eq!(first.len(), 50);
    assert!(first.contains(&"u001".to_string()), "{first:?}");

    ui.submit("nav.pager a[rel=next]").await;
    ui.wait_query("/ui/users", "page=2").await;
    let count = ui.text("#user-count").await;
    assert!(count.contains("page 2 of 3"), "{count}");
    let second = logins(&ui).await;
    assert_eq!(second.len(), 50);
    assert!(second.iter().all(|l| !first.contains(l)), "{second:?}");
    assert!(ui.exists("nav.pager a[rel=prev]").await);
    ui.shot("users-page-2").await;

    // The state filter applies as soon as it is chosen.
    ui.wait("form#user-filter select[name=state]")
        .await
        .select_by_value("blocked")
        .await
        .expect("choose blocked");
    ui.wait_query("/ui/users", "state=blocked").await;
    let blocked = logins(&ui).await;
    let want: Vec<String> = (1..=12).map(|i| format!("u{:03}", i * 10)).collect();
    assert_eq!(blocked, want);
    assert!(ui.text("#user-count").await.starts_with("12 user(s)"));
    assert!(!ui.exists("nav.pager").await);
    for l in &blocked {
        assert_eq!(
            ui.find(&row(l)).await.attr("data-state").await.unwrap(),
            Some("blocked".into())
        );
    }
    ui.finish().await;
}
