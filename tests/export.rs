//! Exporting a time window from recorded segments, on real video: a 12 s H.264 test pattern
//! (25 fps, a keyframe every second, 2 B-frames) made by the ffmpeg CLI and recorded into 4 s
//! segments by `matthan ingest`. Checks durations with ffprobe, decodes every output with
//! ffmpeg, checks frame times across segment joins, the SHA-256, `faststart`, and that empty
//! windows and corrupt segments fail clearly without leaving a file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, TimeDelta, Utc};
use common::{decode_errors, t};
use matthan::video::export::{export_window, ExportedClip, SegmentSource};
use matthan::video::VideoError;
use sha2::{Digest, Sha256};

/// Frame period of the test video, seconds.
const FRAME: f64 = 0.04;

struct Fixture {
    dir: PathBuf,
    segments: Vec<SegmentSource>,
}

/// The recorded segments, made once for all tests.
fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = common::temp_dir("export");
        let video = dir.join("pattern.mp4");
        make_video(&video);
        let segments = record(&video, &dir);
        Fixture { dir, segments }
    })
}

fn make_video(out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=640x360:rate=25")
        .args(["-t", "12", "-c:v", "libx264", "-preset", "veryfast"])
        .args([
            "-g",
            "25",
            "-sc_threshold",
            "0",
            "-bf",
            "2",
            "-pix_fmt",
            "yuv420p",
        ])
        .arg(out)
        .status()
        .expect("run ffmpeg (make setup installs it)");
    assert!(status.success(), "ffmpeg could not make the test video");
}

/// Records `video` into 4 s segments with the project's ingest; returns its clip events.
fn record(video: &Path, dir: &Path) -> Vec<SegmentSource> {
    let bin = env!("CARGO_BIN_EXE_matthan");
    let help = Command::new(bin)
        .args(["ingest", "--help"])
        .output()
        .unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("ingest");
    if String::from_utf8_lossy(&help.stdout).contains("--no-store") {
        cmd.arg("--no-store");
    }
    let out = cmd
        .args(["--camera", "cam", "--fps", "0", "--segment-len", "4"])
        .args(["--start", "2026-01-01T00:00:00Z"])
        .args(common::media_dirs(dir))
        .arg(video)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let segments = clip_events(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(segments.len(), 3, "12 s in 4 s segments");
    segments
}

fn clip_events(stdout: &str) -> Vec<SegmentSource> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["type"] == "clip")
        .map(|v| SegmentSource {
            path: PathBuf::from(v["path"].as_str().unwrap()),
            started_at: t(v["started_at"].as_str().unwrap()),
        })
        .collect()
}

/// Seconds from `b` to `a`.
fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (a - b).num_microseconds().unwrap() as f64 / 1e6
}

fn out_path(name: &str) -> PathBuf {
    fixture().dir.join(format!("{name}.mp4"))
}

fn export(segs: &[SegmentSource], from: &str, to: &str, name: &str) -> (PathBuf, ExportedClip) {
    let out = out_path(name);
    let clip = export_window(segs, t(from), t(to), &out).expect("export");
    (out, clip)
}

fn ffprobe(path: &Path, args: &[&str]) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "ffprobe {}", path.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn duration(path: &Path) -> f64 {
    let s = ffprobe(
        path,
        &["-show_entries", "format=duration", "-of", "csv=p=0"],
    );
    s.trim().parse().unwrap()
}

/// Presentation times of all video packets, sorted, in seconds.
fn frame_times(path: &Path) -> Vec<f64> {
    let s = ffprobe(
        path,
        &[
            "-select_streams",
            "v",
            "-show_entries",
            "packet=pts_time",
            "-of",
            "csv=p=0",
        ],
    );
    let mut v: Vec<f64> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
    v.sort_by(f64::total_cmp);
    v
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Presentation times (output seconds) of the frames shown before wall time `to`. Frames
/// decoded before `to` but shown after it are in the file too, with holes where B-frames
/// decoded after `to` were left out, so only these must be contiguous.
fn shown_before(out: &Path, clip: &ExportedClip, to: DateTime<Utc>) -> Vec<f64> {
    let limit = secs(to, clip.started_at);
    frame_times(out)
        .into_iter()
        .filter(|&s| s < limit)
        .collect()
}

/// Wall-clock time of output time `s`.
fn wall(clip: &ExportedClip, s: f64) -> DateTime<Utc> {
    clip.started_at + TimeDelta::microseconds((s * 1e6).round() as i64)
}

/// Checks that hold for every export: a clean decode, the digest, one frame every 40 ms
/// (no hole or repeat at a segment join) and wall times that match the recording's.
fn check_clip(out: &Path, clip: &ExportedClip, from: DateTime<Utc>, to: DateTime<Utc>) {
    assert_eq!(decode_errors(out), "");
    assert_eq!(clip.sha256, sha256_hex(out));
    assert_eq!(clip.bytes, std::fs::metadata(out).unwrap().len());
    let times = shown_before(out, clip, to);
    for w in times.windows(2) {
        assert!((w[1] - w[0] - FRAME).abs() < 0.002, "frame step {w:?}");
    }
    // The first frame is a keyframe, shown on a whole second of the recording's clock.
    let first = wall(clip, times[0]);
    assert_eq!(first.timestamp_subsec_millis(), 0, "first frame at {first}");
    assert!(
        first <= from.max(t("2026-01-01T00:00:00Z")),
        "starts at {first}"
    );
    // Every frame shown before the window end is there.
    let last = wall(clip, times[times.len() - 1]);
    let end = to.min(t("2026-01-01T00:00:12Z"));
    assert!(secs(end, last) <= FRAME + 0.001, "last frame at {last}");
    assert!((duration(out) * 1000.0 - clip.duration_ms as f64).abs() < 50.0);
}

#[test]
fn a_window_across_two_segments_is_one_continuous_clip() {
    let f = fixture();
    let (from, to) = ("2026-01-01T00:00:02.5Z", "2026-01-01T00:00:07.3Z");
    let (out, clip) = export(&f.segments, from, to, "two");
    let d = duration(&out);
    assert!((4.76..=5.8).contains(&d), "duration {d}");
    assert_eq!(clip.segments_used, 2);
    assert!(clip.started_at <= t(from));
    assert!(secs(t(from), clip.started_at) < 1.0);
    assert!(clip.ended_at >= t(to));
    check_clip(&out, &clip, t(from), t(to));
    // faststart: the index comes before the media; not fragmented.
    let bytes = std::fs::read(&out).unwrap();
    assert!(find(&bytes, b"moov").unwrap() < find(&bytes, b"mdat").unwrap());
    assert_eq!(find(&bytes, b"moof"), None);
    println!("two segments: ffprobe {d:.3} s, clip {clip:?}");
}

#[test]
fn a_window_inside_one_segment() {
    let f = fixture();
    let (from, to) = ("2026-01-01T00:00:05.2Z", "2026-01-01T00:00:06.9Z");
    let (out, clip) = export(&f.segments, from, to, "one");
    let d = duration(&out);
    assert!((1.66..=2.8).contains(&d), "duration {d}");
    assert_eq!(clip.segments_used, 1);
    check_clip(&out, &clip, t(from), t(to));
    println!("one segment: ffprobe {d:.3} s");
}

#[test]
fn a_start_just_before_a_keyframe_keeps_the_gop_shown_before_it() {
    // The keyframe shown at 3.0 is decoded at 2.92: a seek lands on it, but the frame shown
    // at 2.96 belongs to the GOP from 2.0.
    let f = fixture();
    let (from, to) = ("2026-01-01T00:00:02.99Z", "2026-01-01T00:00:03.5Z");
    let (out, clip) = export(&f.segments, from, to, "edge");
    check_clip(&out, &clip, t(from), t(to));
    let first = wall(&clip, shown_before(&out, &clip, t(to))[0]);
    assert_eq!(first, t("2026-01-01T00:00:02Z"));
}

#[test]
fn a_window_covering_everything_holds_every_frame() {
    let f = fixture();
    let (from, to) = ("2025-12-31T23:59:00Z", "2026-01-01T00:01:00Z");
    let (out, clip) = export(&f.segments, from, to, "all");
    let d = duration(&out);
    assert!((d - 12.0).abs() <= 0.1, "duration {d}");
    assert_eq!(clip.segments_used, 3);
    assert_eq!(frame_times(&out).len(), 300);
    check_clip(&out, &clip, t(from), t(to));
    println!("everything: ffprobe {d:.3} s");
}

#[test]
fn a_gap_between_segments_stays_a_gap() {
    let f = fixture();
    let segs = [f.segments[0].clone(), f.segments[2].clone()];
    let to = "2026-01-01T00:00:09.5Z";
    let (out, clip) = export(&segs, "2026-01-01T00:00:02.5Z", to, "gap");
    assert_eq!(clip.segments_used, 2);
    assert_eq!(decode_errors(&out), "");
    let times = shown_before(&out, &clip, t(to));
    let steps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    let hole = steps.iter().cloned().fold(0.0, f64::max);
    assert!((hole - 4.04).abs() < 0.002, "hole {hole}");
    assert_eq!(steps.iter().filter(|s| **s > FRAME + 0.002).count(), 1);
}

#[test]
fn a_segment_listed_twice_adds_nothing() {
    let f = fixture();
    let segs = [
        f.segments[1].clone(),
        f.segments[0].clone(),
        f.segments[1].clone(),
    ];
    let (from, to) = ("2026-01-01T00:00:02.5Z", "2026-01-01T00:00:07.3Z");
    let (out, clip) = export(&segs, from, to, "twice");
    assert_eq!(clip.segments_used, 2);
    check_clip(&out, &clip, t(from), t(to));
    let (_, once) = export(&f.segments, from, to, "once");
    assert_eq!(frame_times(&out), frame_times(&once.path));
}

fn assert_nothing(r: Result<ExportedClip, VideoError>, out: &Path) {
    match r {
        Err(VideoError::NothingToExport { reason }) => assert!(!reason.is_empty()),
        other => panic!("expected NothingToExport, got {other:?}"),
    }
    assert!(!out.exists(), "{} left behind", out.display());
}

#[test]
fn windows_without_video_fail_and_leave_no_file() {
    let f = fixture();
    let out = out_path("none");
    let after = export_window(
        &f.segments,
        t("2026-01-01T01:00:00Z"),
        t("2026-01-01T01:00:05Z"),
        &out,
    );
    assert_nothing(after, &out);
    let before = export_window(
        &f.segments,
        t("2025-12-31T00:00:00Z"),
        t("2025-12-31T00:00:05Z"),
        &out,
    );
    assert_nothing(before, &out);
    // Inside a missing segment: the one before it is read but has nothing in the window.
    let segs = [f.segments[0].clone(), f.segments[2].clone()];
    let hole = export_window(
        &segs,
        t("2026-01-01T00:00:04.5Z"),
        t("2026-01-01T00:00:06.5Z"),
        &out,
    );
    assert_nothing(hole, &out);
    let empty = export_window(
        &f.segments,
        t("2026-01-01T00:00:05Z"),
        t("2026-01-01T00:00:05Z"),
        &out,
    );
    assert_nothing(empty, &out);
}

#[test]
fn a_corrupt_segment_is_named_and_the_partial_file_removed() {
    let f = fixture();
    let junk = f.dir.join("junk-segment.mp4");
    std::fs::write(
        &junk,
        b"this is not an mp4 file at all, only junk bytes".repeat(50),
    )
    .unwrap();
    // A good segment first, so the output has been started when the junk is reached.
    let segs = [
        f.segments[0].clone(),
        SegmentSource {
            path: junk.clone(),
            started_at: f.segments[1].started_at,
        },
    ];
    let out = out_path("corrupt");
    let r = export_window(
        &segs,
        t("2026-01-01T00:00:02.5Z"),
        t("2026-01-01T00:00:07.3Z"),
        &out,
    );
    let e = r.expect_err("junk must fail");
    assert!(matches!(e, VideoError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("junk-segment.mp4"), "{e}");
    assert!(!out.exists(), "partial file left behind");
    // A missing file, alone: named too.
    let gone = [SegmentSource {
        path: f.dir.join("gone.mp4"),
        started_at: t("2026-01-01T00:00:00Z"),
    }];
    let e = export_window(
        &gone,
        t("2026-01-01T00:00:01Z"),
        t("2026-01-01T00:00:02Z"),
        &out,
    )
    .expect_err("missing file");
    assert!(e.to_string().contains("gone.mp4"), "{e}");
    assert!(!out.exists());
}
