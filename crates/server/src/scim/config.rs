//! The `[scim]` section of `serve`'s config file: a leaf, so that the server's configuration
//! can name it without depending on the SCIM layer.

use seatkeeper_store::{DeleteMode, LimitPolicy};
use serde::Deserialize;

/// The `[scim]` section of the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScimConfig {
    /// A user created or activated beyond the area's limit: `block` (created blocked with
    /// `license_limit`, activated when room frees; U2) or `refuse` (409; U1).
    #[serde(default)]
    pub limit: LimitPolicy,
    /// `DELETE /Users/{id}`: `block` (reason `deprovisioned`, as a directory removal) or
    /// `delete`.
    #[serde(default)]
    pub delete: DeleteMode,
    /// The enterprise extension's `department` → folder: `ignore`, `existing` (the folder
    /// `department_root/<department>` when it exists) or `create` (made when missing).
    #[serde(default)]
    pub department_folders: DepartmentFolders,
    /// The folder under which department folders are looked for ("" = the root).
    #[serde(default)]
    pub department_root: String,
    /// The role under which groups created over SCIM are placed (none: the root role).
    #[serde(default)]
    pub group_parent: Option<String>,
    /// The public URL of `/scim/v2` (for `meta.location`), e.g.
    /// `https://seats.example.com/scim/v2`; by default `http://<Host header>/scim/v2`.
    #[serde(default)]
    pub base_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DepartmentFolders {
    Ignore,
    #[default]
    Existing,
    Create,
}

impl ScimConfig {
    pub fn check(&self) -> Result<(), String> {
        if let Some(u) = &self.base_url
            && !(u.starts_with("https://") || u.starts_with("http://"))
        {
            return Err(format!("[scim] base_url {u:?} must be an http(s) URL"));
        }
        if !self.department_root.is_empty() {
            seatkeeper_core::validate::folder_path(&self.department_root)
                .map_err(|e| format!("[scim] department_root: {e}"))?;
        }
        Ok(())
    }

    /// The folder rule for a user's department.
    pub fn folder_rule(&self, department: Option<&str>) -> Option<seatkeeper_store::FolderRule> {
        let d = department?.trim().replace('/', "-");
        if d.is_empty() {
            return None;
        }
        let root = self.department_root.trim_matches('/');
        let path = if root.is_empty() {
            d
        } else {
            format!("{root}/{d}")
        };
        match self.department_folders {
            DepartmentFolders::Ignore => None,
            DepartmentFolders::Existing => Some(seatkeeper_store::FolderRule::IfExists(path)),
            DepartmentFolders::Create => Some(seatkeeper_store::FolderRule::Create(path)),
        }
    }
}
