//! The gate of every `/api` request: who is asking, may they, and the audit row.
//!
//! Owns authentication (a bearer token, or the page's session cookie holding one), the role
//! check of each route (`access::rule_for`), and the audit log: every `/api` request, allowed
//! or not, leaves one row with the user, the action, the query parameters, the reason and the
//! answer's status, and its id comes back in `X-Audit-Id`. If that row cannot be written, the
//! answer is a 503 instead: nothing is served without its audit row.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::access::{self, Role};
use crate::store::trust::{self, AuditEntry, Caller};

/// Name of the page's session cookie (HttpOnly, SameSite=Strict).
pub const SESSION_COOKIE: &str = "matthan_session";

/// What a handler touched, for the audit row (set as a response extension).
#[derive(Debug, Clone)]
pub struct AuditTarget(pub String);

/// Who a public route (the login) acted for, for the audit row (a response extension).
#[derive(Debug, Clone)]
pub struct AuditUser {
    /// The user, when the name is known.
    pub user_id: Option<i64>,
    /// The name given.
    pub name: String,
    /// Their role, when known.
    pub role: Option<Role>,
}

/// The token of a request: `Authorization: Bearer …`, else the session cookie.
fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let v = v.trim();
        let token = v
            .strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))?;
        return Some(token.trim().to_string());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.trim().to_string())
}

/// The query parameters as a JSON object (a value given twice keeps the last), and the reason.
fn params_of(raw: Option<&str>) -> (serde_json::Value, Option<String>) {
    let raw = raw.unwrap_or("");
    match serde_urlencoded::from_str::<Vec<(String, String)>>(raw) {
        Ok(pairs) => {
            let reason = pairs
                .iter()
                .rev()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v.trim().to_string())
                .filter(|v| !v.is_empty());
            let map: serde_json::Map<String, serde_json::Value> = pairs
                .into_iter()
                .filter(|(k, _)| k != "reason")
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect();
            (serde_json::Value::Object(map), reason)
        }
        Err(_) => (serde_json::json!({ "_raw": raw }), None),
    }
}

/// Authenticates, authorises and audits an `/api` request; anything else passes through.
pub async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if !(path == "/api" || path.starts_with("/api/")) {
        return next.run(request).await;
    }
    let method = request.method().as_str().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| path.clone());
    let rule = access::rule_for(&method, &route);
    let (params, reason) = params_of(request.uri().query());
    let mut entry = AuditEntry {
        action: rule.action.to_string(),
        method,
        path,
        params,
        reason,
        client: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        ..AuditEntry::default()
    };

    let response = match rule.role {
        None => next.run(request).await,
        Some(needed) => match authenticate(&state, request.headers()).await {
            Err(e) => e.into_response(),
            Ok(caller) => {
                entry.user_id = Some(caller.user_id);
                entry.user_name = Some(caller.name.clone());
                entry.role = Some(caller.role.as_str().to_string());
                if caller.role < needed {
                    ApiError::Forbidden(format!(
                        "{} needs the {} role; {} is {}",
                        rule.action,
                        needed.as_str(),
                        caller.name,
                        caller.role.as_str()
                    ))
                    .into_response()
                } else {
                    request.extensions_mut().insert(caller);
                    next.run(request).await
                }
            }
        },
    };
    if let Some(user) = response.extensions().get::<AuditUser>() {
        entry.user_id = user.user_id;
        entry.user_name = Some(user.name.clone());
        entry.role = user.role.map(|r| r.as_str().to_string());
    }
    entry.target = response
        .extensions()
        .get::<AuditTarget>()
        .map(|t| t.0.clone());
    entry.status = response.status().as_u16() as i16;
    let written = match state.store.client().await {
        Ok(client) => trust::append_audit(&client, &entry).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(id) => {
            let mut response = response;
            if let Ok(v) = HeaderValue::from_str(&id.to_string()) {
                response.headers_mut().insert("x-audit-id", v);
            }
            response
        }
        Err(e) => {
            tracing::error!("audit row not written ({e}); answering 503");
            ApiError::Unavailable(format!("the audit log cannot be written: {e}")).into_response()
        }
    }
}

/// The caller holding the request's token.
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let node_token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case(super::internal::SCHEME));
    if node_token {
        return Err(ApiError::Unauthorized(
            "a node token opens only the internal routes; /api takes a user's token".into(),
        ));
    }
    let token = token_of(headers).ok_or_else(|| {
        ApiError::Unauthorized("a token is required (Authorization: Bearer …, or log in)".into())
    })?;
    if !access::looks_like_token(&token) {
        return Err(ApiError::Unauthorized(
            "not a token this server gave out".into(),
        ));
    }
    let client = state.store.client().await?;
    trust::caller_by_token(&client, &access::token_hash(&token))
        .await?
        .ok_or_else(|| ApiError::Unauthorized("unknown, expired or revoked token".into()))
}

/// The `Set-Cookie` value of a session holding `token` for `max_age_s` seconds (0 clears it).
pub fn session_cookie(token: &str, max_age_s: i64) -> String {
    format!("{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_come_from_the_header_or_the_cookie() {
        let mut h = HeaderMap::new();
        assert_eq!(token_of(&h), None);
        h.insert(
            header::COOKIE,
            "a=1; matthan_session=mth_x; b=2".parse().unwrap(),
        );
        assert_eq!(token_of(&h).as_deref(), Some("mth_x"));
        h.insert(header::AUTHORIZATION, "Bearer mth_y".parse().unwrap());
        assert_eq!(token_of(&h).as_deref(), Some("mth_y"));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(token_of(&h), None);
    }

    #[test]
    fn params_keep_everything_but_the_reason() {
        let (p, r) = params_of(Some("plate=29B1%2A&reason=case+12&limit=5"));
        assert_eq!(p, serde_json::json!({"plate": "29B1*", "limit": "5"}));
        assert_eq!(r.as_deref(), Some("case 12"));
        let (p, r) = params_of(None);
        assert_eq!(p, serde_json::json!({}));
        assert_eq!(r, None);
    }
}
