//! The pipeline driven through its packet-source seam: a fake opener plays back packets held
//! in memory (read once from a small video made from photos), as a file or as a live camera
//! that drops, fails or ends. What comes out (passages, clip segments, the report or the
//! error) is compared with a run on the file itself and with what the script asked for.

mod common;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use matthan::counters::StreamCounters;
use matthan::pipeline::{
    run_camera, run_camera_from, CameraSettings, IngestEvent, IngestReport, PassageRecord,
    PipelineError,
};
use matthan::recognize::RecognizerSettings;
use matthan::video::source::ReconnectPolicy;
use matthan::video::{
    ClipSegment, Opener, Packet, PacketStream, Shutdown, SourceSpec, StreamInfo, VideoError,
};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-29T08:00:00+07:00")
        .unwrap()
        .to_utc()
}

/// Two photos with readable plates, 3 s each, as an H.264 file.
fn photo_video(dir: &Path) -> PathBuf {
    let photos = common::vn_dev_photos(&["4.jpg", "bien_so.jpg"]);
    let video = dir.join("photos.mp4");
    common::make_video(&video, &photos, &["--seconds", "3", "--size", "960x720"]);
    video
}

/// Every video packet of `video`, read once through the production opener.
fn recorded(video: &Path) -> (StreamInfo, Vec<Packet>) {
    let mut opener = SourceSpec::File(video.to_path_buf()).opener(ReconnectPolicy::default());
    let mut stream = opener.open().expect("open the video");
    let mut packets = Vec::new();
    while let Some(p) = stream.next_packet().expect("read a packet") {
        packets.push(p);
    }
    (stream.info().clone(), packets)
}

/// How a replayed connection ends after its packets.
#[derive(Clone)]
enum End {
    /// End of stream.
    Eof,
    /// A read error, as a dropped connection gives.
    Fail,
}

/// A fake source: each `open` plays the next scripted connection; once the script is done,
/// opening fails and `done` is triggered.
struct Replay {
    /// What every connection carries.
    info: StreamInfo,
    /// The connections still to come: packets, then how they end.
    script: VecDeque<(Vec<Packet>, End)>,
    /// Triggered when the script is used up.
    done: Shutdown,
    /// Connections opened.
    opened: usize,
}

impl Opener for Replay {
    fn open(&mut self) -> Result<Box<dyn PacketStream>, VideoError> {
        let Some((packets, end)) = self.script.pop_front() else {
            self.done.trigger();
            return Err(VideoError::Open {
                source_name: "replay".into(),
                reason: "script over".into(),
            });
        };
        self.opened += 1;
        Ok(Box::new(ReplayStream {
            info: self.info.clone(),
            packets: packets.into(),
            end,
        }))
    }
}

/// One replayed connection.
struct ReplayStream {
    info: StreamInfo,
    packets: VecDeque<Packet>,
    end: End,
}

impl PacketStream for ReplayStream {
    fn info(&self) -> &StreamInfo {
        &self.info
    }

    fn next_packet(&mut self) -> Result<Option<Packet>, VideoError> {
        match (self.packets.pop_front(), &self.end) {
            (Some(p), _) => Ok(Some(p)),
            (None, End::Eof) => Ok(None),
            (None, End::Fail) => Err(VideoError::Read {
                source_name: "replay".into(),
                reason: "connection reset".into(),
            }),
        }
    }
}

fn settings(name: &str, source: SourceSpec, dir: &Path) -> CameraSettings {
    let mut s = CameraSettings::new(
        name,
        source,
        dir,
        RecognizerSettings::with_model_dir(common::model_dir()),
    );
    s.file_start = t0();
    s.segment_len_ms = 2000;
    s
}

/// Runs `s` from `opener` (or from its own file when `None`); its events, split.
fn run(
    s: CameraSettings,
    opener: Option<&mut Replay>,
    shutdown: Shutdown,
) -> (
    Result<IngestReport, PipelineError>,
    Vec<ClipSegment>,
    Vec<PassageRecord>,
) {
    let (tx, rx) = crossbeam_channel::unbounded();
    let result = match opener {
        Some(o) => run_camera_from(s, o, shutdown, tx),
        None => run_camera(s, shutdown, tx),
    };
    let mut clips = Vec::new();
    let mut passages = Vec::new();
    for e in rx.try_iter() {
        match e {
            IngestEvent::Clip(c) => clips.push(c),
            IngestEvent::Passage(p) => passages.push(*p),
        }
    }
    (result, clips, passages)
}

/// What a passage says, without where its files are.
fn summary(p: &PassageRecord) -> (Option<String>, DateTime<Utc>, DateTime<Utc>, Option<i64>) {
    (
        p.passage.plate.as_ref().map(|v| v.key.to_string()),
        p.first_seen,
        p.best_at,
        p.clip_offset_ms,
    )
}

#[test]
fn replayed_packets_log_what_the_file_logs() {
    let dir = common::temp_dir("pipeline-replay");
    let video = photo_video(&dir);
    let (info, packets) = recorded(&video);
    assert!(packets.len() > 100, "{} packets", packets.len());
    assert!(packets[0].is_key());

    let (from_file, file_clips, file_passages) = run(
        settings("cam", SourceSpec::File(video.clone()), &dir.join("file")),
        None,
        Shutdown::new(),
    );
    let from_file = from_file.expect("ingest the file");
    let mut replay = Replay {
        info,
        script: VecDeque::from([(packets.clone(), End::Eof)]),
        done: Shutdown::new(),
        opened: 0,
    };
    let (replayed, clips, passages) = run(
        settings(
            "cam",
            SourceSpec::File("replay".into()),
            &dir.join("replay"),
        ),
        Some(&mut replay),
        Shutdown::new(),
    );
    let replayed = replayed.expect("ingest the replay");

    let plates: Vec<String> = passages
        .iter()
        .filter_map(|p| p.passage.plate.as_ref())
        .filter(|v| v.is_vietnamese())
        .map(|v| v.key.to_string())
        .collect();
    assert!(!plates.is_empty(), "the photos show readable plates");
    assert_eq!(
        passages.iter().map(summary).collect::<Vec<_>>(),
        file_passages.iter().map(summary).collect::<Vec<_>>()
    );
    assert!(passages.iter().all(|p| p.clip_path.is_some()));
    assert_eq!(replay.opened, 1);
    assert_eq!(replayed.stats, from_file.stats);
    assert_eq!(replayed.stats.packets, packets.len() as u64);
    assert!(replayed.stats.frames_analysed > 0);
    assert!(clips.len() >= 3, "6 s in 2 s segments: {clips:?}");
    let times = |c: &[ClipSegment]| {
        c.iter()
            .map(|c| (c.started_at, c.ended_at, c.bytes))
            .collect::<Vec<_>>()
    };
    assert_eq!(times(&clips), times(&file_clips));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_file_that_fails_midway_keeps_its_segment_and_reports_the_error() {
    let dir = common::temp_dir("pipeline-fail");
    let (info, packets) = recorded(&photo_video(&dir));
    let half = packets[..packets.len() / 2].to_vec();
    let mut replay = Replay {
        info,
        script: VecDeque::from([(half.clone(), End::Fail)]),
        done: Shutdown::new(),
        opened: 0,
    };
    let mut s = settings("cam", SourceSpec::File("replay".into()), &dir);
    s.analysis_fps = 0.0;
    s.segment_len_ms = 60_000;
    let counters = Arc::new(StreamCounters::default());
    s.counters = Some(counters.clone());
    let (result, clips, passages) = run(s, Some(&mut replay), Shutdown::new());

    let err = result.expect_err("a failed read ends a file");
    assert!(
        matches!(err, PipelineError::Video(VideoError::Read { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("connection reset"), "{err}");
    assert_eq!(replay.opened, 1, "a file is not reopened");
    assert!(passages.is_empty());
    assert_eq!(clips.len(), 1, "the open segment is closed: {clips:?}");
    let (seconds, ffprobe_err) = common::ffprobe_duration(&clips[0].path);
    assert!(ffprobe_err.is_empty(), "{ffprobe_err}");
    assert!(
        seconds > 2.0 && seconds < 4.0,
        "{seconds} s of 6 s recorded"
    );
    let stats = counters.snapshot();
    assert_eq!(stats.packets, half.len() as u64);
    assert_eq!(stats.reconnects, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_live_source_that_drops_is_reopened_and_recorded_again() {
    let dir = common::temp_dir("pipeline-live");
    let (info, packets) = recorded(&photo_video(&dir));
    let half = packets[..packets.len() / 2].to_vec();
    let done = Shutdown::new();
    let mut replay = Replay {
        info,
        // Drops halfway; then plays to the end; then nothing answers.
        script: VecDeque::from([(half.clone(), End::Fail), (packets.clone(), End::Eof)]),
        done: done.clone(),
        opened: 0,
    };
    let mut s = settings("cam", SourceSpec::Live("replay://cam".into()), &dir);
    s.analysis_fps = 0.0;
    s.segment_len_ms = 60_000;
    s.reconnect = ReconnectPolicy {
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_attempts: None,
        io_timeout: Duration::from_secs(1),
    };
    let (result, clips, passages) = run(s, Some(&mut replay), done);

    let report = result.expect("a live camera stops cleanly on shutdown");
    assert_eq!(replay.opened, 2);
    assert!(passages.is_empty());
    assert_eq!(report.stats.reconnects, 2, "{:?}", report.stats);
    assert_eq!(report.stats.packets, (half.len() + packets.len()) as u64);
    assert_eq!(report.clips, 2);
    assert_eq!(clips.len(), 2, "one segment per connection: {clips:?}");
    let seconds: Vec<f64> = clips
        .iter()
        .map(|c| common::ffprobe_duration(&c.path).0)
        .collect();
    assert!(seconds[0] > 2.0 && seconds[0] < 4.0, "{seconds:?}");
    assert!(seconds[1] > 5.0 && seconds[1] < 7.0, "{seconds:?}");
    assert!(
        report.media_seconds > 8.0 && report.media_seconds < 10.0,
        "{}",
        report.media_seconds
    );
    let _ = std::fs::remove_dir_all(&dir);
}
