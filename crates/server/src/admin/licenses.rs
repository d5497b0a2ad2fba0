//! Licenses (L1–L5, X1): the instance, license requests and files, packages, products, seat
//! placement in folders and re-evaluating capacity.

use axum::extract::State;
use axum::{Extension, Json};
use seatkeeper_core::license::LicenseRequest;
use seatkeeper_store::{
    DeleteLicensesReport, ImportReport, InstanceInfo, LicenseFileView, PackageView, Principal,
    ProductView, SeatChanges,
};
use serde::Deserialize;

use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, ApiText, Caller};

pub async fn instance(State(state): State<AppState>) -> ApiResult<Json<InstanceInfo>> {
    Ok(Json(state.ledger.instance().await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenseRequestBody {
    pub company_id: Option<String>,
    pub app_version: Option<String>,
}

pub async fn license_request(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<LicenseRequestBody>,
) -> ApiResult<Json<LicenseRequest>> {
    let version = body
        .app_version
        .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string());
    Ok(Json(
        state
            .ledger
            .license_request(&p.actor, body.company_id.as_deref(), &version)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyIdBody {
    pub company_id: String,
}

/// The one way to change a recorded company id (a license request refuses a different one).
pub async fn set_company_id(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<CompanyIdBody>,
) -> ApiResult<Json<InstanceInfo>> {
    Ok(Json(
        state
            .ledger
            .set_company_id(&p.actor, &body.company_id)
            .await?,
    ))
}

pub async fn license_files(State(state): State<AppState>) -> ApiResult<Json<Vec<LicenseFileView>>> {
    Ok(Json(state.ledger.license_files().await?))
}

/// The body is the license file itself, as the vendor sent it.
pub async fn import_license(
    State(state): State<AppState>,
    p: Caller,
    ApiText(body): ApiText,
) -> ApiResult<Json<ImportReport>> {
    if state.settings.vendor_keys.is_empty() {
        return Err(ApiError::no_vendor_key());
    }
    Ok(Json(
        state
            .ledger
            .import_license(&p.actor, &body, &state.settings.vendor_keys)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ConfirmQuery {
    pub confirm: Option<bool>,
}

pub async fn delete_all_licenses(
    State(state): State<AppState>,
    p: Caller,
    ApiQuery(q): ApiQuery<ConfirmQuery>,
) -> ApiResult<Json<DeleteLicensesReport>> {
    if q.confirm != Some(true) {
        return Err(ApiError::invalid(
            "deleting every license switches the installation to demo mode: repeat with ?confirm=true",
        ));
    }
    Ok(Json(state.ledger.delete_all_licenses(&p.actor).await?))
}

pub async fn packages(State(state): State<AppState>) -> ApiResult<Json<Vec<PackageView>>> {
    Ok(Json(state.ledger.packages().await?))
}

pub async fn products(State(state): State<AppState>) -> ApiResult<Json<Vec<ProductView>>> {
    Ok(Json(state.ledger.products().await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlacementBody {
    pub serial: String,
    /// Folder path ("Sales/North"); "" or "/" is the root.
    pub folder: String,
    pub seats: u32,
}

pub async fn place_seats(
    State(state): State<AppState>,
    p: Caller,
    ApiJson(body): ApiJson<PlacementBody>,
) -> ApiResult<Json<Vec<PackageView>>> {
    state
        .ledger
        .place_seats(&p.actor, &body.serial, &body.folder, body.seats)
        .await?;
    Ok(Json(state.ledger.packages().await?))
}

pub async fn refresh(
    State(state): State<AppState>,
    Extension(_p): Extension<Principal>,
) -> ApiResult<Json<SeatChanges>> {
    Ok(Json(state.ledger.refresh().await?))
}
