//! SCIM 2.0 (RFC 7643 / RFC 7644) rules that need no I/O: the filter language — its parser,
//! tree, canonical text and evaluation — PATCH paths, the User and Group resources (reading
//! request bodies, writing representations with ETags), PATCH of both, the body of a search
//! by POST, `attributes` / `excludedAttributes` projection, the discovery documents and the
//! error body. The endpoints and storage live elsewhere; they call what is exported here.

mod ast;
mod common;
mod discovery;
mod error;
mod eval;
mod group;
mod list;
mod parse;
mod patch;
mod project;
mod search;
mod user;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use common::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, LIST_RESPONSE_SCHEMA, MAX_EMAILS, MAX_OPERATIONS,
    MAX_RESULTS, MAX_STRING, MAX_USER_NAME, PATCH_OP_SCHEMA, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA, etag,
};
pub use discovery::{resource_types, schemas, service_provider_config};
pub use error::{ERROR_SCHEMA, ScimError};
pub use eval::{CaseExact, Rfc7643};
pub use group::{GroupInput, GroupOp, GroupResource, MemberRef, parse_group_patch};
pub use list::{Paging, if_match, list_response};
pub use parse::{FilterError, INVALID_FILTER, MAX_DEPTH, MAX_LEN, parse_filter, parse_path};
pub use patch::apply_user_patch;
pub use project::project;
pub use search::{SEARCH_REQUEST_SCHEMA, SearchRequest};
pub use user::{Email, GroupRef, Name, StoredUser, UserInput, UserResource};
