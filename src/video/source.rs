//! Opening a camera or file and reading its video packets, with reconnects for live sources.
//!
//! Owns: the FFmpeg [`Opener`] (input options: RTSP over TCP, I/O timeouts; the best video
//! stream) and the reconnect policy (exponential backoff) its caller applies.

use std::time::Duration;

use ffmpeg_next::{format, media, Dictionary};

use super::stream::{Opener, Packet, PacketStream, StreamInfo};
use super::{init_ffmpeg, VideoError};

/// Where a camera's video comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// A video file; ends at end of file.
    File(std::path::PathBuf),
    /// A live stream URL (`rtsp://`, `rtsps://`, `http://`...); reconnected when it drops.
    Live(String),
}

impl SourceSpec {
    /// `rtsp://...` and other URLs are live; anything else is a file path.
    pub fn parse(s: &str) -> SourceSpec {
        if s.contains("://") {
            SourceSpec::Live(s.to_string())
        } else {
            SourceSpec::File(s.into())
        }
    }
    /// Whether frames may be dropped to keep up (live) rather than waited for (file).
    pub fn is_live(&self) -> bool {
        matches!(self, SourceSpec::Live(_))
    }
    /// The production [`Opener`] of this source, with `policy`'s I/O timeout.
    pub fn opener(&self, policy: ReconnectPolicy) -> FfmpegOpener {
        FfmpegOpener::new(self.clone(), policy)
    }

    /// A name for messages; URLs lose any password.
    pub fn display_name(&self) -> String {
        match self {
            SourceSpec::File(p) => p.display().to_string(),
            SourceSpec::Live(url) => match (url.find("://"), url.rfind('@')) {
                (Some(scheme), Some(at)) if at > scheme => {
                    format!("{}://***@{}", &url[..scheme], &url[at + 1..])
                }
                _ => url.clone(),
            },
        }
    }
}

/// How long to wait for a live source, and how to retry it.
#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    /// First wait after a failure.
    pub initial_backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
    /// Socket I/O timeout for live sources.
    pub io_timeout: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            max_attempts: None,
            io_timeout: Duration::from_secs(10),
        }
    }
}

impl ReconnectPolicy {
    /// The wait before attempt `n` (1-based), doubling up to the maximum.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}

/// Opens a file or a live URL with FFmpeg: the production [`Opener`].
#[derive(Debug, Clone)]
pub struct FfmpegOpener {
    /// What to open.
    spec: SourceSpec,
    /// Socket I/O timeout for live sources, among others.
    policy: ReconnectPolicy,
}

impl FfmpegOpener {
    /// An opener for `spec`, with `policy`'s I/O timeout for live sources.
    pub fn new(spec: SourceSpec, policy: ReconnectPolicy) -> FfmpegOpener {
        FfmpegOpener { spec, policy }
    }
}

impl Opener for FfmpegOpener {
    fn open(&mut self) -> Result<Box<dyn PacketStream>, VideoError> {
        Ok(Box::new(open(&self.spec, &self.policy)?))
    }
}

/// An open source with its video stream.
struct FfmpegStream {
    /// The demuxer.
    input: format::context::Input,
    /// Index of the video stream.
    stream_index: usize,
    /// What the video stream carries.
    info: StreamInfo,
    /// The source's name for messages.
    name: String,
}

impl PacketStream for FfmpegStream {
    fn info(&self) -> &StreamInfo {
        &self.info
    }

    fn next_packet(&mut self) -> Result<Option<Packet>, VideoError> {
        next_video_packet(self).map(|p| p.map(Packet))
    }
}

/// Opens `spec` once (no retries).
fn open(spec: &SourceSpec, policy: &ReconnectPolicy) -> Result<FfmpegStream, VideoError> {
    init_ffmpeg();
    let name = spec.display_name();
    let fail = |reason: String| VideoError::Open {
        source_name: name.clone(),
        reason,
    };
    let mut options = Dictionary::new();
    let target = match spec {
        SourceSpec::File(path) => {
            if !path.is_file() {
                return Err(fail("no such file".into()));
            }
            path.display().to_string()
        }
        SourceSpec::Live(url) => {
            let micros = policy.io_timeout.as_micros().to_string();
            if url.starts_with("rtsp") {
                options.set("rtsp_transport", "tcp");
                options.set("timeout", &micros);
            } else {
                options.set("rw_timeout", &micros);
            }
            url.clone()
        }
    };
    let input = format::input_with_dictionary(&target, options).map_err(|e| fail(e.to_string()))?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| VideoError::NoVideoStream(name.clone()))?;
    let rate = stream.avg_frame_rate();
    let info = StreamInfo {
        time_base: stream.time_base(),
        parameters: stream.parameters(),
        frame_rate: (rate.numerator() > 0 && rate.denominator() > 0).then(|| f64::from(rate)),
    };
    Ok(FfmpegStream {
        stream_index: stream.index(),
        info,
        input,
        name,
    })
}

/// Reads the next video packet. `Ok(None)` at end of stream.
fn next_video_packet(source: &mut FfmpegStream) -> Result<Option<ffmpeg_next::Packet>, VideoError> {
    loop {
        let mut packet = ffmpeg_next::Packet::empty();
        match packet.read(&mut source.input) {
            Ok(()) => {
                if packet.stream() == source.stream_index {
                    return Ok(Some(packet));
                }
            }
            Err(ffmpeg_next::Error::Eof) => return Ok(None),
            Err(e) => {
                return Err(VideoError::Read {
                    source_name: source.name.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_live_and_hide_passwords() {
        let s = SourceSpec::parse("rtsp://admin:secret@10.0.0.5:554/stream1");
        assert!(s.is_live());
        assert_eq!(s.display_name(), "rtsp://***@10.0.0.5:554/stream1");
        assert!(!SourceSpec::parse("clips/a.mp4").is_live());
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(40), Duration::from_secs(30));
    }
}
