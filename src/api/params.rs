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

/// A duration such as `30s`, `2m`, `1h` or plain seconds (`45`): `default` when absent or
/// empty, else from 1 s to `max`.
pub fn parse_duration(
    param: &str,
    raw: Option<&str>,
    default: chrono::TimeDelta,
    max: chrono::TimeDelta,
) -> Result<chrono::TimeDelta, ApiError> {
    let Some(s) = raw.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(default);
    };
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => 0,
    };
    let value = number
        .parse::<i64>()
        .ok()
        .filter(|_| seconds > 0)
        .and_then(|n| n.checked_mul(seconds))
        .map(chrono::TimeDelta::seconds)
        .ok_or_else(|| {
            ApiError::bad(
                param,
                format!("`{s}` is not a duration such as 30s, 2m or 1h"),
            )
        })?;
    if value < chrono::TimeDelta::seconds(1) || value > max {
        return Err(ApiError::bad(
            param,
            format!("must be from 1s to {}s", max.num_seconds()),
        ));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

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
    fn durations_have_units_and_limits() {
        let d = |raw| {
            parse_duration(
                "window",
                raw,
                TimeDelta::seconds(30),
                TimeDelta::minutes(10),
            )
        };
        assert_eq!(d(None).unwrap(), TimeDelta::seconds(30));
        assert_eq!(d(Some("")).unwrap(), TimeDelta::seconds(30));
        assert_eq!(d(Some("45")).unwrap(), TimeDelta::seconds(45));
        assert_eq!(d(Some("2m")).unwrap(), TimeDelta::minutes(2));
        assert_eq!(d(Some("10m")).unwrap(), TimeDelta::minutes(10));
        for bad in [
            "0s",
            "11m",
            "1h",
            "x",
            "5d",
            "-5s",
            "1.5m",
            "99999999999999999999h",
        ] {
            let e = d(Some(bad)).unwrap_err().to_string();
            assert!(e.contains("window"), "{bad}: {e}");
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
