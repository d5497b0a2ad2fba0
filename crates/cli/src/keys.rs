//! Vendor key files: PKCS#8 PEM, the format every Ed25519 tool reads.

use std::path::Path;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};

use crate::args::Cli;
use crate::error::CliError;
use crate::files::{read_file, write_file};

pub fn generate() -> Result<SigningKey, CliError> {
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| CliError::Usage(format!("no randomness available: {e}")))?;
    Ok(SigningKey::from_bytes(&secret))
}

pub fn write_pair(key: &SigningKey, private: &Path, public: &Path) -> Result<(), CliError> {
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| CliError::Usage(format!("cannot encode key: {e}")))?;
    write_private(private, pem.as_bytes())?;
    let public_pem = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| CliError::Usage(format!("cannot encode key: {e}")))?;
    write_file(public, public_pem.as_bytes())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // The signing key is the vendor's crown jewel: readable by its owner only.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::Io(path.display().to_string(), e))?;
    f.write_all(bytes)
        .map_err(|e| CliError::Io(path.display().to_string(), e))
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    write_file(path, bytes)
}

pub fn read_signing(path: &Path) -> Result<SigningKey, CliError> {
    let pem = read_file(path)?;
    SigningKey::from_pkcs8_pem(&pem).map_err(|e| {
        CliError::Usage(format!(
            "{} is not an Ed25519 private key in PEM: {e}",
            path.display()
        ))
    })
}

/// The vendor keys the command line trusts (`--vendor-key`, `SEATKEEPER_VENDOR_KEYS`).
pub fn trusted_keys(cli: &Cli) -> Result<Vec<ed25519_dalek::VerifyingKey>, CliError> {
    // One reader of key files for the CLI and the server.
    seatkeeper_server::config::read_vendor_keys(&cli.vendor_keys)
        .map_err(|e| CliError::Usage(e.to_string()))
}
