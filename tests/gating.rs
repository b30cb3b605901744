//! Motion gating and the cascade on real video: the toll-booth clip and a long, mostly empty
//! road made from it by `scripts/make-sparse-video` (a still of the empty road with sensor
//! noise, then the clip).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::TimeDelta;
use common::t0;
use matthan::pipeline::{CameraSettings, PassageRecord};
use matthan::video::SourceSpec;

fn toll_video() -> PathBuf {
    common::toll_video()
}

/// Runs `scripts/make-sparse-video` with `args`.
fn sparse_video(out: &Path, args: &[&str]) {
    let status = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/make-sparse-video"
    ))
    .arg(out)
    .args(args)
    .arg("--input")
    .arg(toll_video())
    .status()
    .expect("run scripts/make-sparse-video");
    assert!(status.success(), "make-sparse-video {args:?} failed");
}

fn settings(video: &Path, dir: &Path, gating: bool) -> CameraSettings {
    let mut s = common::camera_settings("km12", SourceSpec::File(video.to_path_buf()), dir);
    s.motion.enabled = gating;
    s
}

fn plates(passages: &[PassageRecord]) -> BTreeSet<String> {
    passages
        .iter()
        .filter_map(|p| p.passage.plate.as_ref())
        .filter(|v| v.is_vietnamese())
        .map(|v| v.key.to_string())
        .collect()
}

#[test]
fn an_empty_road_analyses_almost_no_frames() {
    let dir = common::temp_dir("gating-empty");
    let video = dir.join("empty.mp4");
    sparse_video(&video, &["--empty-only", "--idle", "30"]);
    let (_, passages, report) = common::ingest(settings(&video, &dir, true));
    let s = report.stats;
    // 30 s at 5 analysed frames a second: 150 samples, of which the first and the 30 s
    // heartbeat at most go to the detectors.
    assert!(s.frames_decoded >= 700, "{s:?}");
    assert!(
        s.frames_analysed <= 3,
        "analysed {} frames of an empty road: {s:?}",
        s.frames_analysed
    );
    assert!(s.frames_gated >= 140, "{s:?}");
    assert_eq!(report.analysis.vehicle_passes, s.frames_analysed);
    assert!(passages.is_empty(), "{passages:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn gating_logs_the_same_plates_as_every_frame_and_a_vehicle_after_a_long_idle() {
    let dir = common::temp_dir("gating-sparse");
    // Every frame of the toll clip analysed, then with the gate on.
    let (_, every, every_report) =
        common::ingest(settings(&toll_video(), &dir.join("every"), false));
    let (_, gated, gated_report) =
        common::ingest(settings(&toll_video(), &dir.join("gated"), true));
    let every_plates = plates(&every);
    eprintln!("every frame: {every_plates:?} ({every_report:?})");
    eprintln!("gated:       {:?} ({gated_report:?})", plates(&gated));
    assert!(
        every_plates.len() >= 2,
        "the clip shows readable plates: {every_plates:?}"
    );
    assert_eq!(plates(&gated), every_plates);
    assert_eq!(every_report.stats.frames_gated, 0);

    // 60 s of empty road (twice the heartbeat, six times the open-track hold), then the clip.
    let video = dir.join("sparse.mp4");
    sparse_video(&video, &["--cycles", "1", "--idle", "60"]);
    let (_, after_idle, report) = common::ingest(settings(&video, &dir.join("sparse"), true));
    let s = report.stats;
    eprintln!("after idle: {:?} ({report:?})", plates(&after_idle));
    assert!(s.frames_gated >= 250, "the idle minute is held back: {s:?}");
    assert!(s.frames_analysed <= 120, "{s:?}");
    let late = after_idle
        .iter()
        .filter(|p| p.first_seen >= t0() + TimeDelta::seconds(55))
        .collect::<Vec<_>>();
    let late_plates: BTreeSet<String> = late
        .iter()
        .filter_map(|p| p.passage.plate.as_ref())
        .map(|v| v.key.to_string())
        .collect();
    for plate in &every_plates {
        assert!(
            late_plates.contains(plate),
            "{plate} is missing after the idle minute: {late_plates:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
