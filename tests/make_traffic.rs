//! `matthan make-traffic` end to end on the eval photos: a short clip has the length, size
//! and codec asked for, its truth file parses and lists cars and motorbikes going both ways,
//! the same seed makes the same frames and the same truth, and missing photos or a missing
//! ffmpeg fail with a clear message.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use matthan::scene::VehicleClass;
use matthan::track::Direction;
use matthan::traffic::Truth;

/// Runs `matthan make-traffic OUT` with `extra` flags (and the eval photos unless they name
/// a photo folder).
fn make(out: &Path, extra: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matthan"));
    cmd.arg("make-traffic").arg(out).args(extra);
    if !extra.contains(&"--photos") {
        cmd.arg("--photos").arg(common::eval_dir());
    }
    cmd.output().expect("run matthan")
}

/// A clip of `seconds` at 640x360 from `seed`, with its truth file.
fn clip(dir: &Path, name: &str, seed: &str, seconds: &str, night: bool) -> (PathBuf, Truth) {
    let video = dir.join(format!("{name}.mp4"));
    let mut flags = vec!["--seed", seed, "--duration", seconds, "--rate", "90"];
    flags.extend(["--size", "640x360", "--fps", "25"]);
    if night {
        flags.push("--night");
    }
    let out = make(&video, &flags);
    common::assert_success(&out);
    let text = std::fs::read_to_string(dir.join(format!("{name}.truth.csv"))).unwrap();
    assert!(
        text.starts_with("# made by matthan make-traffic: seed="),
        "{text}"
    );
    (video, Truth::parse(&text).unwrap())
}

/// ffprobe's `key=value` answers for the first video stream.
fn probe(video: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames"])
        .args([
            "-show_entries",
            "stream=codec_name,width,height,nb_read_frames",
        ])
        .args(["-of", "default=noprint_wrappers=1"])
        .arg(video)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// MD5 of every decoded frame.
fn frame_md5(video: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(video)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn short_clip_with_its_truth_and_same_seed_same_video() {
    let dir = common::temp_dir("make-traffic");
    let (video, truth) = clip(&dir, "a", "5", "8", false);

    let (seconds, _) = common::ffprobe_duration(&video);
    assert!((seconds - 8.0).abs() < 0.2, "{seconds} s");
    let p = probe(&video);
    for want in [
        "codec_name=h264",
        "width=640",
        "height=360",
        "nb_read_frames=200",
    ] {
        assert!(p.lines().any(|l| l == want), "{want} not in {p}");
    }

    assert_eq!(truth.video_s, Some(8.0));
    assert_eq!(truth.frame, Some((640, 360)));
    assert_eq!(truth.road_direction, Some((0.0, 1.0)));
    assert!(truth.counting_line.is_some());
    truth.check_times(8.0).unwrap();
    let v = &truth.vehicles;
    assert!(v.len() >= 8, "{} vehicles", v.len());
    for class in [VehicleClass::Motorbike, VehicleClass::Car] {
        assert!(v.iter().any(|x| x.class == class), "no {class}");
    }
    for dir in [Direction::Along, Direction::Against] {
        assert!(v.iter().any(|x| x.direction == dir), "none {dir}");
    }
    assert!(v.iter().all(|x| x.plate.is_some() && x.first_s <= x.last_s));
    assert!(v.iter().any(|x| x.line_s.is_some() && x.readable));

    let (again, truth_again) = clip(&dir, "b", "5", "8", false);
    assert_eq!(truth_again, truth);
    assert_eq!(
        frame_md5(&again),
        frame_md5(&video),
        "same seed, other frames"
    );
    let (_, other) = clip(&dir, "c", "6", "8", false);
    assert_ne!(other, truth);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn night_clip_and_clear_failures() {
    let dir = common::temp_dir("make-traffic-night");
    let (video, truth) = clip(&dir, "n", "7", "3", true);
    assert!(common::ffprobe_duration(&video).0 > 2.8);
    assert!(!truth.vehicles.is_empty());

    let out = make(
        &dir.join("x.mp4"),
        &["--duration", "2", "--photos", "/nonexistent"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no usable vehicle photos"), "{err}");
    assert!(!err.contains("panicked"), "{err}");

    let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .args(["make-traffic", "--duration", "1", "--photos"])
        .arg(common::eval_dir())
        .arg(dir.join("y.mp4"))
        .env("PATH", dir.join("no-such-bin"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ffmpeg command was not found"), "{err}");

    let out = make(&dir.join("z.mp4"), &["--size", "641x360"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("even"));
    let _ = std::fs::remove_dir_all(&dir);
}
