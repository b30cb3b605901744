//! Decoding a camera's packets and sampling frames for analysis.
//!
//! Owns: the FFmpeg decoder (frame threading), the analysis-rate sampler (every frame is
//! decoded, since H.264 needs them, but only sampled frames pay for RGB conversion), and what
//! a sampled frame can be turned into ([`SampledFrame`]): a grey thumbnail straight from the
//! luma plane (for the motion gate, before any RGB conversion) and an `RgbImage` with the
//! frame's wall-clock time.
//!
//! Must not: decide which sampled frames are analysed. The caller looks at each
//! [`SampledFrame`] and converts only those it keeps.

use chrono::{DateTime, Utc};
use ffmpeg_next::codec;
use ffmpeg_next::codec::threading;
use ffmpeg_next::software::scaling;
use ffmpeg_next::util::format::Pixel;
use ffmpeg_next::util::frame::Video as VideoFrame;
use image::RgbImage;

use super::clock::StreamClock;
use super::stream::{Packet, StreamInfo};
use super::{AnalysisFrame, VideoError};
use crate::motion::GreyThumb;

/// Picks frames at a target rate from timestamps: a frame is taken when it falls in a later
/// analysis interval than the last one taken. Pure.
#[derive(Debug, Clone, Copy)]
pub struct FrameSampler {
    /// Interval between analysed frames, milliseconds.
    interval_ms: i64,
    /// Interval number of the last frame taken.
    last_bucket: Option<i64>,
    /// False for a rate of 0: decode only, analyse nothing.
    enabled: bool,
}

impl FrameSampler {
    /// A sampler for `fps` frames per second; 0 (or less) takes nothing.
    pub fn new(fps: f64) -> FrameSampler {
        FrameSampler {
            interval_ms: (1000.0 / fps.max(0.01)).round().max(1.0) as i64,
            last_bucket: None,
            enabled: fps > 0.0,
        }
    }

    /// Whether the frame at `offset_ms` (from stream start) should be analysed.
    pub fn take(&mut self, offset_ms: i64) -> bool {
        if !self.enabled {
            return false;
        }
        let bucket = offset_ms.div_euclid(self.interval_ms);
        match self.last_bucket {
            Some(last) if bucket <= last && bucket >= last - 1000 => false,
            _ => {
                self.last_bucket = Some(bucket);
                true
            }
        }
    }
}

/// Decodes one stream and hands out sampled RGB frames.
pub struct FrameDecoder {
    /// The opened FFmpeg decoder.
    decoder: codec::decoder::Video,
    /// RGB converter; rebuilt if the frame size or format changes.
    scaler: Option<Scaler>,
    /// Wall-clock conversion shared with the recorder.
    clock: StreamClock,
    /// Which frames to analyse.
    sampler: FrameSampler,
    /// Frames decoded so far.
    decoded: u64,
}

impl FrameDecoder {
    /// A decoder for a stream that carries `stream`, using `threads` decoding threads and
    /// sampling `analysis_fps` frames a second.
    pub fn new(
        stream: &StreamInfo,
        clock: StreamClock,
        analysis_fps: f64,
        threads: usize,
    ) -> Result<FrameDecoder, VideoError> {
        let mut context = codec::context::Context::from_parameters(stream.parameters.clone())
            .map_err(|e| VideoError::Decoder(e.to_string()))?;
        context.set_threading(threading::Config {
            kind: threading::Type::Frame,
            count: threads.max(1),
            ..Default::default()
        });
        let decoder = context
            .decoder()
            .video()
            .map_err(|e| VideoError::Decoder(e.to_string()))?;
        Ok(FrameDecoder {
            decoder,
            scaler: None,
            clock,
            sampler: FrameSampler::new(analysis_fps),
            decoded: 0,
        })
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.decoded
    }

    /// Feeds one packet; sampled frames go to `out`. A corrupt packet is an error the caller
    /// may log and skip: the decoder recovers at the next keyframe. An error from `out` stops
    /// the frames of this packet and is returned.
    pub fn push(
        &mut self,
        packet: &Packet,
        out: &mut impl FnMut(SampledFrame<'_>) -> Result<(), VideoError>,
    ) -> Result<(), VideoError> {
        let sent = self.decoder.send_packet(&packet.0);
        self.drain(out)?;
        sent.map_err(|e| VideoError::Decoder(format!("packet rejected: {e}")))
    }

    /// Flushes the decoder at end of stream.
    pub fn finish(
        &mut self,
        out: &mut impl FnMut(SampledFrame<'_>) -> Result<(), VideoError>,
    ) -> Result<(), VideoError> {
        let _ = self.decoder.send_eof();
        self.drain(out)
    }

    fn drain(
        &mut self,
        out: &mut impl FnMut(SampledFrame<'_>) -> Result<(), VideoError>,
    ) -> Result<(), VideoError> {
        let mut frame = VideoFrame::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            let index = self.decoded;
            self.decoded += 1;
            let Some(ts) = frame.timestamp().or(frame.pts()) else {
                continue;
            };
            let offset_ms = self.clock.offset_ms(ts);
            if !self.sampler.take(offset_ms) {
                continue;
            }
            out(SampledFrame {
                at: self.clock.wall(ts),
                offset_ms,
                frame_index: index,
                frame: &frame,
                scaler: &mut self.scaler,
                image: None,
            })?;
        }
        Ok(())
    }
}

/// A frame the sampler took: its times, and what it can be turned into. Lives for one call of
/// the decoder's `out`.
pub struct SampledFrame<'a> {
    /// Wall-clock time the frame shows.
    at: DateTime<Utc>,
    /// Milliseconds from the stream's first timestamp.
    offset_ms: i64,
    /// Count of decoded frames before this one.
    frame_index: u64,
    /// The decoded picture.
    frame: &'a VideoFrame,
    /// The decoder's RGB converter.
    scaler: &'a mut Option<Scaler>,
    /// The RGB picture, once converted.
    image: Option<RgbImage>,
}

/// An RGB converter and the frame format and size it was built for.
type Scaler = (scaling::Context, Pixel, u32, u32);

impl SampledFrame<'_> {
    /// Wall-clock time the frame shows.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Milliseconds from the stream's first timestamp (media time).
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms
    }

    /// A grey thumbnail `width` pixels wide: straight from the luma plane for 8-bit YUV;
    /// other formats are converted to RGB first (and the RGB picture is kept for
    /// [`Self::into_analysis_frame`]).
    pub fn grey_thumb(&mut self, width: u32) -> Result<GreyThumb, VideoError> {
        if let Some((plane, stride)) = luma_plane(self.frame) {
            return Ok(GreyThumb::from_luma(
                plane,
                stride,
                self.frame.width(),
                self.frame.height(),
                width,
            ));
        }
        let rgb = convert_to_rgb(self.scaler, self.frame)?;
        let thumb = GreyThumb::from_rgb(rgb.as_raw(), rgb.width(), rgb.height(), width);
        self.image = Some(rgb);
        Ok(thumb)
    }

    /// The frame as an RGB picture with its time, for the detectors.
    pub fn into_analysis_frame(self) -> Result<AnalysisFrame, VideoError> {
        let image = match self.image {
            Some(i) => i,
            None => convert_to_rgb(self.scaler, self.frame)?,
        };
        Ok(AnalysisFrame {
            at: self.at,
            frame_index: self.frame_index,
            image,
        })
    }
}

/// `frame` as an RGB picture, through `scaler` (rebuilt when the frame's format or size
/// changed).
fn convert_to_rgb(scaler: &mut Option<Scaler>, frame: &VideoFrame) -> Result<RgbImage, VideoError> {
    let (w, h, fmt) = (frame.width(), frame.height(), frame.format());
    let stale = !matches!(scaler, Some((_, f, sw, sh)) if *f == fmt && *sw == w && *sh == h);
    if stale {
        let ctx = scaling::Context::get(fmt, w, h, Pixel::RGB24, w, h, scaling::Flags::BILINEAR)
            .map_err(|e| VideoError::Decoder(format!("no RGB conversion from {fmt:?}: {e}")))?;
        *scaler = Some((ctx, fmt, w, h));
    }
    let Some((scaler, ..)) = scaler.as_mut() else {
        return Err(VideoError::Decoder("no RGB converter".into()));
    };
    let mut rgb = VideoFrame::empty();
    scaler
        .run(frame, &mut rgb)
        .map_err(|e| VideoError::Decoder(e.to_string()))?;
    let stride = rgb.stride(0);
    let data = rgb.data(0);
    let row = (w * 3) as usize;
    let mut pixels = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        pixels.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    RgbImage::from_raw(w, h, pixels)
        .ok_or_else(|| VideoError::Decoder("frame size mismatch".into()))
}

/// The luma plane of an 8-bit YUV frame and its stride; `None` for other formats.
fn luma_plane(frame: &VideoFrame) -> Option<(&[u8], usize)> {
    let yuv8 = matches!(
        frame.format(),
        Pixel::YUV420P
            | Pixel::YUVJ420P
            | Pixel::YUV422P
            | Pixel::YUVJ422P
            | Pixel::YUV444P
            | Pixel::YUVJ444P
            | Pixel::NV12
            | Pixel::NV21
    );
    if !yuv8 || frame.planes() == 0 {
        return None;
    }
    Some((frame.data(0), frame.stride(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_takes_one_frame_per_interval() {
        let mut s = FrameSampler::new(5.0);
        // 25 fps input: 40 ms apart.
        let taken: Vec<i64> = (0..25).map(|i| i * 40).filter(|t| s.take(*t)).collect();
        assert_eq!(taken, vec![0, 200, 400, 600, 800]);
    }

    #[test]
    fn a_zero_rate_takes_nothing() {
        let mut s = FrameSampler::new(0.0);
        assert!((0..100).all(|i| !s.take(i * 40)));
    }

    #[test]
    fn sampler_restarts_after_a_jump_back() {
        let mut s = FrameSampler::new(5.0);
        assert!(s.take(10_000_000));
        assert!(!s.take(10_000_050));
        assert!(s.take(0));
    }
}
