//! The decoder stage: a camera's decoder thread, and the motion gate's decision on each
//! sampled frame.
//!
//! Owns: one [`FrameDecoder`] per connection (a new stream announcement replaces it), the
//! camera's [`MotionGate`] (new with each decoder) and the decision it makes with the
//! tracker's open-track count ([`OpenTracks`], written by the analysis thread), and the hand-off
//! to the analysis thread: frames the gate keeps as [`Sample::Frame`], held-back ones as
//! occasional bare times ([`Sample::Skipped`]).
//!
//! Invariants: a file's frames all reach analysis (the send waits); a live camera's frames
//! are dropped and counted when analysis is behind. Only kept frames pay for RGB conversion.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender};

use super::CameraSettings;
use crate::counters::StreamCounters;
use crate::motion::{GateDecision, MotionGate, MotionSettings, Pass};
use crate::video::decode::{FrameDecoder, SampledFrame};
use crate::video::{AnalysisFrame, Packet, StreamClock, StreamInfo, VideoError};

/// What the reader sends the decoder thread.
pub(super) enum DecoderMsg {
    /// A new connection's stream: what it carries and its clock (origin already fixed).
    Stream {
        /// Codec parameters and time base.
        info: StreamInfo,
        /// Wall-clock conversion shared with the recorder.
        clock: StreamClock,
    },
    /// The next packet of the current stream.
    Packet(Packet),
}

/// What the decoder stage hands on for each sampled frame.
#[derive(Debug)]
pub(super) enum Sample {
    /// A frame for the detectors, and why the gate let it through.
    Frame(AnalysisFrame, Pass),
    /// A frame the motion gate held back: only its time, so the tracker can close tracks.
    Skipped {
        /// Wall-clock time the frame shows.
        at: DateTime<Utc>,
    },
}

/// Tracks the camera's tracker holds open: written by the analysis thread, read by the gate
/// (it keeps looking while a track is open).
#[derive(Debug, Clone, Default)]
pub(super) struct OpenTracks(Arc<AtomicUsize>);

impl OpenTracks {
    /// The tracker now holds `n` open tracks.
    pub fn set(&self, n: usize) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// Open tracks, as last written.
    pub fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

/// Held-back frames are passed on as bare times at most this often (media time), so the
/// tracker can end tracks without a message per frame.
const SKIPPED_TICK_MS: i64 = 500;

/// The decoder thread of one camera.
pub(super) struct DecoderStage {
    /// Camera name, for messages.
    camera: String,
    /// Frames sampled per second.
    fps: f64,
    /// Threads per decoder.
    threads: usize,
    /// Gate tuning; `None` analyses every sampled frame.
    motion: Option<MotionSettings>,
    /// Open tracks, written by the analysis thread.
    open_tracks: OpenTracks,
    /// Where samples go.
    out: Forward,
}

impl DecoderStage {
    /// The decoder stage of `settings`'s camera, sending samples to `frames`.
    pub fn new(
        settings: &CameraSettings,
        counters: Arc<StreamCounters>,
        frames: Sender<Sample>,
        open_tracks: OpenTracks,
    ) -> DecoderStage {
        let fps = settings.analysis_fps;
        DecoderStage {
            camera: settings.name.clone(),
            fps,
            threads: settings.decoder_threads,
            motion: (settings.motion.enabled && fps > 0.0).then(|| settings.motion.clone()),
            open_tracks,
            out: Forward {
                frames,
                counters,
                live: settings.source.is_live(),
                last_tick_ms: None,
            },
        }
    }

    /// Decodes packets into samples until the reader hangs up; returns the thread's CPU
    /// time, ms.
    pub fn run(mut self, packets: Receiver<DecoderMsg>) -> f64 {
        let cpu = crate::cpu::thread_time();
        let mut current: Option<Decoding> = None;
        let mut errors = 0u64;
        for msg in packets {
            match msg {
                DecoderMsg::Stream { info, clock } => {
                    if let Some(mut old) = current.take() {
                        let _ = old.finish(&self.open_tracks, &mut self.out);
                    }
                    current = self.start(&info, clock);
                }
                DecoderMsg::Packet(packet) => {
                    let Some(d) = current.as_mut() else { continue };
                    let before = d.decoder.frames_decoded();
                    if let Err(e) = d.push(&packet, &self.open_tracks, &mut self.out) {
                        errors += 1;
                        if errors <= 5 {
                            tracing::warn!("camera {}: {e}; skipping", self.camera);
                        }
                    }
                    self.count_decoded(d.decoder.frames_decoded() - before);
                }
            }
        }
        if let Some(d) = current.as_mut() {
            let before = d.decoder.frames_decoded();
            let _ = d.finish(&self.open_tracks, &mut self.out);
            self.count_decoded(d.decoder.frames_decoded() - before);
        }
        crate::cpu::ms_between(cpu, crate::cpu::thread_time())
    }

    /// A decoder and a fresh gate for a new connection's stream.
    fn start(&self, info: &StreamInfo, clock: StreamClock) -> Option<Decoding> {
        match FrameDecoder::new(info, clock, self.fps, self.threads) {
            Ok(decoder) => Some(Decoding {
                decoder,
                gate: self.motion.clone().map(MotionGate::new),
            }),
            Err(e) => {
                tracing::error!("camera {}: {e}", self.camera);
                None
            }
        }
    }

    /// Adds `n` decoded frames to the camera's counters.
    fn count_decoded(&self, n: u64) {
        self.out
            .counters
            .frames_decoded
            .fetch_add(n, Ordering::Relaxed);
    }
}

/// One connection's decoder and motion gate.
struct Decoding {
    /// Decodes and samples.
    decoder: FrameDecoder,
    /// Decides which sampled frames the detectors see; `None` lets all through.
    gate: Option<MotionGate>,
}

impl Decoding {
    /// Decodes one packet; its sampled frames go through the gate to `out`.
    fn push(
        &mut self,
        packet: &Packet,
        open_tracks: &OpenTracks,
        out: &mut Forward,
    ) -> Result<(), VideoError> {
        let gate = &mut self.gate;
        self.decoder.push(packet, &mut |frame| {
            out.send(gated(gate.as_mut(), open_tracks, frame)?);
            Ok(())
        })
    }

    /// Flushes the decoder at the end of its stream.
    fn finish(&mut self, open_tracks: &OpenTracks, out: &mut Forward) -> Result<(), VideoError> {
        let gate = &mut self.gate;
        self.decoder.finish(&mut |frame| {
            out.send(gated(gate.as_mut(), open_tracks, frame)?);
            Ok(())
        })
    }
}

/// The gate's decision on one sampled frame: the frame in RGB for the detectors, or only its
/// time. Without an enabled gate every frame goes through, ungated.
fn gated(
    gate: Option<&mut MotionGate>,
    open_tracks: &OpenTracks,
    mut frame: SampledFrame<'_>,
) -> Result<Sample, VideoError> {
    let pass = match gate.filter(|g| g.enabled()) {
        Some(gate) => {
            let thumb = frame.grey_thumb(gate.settings().thumb_width)?;
            match gate.decide(Some(thumb), frame.offset_ms(), open_tracks.get()) {
                GateDecision::Analyse(pass) => pass,
                GateDecision::Skip => return Ok(Sample::Skipped { at: frame.at() }),
            }
        }
        None => Pass::Ungated,
    };
    Ok(Sample::Frame(frame.into_analysis_frame()?, pass))
}

/// Hands samples to the analysis thread and counts them.
struct Forward {
    /// To the analysis thread.
    frames: Sender<Sample>,
    /// Frames analysed, dropped, gated.
    counters: Arc<StreamCounters>,
    /// A live source: drop frames rather than wait.
    live: bool,
    /// Media time of the last held-back frame passed on, ms.
    last_tick_ms: Option<i64>,
}

impl Forward {
    /// Passes `sample` on: every kept frame of a file, a live camera's kept frames while
    /// analysis has room, held-back frames as a tick every [`SKIPPED_TICK_MS`].
    fn send(&mut self, sample: Sample) {
        match sample {
            Sample::Skipped { at } => {
                self.counters.frames_gated.fetch_add(1, Ordering::Relaxed);
                let ms = at.timestamp_millis();
                if self
                    .last_tick_ms
                    .is_none_or(|t| ms < t || ms - t >= SKIPPED_TICK_MS)
                {
                    self.last_tick_ms = Some(ms);
                    // A lost tick only delays the end of a track until the next one.
                    let _ = self.frames.try_send(Sample::Skipped { at });
                }
            }
            frame @ Sample::Frame(..) => {
                if self.live {
                    match self.frames.try_send(frame) {
                        Ok(()) => self
                            .counters
                            .frames_analysed
                            .fetch_add(1, Ordering::Relaxed),
                        Err(_) => self.counters.frames_dropped.fetch_add(1, Ordering::Relaxed),
                    };
                } else if self.frames.send(frame).is_ok() {
                    self.counters
                        .frames_analysed
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}
