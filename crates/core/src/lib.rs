//! Seatkeeper's domain core.
//!
//! Everything here is pure: no files, no network, no clock. Callers pass `now` in, so the
//! rules about validity windows and expiry can be tested by moving time, and the storage layer
//! and the property tests apply exactly the same rules.

// A bad input must never bring the caller down: no `expect`, `panic!` or unchecked indexing
// outside tests (`unwrap` is denied workspace-wide). Tests may, to fail loudly.
#![deny(clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod capacity;
pub mod directory;
pub mod distribution;
pub mod error;
pub mod events;
pub mod fulfilment;
pub mod license;
pub mod login;
pub mod model;
pub mod scim;
pub mod seats;
pub mod signin;
pub mod users_csv;
pub mod validate;

pub use error::{Error, LicenseError};
pub use model::*;
