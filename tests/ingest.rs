//! Video ingest end to end on real video made by ffmpeg from real photos: every plate the
//! recognizer reads on a still is logged exactly once, inside that photo's time window, with a
//! clip segment and offset whose frame shows the plate; segments play and add up; a killed
//! ingest leaves a playable segment and a restarted one completes, logging every passage once;
//! a vehicle lost and found again by its plate is logged once with its gap; corrupt video and
//! a dead RTSP address fail clearly.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use common::t0;
use matthan::pipeline::{run_camera, CameraSettings, PassageRecord};
use matthan::video::source::ReconnectPolicy;
use matthan::video::{Shutdown, SourceSpec, VideoError};

const IMAGES: [&str; 4] = ["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"];
const SECONDS_PER_IMAGE: i64 = 3;
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 960;

fn settings(name: &str, source: SourceSpec, dir: &Path, segment_len_ms: i64) -> CameraSettings {
    // Gating on (the default), as cameras run: the still-photo videos pan and zoom, which is
    // motion.
    let mut s = common::camera_settings(name, source, dir);
    s.segment_len_ms = segment_len_ms;
    s.geometry.counting_line = Some([(0.0, 0.5), (1.0, 0.5)]);
    s
}

/// Number of frames ffprobe can decode from a file.
fn decodable_frames(path: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args(["-v", "quiet", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The frame of `clip` at `offset_ms`, as an RGB image.
fn frame_at(clip: &Path, offset_ms: i64, out: &Path) -> image::RgbImage {
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-ss",
            &format!("{:.3}", offset_ms as f64 / 1000.0),
            "-i",
        ])
        .arg(clip)
        .args(["-frames:v", "1"])
        .arg(out)
        .status()
        .unwrap();
    assert!(status.success());
    image::open(out).unwrap().to_rgb8()
}

/// The photo scaled as the video shows it in its first frame.
fn as_in_video(photo: &Path) -> image::RgbImage {
    let img = image::open(photo).unwrap().to_rgb8();
    let scale = (WIDTH as f32 / img.width() as f32).min(HEIGHT as f32 / img.height() as f32);
    let (w, h) = (
        (img.width() as f32 * scale).round() as u32,
        (img.height() as f32 * scale).round() as u32,
    );
    let small = image::imageops::resize(&img, w, h, image::imageops::FilterType::Triangle);
    let mut canvas = image::RgbImage::new(WIDTH, HEIGHT);
    image::imageops::overlay(
        &mut canvas,
        &small,
        ((WIDTH - w) / 2) as i64,
        ((HEIGHT - h) / 2) as i64,
    );
    canvas
}

#[test]
fn each_plate_is_logged_once_with_a_clip_that_shows_it() {
    let dir = common::temp_dir("ingest-vn-dev");
    let photos = common::vn_dev_photos(&IMAGES);
    let video = dir.join("vn-dev.mp4");
    common::make_video(&video, &photos, &["--seconds", "3", "--size", "1280x960"]);

    // What the recognizer reads on each still, as the video shows it.
    let mut recognizer = common::recognizer();
    let expected: Vec<Vec<String>> = photos
        .iter()
        .map(|p| {
            let r = recognizer.recognize(&as_in_video(p)).unwrap();
            r.plates
                .iter()
                .filter(|p| p.is_vietnamese())
                .map(|p| p.key.to_string())
                .collect()
        })
        .collect();
    let total: usize = expected.iter().map(Vec::len).sum();
    assert!(total >= 8, "stills read {expected:?}");

    let (clips, passages, report) = common::ingest(settings(
        "vn-dev",
        SourceSpec::File(video.clone()),
        &dir,
        4000,
    ));
    eprintln!("{report:?}");
    for p in &passages {
        eprintln!(
            "{} {:?} best {} clip {:?}+{:?}",
            p.passage.track_id,
            p.passage.plate.as_ref().map(|v| &v.key),
            p.best_at,
            p.clip_path,
            p.clip_offset_ms
        );
    }

    // Segments: play without errors, add up to the input within one GOP (1 s).
    assert!(clips.len() >= 3, "{} segments", clips.len());
    let mut sum = 0.0;
    for c in &clips {
        let (d, err) = common::ffprobe_duration(&c.path);
        assert!(err.is_empty(), "ffprobe {}: {err}", c.path.display());
        assert_eq!(common::decode_errors(&c.path), "", "{}", c.path.display());
        assert_eq!(c.bytes, std::fs::metadata(&c.path).unwrap().len());
        sum += d;
    }
    let (input, _) = common::ffprobe_duration(&video);
    assert!(
        (sum - input).abs() <= 1.0,
        "segments {sum:.2} s vs input {input:.2} s"
    );

    for (i, keys) in expected.iter().enumerate() {
        let from = t0() + TimeDelta::seconds(SECONDS_PER_IMAGE * i as i64);
        let to = from + TimeDelta::seconds(SECONDS_PER_IMAGE);
        for key in keys {
            let logged: Vec<&PassageRecord> = passages
                .iter()
                .filter(|p| p.passage.plate.as_ref().is_some_and(|v| &v.key == key))
                .collect();
            assert_eq!(logged.len(), 1, "{key} logged {} times", logged.len());
            let p = logged[0];
            assert!(
                p.best_at >= from && p.best_at < to,
                "{key} best at {} outside [{from}, {to})",
                p.best_at
            );
            assert!(
                p.first_seen >= from - TimeDelta::milliseconds(200)
                    && p.last_seen < to + TimeDelta::milliseconds(200)
            );
            let snapshot = p.snapshot_path.as_ref().expect("snapshot");
            assert!(image::open(snapshot).is_ok());
            // The clip at the offset shows this plate.
            let clip = p.clip_path.as_ref().expect("clip linkage");
            let offset = p.clip_offset_ms.unwrap();
            let seg = clips
                .iter()
                .find(|c| &c.path == clip)
                .expect("linked segment was closed");
            assert!(p.best_at >= seg.started_at && p.best_at <= seg.ended_at);
            let frame = frame_at(clip, offset, &dir.join("check.png"));
            let seen = recognizer.recognize(&frame).unwrap();
            assert!(
                seen.plates.iter().any(|r| &r.key == key),
                "{key}: frame at {} +{offset} ms reads {:?}",
                clip.display(),
                seen.plates.iter().map(|r| &r.key).collect::<Vec<_>>()
            );
        }
    }
    // No vehicle logged twice under another reading: passages with a plate stay within the
    // plates read on the stills (plus at most one misread per photo).
    let with_plate = passages
        .iter()
        .filter(|p| p.passage.plate.is_some())
        .count();
    assert!(
        with_plate <= total + IMAGES.len(),
        "{with_plate} passages with plates for {total} plates"
    );
    assert!(report.stats.frames_analysed >= 55 && report.stats.frames_dropped == 0);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_killed_ingest_leaves_a_playable_segment_and_a_restart_completes() {
    let dir = common::temp_dir("ingest-kill");
    let photos = common::vn_dev_photos(&[
        "101.jpg",
        "119.jpg",
        "4.jpg",
        "bien_so.jpg",
        "101.jpg",
        "119.jpg",
    ]);
    let video = dir.join("long.mp4");
    common::make_video(&video, &photos, &["--seconds", "4", "--size", "960x720"]);
    // Both runs log into one real database: the restart must add what the killed run did
    // not commit, and nothing twice.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("ingest_kill"));
    let database_url = db.connection_string();
    let run = |dir: &Path| {
        common::matthan(&database_url)
            .args([
                "ingest",
                "--camera",
                "kill",
                "--segment-len",
                "60",
                "--start",
                "2026-11-29T01:00:00Z",
            ])
            .args(common::media_dirs(dir))
            .arg(&video)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut child = run(&dir);
    // The one segment is named by its start (the first decode timestamp, just before 01:00).
    let segment_dir = dir.join("clips/kill");
    let segment = || {
        std::fs::read_dir(&segment_dir)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
    };
    // Wait until some fragments are on disk, then kill without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while segment()
        .and_then(|p| std::fs::metadata(p).ok())
        .map_or(0, |m| m.len())
        < 200_000
    {
        assert!(std::time::Instant::now() < deadline, "segment never grew");
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest ended before it could be killed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let segment = segment().unwrap();
    assert!(segment
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("20261129T005959"));
    let (partial, err) = common::ffprobe_duration(&segment);
    assert!(err.is_empty(), "killed segment: {err}");
    assert!(
        partial > 1.0 && partial < 24.0,
        "killed segment holds {partial:.2} s"
    );
    // Everything but at most the last fragment (one 1 s GOP) decodes.
    let frames = decodable_frames(&segment);
    assert!(
        frames as f64 >= (partial - 1.0) * 25.0 - 1.0,
        "{frames} frames decode of {partial:.2} s"
    );

    // A restarted ingest runs to the end and leaves a complete segment.
    let out = run(&dir).wait_with_output().unwrap();
    common::assert_success(&out);
    let clips: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|v: &serde_json::Value| v["type"] == "clip")
        .collect();
    assert_eq!(clips.len(), 1);
    let (full, err) = common::ffprobe_duration(&segment);
    assert!(err.is_empty());
    assert!(
        (full - 24.0).abs() <= 1.0,
        "restarted segment holds {full:.2} s"
    );
    // The log holds exactly the passages of a complete run, each once, and the segment's
    // row describes the complete file.
    let produced: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "passage")
        .map(|v| {
            v["passage"]["plate"]["key"]
                .as_str()
                .unwrap_or("-")
                .to_string()
        })
        .collect();
    assert!(produced.len() >= 6, "{produced:?}");
    let (logged, distinct, clip_sha): (i64, i64, String) = rt.block_on(async {
        let client = db.store.client().await.unwrap();
        let counts = client
            .query_one(
                "SELECT count(*), count(DISTINCT (camera_id, best_at, first_seen, track_no))
                 FROM passages",
                &[],
            )
            .await
            .unwrap();
        let sha = client
            .query_one("SELECT sha256 FROM clips", &[])
            .await
            .unwrap();
        (counts.get(0), counts.get(1), sha.get(0))
    });
    assert_eq!(logged as usize, produced.len(), "{produced:?}");
    assert_eq!(distinct, logged);
    assert_eq!(clip_sha, clips[0]["sha256"].as_str().unwrap());
    assert_eq!(clip_sha, matthan::digest::sha256_file(&segment).unwrap().1);
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A motorbike seen for 3 s, hidden for 3 s (another photo takes the frame), then seen again:
/// its track breaks and is continued by its plate. The log holds it once, with the span it
/// went unseen, as the ingest's JSON line gave it.
#[test]
fn a_vehicle_lost_and_found_by_its_plate_is_logged_once_with_its_gap() {
    const KEY: &str = "29B125662";
    let dir = common::temp_dir("ingest-gap");
    let photos = common::vn_dev_photos(&["101.jpg", "119.jpg", "101.jpg"]);
    let video = dir.join("gap.mp4");
    common::make_video(&video, &photos, &["--seconds", "3", "--size", "1280x960"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("ingest_gap"));
    let out = common::matthan(&db.connection_string())
        .args([
            "ingest",
            "--camera",
            "gap",
            "--start",
            "2026-11-29T01:00:00Z",
        ])
        .args(common::media_dirs(&dir))
        .arg(&video)
        .output()
        .unwrap();
    common::assert_success(&out);
    let printed: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "passage" && v["passage"]["plate"]["key"] == KEY)
        .collect();
    assert_eq!(printed.len(), 1, "{printed:?}");
    let printed_gaps = printed[0]["passage"]["gaps_ms"].clone();

    let rows = rt.block_on(async {
        let client = db.store.client().await.unwrap();
        client
            .query(
                "SELECT (extract(epoch FROM lower(g)) * 1000)::bigint,
                     (extract(epoch FROM upper(g)) * 1000)::bigint, unseen_ms
                 FROM passages LEFT JOIN LATERAL unnest(gaps) g ON true
                 WHERE plate_key = $1",
                &[&KEY],
            )
            .await
            .unwrap()
    });
    assert_eq!(rows.len(), 1, "{KEY} logged once with one gap");
    let (from, to): (Option<i64>, Option<i64>) = (rows[0].get(0), rows[0].get(1));
    let (from, to) = (from.expect("a gap"), to.expect("a gap"));
    assert_eq!(printed_gaps, serde_json::json!([[from, to]]));
    assert_eq!(rows[0].get::<_, Option<i32>>(2), Some((to - from) as i32));
    // The gap covers the other photo's 3 s (give or take a sampled frame), within the tracker's
    // rejoin window of 5 s.
    let start = t0().timestamp_millis();
    assert!(
        from <= start + 3_200 && to >= start + 5_800 && to - from <= 5_000,
        "gap {} ms .. {} ms after the start",
        from - start,
        to - start
    );
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn corrupt_and_truncated_video_and_a_dead_camera_fail_clearly() {
    let dir = common::temp_dir("ingest-bad");
    // Not a video at all.
    let junk = dir.join("junk.mp4");
    std::fs::write(&junk, vec![0x42u8; 100_000]).unwrap();
    let (tx, _rx) = crossbeam_channel::unbounded();
    let err = run_camera(
        settings("junk", SourceSpec::File(junk), &dir, 4000),
        Shutdown::new(),
        tx,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot open video source"),
        "{err}"
    );

    // A missing file.
    let (tx, _rx) = crossbeam_channel::unbounded();
    let err = run_camera(
        settings(
            "missing",
            SourceSpec::File(dir.join("nope.mp4")),
            &dir,
            4000,
        ),
        Shutdown::new(),
        tx,
    )
    .unwrap_err();
    assert!(err.to_string().contains("no such file"), "{err}");

    // A truncated file: what could be read is recorded, the rest is reported, no panic.
    let photos = common::vn_dev_photos(&["4.jpg", "bien_so.jpg"]);
    let video = dir.join("whole.ts");
    common::make_video(
        &dir.join("whole.mp4"),
        &photos,
        &["--seconds", "3", "--size", "960x720"],
    );
    // MPEG-TS survives truncation the way a cut network stream does.
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-i"])
        .arg(dir.join("whole.mp4"))
        .args(["-c", "copy"])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&video).unwrap();
    let cut = dir.join("cut.ts");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 333]).unwrap();
    let (clips, _passages, report) =
        common::ingest(settings("cut", SourceSpec::File(cut), &dir, 60_000));
    assert_eq!(clips.len(), 1);
    let (d, err) = common::ffprobe_duration(&clips[0].path);
    assert!(err.is_empty(), "{err}");
    assert!(d > 1.0 && d < 5.0, "{d}");
    assert!(report.stats.frames_decoded > 25);

    // Nothing listens here: retries with backoff, then a clear error.
    let mut s = settings(
        "dead",
        SourceSpec::Live("rtsp://127.0.0.1:9/stream".into()),
        &dir,
        4000,
    );
    s.reconnect = ReconnectPolicy {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        max_attempts: Some(3),
        io_timeout: Duration::from_secs(2),
    };
    let (tx, _rx) = crossbeam_channel::unbounded();
    let started = std::time::Instant::now();
    let err = run_camera(s, Shutdown::new(), tx).unwrap_err();
    assert!(
        matches!(
            err,
            matthan::pipeline::PipelineError::Video(VideoError::GaveUp { attempts: 3, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("rtsp://127.0.0.1:9/stream"));
    assert!(started.elapsed() < Duration::from_secs(30));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_live_camera_that_drops_is_reconnected() {
    let dir = common::temp_dir("ingest-live");
    let photos = common::vn_dev_photos(&["4.jpg", "bien_so.jpg"]);
    let video = dir.join("camera.mp4");
    common::make_video(&video, &photos, &["--seconds", "2", "--size", "640x480"]);
    let port = common::free_port();
    let url = format!("http://127.0.0.1:{port}/live.ts");

    let mut s = settings("live", SourceSpec::Live(url.clone()), &dir, 2000);
    s.analysis_fps = 1.0;
    s.reconnect = ReconnectPolicy {
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(400),
        max_attempts: None,
        io_timeout: Duration::from_secs(5),
    };
    let shutdown = Shutdown::new();
    let (tx, rx) = crossbeam_channel::unbounded();
    let mut first = common::serve_stream(&video, &url, 0);
    let worker = {
        let shutdown = shutdown.clone();
        std::thread::spawn(move || run_camera(s, shutdown, tx))
    };
    // The camera streams for 4 s and drops; it comes back a little later for another 4 s.
    first.wait().unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let back_at = Utc::now();
    let mut second = common::serve_stream(&video, &url, 0);
    second.wait().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    shutdown.trigger();
    let report = worker.join().unwrap().expect("live ingest");
    let (clips, _) = common::split_events(rx.try_iter());
    assert!(report.stats.reconnects >= 1, "{report:?}");
    assert!(clips.len() >= 2, "{} clips", clips.len());
    assert!(
        clips.iter().any(|c| c.started_at < back_at)
            && clips.iter().any(|c| c.started_at >= back_at),
        "clips from both connections: {:?}",
        clips.iter().map(|c| c.started_at).collect::<Vec<_>>()
    );
    for c in &clips {
        let (d, err) = common::ffprobe_duration(&c.path);
        assert!(err.is_empty() && d > 0.0, "{}: {err}", c.path.display());
    }
    std::fs::remove_dir_all(&dir).ok();
}
