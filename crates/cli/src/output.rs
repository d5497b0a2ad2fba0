//! Human tables by default, JSON with `--json`.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::error::CliError;

pub struct Out {
    pub json: bool,
}

impl Out {
    /// Prints `value` as JSON, or calls `human` to print it for people.
    pub fn show<T: Serialize>(&self, value: &T, human: impl FnOnce(&T)) -> Result<(), CliError> {
        if self.json {
            let text =
                serde_json::to_string_pretty(value).map_err(|e| CliError::Usage(e.to_string()))?;
            println!("{text}");
        } else {
            human(value);
        }
        Ok(())
    }
}

pub fn table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().copied());
    for r in rows {
        t.add_row(r);
    }
    t
}

pub fn date(t: time::OffsetDateTime) -> String {
    let f = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    t.format(&f).unwrap_or_else(|_| t.to_string())
}

pub fn opt_date(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "perpetual".to_string(), date)
}

pub fn limit(l: Option<u64>) -> String {
    l.map_or_else(|| "unlimited".to_string(), |l| l.to_string())
}

pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}
