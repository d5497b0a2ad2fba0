//! The users CSV format (U1 import, U4 export). Parsing is all-or-nothing: every bad row is
//! reported with its line number, and nothing is returned unless every row is good.
//!
//! Formula guard: a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`, tab or
//! carriage return as a formula, so the export writes such a cell quoted with a leading `'`
//! (OWASP's advice against CSV injection). The import takes that one `'` off again, so an
//! export re-imports unchanged; a cell that itself starts with `'` before such a character gets
//! a second `'` on export, which keeps the round trip exact.

use std::collections::BTreeMap;

use crate::error::{RowError, brief, quoted};
use crate::{Area, Error, UserState, validate};

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
    let mut reader = RowReader::new(text.as_bytes())?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(parsed) = reader.next_row() {
        let dup = parsed.login.as_ref().and_then(|login| {
            seen.insert(login.to_ascii_lowercase(), parsed.line)
                .map(|first| duplicate_message(login, first))
        });
        match (parsed.row, dup) {
            (Ok(row), None) => rows.push(row),
            (row, dup) => errors.push(RowError {
                line: parsed.line,
                message: dup
                    .into_iter()
                    .chain(row.err())
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        Err(Error::Csv(errors))
    }
}

/// The problem of a row whose login appeared before (on line `previous`). It comes first in
/// the row's message.
pub fn duplicate_message(login: &str, previous: u64) -> String {
    format!("login {login:?} already appears on line {previous}")
}

/// One data row as read: the row, or what is wrong with it. Duplicate logins are not checked
/// here (that needs every row seen so far; [`parse`] keeps them in memory, the store's
/// streaming import in its staging table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedRow {
    pub line: u64,
    /// The login when it is a valid one (also on a bad row, so duplicates can be found).
    pub login: Option<String>,
    /// The row, or its problems joined with "; ".
    pub row: Result<UserRow, String>,
}

/// Reads an import file row by row, holding one record at a time, so a file of any size is
/// read in bounded memory.
pub struct RowReader<R> {
    reader: csv::Reader<R>,
    index: BTreeMap<&'static str, usize>,
    record: csv::StringRecord,
    /// The line the last row was reported on (the header's is 1).
    last_line: u64,
}

impl<R: std::io::Read> RowReader<R> {
    /// Reads and checks the header (errors are reported on line 1).
    pub fn new(input: R) -> Result<Self, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(false)
            .from_reader(input);
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
        let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
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
        Ok(RowReader {
            reader,
            index,
            record: csv::StringRecord::new(),
            last_line: 1,
        })
    }

    /// The line a row is reported on: the csv reader counts `\n` only, so in a file whose
    /// lines end with a bare `\r` every row would be "line 1"; each row is at least on the
    /// line after the last one.
    fn next_line(&mut self, counted: u64) -> u64 {
        self.last_line = counted.max(self.last_line + 1);
        self.last_line
    }

    /// The next data row, or `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<ParsedRow> {
        match self.reader.read_record(&mut self.record) {
            Ok(false) => return None,
            Ok(true) => {}
            Err(e) => {
                let line = self.next_line(e.position().map_or(0, |p| p.line()));
                // A broken row does not end the file: the reader goes on at the next record.
                return Some(ParsedRow {
                    line,
                    login: None,
                    row: Err(brief(format!("unreadable row: {e}"))),
                });
            }
        }
        let line = self.next_line(self.record.position().map_or(0, |p| p.line()));
        let record = &self.record;
        let field = |c: &str| {
            unguard(self.index.get(c).and_then(|i| record.get(*i)).unwrap_or("")).to_string()
        };
        let mut problems = Vec::new();
        let login = field("login");
        let valid_login = match validate::login(&login) {
            Ok(()) => Some(login.clone()),
            Err(e) => {
                problems.push(e.to_string());
                None
            }
        };
        let name = field("name");
        if let Err(e) = validate::name(&name) {
            problems.push(e.to_string());
        }
        let email = field("email");
        if let Err(e) = validate::email(&email) {
            problems.push(e.to_string());
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
        if let Err(e) = validate::folder_path(&folder) {
            problems.push(e.to_string());
        }
        let row = match (problems.is_empty(), area, state) {
            (true, Some(area), Some(state)) => Ok(UserRow {
                line,
                name: if name.is_empty() { login.clone() } else { name },
                login,
                email,
                area,
                folder,
                state,
            }),
            _ => Err(problems.join("; ")),
        };
        Some(ParsedRow {
            line,
            login: valid_login,
            row,
        })
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

/// Whether a spreadsheet would read `cell` as a formula (or as a guarded cell, see the module
/// comment), so the export must guard it.
fn needs_guard(cell: &str) -> bool {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => true,
        Some('\'') => needs_guard(&cell[1..]),
        _ => false,
    }
}

/// The import's inverse of the export's guard: one leading `'` off a guarded cell.
fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

/// Appends one cell: quoted when it holds a delimiter, quote or line break (RFC 4180), and
/// quoted with a leading `'` when a spreadsheet would run it as a formula. The csv crate's
/// writer cannot quote a single chosen field, hence the few lines here.
fn push_cell(out: &mut String, cell: &str) {
    let guard = needs_guard(cell);
    if guard || cell.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if guard {
            out.push('\'');
        }
        out.push_str(&cell.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

fn push_record<'a>(out: &mut String, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_cell(out, cell);
    }
    out.push('\n');
}

/// Writes the export. `active` is "Yes"/"No" as in Claromentis' account-state column. The
/// import columns come first, so the file re-imports as is.
pub fn write(rows: &[ExportRow]) -> String {
    let mut out = String::new();
    push_record(
        &mut out,
        [
            "login",
            "name",
            "email",
            "area",
            "folder",
            "state",
            "active",
            "block_reason",
            "licenses",
        ],
    );
    for r in rows {
        push_record(
            &mut out,
            [
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
            ],
        );
    }
    out
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
