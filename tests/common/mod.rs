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
