//! Seatkeeper's domain core.
//!
//! Everything here is pure: no files, no network, no clock. Callers pass `now` in, so the
//! rules about validity windows and expiry can be tested by moving time, and the storage layer
//! and the property tests apply exactly the same rules.

pub mod capacity;
pub mod distribution;
pub mod error;
pub mod fulfilment;
pub mod license;
pub mod login;
pub mod model;
pub mod seats;
pub mod signin;
pub mod users_csv;
pub mod validate;

pub use error::{Error, LicenseError};
pub use model::*;
