//! Video for the tests: videos made from photos, ffprobe and ffmpeg checks of a file, ffmpeg
//! as a live camera, and an in-process ingest of one camera that collects what it sent.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use chrono::{DateTime, Utc};
use matthan::pipeline::{run_camera, CameraSettings, IngestEvent, IngestReport, PassageRecord};
use matthan::recognize::RecognizerSettings;
use matthan::store::scratch::ScratchDatabase;
use matthan::video::{ClipSegment, Shutdown, SourceSpec};

use super::{eval_dir, model_dir};

/// Turns photos into an H.264 video with `scripts/make-test-video` (`extra`: its options).
pub fn make_video(out: &Path, images: &[PathBuf], extra: &[&str]) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/make-test-video");
    let status = Command::new(script)
        .arg(out)
        .args(extra)
        .args(images)
        .stdout(Stdio::null())
        .status()
        .expect("run scripts/make-test-video (needs ffmpeg: make setup)");
    assert!(status.success());
}

/// The photos `names` of `eval/vn-dev`.
pub fn vn_dev_photos(names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|f| eval_dir().join("vn-dev").join(f))
        .collect()
}

/// The demo photos of `eval/vn-dev` (11 labelled plates), 3 s each at 1280x960, as a video.
pub fn demo_video(out: &Path) {
    let photos = vn_dev_photos(&["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"]);
    make_video(out, &photos, &["--seconds", "3", "--size", "1280x960"]);
}

/// The real toll-booth clip (1280x720, 18.74 s, two shots, three vehicles through the lane),
/// as shipped in `tests/data` for the demo.
pub fn toll_video() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/vn_toll_station_cars.mp4")
}

/// The truth file of [`toll_video`].
pub fn toll_truth() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/vn_toll_station_cars.truth.csv")
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

/// What `ffmpeg -v error` says while decoding the whole file (empty when clean); ffmpeg
/// itself must finish.
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg could not decode {}",
        path.display()
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// ffmpeg as a camera: plays `video` in real time (`loops` extra times) as MPEG-TS over HTTP
/// at `stream` to the first who connects, then exits. Returns at once.
pub fn serve_stream(video: &Path, stream: &str, loops: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-hide_banner", "-v", "error", "-re", "-stream_loop"])
        .arg(loops.to_string())
        .arg("-i")
        .arg(video)
        .args(["-c", "copy", "-f", "mpegts", "-listen", "1", stream])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg")
}

/// A live camera: `serve_stream`, given half a second to listen. Kill the child when done.
pub fn live_camera(video: &Path, stream: &str, loops: u32) -> Child {
    let child = serve_stream(video, stream, loops);
    std::thread::sleep(std::time::Duration::from_millis(500));
    child
}

/// The wall-clock time the ingest tests give a video file's first frame.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-29T08:00:00+07:00")
        .unwrap()
        .to_utc()
}

/// Camera `name` reading `source` with the default settings on the real models, its
/// recordings under `dir`, a file's first frame at `t0()`.
pub fn camera_settings(name: &str, source: SourceSpec, dir: &Path) -> CameraSettings {
    let mut s = CameraSettings::new(
        name,
        source,
        dir,
        RecognizerSettings::with_model_dir(model_dir()),
    );
    s.file_start = t0();
    s
}

/// What an ingest sent, split: its clip segments and its passages, each in order.
pub fn split_events(
    events: impl IntoIterator<Item = IngestEvent>,
) -> (Vec<ClipSegment>, Vec<PassageRecord>) {
    let mut clips = Vec::new();
    let mut passages = Vec::new();
    for e in events {
        match e {
            IngestEvent::Clip(c) => clips.push(c),
            IngestEvent::Passage(p) => passages.push(*p),
        }
    }
    (clips, passages)
}

/// Runs camera `s` in-process to the end of its source: its clip segments, passages and report.
pub fn ingest(s: CameraSettings) -> (Vec<ClipSegment>, Vec<PassageRecord>, IngestReport) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let report = run_camera(s, Shutdown::new(), tx).expect("ingest");
    let (clips, passages) = split_events(rx.try_iter());
    (clips, passages, report)
}

/// A 20 s test pattern (25 fps, a keyframe every second) recorded by `matthan ingest` into
/// 4 s segments of camera `cam-x` from 2026-01-01T00:00:00Z, under `dir/clips`.
pub fn record_test_pattern(dir: &Path, db: &ScratchDatabase) {
    let video = dir.join("pattern.mp4");
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i"])
        .arg("testsrc=size=320x180:rate=25")
        .args(["-t", "20", "-c:v", "libx264", "-g", "25", "-bf", "2"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&video)
        .status()
        .expect("ffmpeg (make setup installs it)");
    assert!(status.success());
    let out = super::matthan(&db.connection_string())
        .args(["ingest", "--camera", "cam-x", "--fps", "0"])
        .args(["--segment-len", "4", "--start", "2026-01-01T00:00:00Z"])
        .args(super::media_dirs(dir))
        .arg(&video)
        .output()
        .unwrap();
    super::assert_success(&out);
}
