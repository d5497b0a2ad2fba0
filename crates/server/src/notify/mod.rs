//! Notifications (N1, I4): what leaves the server.

pub mod mail;
