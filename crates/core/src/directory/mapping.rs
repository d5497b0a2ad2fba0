//! How directory entries become users and roles: which attribute is the login, which area and
//! folder a user lands in, which groups become roles, what "disabled" means. Read from the
//! `[directory.mapping]` section of the config; every field has a default (OpenLDAP's).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Entry;
use super::dn::{is_under, normalize_dn, parse_dn};
use crate::Area;

/// The built-in root of the organizational tree (SPEC: "All employees").
pub const ROOT_ROLE: &str = "All employees";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mapping {
    /// The login: `uid` (OpenLDAP), `sAMAccountName` (AD).
    pub login_attr: String,
    /// The display name: `cn` (OpenLDAP), `displayName` (AD). Missing → the login.
    pub name_attr: String,
    /// The e-mail address; missing → no address.
    pub email_attr: String,
    pub area: AreaRule,
    pub folder: FolderRule,
    /// Where a group lists its members: `member` / `uniqueMember` (DNs) or `memberUid` (logins).
    pub member_attr: String,
    /// A group's name, for the roles the sync creates; missing → the value of its RDN.
    pub group_name_attr: String,
    pub roles: RoleRule,
    pub disabled: DisabledRule,
    /// What happens to a user whose entry is gone from the directory.
    pub removed: RemovedAction,
}

impl Default for Mapping {
    fn default() -> Self {
        Mapping::openldap()
    }
}

impl Mapping {
    /// `inetOrgPerson` users, `groupOfNames` groups; no disabled-account rule (OpenLDAP has no
    /// standard one: configure `disabled` for ppolicy's `pwdAccountLockedTime`, say).
    pub fn openldap() -> Self {
        Mapping {
            login_attr: "uid".into(),
            name_attr: "cn".into(),
            email_attr: "mail".into(),
            area: AreaRule::default(),
            folder: FolderRule::None,
            member_attr: "member".into(),
            group_name_attr: "cn".into(),
            roles: RoleRule::default(),
            disabled: DisabledRule::None,
            removed: RemovedAction::Block,
        }
    }

    /// Active Directory: `sAMAccountName`, `displayName`, `member`, and `userAccountControl`
    /// bit 2 (ACCOUNTDISABLE) for disabled accounts.
    pub fn active_directory() -> Self {
        Mapping {
            login_attr: "sAMAccountName".into(),
            name_attr: "displayName".into(),
            disabled: DisabledRule::UserAccountControl,
            ..Mapping::openldap()
        }
    }

    /// The attributes the planner reads from a user entry (login, name, e-mail, and those
    /// the area, folder and disabled rules name): the sync asks the directory for these
    /// only, as an entry may carry dozens more (photos, certificates). Keep in step with
    /// what `plan` reads.
    pub fn user_attributes(&self) -> Vec<String> {
        let mut out = vec![
            self.login_attr.clone(),
            self.name_attr.clone(),
            self.email_attr.clone(),
        ];
        for rule in &self.area.rules {
            if let AreaMatch::Attribute { attr, .. } = rule {
                out.push(attr.clone());
            }
        }
        if let FolderRule::Attribute { attr } = &self.folder {
            out.push(attr.clone());
        }
        match &self.disabled {
            DisabledRule::None => {}
            DisabledRule::UserAccountControl => out.push("userAccountControl".to_string()),
            DisabledRule::Attribute { attr, .. } => out.push(attr.clone()),
        }
        distinct_names(out)
    }

    /// The attributes the planner reads from a group entry: its members and its name.
    pub fn group_attributes(&self) -> Vec<String> {
        distinct_names(vec![self.member_attr.clone(), self.group_name_attr.clone()])
    }

    /// What the group's member attribute holds.
    pub fn member_kind(&self) -> MemberKind {
        if self.member_attr.eq_ignore_ascii_case("memberUid") {
            MemberKind::Login
        } else {
            MemberKind::Dn
        }
    }

    pub(crate) fn area_of(&self, e: &Entry, dn_norm: &str) -> Area {
        self.area
            .rules
            .iter()
            .find(|r| r.matches(e, dn_norm))
            .map_or(self.area.default, AreaMatch::area)
    }

    pub(crate) fn is_disabled(&self, e: &Entry) -> bool {
        match &self.disabled {
            DisabledRule::None => false,
            // A value that is not a number is treated as "not disabled": blocking a whole
            // directory over one odd attribute would be worse.
            DisabledRule::UserAccountControl => e
                .first("userAccountControl")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .is_some_and(|v| v & 2 != 0),
            DisabledRule::Attribute { attr, value: None } => !e.all(attr).is_empty(),
            DisabledRule::Attribute {
                attr,
                value: Some(want),
            } => e
                .all(attr)
                .iter()
                .any(|v| v.trim().eq_ignore_ascii_case(want)),
        }
    }

    /// The folder path ("Sales/North", "" for the root) or why it cannot be one.
    pub(crate) fn folder_of(&self, e: &Entry) -> Result<String, String> {
        let names: Vec<String> = match &self.folder {
            FolderRule::None => return Ok(String::new()),
            FolderRule::OuPath { base_dn } => {
                let base = normalize_dn(base_dn);
                if !is_under(&normalize_dn(&e.dn), &base) {
                    return Ok(String::new());
                }
                let rdns = parse_dn(&e.dn);
                let base_len = parse_dn(base_dn).len();
                let keep = rdns.len().saturating_sub(base_len);
                // The entry's own RDN is not a folder; only `ou` levels are (AD's `CN=Users`
                // container is not a department).
                rdns.into_iter()
                    .take(keep)
                    .skip(1)
                    .filter(|(a, _)| a == "ou")
                    .map(|(_, v)| v.replace('/', "-").trim().to_string())
                    .rev()
                    .collect()
            }
            FolderRule::Attribute { attr } => match e.first(attr) {
                None => return Ok(String::new()),
                Some(v) => match crate::validate::folder_path(v) {
                    Ok(parts) => parts.into_iter().map(str::to_string).collect(),
                    Err(err) => return Err(err.to_string()),
                },
            },
        };
        if names.len() > crate::validate::FOLDER_DEPTH_MAX {
            return Err(format!(
                "folder path has {} levels, at most {}",
                names.len(),
                crate::validate::FOLDER_DEPTH_MAX
            ));
        }
        for n in &names {
            crate::validate::folder_name(n).map_err(|e| e.to_string())?;
        }
        Ok(names.join("/"))
    }
}

/// Attribute names without blanks and case-insensitive repeats, in their first order.
fn distinct_names(names: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let n = n.trim();
        if !n.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(n)) {
            out.push(n.to_string());
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// `member`, `uniqueMember`: values are DNs, so groups can nest.
    Dn,
    /// `memberUid`: values are logins; no nesting.
    Login,
}

/// The area a new user lands in: the first matching rule, else `default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AreaRule {
    pub default: Area,
    pub rules: Vec<AreaMatch>,
}

impl Default for AreaRule {
    fn default() -> Self {
        AreaRule {
            default: Area::Employee,
            rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum AreaMatch {
    /// The entry lies under this DN (`ou=Partners,dc=example,dc=com`).
    DnSuffix { suffix: String, area: Area },
    /// One of the attribute's values equals `value` (case-insensitive).
    Attribute {
        attr: String,
        value: String,
        area: Area,
    },
}

impl AreaMatch {
    fn area(&self) -> Area {
        match self {
            AreaMatch::DnSuffix { area, .. } | AreaMatch::Attribute { area, .. } => *area,
        }
    }

    fn matches(&self, e: &Entry, dn_norm: &str) -> bool {
        match self {
            AreaMatch::DnSuffix { suffix, .. } => is_under(dn_norm, &normalize_dn(suffix)),
            AreaMatch::Attribute { attr, value, .. } => e
                .all(attr)
                .iter()
                .any(|v| v.trim().eq_ignore_ascii_case(value)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum FolderRule {
    /// Every user in the root folder.
    #[default]
    None,
    /// The entry's OU chain below `base_dn`: `uid=a,ou=North,ou=Sales,dc=ex` under `dc=ex`
    /// → folder `Sales/North`, created as needed.
    OuPath { base_dn: String },
    /// An attribute holding a path such as `Sales/North`.
    Attribute { attr: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleKind {
    Functional,
    Organizational,
}

impl RoleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::Functional => "functional",
            RoleKind::Organizational => "organizational",
        }
    }
}

/// Which groups become roles. A group in `explicit` maps to an existing role (by name);
/// otherwise, with `create` set, every group becomes a role of its own; otherwise the group
/// is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleRule {
    /// Group DN → name of an existing role.
    pub explicit: BTreeMap<String, String>,
    pub create: Option<CreatedRoles>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreatedRoles {
    /// The role the top-level groups go under; `None`: top level (for organizational roles
    /// that is "All employees").
    pub parent: Option<String>,
    pub kind: RoleKind,
}

impl Default for CreatedRoles {
    fn default() -> Self {
        CreatedRoles {
            parent: None,
            kind: RoleKind::Functional,
        }
    }
}

impl CreatedRoles {
    /// The parent a top-level group's role gets, as the ledger spells it.
    pub(crate) fn top_parent(&self) -> Option<String> {
        match (&self.parent, self.kind) {
            (Some(p), _) => Some(p.clone()),
            (None, RoleKind::Organizational) => Some(ROOT_ROLE.to_string()),
            (None, RoleKind::Functional) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "by", rename_all = "snake_case", deny_unknown_fields)]
pub enum DisabledRule {
    #[default]
    None,
    /// Active Directory: `userAccountControl & 2` (ACCOUNTDISABLE), e.g. 514.
    UserAccountControl,
    /// The attribute has `value` (case-insensitive); without `value`, the attribute's mere
    /// presence (ppolicy's `pwdAccountLockedTime`).
    Attribute {
        attr: String,
        #[serde(default)]
        value: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovedAction {
    #[default]
    Block,
    Delete,
}

#[cfg(test)]
mod attribute_tests {
    use super::*;

    #[test]
    fn i1_the_sync_asks_for_the_attributes_the_mapping_reads() {
        let m = Mapping::openldap();
        assert_eq!(m.user_attributes(), ["uid", "cn", "mail"]);
        assert_eq!(m.group_attributes(), ["member", "cn"]);
        let mut ad = Mapping::active_directory();
        ad.area.rules.push(AreaMatch::Attribute {
            attr: "employeeType".into(),
            value: "partner".into(),
            area: Area::Portal,
        });
        ad.folder = FolderRule::Attribute {
            attr: "department".into(),
        };
        assert_eq!(
            ad.user_attributes(),
            [
                "sAMAccountName",
                "displayName",
                "mail",
                "employeeType",
                "department",
                "userAccountControl"
            ]
        );
        // Repeats (any case) and blanks are asked for once, or not at all.
        let mut m = Mapping::openldap();
        m.name_attr = "UID".into();
        m.email_attr = " ".into();
        m.disabled = DisabledRule::Attribute {
            attr: "pwdAccountLockedTime".into(),
            value: None,
        };
        assert_eq!(m.user_attributes(), ["uid", "pwdAccountLockedTime"]);
    }
}
