//! One camera, wired: source → recorder + decoder → motion gate → cascade → tracker → events.
//!
//! Threads and back-pressure:
//! - the caller's thread demuxes and records (`reader`: remux is cheap and must never wait);
//! - a decoder thread (`decoder`) gets packets over a bounded channel, samples frames at the
//!   analysis rate and asks the motion gate ([`crate::motion`]) which of them are worth the
//!   detectors;
//! - an analysis thread (`analysis`) owns the tracker and gets frames over a small bounded
//!   channel. For a file every stage waits for the next (nothing is dropped); for a live
//!   camera the decoder drops analysis frames when the queue is full and counts them, so the
//!   recorder never blocks. Frames the gate holds back reach it as bare times, so tracks still
//!   end.
//!
//! The cascade, per analysed frame, through the shared [`InferenceService`]: vehicles first;
//! then plates only when some vehicle still needs a read (its track's plate is not settled)
//! or no vehicle was found; plate crops unchanged since the previous frame are not read
//! again.
//!
//! Events (closed clip segments and passages, `events`) go out on a channel; the caller
//! decides where they are written (JSON lines, the database).
//!
//! This module owns the wiring: a camera's settings, starting its threads and joining them
//! into an [`IngestReport`]. Video reaches it only through the packet-source seam
//! ([`crate::video::Opener`]): no type of the video library crosses into the pipeline.

mod analysis;
mod decoder;
mod events;
mod from_config;
mod reader;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use chrono::{DateTime, Utc};
use crossbeam_channel::{bounded, Sender};
use serde::Serialize;

use crate::counters::{StreamCounters, StreamStats};
use crate::infer::{AnalysisTally, InferenceService, InferenceSettings, Lane};
use crate::motion::MotionSettings;
use crate::recognize::RecognizerSettings;
use crate::track::{CameraGeometry, TrackerSettings};
use crate::video::recorder::SegmentIndex;
use crate::video::source::ReconnectPolicy;
use crate::video::{ClipSegment, Opener, Shutdown, SourceSpec, VideoError};

pub use crate::counters::CameraBoard;
pub use analysis::observations_at;
pub use events::{write_item, PassageRecord};

use analysis::{AnalysisOutcome, AnalysisStage};
use decoder::{DecoderMsg, DecoderStage, OpenTracks, Sample};
use reader::{Reader, ReaderOutcome};

/// Why a camera stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The video side failed (cannot open, gave up reconnecting, cannot write segments).
    #[error(transparent)]
    Video(#[from] VideoError),
    /// The recognizer could not be loaded.
    #[error(transparent)]
    Recognizer(#[from] crate::recognize::RecognizeError),
    /// A worker thread died.
    #[error("camera {0}: a worker thread stopped unexpectedly")]
    Worker(String),
}

/// Everything one camera needs.
#[derive(Debug, Clone)]
pub struct CameraSettings {
    /// Camera name.
    pub name: String,
    /// Where the video comes from.
    pub source: SourceSpec,
    /// Wall-clock time of a file's first frame (live sources use the connect time).
    pub file_start: DateTime<Utc>,
    /// Root of the segments folder.
    pub clips_dir: PathBuf,
    /// Whether to record the video into segments (the default). Off for a file that is
    /// itself a segment recorded earlier, read again: nothing is written under `clips_dir`,
    /// the file's time 0 is `file_start` (its recorded start), and passages link to the file.
    pub record: bool,
    /// Root of the snapshots folder.
    pub snapshots_dir: PathBuf,
    /// Target segment length.
    pub segment_len_ms: i64,
    /// Frames analysed per second; 0 records (and decodes) without analysis.
    pub analysis_fps: f64,
    /// Analysis queue length (frames).
    pub queue_frames: usize,
    /// Threads per decoder.
    pub decoder_threads: usize,
    /// Road direction and counting line.
    pub geometry: CameraGeometry,
    /// Tracker thresholds.
    pub tracker: TrackerSettings,
    /// Models and thresholds (used when `inference` is `None`).
    pub recognizer: RecognizerSettings,
    /// Live-source timeouts and retries.
    pub reconnect: ReconnectPolicy,
    /// Which sampled frames reach the detectors.
    pub motion: MotionSettings,
    /// The models shared with other cameras; `None` starts a private service for this camera.
    pub inference: Option<Arc<InferenceService>>,
    /// Counters to fill, when someone else (the /metrics page) reads them too.
    pub counters: Option<Arc<StreamCounters>>,
}

impl CameraSettings {
    /// Camera `name` reading `source`, with segments and snapshots under `dir` and every
    /// other setting at its default: 60 s segments, 5 fps analysis, queue of 4, one decoder
    /// thread, traffic down the picture without a counting line, gating on, a private
    /// inference service. Callers change the fields they care about.
    pub fn new(
        name: &str,
        source: SourceSpec,
        dir: &Path,
        recognizer: RecognizerSettings,
    ) -> CameraSettings {
        CameraSettings {
            name: name.to_string(),
            source,
            file_start: Utc::now(),
            clips_dir: dir.join("clips"),
            record: true,
            snapshots_dir: dir.join("snapshots"),
            segment_len_ms: 60_000,
            analysis_fps: 5.0,
            queue_frames: 4,
            decoder_threads: 1,
            geometry: CameraGeometry::default(),
            tracker: TrackerSettings::default(),
            recognizer,
            reconnect: ReconnectPolicy::default(),
            motion: MotionSettings::default(),
            inference: None,
            counters: None,
        }
    }
}

/// What a camera produces.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum IngestEvent {
    /// A segment was closed.
    Clip(ClipSegment),
    /// A vehicle passed.
    Passage(Box<PassageRecord>),
}

/// Summary of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    /// Camera name.
    pub camera: String,
    /// Packet and frame counters.
    pub stats: StreamStats,
    /// Passages logged.
    pub passages: u64,
    /// Segments closed.
    pub clips: u64,
    /// Seconds of video read.
    pub media_seconds: f64,
    /// Seconds the run took.
    pub wall_seconds: f64,
    /// `media_seconds / wall_seconds`: above 1 keeps up with a live camera.
    pub realtime_factor: f64,
    /// Time spent per analysed frame in the recognizer, milliseconds (mean).
    pub recognize_ms_per_frame: f64,
    /// What the cascade ran and saved.
    pub analysis: AnalysisTally,
    /// CPU time of this camera's own threads, ms.
    pub cpu: CameraCpu,
}

/// CPU time of one camera's threads (the shared models' time is in [`AnalysisTally`]).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CameraCpu {
    /// Demuxing and recording.
    pub reader_ms: f64,
    /// Decoding, the motion gate and RGB conversion.
    pub decoder_ms: f64,
    /// Tracking, snapshots and events.
    pub analysis_ms: f64,
}

/// Runs one camera until its file ends, it gives up reconnecting, or `shutdown` triggers.
pub fn run_camera(
    settings: CameraSettings,
    shutdown: Shutdown,
    events: Sender<IngestEvent>,
) -> Result<IngestReport, PipelineError> {
    let mut opener = settings.source.opener(settings.reconnect);
    run_camera_from(settings, &mut opener, shutdown, events)
}

/// [`run_camera`] with the video from `opener` instead of `settings.source`'s own opener
/// (whose kind still says whether the source is live, and whose name is used in messages).
pub fn run_camera_from(
    mut settings: CameraSettings,
    opener: &mut dyn Opener,
    shutdown: Shutdown,
    events: Sender<IngestEvent>,
) -> Result<IngestReport, PipelineError> {
    absolute_dirs(&mut settings);
    let counters = settings.counters.clone().unwrap_or_default();
    let index = SegmentIndex::default();
    if let (false, SourceSpec::File(path)) = (settings.record, &settings.source) {
        // A recorded segment read again is its own clip.
        index.add(settings.file_start, path.clone());
    }
    let reader_cpu = crate::cpu::thread_time();

    // The models: shared, or this camera's own. Loaded first so a missing model fails
    // before any video work.
    let lane = inference_lane(&settings)?;
    let open_tracks = OpenTracks::default();
    let (frame_tx, frame_rx) = bounded::<Sample>(settings.queue_frames.max(1));
    let analysis = AnalysisStage {
        settings: settings.clone(),
        lane,
        events: events.clone(),
        index: index.clone(),
        open_tracks: open_tracks.clone(),
    };
    let analysis = spawn(&settings, "analysis", move || analysis.run(frame_rx))?;
    // Throughput counts from here: model loading is a one-off.
    let started = Instant::now();

    let (packet_tx, packet_rx) = bounded::<DecoderMsg>(256);
    let decoder = DecoderStage::new(&settings, counters.clone(), frame_tx, open_tracks);
    let decoder = spawn(&settings, "decode", move || decoder.run(packet_rx))?;

    // Demux and record here.
    let read = Reader::new(&settings, &shutdown, &counters, index, packet_tx, &events).run(opener);
    let reader_ms = crate::cpu::ms_between(reader_cpu, crate::cpu::thread_time());
    let (decoder_ms, outcome) = join(&settings, decoder, analysis)?;
    let cpu = CameraCpu {
        reader_ms,
        decoder_ms,
        analysis_ms: outcome.cpu_ms,
    };
    report(settings.name, &counters, read, started, outcome, cpu)
}

/// Records name files by absolute path, so the log stays valid whatever folder the server
/// later runs from.
fn absolute_dirs(settings: &mut CameraSettings) {
    for dir in [&mut settings.clips_dir, &mut settings.snapshots_dir] {
        if let Ok(abs) = std::path::absolute(&*dir) {
            *dir = abs;
        }
    }
}

/// The camera's lane to the models, `None` when it only records.
fn inference_lane(settings: &CameraSettings) -> Result<Option<Lane>, PipelineError> {
    if settings.analysis_fps <= 0.0 {
        return Ok(None);
    }
    let service = match settings.inference.clone() {
        Some(s) => s,
        None => InferenceService::start(InferenceSettings::new(1, settings.recognizer.clone()))?,
    };
    Ok(Some(service.lane()))
}

/// Starts the camera's thread `role` (named `role-camera`).
fn spawn<T: Send + 'static>(
    settings: &CameraSettings,
    role: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<JoinHandle<T>, PipelineError> {
    std::thread::Builder::new()
        .name(format!("{role}-{}", settings.name))
        .spawn(work)
        .map_err(|_| PipelineError::Worker(settings.name.clone()))
}

/// Waits for the decoder (its CPU time, ms) and the analysis thread.
fn join(
    settings: &CameraSettings,
    decoder: JoinHandle<f64>,
    analysis: JoinHandle<AnalysisOutcome>,
) -> Result<(f64, AnalysisOutcome), PipelineError> {
    let decoder_ms = decoder.join();
    let outcome = analysis
        .join()
        .map_err(|_| PipelineError::Worker(settings.name.clone()))?;
    let decoder_ms = decoder_ms.map_err(|_| PipelineError::Worker(settings.name.clone()))?;
    Ok((decoder_ms, outcome))
}

/// The run's report, or the reader's error.
fn report(
    camera: String,
    counters: &StreamCounters,
    read: ReaderOutcome,
    started: Instant,
    outcome: AnalysisOutcome,
    cpu: CameraCpu,
) -> Result<IngestReport, PipelineError> {
    read.result?;
    let wall = started.elapsed().as_secs_f64();
    let media_seconds = read.media_ms as f64 / 1000.0;
    Ok(IngestReport {
        camera,
        stats: counters.snapshot(),
        clips: read.clips,
        media_seconds,
        wall_seconds: wall,
        realtime_factor: if wall > 0.0 {
            media_seconds / wall
        } else {
            0.0
        },
        recognize_ms_per_frame: outcome.tally.stages.total_ms
            / outcome.tally.vehicle_passes.max(1) as f64,
        passages: outcome.passages,
        analysis: outcome.tally,
        cpu,
    })
}
