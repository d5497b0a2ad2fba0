//! Why a command failed, and the exit code it ends with.

use seatkeeper_store::StoreError;

/// Why a command failed: a refusal (exit 2) or a problem running it (exit 1).
#[derive(Debug)]
pub enum CliError {
    Store(StoreError),
    Usage(String),
    Io(String, std::io::Error),
    /// A file named on the command line cannot be read (missing, not permitted, not UTF-8):
    /// the caller's input is wrong, so it is a refusal like any other bad argument.
    Unreadable(String, std::io::Error),
    /// The directory refused or could not be reached, no directory is configured, or another
    /// sync is running (`seatkeeper ldap ...`): the message names the cause; a refusal, as the
    /// fix is in the config, the directory, or waiting.
    Directory(seatkeeper_server::directory_sync::SyncError),
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Store(e) => write!(f, "{e}"),
            CliError::Usage(m) => f.write_str(m),
            CliError::Io(path, e) | CliError::Unreadable(path, e) => write!(f, "{path}: {e}"),
            CliError::Directory(e) => write!(f, "{e}"),
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        CliError::Store(e)
    }
}

impl From<seatkeeper_core::Error> for CliError {
    fn from(e: seatkeeper_core::Error) -> Self {
        CliError::Store(StoreError::Domain(e))
    }
}

impl CliError {
    pub fn code(&self) -> &'static str {
        match self {
            CliError::Store(e) => e.code(),
            CliError::Usage(_) => "usage",
            CliError::Io(..) => "io",
            CliError::Unreadable(..) => "unreadable_file",
            CliError::Directory(e) => e.code(),
        }
    }

    pub fn exit(&self) -> u8 {
        match self {
            CliError::Store(StoreError::Domain(_) | StoreError::Refused(_))
            | CliError::Usage(_)
            | CliError::Unreadable(..)
            | CliError::Directory(_) => 2,
            _ => 1,
        }
    }
}
