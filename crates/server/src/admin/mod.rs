//! The admin API (`/api/v1`): every ledger operation, JSON in and out, one module per
//! resource. Each handler only translates HTTP to a ledger call; the route table
//! (`crate::routes`) decides who may call it.

pub mod directory;
pub mod distribution;
pub mod folders;
pub mod grants;
pub mod licenses;
pub mod messages;
pub mod notifications;
pub mod reports;
pub mod roles;
pub mod sessions;
pub mod signin;
pub mod tokens;
pub mod users;
pub mod webhooks;

use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// A page of a list: `next_offset` is set when more items follow.
#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub limit: u64,
    pub offset: u64,
    pub next_offset: Option<u64>,
}

const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1_000;

pub(crate) fn page_limit(limit: Option<u64>) -> ApiResult<u64> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        0 => Err(ApiError::invalid("`limit` must be at least 1")),
        l if l > MAX_LIMIT => Err(ApiError::invalid(format!(
            "`limit` must be at most {MAX_LIMIT}"
        ))),
        l => Ok(l),
    }
}

/// Builds a page from `limit + 1` fetched items.
pub(crate) fn page<T>(mut items: Vec<T>, limit: u64, offset: u64) -> Page<T> {
    let more = items.len() as u64 > limit;
    items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Page {
        next_offset: more.then(|| offset + limit),
        items,
        limit,
        offset,
    }
}

/// A page limit as the ledger's queries take it.
pub(crate) fn db_limit(limit: u64) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
