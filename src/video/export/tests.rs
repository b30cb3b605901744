//! Unit tests of exports without video files: segment choice, the packet picker, decode-time
//! fitting and time-base arithmetic.

use super::picker::Picker;
use super::ticks::{clamp_i64, nanos_between, ns_to_ticks, rescale, ticks_to_ns};
use super::writer::fit_dts;
use super::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn seg(name: &str, at: &str) -> SegmentSource {
    SegmentSource {
        path: name.into(),
        started_at: t(at),
    }
}

fn names(v: Vec<&SegmentSource>) -> Vec<String> {
    v.iter().map(|s| s.path.display().to_string()).collect()
}

#[test]
fn overlap_takes_the_segment_holding_the_start_and_those_before_the_end() {
    // Given out of order on purpose.
    let segs = [
        seg("c", "2026-01-01T00:00:08Z"),
        seg("a", "2026-01-01T00:00:00Z"),
        seg("b", "2026-01-01T00:00:04Z"),
    ];
    let w = |a, b| names(overlapping(&segs, t(a), t(b)));
    assert_eq!(
        w("2026-01-01T00:00:02Z", "2026-01-01T00:00:07Z"),
        ["a", "b"]
    );
    assert_eq!(w("2026-01-01T00:00:04Z", "2026-01-01T00:00:08Z"), ["b"]);
    assert_eq!(w("2026-01-01T00:00:09Z", "2026-01-01T00:01:00Z"), ["c"]);
    assert_eq!(w("2025-12-31T00:00:00Z", "2026-01-01T00:00:01Z"), ["a"]);
    assert!(w("2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z").is_empty());
}

/// Feeds `(id, key, pts, dts)` and returns the ids written.
fn pick(from: i64, to: i64, packets: &[(u32, bool, i64, i64)]) -> Vec<u32> {
    let mut p = Picker::new(from, to);
    let mut out = Vec::new();
    for &(id, key, pts, dts) in packets {
        out.extend(p.feed(id, key, pts, dts).into_iter().map(|x| x.0));
    }
    out.extend(p.finish().into_iter().map(|x| x.0));
    out
}

#[test]
fn picker_starts_at_the_last_keyframe_shown_before_the_start() {
    // GOP of 4 without B-frames: keyframes at 0 and 4.
    let gop: Vec<_> = (0..10).map(|i| (i as u32, i % 4 == 0, i, i)).collect();
    assert_eq!(pick(5, 7, &gop), [4, 5, 6]);
    assert_eq!(pick(4, 5, &gop), [4]);
    assert_eq!(pick(-3, 2, &gop), [0, 1]);
    assert!(pick(20, 30, &gop).is_empty());
}

#[test]
fn picker_keeps_the_gop_when_the_next_keyframe_is_shown_after_the_start() {
    // B-frames: a keyframe decoded at 4 is shown at 6; frames 4 and 5 belong to GOP 0.
    let packets = [
        (0, true, 2, 0),
        (1, false, 5, 1),
        (2, false, 3, 2),
        (3, false, 4, 3),
        (4, true, 6, 4),
        (5, false, 7, 5),
    ];
    // Shown at 4 (decoded at 3): starts at keyframe 0; keyframe 4 is decoded before 5.
    assert_eq!(pick(4, 5, &packets), [0, 1, 2, 3, 4]);
    assert_eq!(pick(6, 7, &packets), [4, 5]);
}

#[test]
fn picker_skips_packets_before_any_keyframe() {
    let packets = [
        (0, false, 0, 0),
        (1, false, 1, 1),
        (2, true, 2, 2),
        (3, false, 3, 3),
    ];
    assert_eq!(pick(0, 10, &packets), [2, 3]);
}

#[test]
fn decode_times_only_go_forward() {
    assert_eq!(fit_dts(None, 2, 0, 5), Some(0));
    assert_eq!(fit_dts(Some(10), 13, 11, 5), Some(11));
    // Rounding: a tick or two back is nudged forward.
    assert_eq!(fit_dts(Some(10), 13, 9, 5), Some(11));
    // Further back than rounding explains (overlapping segments), or shown before `last`:
    // dropped.
    assert_eq!(fit_dts(Some(10), 12, 9, 0), None);
    assert_eq!(fit_dts(Some(10), 20, 2, 5), None);
    assert_eq!(fit_dts(Some(10), 10, 9, 5), None);
    assert_eq!(fit_dts(None, 1, 2, 5), None);
}

#[test]
fn time_bases_convert_exactly() {
    let mp4 = Rational(1, 12_800);
    assert_eq!(ns_to_ticks(80_000_000, mp4), 1024);
    assert_eq!(ticks_to_ns(1024, mp4), 80_000_000);
    assert_eq!(rescale(1024, mp4, Rational(1, 90_000)), 7200);
    assert_eq!(rescale(-1024, mp4, Rational(1, 90_000)), -7200);
    assert_eq!(
        nanos_between(t("2026-01-01T00:00:01.5Z"), t("2026-01-01T00:00:00Z")),
        1_500_000_000
    );
    assert_eq!(clamp_i64(i128::MAX), i64::MAX);
}
