//! What a video file holds, read from its header without decoding: the video stream's
//! duration and frame size (for checking a truth file against the video before a run).

use std::path::Path;

use ffmpeg_next::{codec, format, media};

use super::{init_ffmpeg, VideoError};

/// Units per second of a container's duration (FFmpeg's `AV_TIME_BASE`).
const CONTAINER_UNITS_PER_S: f64 = 1_000_000.0;

/// A video file's length and frame size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VideoProbe {
    /// Length of the video stream, seconds (the container's when the stream does not say);
    /// `None` when neither says.
    pub duration_s: Option<f64>,
    /// Frame width and height, pixels.
    pub frame: (u32, u32),
}

/// Reads the header of the video file at `path`.
pub fn probe_file(path: &Path) -> Result<VideoProbe, VideoError> {
    init_ffmpeg();
    let fail = |reason: String| VideoError::Open {
        source_name: path.display().to_string(),
        reason,
    };
    if !path.is_file() {
        return Err(fail("no such file".into()));
    }
    let input = format::input(&path).map_err(|e| fail(e.to_string()))?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or_else(|| VideoError::NoVideoStream(path.display().to_string()))?;
    let stream_s =
        (stream.duration() > 0).then(|| stream.duration() as f64 * f64::from(stream.time_base()));
    let container_s =
        (input.duration() > 0).then(|| input.duration() as f64 / CONTAINER_UNITS_PER_S);
    let decoder = codec::context::Context::from_parameters(stream.parameters())
        .and_then(|c| c.decoder().video())
        .map_err(|e| VideoError::Decoder(e.to_string()))?;
    Ok(VideoProbe {
        duration_s: stream_s.or(container_s).filter(|s| s.is_finite()),
        frame: (decoder.width(), decoder.height()),
    })
}
