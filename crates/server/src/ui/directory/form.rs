//! The Directory page's settings: the form (the bind password write-only) and the read-only
//! view of settings that come from the config file.

use maud::{Markup, html};
use seatkeeper_core::directory::Mapping;
use seatkeeper_directory::Config;

use super::super::view;
use super::super::{Form, Ui};
use crate::admin::directory::SettingsView;

/// The settings form's values as typed: a form refused for one bad field comes back with
/// everything else as it was (never the password).
#[derive(Debug, Clone, Default)]
pub(super) struct Draft {
    url: String,
    starttls: bool,
    allow_plaintext: bool,
    bind_dn: String,
    user_base: String,
    user_filter: String,
    group_base: String,
    group_filter: String,
    page_size: String,
    connect_timeout_secs: String,
    operation_timeout_secs: String,
    sync_interval_minutes: String,
    ca_file: String,
    /// The `[directory.mapping]` section as TOML.
    mapping: String,
}

/// A mapping as the form's TOML (the table's body, as under `[directory.mapping]`).
fn mapping_toml(m: &Mapping) -> String {
    toml::to_string(m).unwrap_or_default()
}

impl Draft {
    fn of(c: &Config) -> Draft {
        Draft {
            url: c.url.clone(),
            starttls: c.starttls,
            allow_plaintext: c.allow_plaintext,
            bind_dn: c.bind_dn.clone(),
            user_base: c.user_base.clone(),
            user_filter: c.user_filter.clone(),
            group_base: c.group_base.clone().unwrap_or_default(),
            group_filter: c.group_filter.clone(),
            page_size: c.page_size.to_string(),
            connect_timeout_secs: c.connect_timeout_secs.to_string(),
            operation_timeout_secs: c.operation_timeout_secs.to_string(),
            sync_interval_minutes: c.sync_interval_minutes.to_string(),
            ca_file: c
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            mapping: mapping_toml(&c.mapping),
        }
    }

    /// A new form: the defaults, no URL or base yet.
    fn blank() -> Draft {
        Draft::of(&Config::new("", ""))
    }

    pub(super) fn from_form(f: &Form) -> Draft {
        let text = |k: &str| f.get(k).unwrap_or_default().to_string();
        Draft {
            url: text("url"),
            starttls: f.get("starttls") == Some("true"),
            allow_plaintext: f.get("allow_plaintext") == Some("true"),
            bind_dn: text("bind_dn"),
            user_base: text("user_base"),
            user_filter: text("user_filter"),
            group_base: text("group_base"),
            group_filter: text("group_filter"),
            page_size: text("page_size"),
            connect_timeout_secs: text("connect_timeout_secs"),
            operation_timeout_secs: text("operation_timeout_secs"),
            sync_interval_minutes: text("sync_interval_minutes"),
            ca_file: text("ca_file"),
            mapping: text("mapping"),
        }
    }

    /// The settings the form describes, without the password; a field that does not parse
    /// is named. The rest is checked by the engine's `save_settings`.
    pub(super) fn config(&self) -> Result<Config, String> {
        fn number<T: std::str::FromStr>(label: &str, v: &str, default: T) -> Result<T, String> {
            if v.is_empty() {
                return Ok(default);
            }
            v.parse()
                .map_err(|_| format!("{label}: {v:?} is not a whole number."))
        }
        let defaults = Config::new("", "");
        let mapping = if self.mapping.is_empty() {
            Mapping::default()
        } else {
            toml::from_str::<Mapping>(&self.mapping)
                .map_err(|e| format!("The mapping is not valid: {}", e.message()))?
        };
        let or_default = |v: &str, d: &str| {
            if v.is_empty() {
                d.to_string()
            } else {
                v.to_string()
            }
        };
        Ok(Config {
            url: self.url.clone(),
            starttls: self.starttls,
            allow_plaintext: self.allow_plaintext,
            bind_dn: self.bind_dn.clone(),
            bind_password: None,
            bind_password_env: None,
            connect_timeout_secs: number(
                "Connect timeout",
                &self.connect_timeout_secs,
                defaults.connect_timeout_secs,
            )?,
            operation_timeout_secs: number(
                "Operation timeout",
                &self.operation_timeout_secs,
                defaults.operation_timeout_secs,
            )?,
            user_base: self.user_base.clone(),
            user_filter: or_default(&self.user_filter, &defaults.user_filter),
            group_base: Some(self.group_base.clone()).filter(|g| !g.is_empty()),
            group_filter: or_default(&self.group_filter, &defaults.group_filter),
            page_size: number("Page size", &self.page_size, defaults.page_size)?,
            ca_file: Some(self.ca_file.clone())
                .filter(|c| !c.is_empty())
                .map(Into::into),
            mapping,
            sync_interval_minutes: number(
                "Sync interval",
                &self.sync_interval_minutes,
                defaults.sync_interval_minutes,
            )?,
        })
    }
}

/// The settings of the config file's `[directory]` section: shown, not editable.
pub(super) fn file_settings(s: &SettingsView) -> Markup {
    let c: Option<Config> = s
        .settings
        .clone()
        .and_then(|v| serde_json::from_value(v).ok());
    html! {
        p.notice #settings-from-file { "These settings come from the config file's " code { "[directory]" } " section, which wins over settings saved here: change them in the file and restart the server." }
        @if let Some(c) = c {
            dl.facts #directory-settings-read-only {
                dt { "URL" } dd { code { (c.url) } }
                dt { "StartTLS" } dd { (yes_no(c.starttls)) }
                dt { "Plain LDAP to another host" } dd { (yes_no(c.allow_plaintext)) }
                dt { "Bind DN" } dd { @if c.bind_dn.is_empty() { "anonymous" } @else { code { (c.bind_dn) } } }
                dt { "Bind password" } dd {
                    @match (&c.bind_password_env, s.bind_password_set) {
                        (Some(var), _) => { "from the environment variable " code { (var) } }
                        (None, true) => { "set in the file" }
                        (None, false) => { "none" }
                    }
                }
                dt { "User base" } dd { code { (c.user_base) } }
                dt { "User filter" } dd { code { (c.user_filter) } }
                dt { "Group base" } dd { code { (c.group_base()) } }
                dt { "Group filter" } dd { code { (c.group_filter) } }
                dt { "Page size" } dd { (c.page_size) }
                dt { "Timeouts" } dd { "connect " (c.connect_timeout_secs) " s, each operation " (c.operation_timeout_secs) " s" }
                dt { "CA file" } dd { @match &c.ca_file { Some(p) => code { (p.display()) }, None => "the system's roots" } }
                dt { "Sync interval" } dd { (interval_text(c.sync_interval_minutes)) }
                dt { "Mapping" } dd { pre.mapping { (mapping_toml(&c.mapping)) } }
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn interval_text(minutes: u32) -> String {
    if minutes == 0 {
        "only when asked (Sync now, the API, the command line)".to_string()
    } else {
        format!("every {minutes} minute(s)")
    }
}

pub(super) fn settings_form(ui: &Ui, s: &SettingsView, draft: Option<&Draft>) -> Markup {
    let saved = s
        .settings
        .clone()
        .and_then(|v| serde_json::from_value::<Config>(v).ok());
    let d = match (draft, &saved) {
        (Some(d), _) => d.clone(),
        (None, Some(c)) => Draft::of(c),
        (None, None) => Draft::blank(),
    };
    let defaults = Config::new("", "");
    let placeholder = if s.bind_password_set {
        "set — leave empty to keep"
    } else {
        "not set"
    };
    html! {
        @if let (Some(at), Some(by)) = (s.updated_at, &s.updated_by) {
            p.muted { "Saved " (view::datetime(at)) " by " (by) "." }
        }
        form #directory-settings method="post" action="/ui/directory/settings" {
            (ui.csrf_field())
            fieldset {
                legend { "Connection" }
                label for="d-url" { "URL (ldaps://host, or ldap://host with StartTLS)" }
                input #d-url name="url" type="text" required value=(d.url) placeholder="ldaps://ldap.example.com" size="50";
                label.check { input type="checkbox" name="starttls" value="true" checked[d.starttls]; " Upgrade ldap:// with StartTLS" }
                label.check { input type="checkbox" name="allow_plaintext" value="true" checked[d.allow_plaintext]; " Allow plain ldap:// to a host other than this one (the password and every entry cross the network in clear)" }
                label for="d-ca" { "CA file on the server (PEM; empty: the system's roots)" }
                input #d-ca name="ca_file" type="text" value=(d.ca_file) size="50";
                label for="d-bind-dn" { "Bind DN (empty: anonymous)" }
                input #d-bind-dn name="bind_dn" type="text" value=(d.bind_dn) size="50" autocomplete="off";
                label for="d-bind-password" { "Bind password (write-only: never shown)" }
                // Never rendered back: the placeholder only says whether one is saved.
                input #d-bind-password name="bind_password" type="password" value="" placeholder=(placeholder) autocomplete="new-password";
                @if s.bind_password_set {
                    label.check { input #d-clear-password type="checkbox" name="clear_password" value="true"; " Clear the saved password (bind without one)" }
                }
                label for="d-connect" { "Connect timeout (seconds)" }
                input #d-connect name="connect_timeout_secs" type="number" min="1" max=(seatkeeper_directory::MAX_TIMEOUT_SECS) value=(d.connect_timeout_secs);
                label for="d-operation" { "Operation timeout (seconds, for the bind and each page of a search)" }
                input #d-operation name="operation_timeout_secs" type="number" min="1" max=(seatkeeper_directory::MAX_TIMEOUT_SECS) value=(d.operation_timeout_secs);
            }
            fieldset {
                legend { "What to read" }
                label for="d-user-base" { "User base DN" }
                input #d-user-base name="user_base" type="text" required value=(d.user_base) placeholder="ou=people,dc=example,dc=com" size="50";
                label for="d-user-filter" { "User filter" }
                input #d-user-filter name="user_filter" type="text" value=(d.user_filter) placeholder=(defaults.user_filter) size="50";
                label for="d-group-base" { "Group base DN (empty: the user base)" }
                input #d-group-base name="group_base" type="text" value=(d.group_base) size="50";
                label for="d-group-filter" { "Group filter" }
                input #d-group-filter name="group_filter" type="text" value=(d.group_filter) placeholder=(defaults.group_filter) size="50";
                label for="d-page-size" { "Page size (entries per page of a search)" }
                input #d-page-size name="page_size" type="number" min="1" value=(d.page_size);
                label for="d-interval" { "Sync on its own every this many minutes (0: only when asked)" }
                input #d-interval name="sync_interval_minutes" type="number" min="0" max=(seatkeeper_directory::MAX_SYNC_INTERVAL_MINUTES) value=(d.sync_interval_minutes);
            }
            fieldset {
                legend { "Mapping" }
                label for="d-mapping" { "How entries become users, folders and roles: the " code { "[directory.mapping]" } " section as TOML (empty: the OpenLDAP defaults)" }
                textarea #d-mapping name="mapping" rows="14" cols="70" spellcheck="false" { (d.mapping) }
                details {
                    summary { "Defaults and examples" }
                    p { "OpenLDAP (the default):" }
                    pre.mapping { (mapping_toml(&Mapping::openldap())) }
                    p { "Active Directory:" }
                    pre.mapping { (mapping_toml(&Mapping::active_directory())) }
                    p { "Folders from the OU chain: " code { "folder = { by = \"ou_path\", base_dn = \"ou=people,dc=example,dc=com\" }" } "; every group as a role: " code { "roles.create = { kind = \"functional\" }" } "; delete users whose entry is gone instead of blocking them: " code { "removed = \"delete\"" } ". See docs/DIRECTORY.md." }
                }
            }
            button.primary type="submit" { "Save settings" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn i1_mapping_round_trips_through_the_forms_toml() {
        for m in [Mapping::openldap(), Mapping::active_directory()] {
            let text = mapping_toml(&m);
            assert!(!text.is_empty());
            assert_eq!(toml::from_str::<Mapping>(&text).ok(), Some(m));
        }
        let mut c = Config::new("ldap://127.0.0.1:3389", "ou=people,dc=example,dc=com");
        c.mapping = toml::from_str(
            "login_attr = \"mail\"\nremoved = \"delete\"\n\
             folder = { by = \"ou_path\", base_dn = \"dc=example,dc=com\" }\n\
             [roles.create]\nkind = \"organizational\"\n",
        )
        .unwrap_or_default();
        assert_eq!(c.mapping.login_attr, "mail");
        let back = Draft::of(&c).config();
        assert_eq!(back.ok(), Some(c));
    }

    #[test]
    fn i1_a_bad_field_is_named() {
        let mut d = Draft::blank();
        d.page_size = "many".into();
        assert!(d.config().is_err_and(|e| e.contains("Page size")));
        let mut d = Draft::blank();
        d.mapping = "login_attr = 3".into();
        assert!(d.config().is_err_and(|e| e.contains("mapping")));
    }
}
