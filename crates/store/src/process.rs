//! Who holds a lease: a tag naming this process (`host:pid:uuid`), and whether the process a
//! tag names is certainly gone, so that a lease left by a killed process on this host is
//! taken over at once instead of when its time runs out.

use std::sync::OnceLock;

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A fresh tag for this process (a new uuid each call: one per run).
pub fn process_tag() -> String {
    format!(
        "{}:{}:{}",
        hostname(),
        std::process::id(),
        uuid::Uuid::new_v4()
    )
}

/// This process's tag, the same for its whole life (a lease it renews).
pub fn this_process() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(process_tag)
}

/// Whether the process holding a lease is certainly gone (same host, no such process).
pub(crate) fn owner_gone(owner: &str) -> bool {
    let mut parts = owner.split(':');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return true;
    };
    host == hostname()
        && pid != std::process::id().to_string()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
}
