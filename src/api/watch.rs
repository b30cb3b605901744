//! Routes of the watchlist and its alerts: the list (admin), recent alerts and the live
//! stream of new ones (Server-Sent Events, resumable with `Last-Event-ID`).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::guard::AuditTarget;
use super::params::parse_query;
use super::{parse_id, ApiError, AppState};
use crate::plate::search::PlateQuery;
use crate::store::trust::{self, AlertView, Caller};

pub(super) async fn list_watches(State(state): State<AppState>) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    Ok(Json(json!({ "items": trust::watchlist(&client).await? })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewWatchBody {
    pattern: String,
    mode: Option<String>,
    reason: Option<String>,
}

pub(super) async fn add_watch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Result<Json<NewWatchBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(|e| ApiError::BadRequest(format!("body: {e}")))?;
    let mode = super::params::parse_mode(body.mode.as_deref())?;
    let query = PlateQuery::parse(&body.pattern, mode).map_err(|e| ApiError::bad("pattern", e))?;
    let reason = super::params::require_reason(body.reason.as_deref())?;
    let mut client = state.store.client().await?;
    let id = trust::add_watch(&mut client, &query, &reason, &caller.name).await?;
    let (pattern, mode, _, _) = trust::watch_columns(&query);
    let mut r = (
        StatusCode::CREATED,
        Json(json!({ "id": id, "pattern": pattern, "mode": mode, "reason": reason })),
    )
        .into_response();
    r.extensions_mut()
        .insert(AuditTarget(format!("watch:{id}")));
    Ok(r)
}

pub(super) async fn remove_watch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let client = state.store.client().await?;
    if !trust::remove_watch(&client, id, &caller.name).await? {
        return Err(ApiError::not_found(format!("no watch {id}")));
    }
    let mut r = Json(json!({ "removed": id })).into_response();
    r.extensions_mut()
        .insert(AuditTarget(format!("watch:{id}")));
    Ok(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertParams {
    limit: Option<String>,
}

pub(super) async fn list_alerts(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: AlertParams = parse_query(raw.as_deref())?;
    let limit = i64::from(super::params::parse_limit(p.limit.as_deref(), 50, 500)?);
    let client = state.store.client().await?;
    Ok(Json(json!({ "items": trust::recent_alerts(&client, limit).await? })).into_response())
}

fn event(alert: &AlertView) -> Event {
    Event::default()
        .event("alert")
        .id(alert.id.to_string())
        .json_data(alert)
        .unwrap_or_else(|_| Event::default().comment("unserialisable alert"))
}

/// New alerts as they are raised. A client that reconnects with `Last-Event-ID` first gets
/// the alerts it missed.
pub(super) async fn alert_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // Subscribe before the catch-up query, so nothing falls between the two.
    let live = state.alerts.subscribe();
    let missed = match headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        Some(after) => {
            let client = state.store.client().await?;
            trust::alerts_after(&client, after, 1000).await?
        }
        None => Vec::new(),
    };
    let mut last = missed.last().map_or(0, |a| a.id);
    let catch_up = stream::iter(missed.into_iter().map(|a| Ok(event(&a))));
    let live = stream::unfold(live, |mut rx| async move {
        match rx.recv().await {
            Ok(alert) => Some((Some(alert), rx)),
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("an alert stream fell {n} alerts behind");
                Some((None, rx))
            }
            Err(RecvError::Closed) => None,
        }
    })
    .filter_map(move |a| {
        // Skip what the catch-up already sent.
        let out = match a {
            Some(alert) if alert.id > last => {
                last = alert.id;
                Some(Ok(event(&alert)))
            }
            Some(_) => None,
            None => Some(Ok(
                Event::default().comment("some alerts were missed; reload")
            )),
        };
        async move { out }
    });
    // A live stream never ends by itself; it ends when the server shuts down.
    let events = catch_up.chain(live).take_until(state.alerts.closed());
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
