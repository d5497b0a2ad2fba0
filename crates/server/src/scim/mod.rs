//! The SCIM 2.0 service provider (I2, RFC 7643 / RFC 7644) under `/scim/v2`: a thin layer.
//! The resources, PATCH, filters, projection, paging and discovery documents are the core's
//! (`seatkeeper_core::scim`); the reads and writes — limits (U1/U2), blocks, D5 — the store's
//! (`Ledger::scim_*`). Here: requests and answers in SCIM's own shape (`application/scim+json`,
//! RFC 7644 §3.12 errors, ETags and `If-Match`), and the `[scim]` settings.
//!
//! Every route takes only a `provisioning` token whose owner holds `provision_users`
//! (`Access::Provision`); the access check answers refusals on these paths as SCIM errors too.

pub mod config;
pub mod discovery;
pub mod groups;
pub mod http;
mod search;
pub mod users;

pub use config::{DepartmentFolders, ScimConfig};
pub use http::{SCIM_CONTENT_TYPE, from_api_error};
pub use search::search_all;
