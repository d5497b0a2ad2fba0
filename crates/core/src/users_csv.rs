//! The users CSV format (U1 import, U4 export). Parsing is all-or-nothing: every bad row is
//! reported with its line number, and nothing is returned unless every row is good.

use std::collections::BTreeMap;

use crate::error::{RowError, brief, quoted};
use crate::{Area, Error, UserState, split_folder_path, validate_code};

/// One good row of an import file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub line: u64,
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    /// Folder path such as "Sales/North"; empty for the root.
    pub folder: String,
    pub state: UserState,
}

const COLUMNS: [&str; 6] = ["login", "name", "email", "area", "folder", "state"];
/// Columns the export adds; accepted and ignored on import so an export re-imports as is.
const EXPORT_ONLY: [&str; 3] = ["active", "block_reason", "licenses"];

/// Parses an import file. The header names the columns (any order, case-insensitive); only
/// `login` is required. Defaults: name = login, area = employee, folder = root, state = active.
pub fn parse(text: &str) -> Result<Vec<UserRow>, Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header_err = |m: String| {
        Error::Csv(vec![RowError {
            line: 1,
            message: m,
        }])
    };
    let headers = reader
        .headers()
        .map_err(|e| header_err(brief(format!("cannot read the header: {e}"))))?
        .clone();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim_start_matches('\u{feff}').to_ascii_lowercase();
        match COLUMNS.iter().find(|c| **c == h) {
            Some(c) => {
                if index.insert(c, i).is_some() {
                    return Err(header_err(format!("column {c:?} appears twice")));
                }
            }
            None if EXPORT_ONLY.contains(&h.as_str()) => {}
            None => {
                return Err(header_err(format!(
                    "unknown column {}; expected some of: {}",
                    quoted(&h),
                    COLUMNS.join(", ")
                )));
            }
        }
    }
    if !index.contains_key("login") {
        return Err(header_err("the header has no \"login\" column".into()));
    }

    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                errors.push(RowError {
                    line,
                    message: brief(format!("unreadable row: {e}")),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let field = |c: &str| {
            index
                .get(c)
                .and_then(|i| record.get(*i))
                .unwrap_or("")
                .to_string()
        };
        let mut problems = Vec::new();
        let login = field("login");
        if let Err(e) = validate_code("login", &login) {
            problems.push(e.to_string());
        } else if let Some(first) = seen.insert(login.to_ascii_lowercase(), line) {
            problems.push(format!("login {login:?} already appears on line {first}"));
        }
        let email = field("email");
        if !email.is_empty() && (!email.contains('@') || email.contains(char::is_whitespace)) {
            problems.push(format!("e-mail {} is not an address", quoted(&email)));
        }
        let area = match field("area").as_str() {
            "" => Some(Area::Employee),
            a => a
                .parse()
                .map_err(|e: Error| problems.push(e.to_string()))
                .ok(),
        };
        let state = match field("state").as_str() {
            "" => Some(UserState::Active),
            s => s
                .parse()
                .map_err(|e: Error| problems.push(e.to_string()))
                .ok(),
        };
        let folder = field("folder");
        if let Err(e) = split_folder_path(&folder) {
            problems.push(e.to_string());
        }
        match (problems.is_empty(), area, state) {
            (true, Some(area), Some(state)) => {
                let name = field("name");
                rows.push(UserRow {
                    line,
                    name: if name.is_empty() { login.clone() } else { name },
                    login,
                    email,
                    area,
                    folder,
                    state,
                })
            }
            _ => errors.push(RowError {
                line,
                message: problems.join("; "),
            }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::Csv(errors))
    }
}

/// One user as exported (U4): account state and licenses included.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ExportRow {
    pub login: String,
    pub name: String,
    pub email: String,
    pub area: Area,
    pub folder: String,
    pub state: UserState,
    pub block_reason: Option<String>,
    pub licenses: Vec<String>,
}

/// Writes the export. `active` is "Yes"/"No" as in Claromentis' account-state column. The
/// import columns come first, so the file re-imports as is.
pub fn write(rows: &[ExportRow]) -> Result<String, Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let io = |e: csv::Error| Error::Invalid(format!("cannot write CSV: {e}"));
    w.write_record([
        "login",
        "name",
        "email",
        "area",
        "folder",
        "state",
        "active",
        "block_reason",
        "licenses",
    ])
    .map_err(io)?;
    for r in rows {
        w.write_record([
            r.login.as_str(),
            &r.name,
            &r.email,
            r.area.as_str(),
            &r.folder,
            r.state.as_str(),
            if r.state == UserState::Active {
                "Yes"
            } else {
                "No"
            },
            r.block_reason.as_deref().unwrap_or(""),
            &r.licenses.join(";"),
        ])
        .map_err(io)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Invalid(format!("cannot write CSV: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn u1_every_bad_row_is_reported_with_its_line() {
        let text = "login,name,email,area,state\n\
                    ann,Ann,ann@x.org,employee,active\n\
                    ,NoLogin,,employee,active\n\
                    bob,Bob,not-an-email,mars,active\n\
                    ann,Ann again,,portal,blocked\n";
        let Err(Error::Csv(rows)) = parse(text) else {
            panic!("expected CSV errors")
        };
        let lines: Vec<u64> = rows.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5]);
        assert!(rows[1].message.contains("mars") && rows[1].message.contains("not-an-email"));
        assert!(rows[2].message.contains("line 2"));
    }

    #[test]
    fn u1_defaults_and_any_column_order() {
        let rows = parse("state,login\nblocked,zoe\n,yan\n").unwrap();
        assert_eq!(rows[0].state, UserState::Blocked);
        assert_eq!(rows[1].name, "yan");
        assert_eq!(rows[1].area, Area::Employee);
    }

    #[test]
    fn u1_unknown_column_is_refused() {
        assert!(matches!(parse("login,salary\na,1\n"), Err(Error::Csv(r)) if r[0].line == 1));
    }
}
