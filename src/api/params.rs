//! Query-string parsing: unknown parameters and malformed values are 400s naming the parameter.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Parses a query string into `T` (a struct of `Option<String>` with `deny_unknown_fields`).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| ApiError::BadRequest(e.to_string()))
}

/// A page size `limit`: `default` when absent or empty, else an integer from 1 to `max`.
pub fn parse_limit(raw: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match raw {
        None | Some("") => Ok(default),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::bad("limit", format!("must be an integer from 1 to {max}"))),
    }
}

/// The `reason` a plate search, an export or a watch needs (see `access::check_reason`).
pub fn require_reason(raw: Option<&str>) -> Result<String, ApiError> {
    crate::access::check_reason(raw).map_err(|e| ApiError::bad("reason", e))
}

/// A search mode parameter (`exact`, `wildcard`, `fuzzy`); absent or empty is `None`.
pub fn parse_mode(raw: Option<&str>) -> Result<Option<crate::plate::search::SearchMode>, ApiError> {
    raw.filter(|m| !m.is_empty())
        .map(crate::plate::search::SearchMode::parse)
        .transpose()
        .map_err(|e| ApiError::bad("mode", e))
}

/// An RFC 3339 time with an offset, e.g. `2026-11-29T08:00:00+07:00`.
pub fn parse_time(param: &str, raw: Option<&str>) -> Result<DateTime<Utc>, ApiError> {
    parse_time_opt(param, raw)?.ok_or_else(|| ApiError::bad(param, "is required"))
}

/// Like [`parse_time`], but absent or empty is `None`.
pub fn parse_time_opt(param: &str, raw: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|e| {
                ApiError::bad(
                    param,
                    format!("`{s}` is not an RFC 3339 time with offset, e.g. 2026-11-29T08:00:00+07:00 ({e})"),
                )
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct P {
        a: Option<String>,
    }

    #[test]
    fn unknown_parameters_are_refused() {
        assert!(parse_query::<P>(Some("a=1")).is_ok());
        assert!(parse_query::<P>(None).unwrap().a.is_none());
        let e = parse_query::<P>(Some("b=1")).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn limits_default_and_stay_in_range() {
        assert_eq!(parse_limit(None, 50, 500).unwrap(), 50);
        assert_eq!(parse_limit(Some(""), 50, 500).unwrap(), 50);
        assert_eq!(parse_limit(Some("500"), 50, 500).unwrap(), 500);
        for bad in ["0", "501", "-1", "x", "1.5"] {
            let e = parse_limit(Some(bad), 50, 500).unwrap_err().to_string();
            assert!(e.contains("limit") && e.contains("1 to 500"), "{bad}: {e}");
        }
    }

    #[test]
    fn times_need_an_offset() {
        let t = parse_time("from", Some("2026-11-29T08:00:00+07:00")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-29T01:00:00+00:00");
        assert!(parse_time("from", Some("2026-11-29T08:00:00")).is_err());
        assert!(parse_time("from", Some("yesterday")).is_err());
        assert!(parse_time("from", None).is_err());
        assert_eq!(parse_time_opt("from", Some("")).unwrap(), None);
    }
}
