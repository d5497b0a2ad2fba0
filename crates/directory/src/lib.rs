//! Seatkeeper's LDAP client (issue 15): reads a directory's users and groups into the core's
//! [`Snapshot`], which the sync planner in `seatkeeper_core::directory` compares with the
//! ledger. Every search carries the paged-results control (RFC 2696), because a real server
//! caps a search at a few hundred entries; the connection is `ldap://` with StartTLS,
//! `ldaps://`, or plain `ldap://` on loopback (elsewhere only when the config allows it).
//! The bind password never reaches a log line, an error message or `Debug`.

// A bad input must never bring the caller down: no `expect`, `panic!` or unchecked indexing
// outside tests (`unwrap` is denied workspace-wide). Tests may, to fail loudly.
#![deny(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod client;
mod config;
mod error;

pub use client::{TestReport, read_snapshot, test_connection};
pub use config::{
    Config, DEFAULT_CONNECT_TIMEOUT_SECS, DEFAULT_GROUP_FILTER, DEFAULT_OPERATION_TIMEOUT_SECS,
    DEFAULT_PAGE_SIZE, DEFAULT_USER_FILTER, MAX_SYNC_INTERVAL_MINUTES, MAX_TIMEOUT_SECS, TlsMode,
};
pub use error::DirectoryError;
pub use seatkeeper_core::directory::{Entry, Snapshot};
