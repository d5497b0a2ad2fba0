//! The license request and license file formats (L1, L2, L6). See `docs/LICENSE-FILES.md`.
//!
//! A license file is a small JSON envelope around a base64 payload; the Ed25519 signature
//! covers the payload's exact bytes, so no JSON canonicalisation is needed and any change to
//! the payload, however small, breaks the signature.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use crate::error::{brief, quoted};
use crate::{Area, AreaLimit, Error, LicenseError, Package, Product, validate_code};

pub const LICENSE_FORMAT: &str = "seatkeeper-license/1";
pub const REQUEST_FORMAT: &str = "seatkeeper-license-request/1";

/// What a customer sends the vendor (L1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseRequest {
    pub format: String,
    pub company_id: String,
    pub instance_id: String,
    pub application_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub usage: Vec<UsageLine>,
    /// Active users per area (built-in administrator excluded).
    pub active_users: BTreeMap<Area, u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageLine {
    pub product: String,
    pub area: Area,
    pub kind: crate::SeatKind,
    pub capacity: u64,
    pub used: u64,
}

/// What the vendor sold: the input of `seatkeeper vendor issue` next to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_from: Option<OffsetDateTime>,
    pub products: Vec<Product>,
    pub packages: Vec<OrderPackage>,
    #[serde(default)]
    pub area_limits: Vec<OrderAreaLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPackage {
    pub serial: String,
    pub product: String,
    pub kind: crate::SeatKind,
    pub area: Area,
    pub seats: u32,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires: Option<OffsetDateTime>,
    #[serde(default)]
    pub replaces: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAreaLimit {
    pub area: Area,
    pub max_users: u32,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub valid_from: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub expires: Option<OffsetDateTime>,
}

/// The signed content of a license file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicensePayload {
    pub license_id: String,
    pub company_id: String,
    pub instance_id: String,
    pub application_version: String,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// The file cannot be imported before this instant.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    pub products: Vec<Product>,
    pub packages: Vec<Package>,
    #[serde(default)]
    pub area_limits: Vec<AreaLimit>,
}

/// The file on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LicenseEnvelope {
    pub format: String,
    pub key_id: String,
    pub payload: String,
    pub signature: String,
}

/// A license file whose signature has been checked against a trusted key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedLicense {
    pub payload: LicensePayload,
    pub key_id: String,
    /// SHA-256 of the signed payload: re-importing the same file is recognised by it.
    pub digest: String,
}

/// Short, stable fingerprint of a vendor public key, written into every file it signs.
pub fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    // The fingerprint is the first 8 of the digest's 32 bytes.
    let head: Vec<u8> = digest.iter().take(8).copied().collect();
    hex(&head)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl LicensePayload {
    /// Internal consistency of a payload, checked when issuing and again when importing.
    pub fn validate(&self) -> Result<(), LicenseError> {
        let bad = |m: String| Err(LicenseError::Invalid(m));
        let products: BTreeSet<&str> = self.products.iter().map(|p| p.code.as_str()).collect();
        if products.len() != self.products.len() {
            return bad("a product is declared twice".into());
        }
        for p in &self.products {
            validate_code("product code", &p.code)
                .map_err(|e| LicenseError::Invalid(e.to_string()))?;
            if p.name.trim().is_empty() {
                return bad(format!("product {} has no name", p.code));
            }
        }
        if self.packages.is_empty() {
            return bad("the file holds no packages".into());
        }
        let mut serials = BTreeSet::new();
        for p in &self.packages {
            validate_code("serial", &p.serial).map_err(|e| LicenseError::Invalid(e.to_string()))?;
            if !serials.insert(p.serial.as_str()) {
                return bad(format!("serial {} appears twice", p.serial));
            }
            if !products.contains(p.product.as_str()) {
                return bad(format!(
                    "package {} is for product {}, which the file does not declare",
                    p.serial,
                    quoted(&p.product)
                ));
            }
            if p.seats == 0 {
                return bad(format!("package {} has no seats", p.serial));
            }
            if p.expires.is_some_and(|e| e <= p.valid_from) {
                return bad(format!(
                    "package {} expires before it becomes valid",
                    p.serial
                ));
            }
            if p.valid_from < self.valid_from {
                return bad(format!("package {} starts before the file does", p.serial));
            }
            if p.replaces.iter().any(|r| r == &p.serial) {
                return bad(format!("package {} replaces itself", p.serial));
            }
        }
        for l in &self.area_limits {
            if l.expires.is_some_and(|e| e <= l.valid_from) {
                return bad(format!(
                    "the {} user limit expires before it becomes valid",
                    l.area
                ));
            }
        }
        Ok(())
    }

    /// The instant after which nothing in the file counts any more (`None`: something is perpetual).
    pub fn latest_expiry(&self) -> Option<OffsetDateTime> {
        let mut latest = None;
        for e in self.packages.iter().map(|p| p.expires) {
            match e {
                None => return None,
                Some(e) => latest = Some(latest.map_or(e, |l: OffsetDateTime| l.max(e))),
            }
        }
        latest
    }
}

/// Vendor side (L6): turn a request and an order into a signed license file.
pub fn issue(
    key: &SigningKey,
    request: &LicenseRequest,
    order: &Order,
    license_id: String,
    now: OffsetDateTime,
) -> Result<String, Error> {
    if request.format != REQUEST_FORMAT {
        return Err(Error::Invalid(format!(
            "unsupported license request format {}; expected {REQUEST_FORMAT:?}",
            quoted(&request.format)
        )));
    }
    let valid_from = order.valid_from.unwrap_or(now);
    let payload = LicensePayload {
        license_id,
        company_id: request.company_id.clone(),
        instance_id: request.instance_id.clone(),
        application_version: request.application_version.clone(),
        issued_at: now,
        valid_from,
        products: order.products.clone(),
        packages: order
            .packages
            .iter()
            .map(|p| Package {
                serial: p.serial.clone(),
                product: p.product.clone(),
                kind: p.kind,
                area: p.area,
                seats: p.seats,
                valid_from: p.valid_from.unwrap_or(valid_from),
                expires: p.expires,
                replaces: p.replaces.clone(),
            })
            .collect(),
        area_limits: order
            .area_limits
            .iter()
            .map(|l| AreaLimit {
                area: l.area,
                max_users: l.max_users,
                valid_from: l.valid_from.unwrap_or(valid_from),
                expires: l.expires,
            })
            .collect(),
    };
    payload.validate()?;
    sign(key, &payload)
}

/// Serialises and signs a payload into the license file text.
pub fn sign(key: &SigningKey, payload: &LicensePayload) -> Result<String, Error> {
    let bytes = serde_json::to_vec(payload)
        .map_err(|e| Error::Invalid(format!("cannot serialise license: {e}")))?;
    let signature = key.sign(&bytes);
    let envelope = LicenseEnvelope {
        format: LICENSE_FORMAT.to_string(),
        key_id: key_id(&key.verifying_key()),
        payload: B64.encode(&bytes),
        signature: B64.encode(signature.to_bytes()),
    };
    serde_json::to_string_pretty(&envelope)
        .map_err(|e| Error::Invalid(format!("cannot serialise license: {e}")))
}

fn parse_envelope(text: &str) -> Result<LicenseEnvelope, LicenseError> {
    let envelope: LicenseEnvelope = serde_json::from_str(text).map_err(|e| {
        LicenseError::Malformed(if e.is_eof() {
            "the file is truncated".to_string()
        } else {
            brief(format!("not a license envelope: {e}"))
        })
    })?;
    if envelope.format != LICENSE_FORMAT {
        return Err(LicenseError::UnsupportedFormat(envelope.format));
    }
    Ok(envelope)
}

/// Reads an envelope without checking the signature: for `inspect`, which must show any file.
pub fn decode_unverified(text: &str) -> Result<(LicenseEnvelope, LicensePayload), LicenseError> {
    let envelope = parse_envelope(text)?;
    let bytes = B64
        .decode(envelope.payload.trim())
        .map_err(|e| LicenseError::Malformed(brief(format!("payload is not base64: {e}"))))?;
    let payload: LicensePayload = serde_json::from_slice(&bytes)
        .map_err(|e| LicenseError::Malformed(brief(format!("payload is not a license: {e}"))))?;
    Ok((envelope, payload))
}

/// Customer side (L2): check the signature with the trusted vendor keys.
pub fn verify(text: &str, trusted: &[VerifyingKey]) -> Result<VerifiedLicense, LicenseError> {
    let envelope = parse_envelope(text)?;
    let key = trusted
        .iter()
        .find(|k| key_id(k) == envelope.key_id)
        .ok_or_else(|| LicenseError::UntrustedKey {
            key_id: envelope.key_id.clone(),
        })?;
    let bytes = B64
        .decode(envelope.payload.trim())
        .map_err(|_| LicenseError::Tampered)?;
    let sig_bytes = B64
        .decode(envelope.signature.trim())
        .map_err(|_| LicenseError::Tampered)?;
    let signature = Signature::from_slice(&sig_bytes).map_err(|_| LicenseError::Tampered)?;
    key.verify_strict(&bytes, &signature)
        .map_err(|_| LicenseError::Tampered)?;
    let payload: LicensePayload = serde_json::from_slice(&bytes).map_err(|e| {
        LicenseError::Malformed(brief(format!("signed payload is not a license: {e}")))
    })?;
    payload.validate()?;
    Ok(VerifiedLicense {
        payload,
        key_id: envelope.key_id,
        digest: hex(&Sha256::digest(&bytes)),
    })
}

/// The binding and validity checks made at import, after the signature (L2).
pub fn check_binding(
    payload: &LicensePayload,
    company_id: Option<&str>,
    instance_id: &str,
    now: OffsetDateTime,
) -> Result<(), LicenseError> {
    let company = company_id.ok_or(LicenseError::NoCompany)?;
    if payload.company_id != company {
        return Err(LicenseError::WrongCompany {
            expected: company.to_string(),
            found: payload.company_id.clone(),
        });
    }
    if payload.instance_id != instance_id {
        return Err(LicenseError::WrongInstance {
            expected: instance_id.to_string(),
            found: payload.instance_id.clone(),
        });
    }
    if now < payload.valid_from {
        return Err(LicenseError::NotYetValid {
            valid_from: payload.valid_from,
        });
    }
    if let Some(latest) = payload.latest_expiry()
        && latest <= now
    {
        return Err(LicenseError::Expired { latest });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SeatKind;
    use time::macros::datetime;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn request() -> LicenseRequest {
        LicenseRequest {
            format: REQUEST_FORMAT.into(),
            company_id: "ACME".into(),
            instance_id: "inst-1".into(),
            application_version: "8.1".into(),
            generated_at: datetime!(2026-01-01 0:00 UTC),
            usage: vec![],
            active_users: BTreeMap::new(),
        }
    }

    fn order() -> Order {
        Order {
            valid_from: None,
            products: vec![Product {
                code: "crm".into(),
                name: "CRM".into(),
                features: vec!["contacts".into()],
                all_modules: true,
            }],
            packages: vec![OrderPackage {
                serial: "S-1".into(),
                product: "crm".into(),
                kind: SeatKind::Named,
                area: Area::Employee,
                seats: 5,
                valid_from: None,
                expires: Some(datetime!(2027-01-01 0:00 UTC)),
                replaces: vec![],
            }],
            area_limits: vec![],
        }
    }

    #[test]
    fn l6_issued_file_verifies_with_the_vendor_key_only() {
        let now = datetime!(2026-01-02 0:00 UTC);
        let text = issue(&key(1), &request(), &order(), "lic-1".into(), now).unwrap();
        let ok = verify(&text, &[key(1).verifying_key()]).unwrap();
        assert_eq!(ok.payload.company_id, "ACME");
        assert!(matches!(
            verify(&text, &[key(2).verifying_key()]),
            Err(LicenseError::UntrustedKey { .. })
        ));
    }

    #[test]
    fn l2_any_change_to_the_payload_is_detected() {
        let now = datetime!(2026-01-02 0:00 UTC);
        let text = issue(&key(1), &request(), &order(), "lic-1".into(), now).unwrap();
        let (mut env, mut payload) = decode_unverified(&text).unwrap();
        payload.packages[0].seats = 500;
        env.payload = B64.encode(serde_json::to_vec(&payload).unwrap());
        let forged = serde_json::to_string(&env).unwrap();
        assert_eq!(
            verify(&forged, &[key(1).verifying_key()]),
            Err(LicenseError::Tampered)
        );
        let truncated = &text[..text.len() / 2];
        assert!(matches!(
            verify(truncated, &[key(1).verifying_key()]),
            Err(LicenseError::Malformed(m)) if m.contains("truncated")
        ));
    }

    #[test]
    fn l2_binding_checks_company_instance_and_window() {
        let now = datetime!(2026-01-02 0:00 UTC);
        let text = issue(&key(1), &request(), &order(), "lic-1".into(), now).unwrap();
        let p = verify(&text, &[key(1).verifying_key()]).unwrap().payload;
        assert!(check_binding(&p, Some("ACME"), "inst-1", now).is_ok());
        assert!(matches!(
            check_binding(&p, Some("OTHER"), "inst-1", now),
            Err(LicenseError::WrongCompany { .. })
        ));
        assert!(matches!(
            check_binding(&p, Some("ACME"), "inst-2", now),
            Err(LicenseError::WrongInstance { .. })
        ));
        assert!(matches!(
            check_binding(&p, Some("ACME"), "inst-1", datetime!(2025-12-01 0:00 UTC)),
            Err(LicenseError::NotYetValid { .. })
        ));
        assert!(matches!(
            check_binding(&p, Some("ACME"), "inst-1", datetime!(2027-02-01 0:00 UTC)),
            Err(LicenseError::Expired { .. })
        ));
    }

    #[test]
    fn l6_orders_that_make_no_sense_are_refused() {
        let mut o = order();
        o.packages[0].product = "nope".into();
        let err = issue(
            &key(1),
            &request(),
            &o,
            "x".into(),
            datetime!(2026-01-02 0:00 UTC),
        );
        assert!(matches!(err, Err(Error::License(LicenseError::Invalid(m))) if m.contains("nope")));
    }
}
