//! Access codes over HTTP: issuing (administration and class teachers), redeeming (rate-limited, no token
//! needed), and a user's own devices.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppError, Caller, JsonBody, principal};
use crate::app::App;
use crate::services::codes::{CodeRequest, DEFAULT_VALID_DAYS};
use crate::store::{CodeRole, Device};

/// The body of `POST /v1/codes`.
#[derive(Deserialize)]
pub struct IssueBody {
    role: CodeRole,
    account: Option<String>,
    student: Option<String>,
    valid_days: Option<u32>,
}

/// `POST /v1/codes`: issues a one-time code; the code is in this response only.
pub async fn issue(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    JsonBody(body): JsonBody<IssueBody>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let student = body
        .student
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: journal_core::InputError| AppError::BadRequest(e.to_string()))?;
    let request = CodeRequest {
        role: body.role,
        account: body.account,
        student,
        valid_days: body.valid_days.unwrap_or(DEFAULT_VALID_DAYS),
    };
    let issued = app.services.issue_code(&who, &request)?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "code": issued.code.to_string(),
            "code_id": issued.record.id,
            "expires_at": issued.record.expires_at,
        })),
    ))
}

/// The body of `POST /v1/redeem`.
#[derive(Deserialize)]
pub struct RedeemBody {
    code: String,
    #[serde(default)]
    label: String,
    /// The token secret the device proposes, so that sending the code again gets the same answer.
    #[serde(default)]
    secret: Option<String>,
    /// The account the device is signed in as: a code for another account is refused unspent.
    #[serde(default)]
    keep_account: Option<String>,
}

/// `POST /v1/redeem`: trades a code for a device token. Limited per client address and per code family
/// (see [`crate::ratelimit::RedeemLimits`]).
pub async fn redeem(
    State(app): State<Arc<App>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RedeemBody>,
) -> Result<Json<Value>, AppError> {
    // A code that does not parse is refused like a wrong one, but still counts against the address.
    let canonical = body
        .code
        .parse::<journal_core::access_code::AccessCode>()
        .map(|c| c.canonical())
        .unwrap_or_default();
    if let Err(wait) = app.redeem_limits.admit(client.ip(), &canonical) {
        tracing::warn!(client = %client.ip(), "code redemption rate limit reached");
        return Err(AppError::TooMany(wait.as_secs().max(1)));
    }
    // A device that is already signed in (a parent adding a second child) says so with its token.
    let signed_in = match headers.get(header::AUTHORIZATION) {
        Some(_) => Some(principal(&app, &headers)?),
        None => None,
    };
    if body.label.trim() == crate::auth::CONSOLE_DEVICE {
        return Err(AppError::BadRequest(format!(
            "the device name «{}» is kept for the web console's sign-ins; choose another",
            crate::auth::CONSOLE_DEVICE
        )));
    }
    let label = if body.label.trim().is_empty() {
        "device"
    } else {
        body.label.as_str()
    };
    let typed = crate::services::codes::TypedCode {
        code: &body.code,
        label,
        secret: body.secret.as_deref(),
        keep_account: body.keep_account.as_deref(),
    };
    let redeemed = app.services.redeem_code(&typed, signed_in.as_ref())?;
    Ok(Json(json!({
        "account": redeemed.account.id,
        "role": redeemed.account.role.as_str(),
        "name": redeemed.account.name,
        "device": redeemed.token.as_ref().map(|t| t.device.id.clone()).or(signed_in.map(|w| w.device.id)),
        "token": redeemed.token.map(|t| t.token),
    })))
}

/// `GET /v1/me/devices`: the caller's devices.
pub async fn my_devices(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
) -> Result<Json<Vec<Device>>, AppError> {
    Ok(Json(app.services.devices_of(&who, &who.account.id)?))
}

/// `POST /v1/me/devices/{id}/revoke`: revokes one of the caller's devices (a lost phone).
pub async fn revoke_my_device(
    State(app): State<Arc<App>>,
    Caller(who): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    app.services.revoke_device(&who, &id)?;
    Ok(StatusCode::NO_CONTENT)
}
