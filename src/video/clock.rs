//! Stream time: turning a stream's packet timestamps into milliseconds and wall-clock time.
//!
//! Owns: [`StreamClock`] (the first timestamp seen is the clock's origin) and
//! [`ticks_to_ms`]. Pure arithmetic: no I/O, and the only FFmpeg type it touches is the
//! time base handed to [`StreamClock::new`].

use chrono::{DateTime, TimeDelta, Utc};
use ffmpeg_next::Rational;

/// Milliseconds in `ticks` of a stream whose time base is `num/den` seconds.
pub fn ticks_to_ms(ticks: i64, (num, den): (i64, i64)) -> i64 {
    (ticks as i128 * num as i128 * 1000 / den.max(1) as i128) as i64
}

/// Turns stream timestamps into wall-clock time: the first timestamp seen is `origin`.
#[derive(Debug, Clone, Copy)]
pub struct StreamClock {
    /// Wall-clock time of the first timestamp.
    pub origin: DateTime<Utc>,
    /// The first timestamp, in stream units.
    pub first_ts: Option<i64>,
    /// Seconds per stream unit, as a fraction.
    pub time_base: (i64, i64),
}

impl StreamClock {
    /// A clock that starts at `origin` for a stream with `time_base`.
    pub fn new(origin: DateTime<Utc>, time_base: Rational) -> StreamClock {
        StreamClock {
            origin,
            first_ts: None,
            time_base: (
                i64::from(time_base.numerator()),
                i64::from(time_base.denominator()).max(1),
            ),
        }
    }

    /// Milliseconds after the first timestamp (setting it if this is the first).
    pub fn offset_ms(&mut self, ts: i64) -> i64 {
        let first = *self.first_ts.get_or_insert(ts);
        ticks_to_ms(ts - first, self.time_base)
    }

    /// Wall-clock time of `ts`.
    pub fn wall(&mut self, ts: i64) -> DateTime<Utc> {
        self.origin + TimeDelta::milliseconds(self.offset_ms(ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_counts_from_the_first_timestamp() {
        let origin = DateTime::parse_from_rfc3339("2026-11-29T01:00:00Z")
            .unwrap()
            .to_utc();
        let mut c = StreamClock::new(origin, Rational(1, 90_000));
        assert_eq!(c.wall(900_000), origin);
        assert_eq!(c.offset_ms(900_000 + 45_000), 500);
        assert_eq!(c.wall(900_000 + 90_000), origin + TimeDelta::seconds(1));
    }
}
