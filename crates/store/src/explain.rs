//! Explain (D6): whether a user holds a product, with every reason, or why not — the
//! facts loaded here, weighed by the core's `explain`.

use seatkeeper_core::distribution::{ExplainFacts, ROOT_ROLE, Reason, explain};
use seatkeeper_core::{Area, Error as DomainError, SeatKind, UserState};
use serde::Serialize;

use crate::db::{get_i64, get_str};
use crate::licenses::known_products;
use crate::loaders::user_by_login;
use crate::loaders::{holding, load_tree};
use crate::settings::distribution_settings_in;
use crate::{Ledger, Result};

#[derive(Debug, Clone, Serialize)]
pub struct ReasonView {
    #[serde(flatten)]
    pub reason: Reason,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via_name: Option<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExplainView {
    pub login: String,
    pub product: String,
    pub holds: bool,
    pub reasons: Vec<ReasonView>,
}

impl Ledger {
    /// D6: whether `login` holds `product`, with every reason, or why not.
    pub async fn explain(&self, login: &str, product: &str) -> Result<ExplainView> {
        let mut tx = self.begin_read().await?;
        let user = user_by_login(&mut tx, login).await?;
        if !known_products(&mut tx).await?.contains(product) {
            return Err(DomainError::UnknownProduct(product.to_string()).into());
        }
        let (tree, names) = load_tree(&mut tx).await?;
        let mut roles: Vec<i64> = if user.area == Area::Employee {
            vec![ROOT_ROLE]
        } else {
            Vec::new()
        };
        for r in sqlx::query("SELECT role_id FROM role_members WHERE user_id = $1")
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?
        {
            roles.push(get_i64(&r, "role_id")?);
        }
        let sold_in_area = sqlx::query(
            "SELECT product_code FROM seat_pools WHERE product_code = $1 AND area = $2 \
             AND kind = $3 LIMIT 1",
        )
        .bind(product.to_string())
        .bind(user.area.as_str().to_string())
        .bind(SeatKind::Named.as_str().to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let holding = sqlx::query(
            "SELECT product_code, area, kind, folder_id, status, manual, by_role, release_pending \
             FROM assignments WHERE user_id = $1 AND product_code = $2",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| holding(&r, user.id))
        .transpose()?;
        let floating_sessions = sqlx::query(
            "SELECT h.session_id FROM floating_holds h JOIN sessions s ON s.id = h.session_id \
             WHERE s.user_id = $1 AND h.product_code = $2 ORDER BY h.session_id",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| get_str(r, "session_id"))
        .collect::<Result<Vec<_>>>()?;
        let pending = sqlx::query(
            "SELECT user_id FROM pending_needs WHERE user_id = $1 AND product_code = $2",
        )
        .bind(user.id)
        .bind(product.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
        let settings = distribution_settings_in(&mut tx).await?;
        tx.commit().await?;
        let facts = ExplainFacts {
            active: user.state == UserState::Active,
            sold_in_area,
            role_reasons: tree.reasons(&roles, product),
            holding,
            floating_sessions,
            pending,
            distribution_on: settings.role_based_distribution,
        };
        let e = explain(&facts);
        let name = |id: i64| names.get(&id).cloned().unwrap_or_else(|| id.to_string());
        let reasons = e
            .reasons
            .into_iter()
            .map(|reason| {
                let (role_name, via_name, message) = match &reason {
                    Reason::Manual => (None, None, "granted by hand (or taken at login)".into()),
                    Reason::Role { role, via } if role == via => (
                        Some(name(*role)),
                        None,
                        format!("given by role {:?}", name(*role)),
                    ),
                    Reason::Role { role, via } => (
                        Some(name(*role)),
                        Some(name(*via)),
                        format!(
                            "given by role {:?} via its ancestor {:?}",
                            name(*role),
                            name(*via)
                        ),
                    ),
                    Reason::FloatingSession { session } => {
                        (None, None, format!("floating seat held by session {session}"))
                    }
                    Reason::Suspended => (
                        None,
                        None,
                        "suspended: the product's licenses shrank below the seats assigned".into(),
                    ),
                    Reason::Releasing => (
                        None,
                        None,
                        "recalled while logged in: freed when the session ends".into(),
                    ),
                    Reason::Blocked => (None, None, "the user is blocked".into()),
                    Reason::NotInArea => (
                        None,
                        None,
                        format!(
                            "a role asks for it, but it is not licensed as named seats for the {} area",
                            user.area.as_str()
                        ),
                    ),
                    Reason::NotBound => (
                        None,
                        None,
                        "not bound to any of the user's roles or their ancestors".into(),
                    ),
                    Reason::NoSeatFree => (
                        None,
                        None,
                        "wanted by a role, but no seat was free: kept as a pending need".into(),
                    ),
                    Reason::DistributionOff => (
                        None,
                        None,
                        "wanted by a role, but role-based distribution is turned off".into(),
                    ),
                    Reason::NotYetDistributed => (
                        None,
                        None,
                        "wanted by a role: the next redistribution for this user grants it".into(),
                    ),
                };
                ReasonView {
                    reason,
                    role_name,
                    via_name,
                    message,
                }
            })
            .collect();
        Ok(ExplainView {
            login: user.login,
            product: product.to_string(),
            holds: e.holds,
            reasons,
        })
    }
}
