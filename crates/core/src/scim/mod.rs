//! SCIM 2.0 (RFC 7643 / RFC 7644) rules that need no I/O: the filter language — its parser,
//! tree, canonical text and evaluation — and PATCH paths. The endpoints and storage live
//! elsewhere; they call [`parse_filter`], [`parse_path`] and [`Filter::matches`].

mod ast;
mod eval;
mod parse;

pub use ast::{AttrPath, CompValue, CompareOp, Filter, PatchPath};
pub use eval::{CaseExact, Rfc7643};
pub use parse::{FilterError, INVALID_FILTER, MAX_DEPTH, MAX_LEN, parse_filter, parse_path};
