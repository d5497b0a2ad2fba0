//! Role-based distribution (D3–D5, N2): previews and journaled, chunked runs of the core's
//! planner, and pending needs with their fulfilment.
//!
//! - `chunk`: the users of a scope, a chunk at a time, as the planner sees them;
//! - `report`: what a preview or a run answers (scope, items, counts);
//! - `apply`: where a chunk's plan goes — the database (runs) or memory (previews);
//! - `walk`: the two-phase chunk walk that previews and runs share, and the small
//!   redistributions that triggers run inside their own transaction;
//! - `needs`: pending needs, and their fulfilment when seats come free;
//! - `runs`: the run's journal (lease, resume after a crash, incremental runs), listings.
//!
//! Each file imports only those listed before it; the rules themselves are in
//! `seatkeeper_core::distribution` (the planner) and `seatkeeper_core::fulfilment`.

mod apply;
mod chunk;
mod needs;
mod report;
mod runs;
mod walk;

pub use chunk::DEFAULT_CHUNK_USERS;
pub use needs::NeedView;
pub(crate) use needs::fulfil_pending;
pub use report::{DEFAULT_DETAIL, PlanItem, RedistributionReport, Scope};
pub use runs::RunView;
pub(crate) use runs::{owner_gone, process_tag};
pub(crate) use walk::redistribute_users_in;
