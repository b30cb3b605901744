//! The packet-source seam: how the rest of the crate gets a camera's encoded video without
//! seeing FFmpeg.
//!
//! Owns: the [`Opener`] / [`PacketStream`] pair (as moonfire-nvr's stream `Opener` and
//! `Stream`): an opener makes one connection to a source, the stream it returns says what it
//! carries ([`StreamInfo`]: codec parameters, time base) and hands out [`Packet`]s until it
//! ends or fails. The FFmpeg implementation is [`super::FfmpegOpener`]; tests replay
//! packets from memory through the same traits.
//!
//! Invariant: [`Packet`] and [`StreamInfo`] wrap FFmpeg values that only `video` can look
//! inside; outside it they are opaque tokens handed from the source to the recorder and the
//! decoder ([`super::SegmentRecorder`], [`super::decode::FrameDecoder`]).

use chrono::{DateTime, Utc};
use ffmpeg_next::{codec, Rational};

use super::clock::StreamClock;
use super::VideoError;

/// One encoded video packet, opaque outside `video`.
#[derive(Clone)]
pub struct Packet(pub(super) ffmpeg_next::Packet);

impl Packet {
    /// The packet's presentation time stamp, or its decode time stamp when it has none, in
    /// units of its stream's time base.
    pub fn timestamp(&self) -> Option<i64> {
        self.0.pts().or(self.0.dts())
    }

    /// Whether the packet starts a keyframe (a segment or a decode may start here).
    pub fn is_key(&self) -> bool {
        self.0.is_key()
    }
}

impl std::fmt::Debug for Packet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packet")
            .field("pts", &self.0.pts())
            .field("dts", &self.0.dts())
            .field("key", &self.0.is_key())
            .field("bytes", &self.0.size())
            .finish()
    }
}

/// What an open stream carries: codec parameters (for the recorder and the decoder), time
/// base and nominal frame rate. Opaque outside `video`.
#[derive(Clone)]
pub struct StreamInfo {
    /// Codec parameters, copied into segments and used to open decoders.
    pub(super) parameters: codec::Parameters,
    /// Seconds per timestamp unit.
    pub(super) time_base: Rational,
    /// Nominal frame rate, if the container says.
    pub(super) frame_rate: Option<f64>,
}

impl StreamInfo {
    /// A clock that turns this stream's timestamps into wall-clock time, the first one
    /// being `origin`.
    pub fn clock(&self, origin: DateTime<Utc>) -> StreamClock {
        StreamClock::new(origin, self.time_base)
    }

    /// Nominal frame rate, if the container says.
    pub fn frame_rate(&self) -> Option<f64> {
        self.frame_rate
    }
}

impl std::fmt::Debug for StreamInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInfo")
            .field("codec", &self.parameters.id())
            .field("time_base", &self.time_base)
            .field("frame_rate", &self.frame_rate)
            .finish()
    }
}

/// One connection to a source: what it carries, then its packets.
pub trait PacketStream {
    /// What the stream carries; the same for every packet of this connection.
    fn info(&self) -> &StreamInfo;

    /// The next video packet; `Ok(None)` when the stream has ended.
    fn next_packet(&mut self) -> Result<Option<Packet>, VideoError>;
}

/// Opens a source, once per connection (a live source is opened again after it drops).
pub trait Opener {
    /// Makes one connection (no retries: the caller owns the reconnect policy).
    fn open(&mut self) -> Result<Box<dyn PacketStream>, VideoError>;
}
