//! `GET /api/counts`: vehicles per bucket, class and direction at a junction, as JSON or as
//! CSV to hand in (`format=csv` or `Accept: text/csv`).
//!
//! A bucket too small for the window (more than [`MAX_BUCKETS`]) is widened to the smallest
//! one that fits, and the answer says so (`bucket_requested`), so "all time" in 15-minute
//! buckets shows days instead of an error.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use serde_json::json;

use super::params::{parse_query, parse_time};
use super::{ApiError, AppState};
use crate::store::query::{self, Bucket, CountRow};

/// Most buckets one answer holds.
pub const MAX_BUCKETS: i64 = 10_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CountParams {
    junction: Option<String>,
    from: Option<String>,
    to: Option<String>,
    bucket: Option<String>,
    format: Option<String>,
}

/// The requested bucket if the window fits in [`MAX_BUCKETS`] of it, else the smallest larger
/// one that does; `None` when none does.
pub fn fitting_bucket(requested: Bucket, from: DateTime<Utc>, to: DateTime<Utc>) -> Option<Bucket> {
    let span = (to - from).num_seconds();
    Bucket::ALL
        .into_iter()
        .filter(|b| b.length() >= requested.length())
        .find(|b| span / b.length().num_seconds() <= MAX_BUCKETS)
}

pub(super) async fn get_counts(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: CountParams = parse_query(raw.as_deref())?;
    let csv = match p.format.as_deref() {
        Some("csv") => true,
        Some("json") => false,
        None | Some("") => headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/csv")),
        Some(_) => return Err(ApiError::bad("format", "one of json, csv")),
    };
    let name = p
        .junction
        .filter(|j| !j.is_empty())
        .ok_or_else(|| ApiError::bad("junction", "is required"))?;
    let from = parse_time("from", p.from.as_deref())?;
    let to = parse_time("to", p.to.as_deref())?;
    if to <= from {
        return Err(ApiError::bad("to", "must be after from"));
    }
    let requested = match p.bucket.as_deref() {
        None | Some("") => Bucket::Hour,
        Some(b) => {
            Bucket::parse(b).ok_or_else(|| ApiError::bad("bucket", "one of 15m, 1h, 1d, 1w"))?
        }
    };
    let bucket = fitting_bucket(requested, from, to).ok_or_else(|| {
        ApiError::bad(
            "from",
            format!("the window is longer than {MAX_BUCKETS} weeks"),
        )
    })?;
    let client = state.store.client().await?;
    let junction_id = query::junction_id(&client, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no junction named `{name}`")))?;
    let rows = query::counts(&client, junction_id, from, to, bucket).await?;
    if csv {
        return csv_response(&name, from, to, bucket, &rows);
    }
    let mut body = json!({
        "junction": name,
        "bucket": bucket.as_str(),
        "from": from,
        "to": to,
        "rows": rows,
    });
    if bucket != requested {
        body["bucket_requested"] = json!(requested.as_str());
    }
    Ok(Json(body).into_response())
}

/// The counts as CSV (UTF-8 with a byte-order mark, so spreadsheets read Vietnamese names),
/// bucket starts in Vietnam's time (+07:00).
fn csv_response(
    junction: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
    rows: &[CountRow],
) -> Result<Response, ApiError> {
    let ict = FixedOffset::east_opt(7 * 3600).ok_or_else(|| ApiError::internal("UTC+7"))?;
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record([
        "junction",
        "bucket_start",
        "bucket",
        "vehicle_class",
        "direction",
        "count",
    ])
    .map_err(ApiError::internal)?;
    for r in rows {
        out.write_record([
            junction,
            &r.bucket_start.with_timezone(&ict).to_rfc3339(),
            bucket.as_str(),
            r.vehicle_class.as_str(),
            r.direction.as_str(),
            &r.count.to_string(),
        ])
        .map_err(ApiError::internal)?;
    }
    let bytes = out.into_inner().map_err(ApiError::internal)?;
    let safe: String = junction
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let file = format!(
        "counts_{safe}_{}_{}.csv",
        from.with_timezone(&ict).format("%Y%m%dT%H%M"),
        to.with_timezone(&ict).format("%Y%m%dT%H%M")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_bucket_too_small_is_widened_to_one_that_fits() {
        let day = (t("2026-11-29T00:00:00Z"), t("2026-11-30T00:00:00Z"));
        assert_eq!(
            fitting_bucket(Bucket::Quarter, day.0, day.1),
            Some(Bucket::Quarter)
        );
        let all = (t("2000-01-01T00:00:00+07:00"), t("2026-11-30T00:00:00Z"));
        assert_eq!(
            fitting_bucket(Bucket::Quarter, all.0, all.1),
            Some(Bucket::Day)
        );
        assert_eq!(
            fitting_bucket(Bucket::Hour, all.0, all.1),
            Some(Bucket::Day)
        );
        // Never narrower than asked.
        assert_eq!(
            fitting_bucket(Bucket::Week, day.0, day.1),
            Some(Bucket::Week)
        );
        let long = (t("1900-01-01T00:00:00Z"), t("2026-11-30T00:00:00Z"));
        assert_eq!(
            fitting_bucket(Bucket::Quarter, long.0, long.1),
            Some(Bucket::Week)
        );
        let too_long = (t("1500-01-01T00:00:00Z"), t("2026-11-30T00:00:00Z"));
        assert_eq!(fitting_bucket(Bucket::Day, too_long.0, too_long.1), None);
    }
}
