//! Query-string parsing: unknown parameters and malformed values are 400s naming the parameter.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Parses a query string into `T` (a struct of `Option<String>` with `deny_unknown_fields`).
pub fn parse_query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, ApiError> {
    serde_urlencoded::from_str(raw.unwrap_or("")).map_err(|e| ApiError::BadRequest(e.to_string()))
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
    fn times_need_an_offset() {
        let t = parse_time("from", Some("2026-11-29T08:00:00+07:00")).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-29T01:00:00+00:00");
        assert!(parse_time("from", Some("2026-11-29T08:00:00")).is_err());
        assert!(parse_time("from", Some("yesterday")).is_err());
        assert!(parse_time("from", None).is_err());
        assert_eq!(parse_time_opt("from", Some("")).unwrap(), None);
    }
}
