//! Settings an administrator changes at run time (admin UI, API): the idle timeout of
//! sessions, the responsible person's e-mail, and the distribution switches (D5). Kept in
//! `meta`, so every node of a PostgreSQL deployment reads the same values.
//!
//! This module reads and writes them; what a change sets off (turning role-based
//! distribution back on fulfils pending needs) is done by the caller,
//! `Ledger::set_distribution_settings` in `distribution::runs`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db::{Audit, Tx, audit, meta_get, meta_set};
use crate::{Actor, Ledger, Result};
use seatkeeper_core::Error as DomainError;
use time::OffsetDateTime;

const IDLE_TIMEOUT: &str = "setting.idle_timeout_secs";
const RESPONSIBLE_EMAIL: &str = "setting.responsible_email";
const SET_ON_ROLE_CHANGE: &str = "setting.redistribute_on_role_change";
const SET_ROLE_BASED: &str = "setting.role_based_distribution";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DistributionSettings {
    pub redistribute_on_role_change: bool,
    pub role_based_distribution: bool,
}

pub(crate) async fn distribution_settings_in(tx: &mut Tx) -> Result<DistributionSettings> {
    Ok(DistributionSettings {
        redistribute_on_role_change: meta_get(tx, SET_ON_ROLE_CHANGE).await?.as_deref()
            == Some("true"),
        role_based_distribution: meta_get(tx, SET_ROLE_BASED).await?.as_deref() != Some("false"),
    })
}

/// Stores `new` and audits the change; returns the settings it replaced, or `None` when
/// nothing changed (then nothing is written or audited).
pub(crate) async fn save_distribution_settings(
    tx: &mut Tx,
    now: OffsetDateTime,
    actor: &Actor,
    new: DistributionSettings,
) -> Result<Option<DistributionSettings>> {
    let old = distribution_settings_in(tx).await?;
    if new == old {
        return Ok(None);
    }
    let flag = |on: bool| if on { "true" } else { "false" };
    meta_set(
        tx,
        SET_ON_ROLE_CHANGE,
        flag(new.redistribute_on_role_change),
    )
    .await?;
    meta_set(tx, SET_ROLE_BASED, flag(new.role_based_distribution)).await?;
    audit(
        tx,
        now,
        actor,
        vec![Audit::new(
            "settings.distribution",
            "distribution",
            json!({"before": old, "after": new}),
        )],
    )
    .await?;
    Ok(Some(old))
}

/// `None` means "not set here": the server's configured value (flag, environment, file) applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSettings {
    pub idle_timeout_secs: Option<u64>,
    pub responsible_email: Option<String>,
}

/// Longest idle timeout accepted: a week. Longer would let a crashed client hold a floating
/// seat for longer than any licence review cycle.
pub const MAX_IDLE_TIMEOUT_SECS: u64 = 7 * 24 * 3600;

impl ServerSettings {
    pub fn validate(&self) -> Result<()> {
        if let Some(s) = self.idle_timeout_secs
            && !(60..=MAX_IDLE_TIMEOUT_SECS).contains(&s)
        {
            return Err(DomainError::Invalid(format!(
                "the idle timeout must be between 60 seconds and {MAX_IDLE_TIMEOUT_SECS} seconds (7 days), not {s}"
            ))
            .into());
        }
        if let Some(e) = &self.responsible_email
            && !valid_email(e)
        {
            return Err(DomainError::Invalid(format!(
                "{e:?} is not an e-mail address (name@domain)"
            ))
            .into());
        }
        Ok(())
    }
}

fn valid_email(e: &str) -> bool {
    match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(|c| c.is_whitespace() || c == ',' || c == ';')
                && e.len() <= 254
        }
        None => false,
    }
}

impl Ledger {
    pub async fn distribution_settings(&self) -> Result<DistributionSettings> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let s = distribution_settings_in(&mut tx).await?;
        tx.commit().await?;
        Ok(s)
    }

    pub async fn server_settings(&self) -> Result<ServerSettings> {
        let mut tx = Tx::unwatched(self.pool.begin().await?);
        let idle = meta_get(&mut tx, IDLE_TIMEOUT).await?;
        let email = meta_get(&mut tx, RESPONSIBLE_EMAIL).await?;
        tx.commit().await?;
        Ok(ServerSettings {
            idle_timeout_secs: idle.and_then(|v| v.parse().ok()),
            responsible_email: email.filter(|e| !e.is_empty()),
        })
    }

    /// Replaces the settings (validated first; an invalid value changes nothing). Audited.
    pub async fn set_server_settings(
        &self,
        actor: &Actor,
        new: ServerSettings,
    ) -> Result<ServerSettings> {
        new.validate()?;
        let now = self.now();
        let mut tx = self.begin_write().await?;
        let old = ServerSettings {
            idle_timeout_secs: meta_get(&mut tx, IDLE_TIMEOUT)
                .await?
                .and_then(|v| v.parse().ok()),
            responsible_email: meta_get(&mut tx, RESPONSIBLE_EMAIL)
                .await?
                .filter(|e| !e.is_empty()),
        };
        if new == old {
            // Nothing changes, so nothing is written or audited.
            return Ok(new);
        }
        meta_set(
            &mut tx,
            IDLE_TIMEOUT,
            &new.idle_timeout_secs
                .map(|s| s.to_string())
                .unwrap_or_default(),
        )
        .await?;
        meta_set(
            &mut tx,
            RESPONSIBLE_EMAIL,
            new.responsible_email.as_deref().unwrap_or_default(),
        )
        .await?;
        audit(
            &mut tx,
            now,
            actor,
            vec![Audit::new(
                "settings.server",
                "server",
                json!({"before": old, "after": new}),
            )],
        )
        .await?;
        tx.commit().await?;
        Ok(new)
    }
}
