//! One camera, wired: source → recorder + decoder → motion gate → cascade → tracker → events.
//!
//! Threads and back-pressure:
//! - the caller's thread demuxes and records (remux is cheap and must never wait);
//! - a decoder thread gets packets over a bounded channel, samples frames at the analysis
//!   rate and asks the motion gate ([`crate::motion`]) which of them are worth the detectors;
//! - an analysis thread owns the tracker and gets frames over a small bounded channel. For a
//!   file every stage waits for the next (nothing is dropped); for a live camera the decoder
//!   drops analysis frames when the queue is full and counts them, so the recorder never
//!   blocks. Frames the gate holds back reach it as bare times, so tracks still end.
//!
//! The cascade, per analysed frame, through the shared [`InferenceService`]: vehicles first;
//! then plates only when some vehicle still needs a read (its track's plate is not settled)
//! or no vehicle was found; plate crops unchanged since the previous frame are not read
//! again.
//!
//! Events (closed clip segments and passages) go out on a channel; the caller decides where
//! they are written (JSON lines, the database).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};
use image::RgbImage;
use serde::Serialize;

use crate::infer::{
    AnalysisTally, Done, InferError, InferenceService, InferenceSettings, Lane, Task,
};
use crate::motion::{MotionGate, MotionSettings, Pass};
use crate::recognize::{PlateMemory, Recognition, RecognizerSettings};
use crate::scene::BoxXyxy;
use crate::track::{
    CameraGeometry, FrameObservations, Passage, PlateObservation, Tracker, TrackerSettings,
    VehicleObservation,
};
use crate::video::decode::{FrameDecoder, FrameGate, Sample};
use crate::video::recorder::{safe_name, SegmentIndex};
use crate::video::source::{self, ReconnectPolicy, StreamClock};
use crate::video::{
    AnalysisFrame, ClipSegment, SegmentRecorder, Shutdown, SourceSpec, StreamCounters, StreamStats,
    VideoError,
};

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

/// The counters of every running camera, for /metrics.
#[derive(Debug, Default)]
pub struct CameraBoard {
    /// Camera name and its counters, in order of registration.
    cameras: std::sync::Mutex<Vec<(String, Arc<StreamCounters>)>>,
}

impl CameraBoard {
    /// Counters for camera `name`, listed on the board.
    pub fn register(&self, name: &str) -> Arc<StreamCounters> {
        let counters = Arc::new(StreamCounters::default());
        self.cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), counters.clone()));
        counters
    }

    /// Every camera's counters now.
    pub fn snapshot(&self) -> Vec<(String, StreamStats)> {
        self.cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, c)| (n.clone(), c.snapshot()))
            .collect()
    }
}

/// A passage as logged: the tracker's passage plus camera, clip linkage and snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct PassageRecord {
    /// Camera that saw it.
    pub camera: String,
    /// First time seen.
    pub first_seen: DateTime<Utc>,
    /// Last time seen.
    pub last_seen: DateTime<Utc>,
    /// Time of the best frame (snapshot, clip offset).
    pub best_at: DateTime<Utc>,
    /// Segment holding the best frame.
    pub clip_path: Option<PathBuf>,
    /// Offset of the best frame in that segment, milliseconds.
    pub clip_offset_ms: Option<i64>,
    /// JPEG of the vehicle and plate at the best frame.
    pub snapshot_path: Option<PathBuf>,
    /// The tracker's view.
    pub passage: Passage,
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

/// What the analysis thread hands back.
#[derive(Debug, Default)]
struct AnalysisOutcome {
    /// Passages emitted.
    passages: u64,
    /// Cascade figures.
    tally: AnalysisTally,
    /// CPU time of the analysis thread itself, ms.
    cpu_ms: f64,
}

enum DecoderMsg {
    Stream {
        parameters: ffmpeg_next::codec::Parameters,
        clock: StreamClock,
    },
    Packet(ffmpeg_next::Packet),
}

/// Runs one camera until its file ends, it gives up reconnecting, or `shutdown` triggers.
pub fn run_camera(
    mut settings: CameraSettings,
    shutdown: Shutdown,
    events: Sender<IngestEvent>,
) -> Result<IngestReport, PipelineError> {
    // Records name files by absolute path, so the log stays valid whatever folder the
    // server later runs from.
    for dir in [&mut settings.clips_dir, &mut settings.snapshots_dir] {
        if let Ok(abs) = std::path::absolute(&*dir) {
            *dir = abs;
        }
    }
    let counters = settings.counters.clone().unwrap_or_default();
    let index = SegmentIndex::default();
    let live = settings.source.is_live();
    let name = settings.source.display_name();
    let reader_cpu = crate::cpu::thread_time();

    // The models: shared, or this camera's own. Loaded first so a missing model fails
    // before any video work.
    let lane = if settings.analysis_fps > 0.0 {
        let service = match settings.inference.clone() {
            Some(s) => s,
            None => {
                InferenceService::start(InferenceSettings::new(1, settings.recognizer.clone()))?
            }
        };
        Some(service.lane())
    } else {
        None
    };
    let open_tracks = Arc::new(AtomicUsize::new(0));
    let (frame_tx, frame_rx) = bounded::<Sample>(settings.queue_frames.max(1));
    let analysis = {
        let worker_settings = settings.clone();
        let events = events.clone();
        let index = index.clone();
        let open_tracks = open_tracks.clone();
        std::thread::Builder::new()
            .name(format!("analysis-{}", settings.name))
            .spawn(move || {
                analysis_loop(worker_settings, lane, frame_rx, events, index, open_tracks)
            })
            .map_err(|_| PipelineError::Worker(settings.name.clone()))?
    };
    // Throughput counts from here: model loading is a one-off.
    let started = Instant::now();

    // Decoder thread.
    let (packet_tx, packet_rx) = bounded::<DecoderMsg>(256);
    let decoder = {
        let counters = counters.clone();
        let fps = settings.analysis_fps;
        let threads = settings.decoder_threads;
        let camera = settings.name.clone();
        let gate = (settings.motion.enabled && fps > 0.0).then(|| FrameGateSpec {
            settings: settings.motion.clone(),
            open_tracks: open_tracks.clone(),
        });
        std::thread::Builder::new()
            .name(format!("decode-{camera}"))
            .spawn(move || {
                decoder_loop(
                    packet_rx, frame_tx, counters, fps, threads, live, gate, &camera,
                )
            })
            .map_err(|_| PipelineError::Worker(settings.name.clone()))?
    };

    // Demux and record here.
    let mut clips = 0u64;
    // Media time of finished connections, plus that of the current one.
    let mut media_ms = 0i64;
    let mut connection_ms = 0i64;
    let mut attempt = 0u32;
    let result: Result<(), PipelineError> = loop {
        if shutdown.is_triggered() {
            break Ok(());
        }
        let mut opened = match source::open(&settings.source, &settings.reconnect) {
            Ok(s) => {
                attempt = 0;
                s
            }
            Err(e) if live => {
                attempt += 1;
                if settings
                    .reconnect
                    .max_attempts
                    .is_some_and(|m| attempt >= m)
                {
                    break Err(VideoError::GaveUp {
                        source_name: name.clone(),
                        attempts: attempt,
                        reason: e.to_string(),
                    }
                    .into());
                }
                let wait = settings.reconnect.backoff(attempt);
                tracing::warn!(
                    "{e}; retrying in {:.1} s (attempt {attempt})",
                    wait.as_secs_f64()
                );
                sleep_unless(&shutdown, wait);
                continue;
            }
            Err(e) => break Err(e.into()),
        };
        let origin = if live {
            Utc::now()
        } else {
            settings.file_start
        };
        let mut clock = StreamClock::new(origin, opened.time_base);
        let mut recorder = SegmentRecorder::new(
            &settings.name,
            &settings.clips_dir,
            settings.segment_len_ms,
            opened.parameters.clone(),
            opened.time_base,
            index.clone(),
        )?;
        let mut stream_announced = false;
        let outcome = loop {
            if shutdown.is_triggered() {
                break Ok(());
            }
            let packet = match source::next_video_packet(&mut opened, &name) {
                Ok(Some(p)) => p,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            };
            counters.packets.fetch_add(1, Ordering::Relaxed);
            if let Some(ts) = packet.pts().or(packet.dts()) {
                // Fix the clock's origin on the first packet, before anyone else reads it.
                connection_ms = connection_ms.max(clock.offset_ms(ts));
            }
            if !stream_announced {
                let msg = DecoderMsg::Stream {
                    parameters: opened.parameters.clone(),
                    clock,
                };
                if packet_tx.send(msg).is_err() {
                    break Ok(());
                }
                stream_announced = true;
            }
            match recorder.write(&packet, &mut clock) {
                Ok(Some(clip)) => {
                    clips += 1;
                    let _ = events.send(IngestEvent::Clip(clip));
                }
                Ok(None) => {}
                Err(e) => break Err(e),
            }
            let msg = DecoderMsg::Packet(packet);
            let sent = if live {
                match packet_tx.try_send(msg) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => {
                        // The decoder is behind: recording goes on, decoding resumes cleanly
                        // at the next keyframe.
                        counters.packets_dropped.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                }
            } else {
                packet_tx.send(msg).is_ok()
            };
            if !sent {
                break Ok(());
            }
        };
        media_ms += std::mem::take(&mut connection_ms);
        // Close the open segment whatever happened: it is evidence.
        match recorder.close() {
            Ok(Some(clip)) => {
                clips += 1;
                let _ = events.send(IngestEvent::Clip(clip));
            }
            Ok(None) => {}
            Err(e) => tracing::error!("{e}"),
        }
        match outcome {
            Ok(()) if !live || shutdown.is_triggered() => break Ok(()),
            Ok(()) => tracing::warn!("{name} ended; reconnecting"),
            Err(e) if live => tracing::warn!("{e}; reconnecting"),
            Err(e) => break Err(e.into()),
        }
        counters.reconnects.fetch_add(1, Ordering::Relaxed);
        attempt += 1;
        sleep_unless(&shutdown, settings.reconnect.backoff(attempt));
    };
    drop(packet_tx);
    let reader_ms = crate::cpu::ms_between(reader_cpu, crate::cpu::thread_time());
    let decoder_ms = decoder.join();
    let outcome = match analysis.join() {
        Ok(v) => v,
        Err(_) => return Err(PipelineError::Worker(settings.name.clone())),
    };
    let Ok(decoder_ms) = decoder_ms else {
        return Err(PipelineError::Worker(settings.name.clone()));
    };
    result?;
    let wall = started.elapsed().as_secs_f64();
    let stats = counters.snapshot();
    Ok(IngestReport {
        camera: settings.name,
        stats,
        clips,
        media_seconds: media_ms as f64 / 1000.0,
        wall_seconds: wall,
        realtime_factor: if wall > 0.0 {
            media_ms as f64 / 1000.0 / wall
        } else {
            0.0
        },
        recognize_ms_per_frame: outcome.tally.stages.total_ms
            / outcome.tally.vehicle_passes.max(1) as f64,
        passages: outcome.passages,
        analysis: outcome.tally,
        cpu: CameraCpu {
            reader_ms,
            decoder_ms,
            analysis_ms: outcome.cpu_ms,
        },
    })
}

fn sleep_unless(shutdown: &Shutdown, total: Duration) {
    let end = Instant::now() + total;
    while Instant::now() < end && !shutdown.is_triggered() {
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
}

/// What the decoder thread needs to build a camera's motion gate.
struct FrameGateSpec {
    /// Gate tuning.
    settings: MotionSettings,
    /// Open tracks, written by the analysis thread.
    open_tracks: Arc<AtomicUsize>,
}

/// Held-back frames are passed on as bare times at most this often (media time), so the
/// tracker can end tracks without a message per frame.
const SKIPPED_TICK_MS: i64 = 500;

/// Decodes packets into samples; returns the thread's CPU time, ms.
#[allow(clippy::too_many_arguments)]
fn decoder_loop(
    packets: Receiver<DecoderMsg>,
    frames: Sender<Sample>,
    counters: Arc<StreamCounters>,
    fps: f64,
    threads: usize,
    live: bool,
    gate: Option<FrameGateSpec>,
    camera: &str,
) -> f64 {
    let cpu = crate::cpu::thread_time();
    let mut decoder: Option<FrameDecoder> = None;
    let mut last_tick_ms: Option<i64> = None;
    let mut send = |sample: Sample| match sample {
        Sample::Skipped { at } => {
            counters.frames_gated.fetch_add(1, Ordering::Relaxed);
            let ms = at.timestamp_millis();
            if last_tick_ms.is_none_or(|t| ms < t || ms - t >= SKIPPED_TICK_MS) {
                last_tick_ms = Some(ms);
                // A lost tick only delays the end of a track until the next one.
                let _ = frames.try_send(Sample::Skipped { at });
            }
        }
        frame @ Sample::Frame(..) => {
            if live {
                match frames.try_send(frame) {
                    Ok(()) => counters.frames_analysed.fetch_add(1, Ordering::Relaxed),
                    Err(_) => counters.frames_dropped.fetch_add(1, Ordering::Relaxed),
                };
            } else if frames.send(frame).is_ok() {
                counters.frames_analysed.fetch_add(1, Ordering::Relaxed);
            }
        }
    };
    let new_gate = || {
        gate.as_ref().map(|g| FrameGate {
            gate: MotionGate::new(g.settings.clone()),
            open_tracks: g.open_tracks.clone(),
        })
    };
    let mut errors = 0u64;
    for msg in packets {
        match msg {
            DecoderMsg::Stream { parameters, clock } => {
                if let Some(mut old) = decoder.take() {
                    let _ = old.finish(&mut send);
                }
                match FrameDecoder::new(parameters, clock, fps, threads, new_gate()) {
                    Ok(d) => decoder = Some(d),
                    Err(e) => tracing::error!("camera {camera}: {e}"),
                }
            }
            DecoderMsg::Packet(packet) => {
                let Some(d) = decoder.as_mut() else { continue };
                let before = d.frames_decoded();
                if let Err(e) = d.push(&packet, &mut send) {
                    errors += 1;
                    if errors <= 5 {
                        tracing::warn!("camera {camera}: {e}; skipping");
                    }
                }
                counters
                    .frames_decoded
                    .fetch_add(d.frames_decoded() - before, Ordering::Relaxed);
            }
        }
    }
    if let Some(d) = decoder.as_mut() {
        let before = d.frames_decoded();
        let _ = d.finish(&mut send);
        counters
            .frames_decoded
            .fetch_add(d.frames_decoded() - before, Ordering::Relaxed);
    }
    crate::cpu::ms_between(cpu, crate::cpu::thread_time())
}

/// Turns one recognition of the frame at `at` (the `frame_index`-th decoded) into the
/// tracker's plain input; `searched[i]` says whether vehicle `i`'s plate was looked for
/// (missing entries: it was).
pub fn observations_at(
    at: DateTime<Utc>,
    frame_index: u64,
    r: &Recognition,
    searched: &[bool],
) -> FrameObservations {
    FrameObservations {
        at_ms: at.timestamp_millis(),
        frame_index,
        frame_size: (r.width, r.height),
        vehicles: r
            .vehicles
            .iter()
            .enumerate()
            .map(|(i, v)| VehicleObservation {
                bbox: v.bbox,
                class: v.class,
                score: v.score,
                plate_searched: searched.get(i).copied().unwrap_or(true),
            })
            .collect(),
        plates: r
            .plates
            .iter()
            .map(|p| PlateObservation {
                bbox: p.bbox,
                key: p.key.clone(),
                display: p.display.clone(),
                confidence: p.confidence,
                char_confidences: p.char_confidences.clone(),
                candidates: p.candidates.clone(),
                layout: p.layout,
                vehicle: p.vehicle,
            })
            .collect(),
    }
}

/// A detected vehicle matches a quiet track's expected box when they overlap this much.
const QUIET_MATCH_IOU: f32 = 0.5;
/// A vehicle whose box is shorter than this on either side, in pixels, is too far away for
/// its plate to be read (a plate is about a quarter of a car's width and needs some 40 px to
/// read): it is tracked, but pays for no plate search until it comes closer.
const MIN_READABLE_VEHICLE_PX: f32 = 80.0;
/// On frames where the vehicle detector finds nothing, the plate detector stands in for it
/// (it finds vehicles the vehicle model misses, by their plates); while no unsettled
/// plate-only track is open it runs in one analysis slot in this many.
const PLATE_ONLY_EVERY: i64 = 3;
/// A camera's plate search runs in at most one analysis slot in this many (vehicles are
/// detected and tracked in every one): the plate detector costs three vehicle passes, and a
/// plate seen for a second still gets several reads to vote on.
///
/// Slots are the analysis intervals of media time (200 ms at 5 fps), so which frames get a
/// plate search does not depend on which frames came before: gated or not, a frame in the
/// middle of a passage is searched or not alike.
const PLATE_PASS_EVERY: i64 = 2;

fn analysis_loop(
    settings: CameraSettings,
    lane: Option<Lane>,
    frames: Receiver<Sample>,
    events: Sender<IngestEvent>,
    index: SegmentIndex,
    open_tracks: Arc<AtomicUsize>,
) -> AnalysisOutcome {
    let cpu = crate::cpu::thread_time();
    let Some(lane) = lane else {
        // Recording only: no models, nothing to analyse.
        for _ in frames {}
        return AnalysisOutcome::default();
    };
    let mut tracker = Tracker::new(settings.tracker.clone(), settings.geometry.clone());
    let mut best: HashMap<u64, RgbImage> = HashMap::new();
    let snap_dir = settings.snapshots_dir.join(safe_name(&settings.name));
    let mut outcome = AnalysisOutcome::default();
    let mut memory = PlateMemory::default();
    let mut frame_size = (0u32, 0u32);
    // Length of an analysis slot, ms.
    let slot_ms = (1000.0 / settings.analysis_fps.max(0.01)).round().max(1.0) as i64;
    // Every vehicle of the last analysed frame was quiet.
    let mut all_quiet = false;
    let emit = |p: Passage, best: &mut HashMap<u64, RgbImage>, outcome: &mut AnalysisOutcome| {
        let snapshot = best.remove(&p.track_id);
        let record = passage_record(&settings.name, p, snapshot, &snap_dir, &index);
        outcome.passages += 1;
        let _ = events.send(IngestEvent::Passage(Box::new(record)));
    };
    for sample in frames {
        let (frame, recognition, searched) = match sample {
            Sample::Skipped { at } => {
                // Nothing moved: no detection, but time goes on for the tracker.
                let idle = FrameObservations {
                    at_ms: at.timestamp_millis(),
                    frame_index: 0,
                    frame_size,
                    vehicles: Vec::new(),
                    plates: Vec::new(),
                };
                for p in tracker.update(&idle).ended {
                    emit(p, &mut best, &mut outcome);
                }
                open_tracks.store(tracker.open_tracks(), Ordering::Relaxed);
                continue;
            }
            Sample::Frame(frame, pass) => {
                frame_size = frame.image.dimensions();
                let cut = pass == Pass::Cut;
                if all_quiet && !cut {
                    // Every vehicle of the last analysed frame belonged to a track whose
                    // plate is settled: this frame is skipped, halving the analysis rate while
                    // nothing needs reading; a new vehicle or a cut brings it back at once.
                    all_quiet = false;
                    outcome.tally.quiet_skipped += 1;
                    continue;
                }
                if cut {
                    // A new scene: nothing known about the old one holds.
                    memory.clear();
                }
                let slot = frame.at.timestamp_millis().div_euclid(slot_ms);
                let plate_only = tracker.plate_only_unsettled() || slot % PLATE_ONLY_EVERY == 0;
                let plate_turn = cut || slot % PLATE_PASS_EVERY == 0;
                match cascade(
                    &lane,
                    &tracker,
                    frame,
                    PlateTurn {
                        allowed: plate_turn,
                        plate_only,
                        cut,
                    },
                    &mut memory,
                    &mut outcome.tally,
                    &mut all_quiet,
                ) {
                    Ok(v) => v,
                    Err(InferError::Stopped) => break,
                    Err(e) => {
                        tracing::warn!("camera {}: frame skipped: {e}", settings.name);
                        continue;
                    }
                }
            }
        };
        let update = tracker.update(&observations_at(
            frame.at,
            frame.frame_index,
            &recognition,
            &searched,
        ));
        open_tracks.store(tracker.open_tracks(), Ordering::Relaxed);
        for b in &update.new_best {
            best.insert(
                b.track_id,
                snapshot_crop(&frame.image, &b.vehicle_bbox, b.plate_bbox.as_ref()),
            );
        }
        for p in update.ended {
            emit(p, &mut best, &mut outcome);
        }
    }
    for p in tracker.finish() {
        emit(p, &mut best, &mut outcome);
    }
    open_tracks.store(0, Ordering::Relaxed);
    outcome.tally.reads_recalled = memory.recalled;
    outcome.cpu_ms = crate::cpu::ms_between(cpu, crate::cpu::thread_time());
    outcome
}

/// What the analysis loop allows the plate step on one frame.
#[derive(Debug, Clone, Copy)]
struct PlateTurn {
    /// A frame with vehicles may have a plate search ([`PLATE_PASS_EVERY`]).
    allowed: bool,
    /// A frame without vehicles gets a plate search ([`PLATE_ONLY_EVERY`]).
    plate_only: bool,
    /// A new scene: every readable vehicle needs a read, quiet tracks or not.
    cut: bool,
}

/// The cascade on one frame: vehicles; then plates only if some vehicle still needs a read
/// or none was found.
fn cascade(
    lane: &Lane,
    tracker: &Tracker,
    frame: AnalysisFrame,
    turn: PlateTurn,
    memory: &mut PlateMemory,
    tally: &mut AnalysisTally,
    all_quiet: &mut bool,
) -> Result<(ArcFrame, Recognition, Vec<bool>), InferError> {
    let image = Arc::new(frame.image);
    let (vehicles, prepared, mut timings) = match lane.run(Task::Vehicles {
        frame: image.clone(),
    })? {
        Done::Vehicles {
            vehicles,
            prepared,
            timings,
            cpu_ms,
        } => {
            tally.vehicles_cpu_ms += cpu_ms;
            (vehicles, prepared, timings)
        }
        Done::Plates { .. } => return Err(InferError::Stopped),
    };
    tally.vehicle_passes += 1;
    let quiet = if turn.cut {
        Vec::new()
    } else {
        tracker.quiet_boxes(frame.at.timestamp_millis())
    };
    let readable =
        |b: &crate::scene::BoxXyxy| (b.x2 - b.x1).min(b.y2 - b.y1) >= MIN_READABLE_VEHICLE_PX;
    let wanted: Vec<bool> = vehicles
        .iter()
        .map(|v| readable(&v.bbox) && !quiet.iter().any(|(q, _)| q.iou(&v.bbox) >= QUIET_MATCH_IOU))
        .collect();
    tracing::debug!(
        "cascade: {} vehicles, {} want a plate search, {} quiet tracks; sizes {:?}",
        vehicles.len(),
        wanted.iter().filter(|w| **w).count(),
        quiet.len(),
        vehicles
            .iter()
            .map(|v| (
                (v.bbox.x2 - v.bbox.x1) as i32,
                (v.bbox.y2 - v.bbox.y1) as i32
            ))
            .collect::<Vec<_>>()
    );
    *all_quiet = !vehicles.is_empty()
        && vehicles.iter().all(|v| {
            quiet
                .iter()
                .any(|(q, settled)| *settled && q.iou(&v.bbox) >= QUIET_MATCH_IOU)
        });
    let search = if vehicles.is_empty() {
        turn.plate_only
    } else {
        turn.allowed && wanted.iter().any(|w| *w)
    };
    let searched = if search {
        wanted.clone()
    } else {
        vec![false; vehicles.len()]
    };
    let plates = if search {
        tally.plate_passes += 1;
        let task = Task::Plates {
            frame: image.clone(),
            prepared: Some(prepared),
            vehicles: vehicles.clone(),
            wanted,
            memory: std::mem::take(memory),
        };
        match lane.run(task)? {
            Done::Plates {
                plates,
                memory: back,
                timings: t,
                cpu_ms,
            } => {
                *memory = back;
                tally.plates_cpu_ms += cpu_ms;
                timings.plates_ms += t.plates_ms;
                timings.lines_ms += t.lines_ms;
                timings.ocr_ms += t.ocr_ms;
                timings.total_ms += t.total_ms;
                plates
            }
            Done::Vehicles { .. } => return Err(InferError::Stopped),
        }
    } else {
        tally.plate_passes_saved += 1;
        Vec::new()
    };
    tally.stages.add(&timings);
    let (width, height) = image.dimensions();
    Ok((
        ArcFrame {
            at: frame.at,
            frame_index: frame.frame_index,
            image,
        },
        Recognition {
            width,
            height,
            vehicles,
            plates,
            timings,
        },
        searched,
    ))
}

/// An analysed frame whose picture is shared with the inference workers.
struct ArcFrame {
    /// Wall-clock time the frame shows.
    at: DateTime<Utc>,
    /// Decoded frames before this one.
    frame_index: u64,
    /// The picture.
    image: Arc<RgbImage>,
}

/// The vehicle (and its plate) cut out of the frame with a margin, at most 640 px wide.
fn snapshot_crop(image: &RgbImage, vehicle: &BoxXyxy, plate: Option<&BoxXyxy>) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut b = *vehicle;
    if let Some(p) = plate {
        b = BoxXyxy {
            x1: b.x1.min(p.x1),
            y1: b.y1.min(p.y1),
            x2: b.x2.max(p.x2),
            y2: b.y2.max(p.y2),
        };
    }
    let (x, y, cw, ch) = b.expand(0.1, 0.1, w, h).crop_rect(w, h);
    let crop = image::imageops::crop_imm(image, x, y, cw, ch).to_image();
    if cw > 640 {
        let nh = (ch as f32 * 640.0 / cw as f32).round().max(1.0) as u32;
        image::imageops::resize(&crop, 640, nh, image::imageops::FilterType::Triangle)
    } else {
        crop
    }
}

fn passage_record(
    camera: &str,
    passage: Passage,
    snapshot: Option<RgbImage>,
    snap_dir: &Path,
    index: &SegmentIndex,
) -> PassageRecord {
    let ms = |v: i64| DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(v);
    let best_at = ms(passage.best_at_ms);
    let snapshot_path = snapshot.and_then(|img| {
        let path = snap_dir.join(format!(
            "{}_{}.jpg",
            best_at.format("%Y%m%dT%H%M%S%.3fZ"),
            passage.track_id
        ));
        let saved = std::fs::create_dir_all(snap_dir)
            .map_err(|e| e.to_string())
            .and_then(|_| img.save(&path).map_err(|e| e.to_string()));
        match saved {
            Ok(()) => Some(path),
            Err(e) => {
                tracing::error!("cannot write snapshot {}: {e}", path.display());
                None
            }
        }
    });
    let clip = index.locate(best_at);
    PassageRecord {
        camera: camera.to_string(),
        first_seen: ms(passage.first_seen_ms),
        last_seen: ms(passage.last_seen_ms),
        best_at,
        clip_path: clip.as_ref().map(|c| c.0.clone()),
        clip_offset_ms: clip.map(|c| c.1),
        snapshot_path,
        passage,
    }
}

/// What the log stores for `event`. `counting_line` says whether the camera has a counting
/// line: without one, `crossed_line` is unknown (NULL), not false.
pub fn write_item(event: &IngestEvent, counting_line: bool) -> crate::store::WriteItem {
    use crate::store::{NewClip, NewPassage, NewPlateRead, WriteItem};
    match event {
        IngestEvent::Clip(c) => WriteItem::Clip(NewClip {
            camera: c.camera.clone(),
            started_at: c.started_at,
            ended_at: c.ended_at,
            path: c.path.to_string_lossy().into_owned(),
            bytes: c.bytes as i64,
            sha256: c.sha256.clone(),
        }),
        IngestEvent::Passage(p) => {
            let passage = &p.passage;
            let plate = passage.plate.as_ref();
            let reads = plate
                .map(|v| {
                    v.candidates
                        .iter()
                        .enumerate()
                        .map(|(i, (key, score))| NewPlateRead {
                            rank: i as i16 + 1,
                            key: key.to_string(),
                            confidence: *score,
                            char_confidences: if i == 0 {
                                v.char_confidences.clone()
                            } else {
                                Vec::new()
                            },
                        })
                        .collect()
                })
                .unwrap_or_default();
            let b = passage.best_vehicle_bbox;
            WriteItem::Passage(Box::new(NewPassage {
                camera: p.camera.clone(),
                track_no: passage.track_id as i64,
                first_seen: p.first_seen,
                last_seen: p.last_seen,
                best_at: p.best_at,
                vehicle_class: passage.vehicle_class.as_str().to_string(),
                plate_key: plate.map(|v| v.key.to_string()),
                plate_display: plate.map(|v| v.display.clone()),
                plate_confidence: plate.map(|v| v.confidence),
                is_vietnamese: plate.map(|v| v.is_vietnamese()),
                direction: match passage.direction {
                    crate::track::Direction::Along => "along",
                    crate::track::Direction::Against => "against",
                    crate::track::Direction::Unknown => "unknown",
                }
                .to_string(),
                crossed_line: counting_line.then_some(passage.crossed_line),
                clip_started_at: p
                    .clip_offset_ms
                    .map(|ms| p.best_at - TimeDelta::milliseconds(ms)),
                clip_offset_ms: p.clip_offset_ms,
                snapshot_path: p
                    .snapshot_path
                    .as_ref()
                    .map(|s| s.to_string_lossy().into_owned()),
                bbox: vec![b.x1, b.y1, b.x2, b.y2],
                frames_seen: passage.frames_seen as i32,
                reads,
            }))
        }
    }
}
