//! Video in and out with FFmpeg (ffmpeg-next): opening a camera or file, recording its packets
//! into MP4 segments without re-encoding, and decoding sampled frames for analysis.
//!
//! Owns: everything that touches libav*. The rest of the crate sees plain types:
//! [`ClipSegment`] (a closed segment on disk), [`AnalysisFrame`] (an RGB frame with its
//! wall-clock time), [`VideoProbe`] (a file's length and frame size), [`SourceSpec`], and
//! the packet-source seam ([`Opener`], [`PacketStream`]) whose [`Packet`] and [`StreamInfo`]
//! are opaque outside this module.
//!
//! Invariants: timestamps are converted to wall-clock time in one place
//! ([`clock::StreamClock`]); a segment always starts on a keyframe; every segment is a
//! fragmented MP4, so a crash loses at most the fragment being written.

pub mod clock;
pub mod decode;
pub mod export;
pub mod probe;
pub mod recorder;
pub mod source;
pub mod stream;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

use chrono::{DateTime, Utc};
use image::RgbImage;

pub use clock::StreamClock;
pub use probe::{probe_file, VideoProbe};
pub use recorder::{ClipSegment, SegmentRecorder};
pub use source::{FfmpegOpener, SourceSpec};
pub use stream::{Opener, Packet, PacketStream, StreamInfo};

/// Everything that can go wrong with video.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The source could not be opened (missing file, not a video, nothing listening).
    #[error("cannot open video source {source_name}: {reason}")]
    Open { source_name: String, reason: String },
    /// The source has no video stream.
    #[error("video source {0} has no video stream")]
    NoVideoStream(String),
    /// Reading from an open source failed (dropped connection, corrupt data).
    #[error("reading {source_name} failed: {reason}")]
    Read { source_name: String, reason: String },
    /// A decoder could not be set up.
    #[error("cannot decode {0}")]
    Decoder(String),
    /// A segment file could not be written.
    #[error("cannot write segment {path}: {reason}")]
    Segment { path: PathBuf, reason: String },
    /// An export window holds no recorded video (no segment overlaps it, or none of its
    /// packets falls inside it).
    #[error("nothing to export: {reason}")]
    NothingToExport { reason: String },
    /// An exported clip could not be written, or its segments cannot be joined.
    #[error("cannot export to {path}: {reason}")]
    Export { path: PathBuf, reason: String },
    /// A live source stayed unreachable for every retry.
    #[error("video source {source_name} unreachable after {attempts} attempts: {reason}")]
    GaveUp {
        source_name: String,
        attempts: u32,
        reason: String,
    },
}

/// One decoded frame chosen for analysis.
#[derive(Debug, Clone)]
pub struct AnalysisFrame {
    /// Wall-clock time the frame shows.
    pub at: DateTime<Utc>,
    /// Count of decoded frames before this one (all frames, not only analysed ones).
    pub frame_index: u64,
    /// The picture, RGB at the source's resolution.
    pub image: RgbImage,
}

/// A cancellation signal shared by every loop of a camera (and the whole process): once
/// triggered it stays triggered.
#[derive(Debug, Clone, Default)]
pub struct Shutdown(Arc<AtomicBool>);

impl Shutdown {
    /// A signal not yet triggered.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }
    /// Triggers the signal.
    pub fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    /// Whether the signal was triggered.
    pub fn is_triggered(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Initialises libav* once per process and keeps its logging to errors.
pub fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // init() only registers codecs; it cannot fail on the FFmpeg versions we build against.
        let _ = ffmpeg_next::init();
        ffmpeg_next::util::log::set_level(ffmpeg_next::util::log::Level::Fatal);
    });
}
