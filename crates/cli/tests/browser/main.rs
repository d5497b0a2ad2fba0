//! Browser tests of the admin UI (issue 5): real headless Chromium, driven through
//! chromedriver, against a real `seatkeeper serve` process on a SQLite file. One test at a
//! time, each with its own server, database and browser profile. Screenshots of the pages a
//! test passes through go to `target/ui-screenshots/` (or `$SEATKEEPER_SCREENSHOTS`).
//!
//! Outside CI the tests skip with a notice when Chromium or chromedriver is missing
//! (`scripts/install-browser.sh` installs them); with `CI=true` they fail instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod directory;
mod harness;
mod licenses;
mod mail;
mod more;
#[path = "../shared/receiver.rs"]
mod receiver;
mod roles;
mod signin;
mod users;
mod webhooks;
