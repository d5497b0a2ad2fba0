//! Files named on the command line: read as the caller's input, written as the answer.

use std::path::Path;

use crate::error::CliError;

pub fn read_file(path: &Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|e| CliError::Unreadable(path.display().to_string(), e))
}

pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| CliError::Io(path.display().to_string(), e))
}

pub fn write_or_print(output: Option<&Path>, text: &str) -> Result<(), CliError> {
    match output {
        Some(p) => {
            write_file(p, text.as_bytes())?;
            eprintln!("wrote {}", p.display());
            Ok(())
        }
        None => {
            println!("{text}");
            Ok(())
        }
    }
}
