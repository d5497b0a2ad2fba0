//! The limits on what an administrator or a client may type, in one place: the store applies
//! them to every user, folder and block it writes (so the API, the UI, the CSV import and the
//! CLI all get the same answer), and the server applies the password limits before hashing.
//! Each refusal is `Error::Invalid` with a message that names the field.

use crate::Error;

/// Longest login (bytes); logins are ASCII, so also characters.
pub const LOGIN_MAX: usize = 256;
/// Longest user name (bytes of UTF-8).
pub const NAME_MAX: usize = 256;
/// Longest e-mail address (bytes; RFC 5321's 64 + 1 + 255).
pub const EMAIL_MAX: usize = 320;
/// Shortest new password (characters).
pub const PASSWORD_MIN: usize = 12;
/// Longest password (bytes): hashing is slow by design, so an unbounded one is a cheap way to
/// burn the server's CPU.
pub const PASSWORD_MAX: usize = 1024;
/// Deepest folder path (levels).
pub const FOLDER_DEPTH_MAX: usize = 32;
/// Longest folder name (bytes).
pub const FOLDER_NAME_MAX: usize = 128;
/// Longest block reason (bytes).
pub const REASON_MAX: usize = 200;

fn invalid(message: String) -> Error {
    Error::Invalid(message)
}

fn max_bytes(field: &str, value: &str, max: usize) -> Result<(), Error> {
    if value.len() > max {
        return Err(invalid(format!(
            "{field} is too long: {} bytes, at most {max}",
            value.len()
        )));
    }
    Ok(())
}

/// Free text shown to people: at most `max` bytes, no control characters (a NUL byte or an
/// escape sequence has no business in a name, and breaks exports and terminals).
pub fn text(field: &str, value: &str, max: usize) -> Result<(), Error> {
    max_bytes(field, value, max)?;
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(invalid(format!(
            "{field} contains a control character (U+{:04X})",
            u32::from(c)
        )));
    }
    Ok(())
}

/// A code: a login, product code, serial or company id. Visible ASCII only, no separators
/// that would make CSV or paths ambiguous.
pub fn code(field: &str, value: &str, max: usize) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@'));
    if ok {
        Ok(())
    } else {
        // The value is shown only when short: echoing a megabyte back helps nobody.
        let shown = if value.len() <= max {
            format!(" {value:?}")
        } else {
            format!(" ({} bytes)", value.len())
        };
        Err(invalid(format!(
            "{field}{shown} is not valid: use 1-{max} letters, digits, '-', '_', '.', '@'"
        )))
    }
}

pub fn login(value: &str) -> Result<(), Error> {
    code("login", value, LOGIN_MAX)
}

pub fn name(value: &str) -> Result<(), Error> {
    text("name", value, NAME_MAX)
}

/// Empty means "no address".
pub fn email(value: &str) -> Result<(), Error> {
    text("e-mail", value, EMAIL_MAX)?;
    if !value.is_empty() && (!value.contains('@') || value.contains(char::is_whitespace)) {
        return Err(invalid(format!("e-mail {value:?} is not an address")));
    }
    Ok(())
}

/// A new password.
pub fn new_password(value: &str) -> Result<(), Error> {
    password(value)?;
    if value.chars().count() < PASSWORD_MIN {
        return Err(invalid(format!(
            "a password needs at least {PASSWORD_MIN} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid("password contains a control character".into()));
    }
    Ok(())
}

/// A password as typed at sign-in: only its length is checked, before the slow hash.
pub fn password(value: &str) -> Result<(), Error> {
    max_bytes("password", value, PASSWORD_MAX)
}

/// A reason an administrator gives for a block. The reasons the system writes itself
/// (`license_limit`, `directory_disabled`, `directory_removed`) are refused: a user blocked
/// with one of them would be activated by the next event that frees room, or by a sync (U2),
/// and a user blocked by hand never is.
pub fn block_reason(value: &str) -> Result<(), Error> {
    text("block reason", value, REASON_MAX)?;
    if crate::directory::reason::is_system(Some(value.trim())) {
        return Err(invalid(format!(
            "block reason {value:?} is the system's own (a user waiting for room, one the \
             directory disabled or removed, or one an identity provider deactivated or \
             removed); give another"
        )));
    }
    Ok(())
}

/// One folder name: a plain name (not `.` or `..`), no `/`, no surrounding spaces, no control
/// characters.
pub fn folder_name(name: &str) -> Result<(), Error> {
    text("folder name", name, FOLDER_NAME_MAX)?;
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.contains('/') || trimmed != name {
        return Err(invalid(format!(
            "folder name {name:?} is not valid: 1-{FOLDER_NAME_MAX} characters, no '/', no surrounding spaces"
        )));
    }
    if name == "." || name == ".." {
        return Err(invalid(format!(
            "folder name {name:?} is not valid: a folder path names folders, not '.' or '..'"
        )));
    }
    Ok(())
}

/// A folder path such as "Sales/North" into its names; empty (or "/") is the root.
pub fn folder_path(path: &str) -> Result<Vec<&str>, Error> {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    let levels = trimmed.split('/').count();
    if levels > FOLDER_DEPTH_MAX {
        return Err(invalid(format!(
            "folder path has {levels} levels, at most {FOLDER_DEPTH_MAX}"
        )));
    }
    let parts: Vec<&str> = trimmed.split('/').collect();
    for p in &parts {
        folder_name(p)?;
    }
    Ok(parts)
}
