//! The road as one picture: a plate's corridor (trips, hops, travel times, impossible hops and
//! skipped junctions) and the plates travelling with it.
//!
//! Both are looks at someone's movements: a reason is required and the request is audited
//! (by the guard) like a plate search. Windows are at most [`MAX_WINDOW`]; without `from` the
//! last 7 days up to `to` (default now) are searched.

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;

use super::params::{self, parse_query, parse_time_opt};
use super::{audited, ApiError, AppState};
use crate::plate::search::{PlateQuery, SearchMode};
use crate::store::query::{self, CompanionSearch};

/// Longest window a corridor or companion search may cover.
pub const MAX_WINDOW: TimeDelta = TimeDelta::days(31);

/// Window searched when `from` is not given.
const DEFAULT_WINDOW: TimeDelta = TimeDelta::days(7);

/// Longest "together" window of a companion search.
pub const MAX_TOGETHER: TimeDelta = TimeDelta::minutes(10);

/// The [from, to) of a road request: `to` defaults to now, `from` to 7 days before it.
fn window(
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
    let to = parse_time_opt("to", to)?.unwrap_or_else(Utc::now);
    let from = parse_time_opt("from", from)?.unwrap_or(to - DEFAULT_WINDOW);
    if to <= from {
        return Err(ApiError::bad("to", "must be after from"));
    }
    if to - from > MAX_WINDOW {
        return Err(ApiError::bad(
            "from",
            format!("the window covers at most {} days", MAX_WINDOW.num_days()),
        ));
    }
    Ok((from, to))
}

/// The `plate` parameter, trimmed; absent or empty is a 400.
fn required_plate(raw: Option<&str>) -> Result<&str, ApiError> {
    raw.map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad("plate", "is required"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CorridorParams {
    plate: Option<String>,
    mode: Option<String>,
    from: Option<String>,
    to: Option<String>,
    reason: Option<String>,
}

/// `GET /api/corridor`: the passages of a plate (or of each plate a pattern matches) across
/// all junctions, grouped into trips with hops.
pub(super) async fn corridor(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: CorridorParams = parse_query(raw.as_deref())?;
    let text = required_plate(p.plate.as_deref())?;
    let mode = params::parse_mode(p.mode.as_deref())?.or(Some(SearchMode::Exact));
    let plate_query = PlateQuery::parse(text, mode).map_err(|e| ApiError::bad("plate", e))?;
    params::require_reason(p.reason.as_deref())?;
    let (from, to) = window(p.from.as_deref(), p.to.as_deref())?;

    let mut client = state.store.client().await?;
    let corridor = query::corridor(&mut client, &plate_query, from, to, &state.road).await?;
    let body = json!({
        "plate": text,
        "mode": plate_query.mode().as_str(),
        "from": from,
        "to": to,
        "rules": state.road,
        "junctions": corridor.junctions,
        "truncated": corridor.truncated,
        "vehicles": corridor.vehicles,
    });
    Ok(audited(Json(body).into_response(), format!("plate:{text}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanionParams {
    plate: Option<String>,
    from: Option<String>,
    to: Option<String>,
    window: Option<String>,
    min_junctions: Option<String>,
    limit: Option<String>,
    reason: Option<String>,
}

/// `GET /api/companions`: plates seen at the same junctions within `window` of the target's
/// passages, ranked by how many junctions they share.
pub(super) async fn companions(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: CompanionParams = parse_query(raw.as_deref())?;
    let text = required_plate(p.plate.as_deref())?;
    let key = match PlateQuery::parse(text, Some(SearchMode::Exact))
        .map_err(|e| ApiError::bad("plate", e))?
    {
        PlateQuery::Exact(key) => key,
        _ => return Err(ApiError::bad("plate", "companions need one whole plate")),
    };
    params::require_reason(p.reason.as_deref())?;
    let (from, to) = window(p.from.as_deref(), p.to.as_deref())?;
    let together = params::parse_duration(
        "window",
        p.window.as_deref(),
        TimeDelta::seconds(30),
        MAX_TOGETHER,
    )?;
    let min_junctions = params::parse_limit(p.min_junctions.as_deref(), 2, 50)
        .map_err(|_| ApiError::bad("min_junctions", "must be an integer from 1 to 50"))?;
    let limit = params::parse_limit(p.limit.as_deref(), 50, 500)?;
    let search = CompanionSearch {
        from,
        to,
        window: together,
        min_junctions: i64::from(min_junctions),
        limit: i64::from(limit),
    };
    let mut client = state.store.client().await?;
    let (items, target_passages) = query::companions(&mut client, &key, &search).await?;
    let body = json!({
        "plate": key,
        "from": from,
        "to": to,
        "window_s": together.num_seconds(),
        "min_junctions": min_junctions,
        "target_passages": target_passages,
        "items": items,
    });
    Ok(audited(Json(body).into_response(), format!("plate:{key}")))
}
