//! The SCIM User resource (RFC 7643 §4.1, enterprise extension §4.3): what Seatkeeper keeps
//! of it, read from a request body and written as a full representation.
//!
//! API:
//! - [`UserInput`] (`user_name`, `external_id`, `display_name`, `name: Option<Name>`,
//!   `emails: Vec<Email>`, `active`, `department`) and [`UserInput::from_json`]: core schema
//!   and enterprise extension (only `department` kept); attribute names in any case; `null`
//!   and `""` are "unassigned" (RFC 7643 §2.5); unknown and readOnly attributes (`id`,
//!   `meta`, `groups`, `schemas`) ignored; `active` and `emails.primary` are kept as sent
//!   (`None` when absent or `null`, so a round trip returns exactly what the client sent;
//!   the ledger treats an unassigned `active` as active, see [`UserInput::wants_active`]);
//!   `active`/`primary` accept "True"/"False"; wrong types, an empty `userName`, over-long strings, more than
//!   [`MAX_EMAILS`](super::MAX_EMAILS) e-mails, or two primary e-mails → `invalidValue`.
//! - [`UserInput::ledger_name`], [`UserInput::ledger_email`], [`UserInput::profile`] (what
//!   the ledger keeps in its own columns, and a JSON object for the rest), and
//!   [`UserInput::from_stored`] to rebuild the input from those ([`StoredUser`]).
//! - [`UserInput::to_json`]: the attributes without `id`/`meta`/`groups`.
//! - [`UserResource`] `{ id, input, groups: Vec<GroupRef>, created, last_modified }` and
//!   [`UserResource::to_json`]: the representation, `meta.version` from [`super::etag`].

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use super::common::{
    ENTERPRISE_USER_SCHEMA, MAX_EMAILS, MAX_STRING, MAX_USER_NAME, USER_SCHEMA, boolish, etag,
    get_ci, rfc3339,
};
use super::error::ScimError;

/// The `name` complex attribute (RFC 7643 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Name {
    pub formatted: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    pub middle_name: Option<String>,
    pub honorific_prefix: Option<String>,
    pub honorific_suffix: Option<String>,
}

/// The sub-attributes of `name`, as SCIM spells them.
pub(crate) const NAME_FIELDS: [&str; 6] = [
    "formatted",
    "familyName",
    "givenName",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
];

impl Name {
    fn fields(&self) -> [&Option<String>; 6] {
        [
            &self.formatted,
            &self.family_name,
            &self.given_name,
            &self.middle_name,
            &self.honorific_prefix,
            &self.honorific_suffix,
        ]
    }

    fn fields_mut(&mut self) -> [&mut Option<String>; 6] {
        [
            &mut self.formatted,
            &mut self.family_name,
            &mut self.given_name,
            &mut self.middle_name,
            &mut self.honorific_prefix,
            &mut self.honorific_suffix,
        ]
    }

    fn is_empty(&self) -> bool {
        self.fields().iter().all(|f| f.is_none())
    }

    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for (key, field) in NAME_FIELDS.iter().zip(self.fields()) {
            if let Some(v) = field {
                map.insert((*key).into(), Value::String(v.clone()));
            }
        }
        Value::Object(map)
    }

    fn from_json(value: &Value) -> Result<Option<Name>, ScimError> {
        let map = match value {
            Value::Null => return Ok(None),
            Value::Object(map) => map,
            _ => return Err(ScimError::invalid_value("\"name\" must be an object")),
        };
        let mut name = Name::default();
        for (key, field) in NAME_FIELDS.iter().zip(name.fields_mut()) {
            *field = opt_string(get_ci(map, key), &format!("name.{key}"), MAX_STRING)?;
        }
        Ok((!name.is_empty()).then_some(name))
    }
}

/// One value of `emails` (RFC 7643 §4.1.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email {
    pub value: String,
    /// JSON `type`: "work", "home", "other" or anything the client sends.
    pub kind: Option<String>,
    /// As sent: `Some(false)` round-trips, absent stays absent. Test with `== Some(true)`.
    pub primary: Option<bool>,
    pub display: Option<String>,
}

impl Email {
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("value".into(), Value::String(self.value.clone()));
        if let Some(kind) = &self.kind {
            map.insert("type".into(), Value::String(kind.clone()));
        }
        if let Some(primary) = self.primary {
            map.insert("primary".into(), Value::Bool(primary));
        }
        if let Some(display) = &self.display {
            map.insert("display".into(), Value::String(display.clone()));
        }
        Value::Object(map)
    }

    fn from_json(value: &Value, index: usize) -> Result<Email, ScimError> {
        let map = value.as_object().ok_or_else(|| {
            ScimError::invalid_value(format!("\"emails[{index}]\" must be an object"))
        })?;
        let value =
            opt_string(get_ci(map, "value"), "emails.value", MAX_STRING)?.ok_or_else(|| {
                ScimError::invalid_value(format!("\"emails[{index}]\" needs a \"value\""))
            })?;
        let primary =
            match get_ci(map, "primary") {
                None | Some(Value::Null) => None,
                Some(v) => Some(boolish(v).ok_or_else(|| {
                    ScimError::invalid_value("\"emails.primary\" must be a boolean")
                })?),
            };
        Ok(Email {
            value,
            kind: opt_string(get_ci(map, "type"), "emails.type", MAX_STRING)?,
            primary,
            display: opt_string(get_ci(map, "display"), "emails.display", MAX_STRING)?,
        })
    }
}

/// A string attribute: `null`/absent/"" → `None`; another type or too long → `invalidValue`.
pub(crate) fn opt_string(
    value: Option<&Value>,
    attr: &str,
    max_chars: usize,
) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => {
            if s.chars().count() > max_chars {
                return Err(ScimError::invalid_value(format!(
                    "\"{attr}\" is longer than {max_chars} characters"
                )));
            }
            Ok(Some(s.clone()))
        }
        Some(_) => Err(ScimError::invalid_value(format!(
            "\"{attr}\" must be a string"
        ))),
    }
}

/// What a User request carries that Seatkeeper keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInput {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub name: Option<Name>,
    pub emails: Vec<Email>,
    /// As sent; `None` (absent, `null`, or removed by PATCH) is unassigned, which the ledger
    /// treats as active ([`UserInput::wants_active`]) and the representation leaves out.
    pub active: Option<bool>,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`.
    pub department: Option<String>,
}

/// What the ledger stores of a SCIM user: its own columns, and [`UserInput::profile`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredUser {
    pub user_name: String,
    pub external_id: Option<String>,
    pub active: bool,
    pub department: Option<String>,
    /// The ledger's display name (its `name` column).
    pub ledger_name: String,
    /// The ledger's e-mail column ("" for none).
    pub ledger_email: String,
    /// [`UserInput::profile`] as stored, if the user came in over SCIM.
    pub profile: Option<Value>,
}

impl UserInput {
    /// A user with only a `userName` (`active` unassigned, so active in the ledger).
    pub fn new(user_name: impl Into<String>) -> UserInput {
        UserInput {
            user_name: user_name.into(),
            external_id: None,
            display_name: None,
            name: None,
            emails: Vec::new(),
            active: None,
            department: None,
        }
    }

    /// Reads a POST/PUT body (or a patched representation).
    pub fn from_json(body: &Value) -> Result<UserInput, ScimError> {
        let map = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("a User must be a JSON object"))?;
        let user_name = opt_string(get_ci(map, "userName"), "userName", MAX_USER_NAME)?
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| ScimError::invalid_value("\"userName\" is required"))?;
        let emails = match get_ci(map, "emails") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > MAX_EMAILS {
                    return Err(ScimError::invalid_value(format!(
                        "at most {MAX_EMAILS} \"emails\" are accepted; {} were sent",
                        items.len()
                    )));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, e)| Email::from_json(e, i))
                    .collect::<Result<Vec<_>, _>>()?
            }
            Some(_) => return Err(ScimError::invalid_value("\"emails\" must be an array")),
        };
        if emails.iter().filter(|e| e.primary == Some(true)).count() > 1 {
            // RFC 7643 §2.4: "primary" true MUST appear no more than once.
            return Err(ScimError::invalid_value(
                "at most one of \"emails\" may be primary",
            ));
        }
        let active = match get_ci(map, "active") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                boolish(v)
                    .ok_or_else(|| ScimError::invalid_value("\"active\" must be a boolean"))?,
            ),
        };
        let department = department(map)?;
        Ok(UserInput {
            user_name,
            external_id: opt_string(get_ci(map, "externalId"), "externalId", MAX_STRING)?,
            display_name: opt_string(get_ci(map, "displayName"), "displayName", MAX_STRING)?,
            name: match get_ci(map, "name") {
                Some(v) => Name::from_json(v)?,
                None => None,
            },
            emails,
            active,
            department,
        })
    }

    /// Whether the ledger should hold the user active: unless `active` was sent false.
    pub fn wants_active(&self) -> bool {
        self.active != Some(false)
    }

    /// The name the ledger shows: `displayName`, else `name.formatted`, else "given family",
    /// else `userName`.
    pub fn ledger_name(&self) -> String {
        if let Some(d) = &self.display_name {
            return d.clone();
        }
        if let Some(name) = &self.name {
            if let Some(f) = &name.formatted {
                return f.clone();
            }
            let parts: Vec<&str> = [&name.given_name, &name.family_name]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect();
            if !parts.is_empty() {
                return parts.join(" ");
            }
        }
        self.user_name.clone()
    }

    /// The e-mail the ledger keeps: the primary one, else the first, else "".
    pub fn ledger_email(&self) -> String {
        self.emails
            .iter()
            .find(|e| e.primary == Some(true))
            .or_else(|| self.emails.first())
            .map(|e| e.value.clone())
            .unwrap_or_default()
    }

    /// What the ledger has no column for, to store beside the user so it round-trips:
    /// `displayName`, `name`, the full `emails` list and `active`, each only when set.
    /// The ledger's own active flag cannot tell "sent true" from "never sent"; `active` here
    /// lets [`UserInput::from_stored`] answer what was sent.
    pub fn profile(&self) -> Value {
        let mut map = Map::new();
        if let Some(d) = &self.display_name {
            map.insert("displayName".into(), Value::String(d.clone()));
        }
        if let Some(name) = &self.name {
            map.insert("name".into(), name.to_json());
        }
        if !self.emails.is_empty() {
            map.insert(
                "emails".into(),
                Value::Array(self.emails.iter().map(Email::to_json).collect()),
            );
        }
        if let Some(active) = self.active {
            map.insert("active".into(), Value::Bool(active));
        }
        Value::Object(map)
    }

    /// Rebuilds the input from the ledger. The ledger's columns win over the profile: if the
    /// name or e-mail was changed elsewhere (admin UI, directory), the SCIM view shows it.
    /// `active`: a user the ledger holds inactive (deactivated, or blocked waiting for room)
    /// is `Some(false)`, whatever was sent; an active one is `Some(true)` if the profile
    /// records `active`, else `None` (never sent).
    pub fn from_stored(stored: &StoredUser) -> UserInput {
        let mut input = UserInput::new(stored.user_name.clone());
        input.external_id = stored.external_id.clone().filter(|s| !s.is_empty());
        input.department = stored.department.clone().filter(|s| !s.is_empty());
        if let Some(Value::Object(profile)) = &stored.profile {
            // A profile we wrote ourselves; if it is somehow unreadable, start without it.
            let mut probe = profile.clone();
            probe.insert("userName".into(), Value::String(stored.user_name.clone()));
            if let Ok(parsed) = UserInput::from_json(&Value::Object(probe)) {
                input.display_name = parsed.display_name;
                input.name = parsed.name;
                input.emails = parsed.emails;
                input.active = parsed.active.map(|_| true);
            }
        }
        if !stored.active {
            input.active = Some(false);
        }
        if input.ledger_name() != stored.ledger_name && !stored.ledger_name.is_empty() {
            input.display_name = Some(stored.ledger_name.clone());
        }
        if input.ledger_email() != stored.ledger_email {
            input.set_ledger_email(&stored.ledger_email);
        }
        input
    }

    /// Makes `email` the one [`UserInput::ledger_email`] returns ("" removes it). Other
    /// e-mails keep their `primary` as sent unless one must stop being the primary one.
    fn set_ledger_email(&mut self, email: &str) {
        let primary = self.emails.iter().position(|e| e.primary == Some(true));
        let current = primary.or(if self.emails.is_empty() {
            None
        } else {
            Some(0)
        });
        if email.is_empty() {
            if let Some(i) = current {
                self.emails.remove(i);
            }
            return;
        }
        if let Some(i) = self
            .emails
            .iter()
            .position(|e| e.value.eq_ignore_ascii_case(email))
        {
            // Already the one the ledger reads (by case only different): keep the flags.
            if current != Some(i) {
                for e in self.emails.iter_mut() {
                    if e.primary == Some(true) {
                        e.primary = Some(false);
                    }
                }
                if let Some(e) = self.emails.get_mut(i) {
                    e.primary = Some(true);
                }
            }
            if let Some(e) = self.emails.get_mut(i) {
                e.value = email.to_owned();
            }
            return;
        }
        match current.and_then(|i| self.emails.get_mut(i)) {
            Some(e) => e.value = email.to_owned(),
            None => self.emails.push(Email {
                value: email.to_owned(),
                kind: Some("work".into()),
                primary: Some(true),
                display: None,
            }),
        }
    }

    /// The attributes as JSON, with `schemas`, without `id`, `meta` and `groups`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        let mut schemas = vec![Value::String(USER_SCHEMA.into())];
        if self.department.is_some() {
            schemas.push(Value::String(ENTERPRISE_USER_SCHEMA.into()));
        }
        map.insert("schemas".into(), Value::Array(schemas));
        if let Some(x) = &self.external_id {
            map.insert("externalId".into(), Value::String(x.clone()));
        }
        map.insert("userName".into(), Value::String(self.user_name.clone()));
        if let Some(name) = &self.name {
            map.insert("name".into(), name.to_json());
        }
        if let Some(d) = &self.display_name {
            map.insert("displayName".into(), Value::String(d.clone()));
        }
        if !self.emails.is_empty() {
            map.insert(
                "emails".into(),
                Value::Array(self.emails.iter().map(Email::to_json).collect()),
            );
        }
        if let Some(active) = self.active {
            map.insert("active".into(), Value::Bool(active));
        }
        if let Some(d) = &self.department {
            map.insert(ENTERPRISE_USER_SCHEMA.into(), json!({ "department": d }));
        }
        Value::Object(map)
    }
}

/// The enterprise extension's `department`: from the extension object, or from a key
/// `urn:…:enterprise:2.0:User:department` written flat (as PATCH paths name it).
fn department(map: &Map<String, Value>) -> Result<Option<String>, ScimError> {
    let attr = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department";
    if let Some(flat) = get_ci(map, attr) {
        return opt_string(Some(flat), attr, MAX_STRING);
    }
    match get_ci(map, ENTERPRISE_USER_SCHEMA) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(ext)) => opt_string(get_ci(ext, "department"), attr, MAX_STRING),
        Some(_) => Err(ScimError::invalid_value(format!(
            "\"{ENTERPRISE_USER_SCHEMA}\" must be an object"
        ))),
    }
}

/// A group the user belongs to, as `groups` lists it (readOnly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    pub value: String,
    pub display: String,
}

/// A stored user, as the store hands it over to be answered.
#[derive(Debug, Clone, PartialEq)]
pub struct UserResource {
    pub id: String,
    pub input: UserInput,
    pub groups: Vec<GroupRef>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
}

impl UserResource {
    /// The full representation. `base_url` ends before `/Users` (e.g.
    /// `https://host/scim/v2`), without a trailing slash.
    pub fn to_json(&self, base_url: &str) -> Value {
        let mut body = self.input.to_json();
        if let Some(map) = body.as_object_mut() {
            map.insert("id".into(), Value::String(self.id.clone()));
            if !self.groups.is_empty() {
                let groups = self
                    .groups
                    .iter()
                    .map(|g| {
                        json!({
                            "value": g.value,
                            "display": g.display,
                            "$ref": format!("{base_url}/Groups/{}", g.value),
                            "type": "direct",
                        })
                    })
                    .collect();
                map.insert("groups".into(), Value::Array(groups));
            }
        }
        let version = etag(&body);
        if let Some(map) = body.as_object_mut() {
            map.insert(
                "meta".into(),
                json!({
                    "resourceType": "User",
                    "created": rfc3339(self.created),
                    "lastModified": rfc3339(self.last_modified),
                    "location": format!("{base_url}/Users/{}", self.id),
                    "version": version,
                }),
            );
        }
        body
    }
}
