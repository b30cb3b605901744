//! Exact time arithmetic for exports: nanoseconds between wall-clock times, and ticks of
//! one time base in another or in nanoseconds, rounded to the nearest tick (i128, no
//! floating point).

use chrono::{DateTime, Utc};
use ffmpeg_next::Rational;

/// Nanoseconds from `b` to `a`, exact.
pub(super) fn nanos_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i128 {
    let ns = |t: DateTime<Utc>| {
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    };
    ns(a) - ns(b)
}

/// `n / d` rounded to the nearest integer (halves up); `d > 0`.
fn div_round(n: i128, d: i128) -> i128 {
    (2 * n + d).div_euclid(2 * d)
}

/// Numerator and denominator of a time base, never zero.
fn parts(tb: Rational) -> (i128, i128) {
    (
        i128::from(tb.numerator()).max(1),
        i128::from(tb.denominator()).max(1),
    )
}

/// Ticks of time base `tb` in `ns` nanoseconds.
pub(super) fn ns_to_ticks(ns: i128, tb: Rational) -> i128 {
    let (num, den) = parts(tb);
    div_round(ns * den, num * 1_000_000_000)
}

/// Nanoseconds in `ticks` of time base `tb`.
pub(super) fn ticks_to_ns(ticks: i128, tb: Rational) -> i128 {
    let (num, den) = parts(tb);
    div_round(ticks * num * 1_000_000_000, den)
}

/// `ts` in time base `from` expressed in time base `to`.
pub(super) fn rescale(ts: i64, from: Rational, to: Rational) -> i64 {
    let (fn_, fd) = parts(from);
    let (tn, td) = parts(to);
    clamp_i64(div_round(i128::from(ts) * fn_ * td, fd * tn))
}

/// `v` clamped to the range of `i64`.
pub(super) fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}
