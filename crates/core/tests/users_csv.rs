#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 13 item 9: the users CSV export guards cells a spreadsheet would run as formulas
//! (OWASP "CSV injection"), and the import reads the guarded cells back unchanged.

use proptest::prelude::*;
use seatkeeper_core::users_csv::{self, ExportRow};
use seatkeeper_core::{Area, UserState};

fn row(name: &str, email: &str, folder: &str) -> ExportRow {
    ExportRow {
        login: "ann".into(),
        name: name.into(),
        email: email.into(),
        area: Area::Employee,
        folder: folder.into(),
        state: UserState::Active,
        block_reason: None,
        licenses: vec![],
    }
}

#[test]
fn x13_9_export_guards_formula_cells() {
    let csv = users_csv::write(&[row(
        "=HYPERLINK(\"http://evil\",\"x\")",
        "-1+1@x.org",
        "@Sales/+North",
    )]);
    let line = csv.lines().nth(1).unwrap();
    assert_eq!(
        line,
        "ann,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",\"'-1+1@x.org\",employee,\"'@Sales/+North\",active,Yes,,"
    );
    for first in ['+', '\t', '\r'] {
        let csv = users_csv::write(&[row(&format!("{first}cmd"), "", "")]);
        assert!(
            csv.contains(&format!("\"'{first}cmd\"")),
            "{first:?} is guarded: {csv:?}"
        );
    }
    // Plain cells are written as before.
    let csv = users_csv::write(&[row("Ann O'Neil", "", "")]);
    assert_eq!(
        csv.lines().nth(1).unwrap(),
        "ann,Ann O'Neil,,employee,,active,Yes,,"
    );
}

#[test]
fn x13_9_guarded_export_reimports_unchanged() {
    let names = ["=1+2", "-Ann", "'=already quoted", "''@x", "'plain", "+"];
    for name in names {
        let csv = users_csv::write(&[row(name, "@a@x.org", "-Sales")]);
        let back = users_csv::parse(&csv).unwrap();
        assert_eq!(
            (
                back[0].name.as_str(),
                back[0].email.as_str(),
                back[0].folder.as_str()
            ),
            (name, "@a@x.org", "-Sales"),
            "{csv:?}"
        );
    }
}

proptest! {
    #[test]
    fn x13_9_any_name_round_trips(name in "['=+@a-z,\"-]['=+@a-z ,\"-]{0,6}[a-z]") {
        let csv = users_csv::write(&[row(&name, "", "")]);
        let back = users_csv::parse(&csv).unwrap();
        prop_assert_eq!(&back[0].name, &name);
        let first = csv.lines().nth(1).unwrap().split(',').nth(1).unwrap().to_string();
        prop_assert!(!first.starts_with(['=', '+', '-', '@']));
    }
}
