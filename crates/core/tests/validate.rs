#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Issue 13 item 9: the input limits, one module for every edge (API, UI, CSV import, CLI).

use seatkeeper_core::{Error, users_csv, validate};

fn message(r: Result<impl std::fmt::Debug, Error>) -> String {
    match r {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected an invalid refusal, got {other:?}"),
    }
}

#[test]
fn x13_9_lengths_and_control_characters_are_refused_naming_the_field() {
    assert!(
        message(validate::name("Ann\0Smith"))
            .contains("name contains a control character (U+0000)")
    );
    assert!(
        message(validate::name(&"x".repeat(1 << 20)))
            .starts_with("name is too long: 1048576 bytes, at most 256")
    );
    validate::name(&"é".repeat(128)).unwrap();
    assert!(message(validate::login(&"a".repeat(257))).contains("login (257 bytes) is not valid"));
    validate::login(&"a".repeat(256)).unwrap();
    assert!(
        message(validate::email(&format!("{}@x.org", "a".repeat(320))))
            .starts_with("e-mail is too long")
    );
    assert!(message(validate::email("a\u{1b}[31m@x.org")).contains("control character"));
    assert!(message(validate::password(&"p".repeat(1 << 20))).starts_with("password is too long"));
    assert!(message(validate::new_password(&"p".repeat(1025))).starts_with("password is too long"));
    validate::new_password(&"p".repeat(1024)).unwrap();
    assert!(message(validate::new_password("short")).contains("at least 12"));
}

#[test]
fn x13_9_folder_paths_are_plain_names_at_most_32_deep() {
    assert!(message(validate::folder_path("Sales/../Admin")).contains("not '.' or '..'"));
    assert!(message(validate::folder_path("./Sales")).contains("'.'"));
    let deep = vec!["f"; 1000].join("/");
    assert_eq!(
        message(validate::folder_path(&deep)),
        "folder path has 1000 levels, at most 32"
    );
    assert_eq!(
        validate::folder_path(&vec!["f"; 32].join("/"))
            .unwrap()
            .len(),
        32
    );
    assert!(
        message(validate::folder_path("Sales/No\u{0}rth"))
            .contains("folder name contains a control character")
    );
    assert_eq!(
        validate::folder_path("/Sales/North/").unwrap(),
        ["Sales", "North"]
    );
}

#[test]
fn x13_9_csv_import_applies_the_same_limits() {
    let long = "n".repeat(300);
    let text = format!("login,name,folder\nann,Ann\0,\nbob,{long},\ncid,Cid,a/../b\n");
    let Err(Error::Csv(rows)) = users_csv::parse(&text) else {
        panic!("expected CSV errors")
    };
    let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![2, 3, 4]);
    assert!(
        rows[0]
            .message
            .contains("name contains a control character")
    );
    assert!(rows[1].message.contains("name is too long"));
    assert!(rows[2].message.contains("'..'"));
}

#[test]
fn u2_a_block_by_hand_may_not_use_the_directory_syncs_reasons() {
    for reserved in [
        "license_limit",
        "directory_disabled",
        "directory_removed",
        " license_limit ",
    ] {
        let m = message(validate::block_reason(reserved));
        assert!(m.contains("is the system's own"), "{reserved}: {m}");
    }
    assert!(validate::block_reason("left the company").is_ok());
    assert!(validate::block_reason("License_Limit").is_ok());
}
