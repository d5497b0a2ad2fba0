//! Single sign-on just-in-time provisioning (I3): an OpenID Connect ID token, verified
//! against the issuer `[sso]` names (`verify`), becomes a user — login, name and e-mail from
//! its claims, roles from its groups claim through `group_roles` (`identity`).

pub mod config;
pub mod error;
pub mod verify;
#[cfg(test)]
mod verify_tests;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

pub use config::{Checked, SsoConfig};
pub use error::SsoError;
pub use verify::{Claims, Verifier};

/// What a verified ID token says about its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub login: String,
    /// `None`: the token does not say (a user keeps theirs; a new one is named by login).
    pub name: Option<String>,
    pub email: Option<String>,
    /// `None`: the token carries no groups claim, so roles are left as they are.
    pub groups: Option<Vec<String>>,
}

/// The user the claims describe. The login claim is required (without it the token names no
/// user we can match); name and e-mail are taken when they are non-empty strings.
pub fn identity(claims: &Claims, names: &config::ClaimNames) -> Result<Identity, SsoError> {
    let text = |claim: &str| {
        claims
            .get(claim)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let login = text(&names.login).ok_or_else(|| SsoError::MissingClaim(names.login.clone()))?;
    // Entra ID leaves the groups out of a token when there are too many and says where to
    // read them instead (`_claim_names`): that is not "no groups", so roles are kept.
    let overage = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|m| m.contains_key(&names.groups));
    let groups = match claims.get(&names.groups) {
        _ if overage => {
            tracing::warn!(login = %login, "the ID token's groups are not in it (too many groups); roles left unchanged");
            None
        }
        None | Some(Value::Null) => None,
        Some(Value::String(g)) => Some(vec![g.clone()]),
        Some(Value::Array(list)) => Some(
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        Some(other) => {
            return Err(SsoError::malformed(format!(
                "the `{}` claim is {}, not a list of group names",
                names.groups,
                seatkeeper_core::error::brief_to(other.to_string(), 100)
            )));
        }
    };
    Ok(Identity {
        login,
        name: text(&names.name),
        email: text(&names.email),
        groups,
    })
}

/// The roles provisioning manages (every role `group_roles` names) and, of those, the roles
/// the user's groups give. Roles outside the mapping — given by hand, by the directory — are
/// not touched.
pub fn roles_for(
    group_roles: &BTreeMap<String, BTreeSet<String>>,
    groups: &[String],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let managed = group_roles.values().flatten().cloned().collect();
    let wanted = groups
        .iter()
        .filter_map(|g| group_roles.get(g))
        .flatten()
        .cloned()
        .collect();
    (managed, wanted)
}

/// Warns, when `serve` starts, of `group_roles` entries every sign-in would be refused over:
/// a role that does not exist (`unknown_role`), or one provisioning may not change (it
/// carries permissions or is built in: a token from the identity provider never makes an
/// administrator). Not fatal: the roles may be created after the server starts.
pub async fn warn_of_unusable_roles(ledger: &seatkeeper_store::Ledger, config: &Checked) {
    let roles = match ledger.role_tree().await {
        Ok(roles) => roles,
        Err(e) => {
            tracing::warn!(error = %e, "single sign-on: cannot read the roles to check group_roles");
            return;
        }
    };
    for name in config.group_roles.values().flatten() {
        match roles.iter().find(|r| r.name.eq_ignore_ascii_case(name)) {
            None => tracing::warn!(
                role = %name,
                "single sign-on: [sso] group_roles names a role that does not exist; sign-ins \
                 are refused (unknown_role) until it is created"
            ),
            Some(r) if r.builtin || !r.permissions.is_empty() => tracing::warn!(
                role = %name,
                "single sign-on: [sso] group_roles names a role that carries permissions or is \
                 built in, which provisioning may not give or take; sign-ins are refused"
            ),
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn names() -> config::ClaimNames {
        config::ClaimNames {
            login: "preferred_username".into(),
            name: "name".into(),
            email: "email".into(),
            groups: "groups".into(),
        }
    }

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn i3_claims_become_login_name_email_and_groups() {
        let id = identity(
            &claims(
                json!({"sub": "1", "preferred_username": " alice ", "name": "Alice Archer",
                "email": "alice@example.com", "groups": ["sales", 7, "admins"]}),
            ),
            &names(),
        )
        .unwrap();
        assert_eq!(
            id,
            Identity {
                login: "alice".into(),
                name: Some("Alice Archer".into()),
                email: Some("alice@example.com".into()),
                groups: Some(vec!["sales".into(), "admins".into()]),
            }
        );
        // Other claim names, a single group as a string, an empty name.
        let other = config::ClaimNames {
            login: "upn".into(),
            groups: "roles".into(),
            ..names()
        };
        let id = identity(
            &claims(json!({"upn": "bob@corp", "name": "", "roles": "support"})),
            &other,
        )
        .unwrap();
        assert_eq!(id.login, "bob@corp");
        assert_eq!(id.name, None);
        assert_eq!(id.email, None);
        assert_eq!(id.groups, Some(vec!["support".into()]));
    }

    #[test]
    fn i3_a_token_without_the_login_claim_is_refused_and_without_groups_keeps_roles() {
        for c in [
            json!({"sub": "1", "email": "x@y"}),
            json!({"sub": "1", "preferred_username": ""}),
            json!({"sub": "1", "preferred_username": 42}),
        ] {
            assert_eq!(
                identity(&claims(c), &names()),
                Err(SsoError::MissingClaim("preferred_username".into()))
            );
        }
        let id = identity(&claims(json!({"preferred_username": "c"})), &names()).unwrap();
        assert_eq!(id.groups, None);
        let id = identity(
            &claims(json!({"preferred_username": "c", "groups": []})),
            &names(),
        )
        .unwrap();
        assert_eq!(id.groups, Some(vec![]));
        // Entra ID's group overage: not "no groups".
        let id = identity(
            &claims(json!({"preferred_username": "c", "groups": [],
                "_claim_names": {"groups": "src1"}})),
            &names(),
        )
        .unwrap();
        assert_eq!(id.groups, None);
        let e = identity(
            &claims(json!({"preferred_username": "c", "groups": {"a": 1}})),
            &names(),
        )
        .unwrap_err();
        assert_eq!(e.code(), "id_token_malformed");
    }

    #[test]
    fn i3_groups_map_to_roles_and_only_mapped_roles_are_managed() {
        let mut map = BTreeMap::new();
        map.insert("sales".to_string(), BTreeSet::from(["Sales".to_string()]));
        map.insert(
            "admins".to_string(),
            BTreeSet::from(["Admins".to_string(), "Sales".to_string()]),
        );
        map.insert(
            "support".to_string(),
            BTreeSet::from(["Support".to_string()]),
        );
        let (managed, wanted) = roles_for(&map, &["admins".into(), "unmapped".into()]);
        assert_eq!(
            managed.into_iter().collect::<Vec<_>>(),
            ["Admins", "Sales", "Support"]
        );
        assert_eq!(wanted.into_iter().collect::<Vec<_>>(), ["Admins", "Sales"]);
        let (_, wanted) = roles_for(&map, &[]);
        assert!(wanted.is_empty());
    }
}
