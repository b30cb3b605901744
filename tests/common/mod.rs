//! Shared helpers for the integration tests: where the models and the eval photos are.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use matthan::recognize::{Recognizer, RecognizerSettings};

/// The project's model folder (filled by `make setup`).
pub fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The shared evaluation photos: `$MATTHAN_EVAL_DIR`, else `../shared/eval` beside the project.
pub fn eval_dir() -> PathBuf {
    std::env::var_os("MATTHAN_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"))
}

/// A recognizer with the default settings on the real models.
pub fn recognizer() -> Recognizer {
    Recognizer::load(RecognizerSettings::with_model_dir(model_dir()))
        .expect("models missing: run `make setup`")
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matthan-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where a private PostgreSQL cluster for the tests lives when no server is reachable.
pub fn test_pg_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-postgres")
}

/// Turns photos into an H.264 video with `scripts/make-test-video` (`extra`: its options).
pub fn make_video(out: &Path, images: &[PathBuf], extra: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/make-test-video");
    let status = Command::new(script)
        .arg(out)
        .args(extra)
        .args(images)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run scripts/make-test-video (needs ffmpeg: make setup)");
    assert!(status.success());
}

/// The demo photos of `eval/vn-dev` (11 labelled plates), 3 s each at 1280x960, as a video.
pub fn demo_video(out: &Path) {
    let photos: Vec<PathBuf> = ["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"]
        .iter()
        .map(|f| eval_dir().join("vn-dev").join(f))
        .collect();
    make_video(out, &photos, &["--seconds", "3", "--size", "1280x960"]);
}

/// A file's duration by ffprobe, and what ffprobe printed on stderr.
pub fn ffprobe_duration(path: &Path) -> (f64, String) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (
        text.parse().unwrap_or(0.0),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// API state for `store` with its clips, snapshots, exports and web folders under `dir`.
pub fn app_state(store: matthan::store::Store, dir: &Path) -> matthan::api::AppState {
    matthan::api::AppState::new(
        store,
        &dir.join("clips"),
        &dir.join("snapshots"),
        &dir.join("exports"),
        &dir.join("web"),
        None,
    )
    .unwrap()
}

/// A live camera: ffmpeg plays `video` in real time (`loops` extra times) as MPEG-TS over HTTP
/// at `stream` to whoever connects. Kill the child when done.
pub fn live_camera(video: &Path, stream: &str, loops: u32) -> std::process::Child {
    let child = Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-re", "-stream_loop"])
        .arg(loops.to_string())
        .arg("-i")
        .arg(video)
        .args(["-c", "copy", "-f", "mpegts", "-listen", "1", stream])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("ffmpeg");
    std::thread::sleep(std::time::Duration::from_millis(500));
    child
}

/// A passage of camera `camera` seen at `at`, with the voted plate `key` (or none) as its one
/// candidate.
pub fn passage(
    camera: &str,
    track: i64,
    at: chrono::DateTime<chrono::Utc>,
    key: Option<&str>,
) -> matthan::store::WriteItem {
    use matthan::store::{NewPassage, NewPlateRead, WriteItem};
    WriteItem::Passage(Box::new(NewPassage {
        camera: camera.into(),
        track_no: track,
        first_seen: at,
        last_seen: at,
        best_at: at,
        vehicle_class: "car".into(),
        plate_key: key.map(Into::into),
        plate_display: key.map(Into::into),
        plate_confidence: key.map(|_| 0.9),
        is_vietnamese: key.map(|_| true),
        direction: "along".into(),
        crossed_line: None,
        clip_started_at: None,
        clip_offset_ms: None,
        snapshot_path: None,
        bbox: vec![],
        frames_seen: 3,
        reads: key
            .map(|k| NewPlateRead {
                rank: 1,
                key: k.into(),
                confidence: 0.9,
                char_confidences: vec![],
            })
            .into_iter()
            .collect(),
    }))
}
