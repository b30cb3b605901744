//! PURE. What a re-read is asked to do, checked before anything is read or written: the time
//! window (its end after its start, at most [`MAX_WINDOW`] long), which passages belong to it,
//! and the model version that names its run.

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

/// The longest window one re-read covers: a day of one camera (1440 one-minute segments). A
/// longer stretch is several re-reads, each its own run, each resumable on its own.
pub const MAX_WINDOW: TimeDelta = TimeDelta::hours(24);

/// Why a window is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The end is not after the start.
    #[error("the window ends ({to}) before it starts ({from}): --to must be after --from")]
    Backwards {
        /// Start asked for.
        from: DateTime<Utc>,
        /// End asked for.
        to: DateTime<Utc>,
    },
    /// Longer than [`MAX_WINDOW`].
    #[error("the window is {hours:.1} h long; one re-read covers at most {max_hours} h: split it")]
    TooLong {
        /// Its length in hours.
        hours: f64,
        /// The limit in hours.
        max_hours: i64,
    },
}

/// A time window [`from`, `to`): its start included, its end not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start (included).
    pub from: DateTime<Utc>,
    /// End (excluded).
    pub to: DateTime<Utc>,
}

impl Window {
    /// The window [`from`, `to`), if its end is after its start and it is at most
    /// [`MAX_WINDOW`] long.
    pub fn new(from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Window, PlanError> {
        if to <= from {
            return Err(PlanError::Backwards { from, to });
        }
        let length = to - from;
        if length > MAX_WINDOW {
            return Err(PlanError::TooLong {
                hours: length.num_milliseconds() as f64 / 3_600_000.0,
                max_hours: MAX_WINDOW.num_hours(),
            });
        }
        Ok(Window { from, to })
    }

    /// Whether `t` is inside: a passage belongs to the window when its best frame is.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.from <= t && t < self.to
    }
}

/// The model version of a run: 16 hex digits of the SHA-256 of the recognizer's fingerprint
/// ([`crate::recognize::fingerprint`]) and the analysis rate, which together decide what is
/// read. Same models, settings and rate: same version, so the same window is not read twice.
pub fn model_version(fingerprint: &str, analysis_fps: f64) -> String {
    let mut hash = Sha256::new();
    hash.update(fingerprint.as_bytes());
    hash.update(format!("\nfps {analysis_fps:?}").as_bytes());
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_window_ends_after_it_starts_and_lasts_at_most_a_day() {
        let from = t("2026-11-29T01:00:00Z");
        let w = Window::new(from, from + TimeDelta::minutes(5)).unwrap();
        assert!(w.contains(from));
        assert!(w.contains(from + TimeDelta::milliseconds(299_999)));
        assert!(!w.contains(from + TimeDelta::minutes(5)));
        assert!(!w.contains(from - TimeDelta::milliseconds(1)));

        assert_eq!(
            Window::new(from, from),
            Err(PlanError::Backwards { from, to: from })
        );
        let earlier = from - TimeDelta::seconds(1);
        assert!(matches!(
            Window::new(from, earlier),
            Err(PlanError::Backwards { .. })
        ));
        assert!(Window::new(from, from + MAX_WINDOW).is_ok());
        let err = Window::new(from, from + MAX_WINDOW + TimeDelta::seconds(1)).unwrap_err();
        assert!(matches!(err, PlanError::TooLong { max_hours: 24, .. }));
        assert!(err.to_string().contains("24.0 h long"), "{err}");
        let err = Window::new(from, from + TimeDelta::days(3)).unwrap_err();
        assert!(err.to_string().contains("72.0 h"), "{err}");
    }

    #[test]
    fn the_model_version_follows_the_fingerprint_and_the_rate() {
        let v = model_version("model a 00\nsettings x", 5.0);
        assert_eq!(v.len(), 16);
        assert!(v.bytes().all(|b| b.is_ascii_hexdigit()), "{v}");
        assert_eq!(v, model_version("model a 00\nsettings x", 5.0));
        assert_ne!(v, model_version("model a 01\nsettings x", 5.0));
        assert_ne!(v, model_version("model a 00\nsettings x", 10.0));
        assert_ne!(v, model_version("model a 00\nsettings x", 5.5));
    }
}
