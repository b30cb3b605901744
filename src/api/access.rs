//! Routes of people: log in and out, who am I, users (admin) and the audit log (admin).
//!
//! Owns the session: a page login checks the argon2 hash and hands out a token that expires
//! after [`SESSION_HOURS`], as JSON and as an HttpOnly, SameSite=Strict cookie (so the page's
//! images and video, which cannot send headers, are authorised too).

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use chrono::{TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;

use super::guard::{session_cookie, AuditTarget, AuditUser};
use super::params::{parse_limit, parse_query, parse_time_opt};
use super::{ApiError, AppState};
use crate::access::{self, Role};
use crate::store::trust::{self, AuditFilter, Caller};

/// Hours a page login lasts.
pub const SESSION_HOURS: i64 = 12;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LoginBody {
    name: String,
    password: String,
}

pub(super) async fn login(
    State(state): State<AppState>,
    body: Result<Json<LoginBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(b) => b,
        Err(e) => return ApiError::BadRequest(format!("body: {e}")).into_response(),
    };
    let name = body.name.trim().to_string();
    let mut response = match login_inner(&state, &name, &body.password).await {
        Ok((user_id, role, token, expires_at)) => {
            let mut r = (
                StatusCode::OK,
                [(
                    header::SET_COOKIE,
                    session_cookie(&token, SESSION_HOURS * 3600),
                )],
                Json(json!({
                    "token": token, "name": name, "role": role, "expires_at": expires_at,
                })),
            )
                .into_response();
            r.extensions_mut().insert(AuditUser {
                user_id: Some(user_id),
                name: name.clone(),
                role: Some(role),
            });
            return r;
        }
        Err(e) => e.into_response(),
    };
    response.extensions_mut().insert(AuditUser {
        user_id: None,
        name: name.chars().take(64).collect(),
        role: None,
    });
    response
}

async fn login_inner(
    state: &AppState,
    name: &str,
    password: &str,
) -> Result<(i64, Role, String, chrono::DateTime<Utc>), ApiError> {
    let denied = || ApiError::Unauthorized("wrong name or password".into());
    if !access::valid_name(name) {
        return Err(denied());
    }
    let client = state.store.client().await?;
    let user = trust::login_user(&client, name).await?;
    let Some((user_id, role, Some(hash))) = user else {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return Err(denied());
    };
    let password = password.to_string();
    let ok = tokio::task::spawn_blocking(move || access::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    if !ok {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        return Err(denied());
    }
    let token = access::new_token().map_err(ApiError::internal)?;
    let expires_at = Utc::now() + TimeDelta::hours(SESSION_HOURS);
    trust::add_token(
        &client,
        user_id,
        &token.sha256,
        "page login",
        Some(expires_at),
    )
    .await?;
    Ok((user_id, role, token.secret, expires_at))
}

pub(super) async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    trust::revoke_token(&client, caller.token_id).await?;
    Ok((
        [(header::SET_COOKIE, session_cookie("", 0))],
        Json(json!({ "logged_out": caller.name })),
    )
        .into_response())
}

pub(super) async fn me(Extension(caller): Extension<Caller>) -> Response {
    Json(json!({ "name": caller.name, "role": caller.role })).into_response()
}

pub(super) async fn list_users(State(state): State<AppState>) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    Ok(Json(json!({ "items": trust::users(&client).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewUserBody {
    name: String,
    role: String,
    password: Option<String>,
}

pub(super) async fn add_user(
    State(state): State<AppState>,
    body: Result<Json<NewUserBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let role = Role::parse(&body.role).map_err(|e| ApiError::bad("role", e))?;
    if !access::valid_name(&body.name) {
        return Err(ApiError::bad("name", access::AccessError::BadName));
    }
    let hash = match body.password {
        None => None,
        Some(p) => Some(
            tokio::task::spawn_blocking(move || access::hash_password(&p))
                .await
                .map_err(ApiError::internal)?
                .map_err(|e| ApiError::bad("password", e))?,
        ),
    };
    let client = state.store.client().await?;
    if trust::user_id(&client, &body.name).await?.is_some() {
        return Err(ApiError::bad("name", "a user with that name exists"));
    }
    let id = trust::create_user(&client, &body.name, role, hash.as_deref()).await?;
    let token = access::new_token().map_err(ApiError::internal)?;
    trust::add_token(&client, id, &token.sha256, "made by an admin", None).await?;
    let mut r = (
        StatusCode::CREATED,
        Json(json!({ "id": id, "name": body.name, "role": role, "token": token.secret })),
    )
        .into_response();
    r.extensions_mut()
        .insert(AuditTarget(format!("user:{}", body.name)));
    Ok(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditParams {
    user: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

pub(super) async fn audit(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: AuditParams = parse_query(raw.as_deref())?;
    let nonempty = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
    let limit = i64::from(parse_limit(p.limit.as_deref(), 100, 1000)?);
    let before_id = match p.before.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            s.parse::<i64>()
                .ok()
                .filter(|v| *v > 0)
                .ok_or_else(|| ApiError::bad("before", "must be a positive integer"))?,
        ),
    };
    let filter = AuditFilter {
        user: nonempty(p.user),
        action: nonempty(p.action),
        from: parse_time_opt("from", p.from.as_deref())?,
        to: parse_time_opt("to", p.to.as_deref())?,
        before_id,
    };
    let client = state.store.client().await?;
    let items = trust::audit(&client, &filter, limit).await?;
    let next = (items.len() as i64 == limit)
        .then(|| items.last().map(|a| a.id))
        .flatten();
    Ok(Json(json!({ "items": items, "next_before": next })).into_response())
}
