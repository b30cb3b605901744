//! Decoding a camera's packets and choosing frames for analysis.
//!
//! Owns: the FFmpeg decoder (frame threading), the analysis-rate sampler (every frame is
//! decoded, since H.264 needs them, but only sampled frames pay for RGB conversion), the
//! motion gate's look at each sampled frame (a grey thumbnail straight from the luma plane,
//! before any RGB conversion), and the conversion to `RgbImage` with the frame's wall-clock
//! time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use ffmpeg_next::codec::threading;
use ffmpeg_next::software::scaling;
use ffmpeg_next::util::format::Pixel;
use ffmpeg_next::util::frame::Video as VideoFrame;
use ffmpeg_next::{codec, Packet};
use image::RgbImage;

use super::source::StreamClock;
use super::{AnalysisFrame, VideoError};
use crate::motion::{GateDecision, GreyThumb, MotionGate, Pass};

/// What the decoder hands on for each sampled frame.
#[derive(Debug)]
pub enum Sample {
    /// A frame for the detectors, and why the gate let it through.
    Frame(AnalysisFrame, Pass),
    /// A frame the motion gate held back: only its time, so the tracker can close tracks.
    Skipped {
        /// Wall-clock time the frame shows.
        at: DateTime<Utc>,
    },
}

/// A camera's motion gate and what it needs to know of the tracker.
#[derive(Debug)]
pub struct FrameGate {
    /// The gate.
    pub gate: MotionGate,
    /// Tracks the camera's tracker holds open, written by the analysis thread.
    pub open_tracks: Arc<AtomicUsize>,
}

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
    scaler: Option<(scaling::Context, Pixel, u32, u32)>,
    /// Wall-clock conversion shared with the recorder.
    clock: StreamClock,
    /// Which frames to analyse.
    sampler: FrameSampler,
    /// Frames decoded so far.
    decoded: u64,
    /// The motion gate; `None` analyses every sampled frame.
    gate: Option<FrameGate>,
}

impl FrameDecoder {
    /// A decoder for a stream with `parameters`, using `threads` decoding threads.
    pub fn new(
        parameters: codec::Parameters,
        clock: StreamClock,
        analysis_fps: f64,
        threads: usize,
        gate: Option<FrameGate>,
    ) -> Result<FrameDecoder, VideoError> {
        let mut context = codec::context::Context::from_parameters(parameters)
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
            gate,
        })
    }

    /// Frames decoded so far.
    pub fn frames_decoded(&self) -> u64 {
        self.decoded
    }

    /// Feeds one packet; sampled frames go to `out`. A corrupt packet is an error the caller
    /// may log and skip: the decoder recovers at the next keyframe.
    pub fn push(
        &mut self,
        packet: &Packet,
        out: &mut impl FnMut(Sample),
    ) -> Result<(), VideoError> {
        let sent = self.decoder.send_packet(packet);
        self.drain(out)?;
        sent.map_err(|e| VideoError::Decoder(format!("packet rejected: {e}")))
    }

    /// Flushes the decoder at end of stream.
    pub fn finish(&mut self, out: &mut impl FnMut(Sample)) -> Result<(), VideoError> {
        let _ = self.decoder.send_eof();
        self.drain(out)
    }

    fn drain(&mut self, out: &mut impl FnMut(Sample)) -> Result<(), VideoError> {
        let mut frame = VideoFrame::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            let index = self.decoded;
            self.decoded += 1;
            let Some(ts) = frame.timestamp().or(frame.pts()) else {
                continue;
            };
            let offset = self.clock.offset_ms(ts);
            if !self.sampler.take(offset) {
                continue;
            }
            let at = self.clock.wall(ts);
            let mut image = None;
            let thumb_width = self
                .gate
                .as_ref()
                .filter(|g| g.gate.enabled())
                .map(|g| g.gate.settings().thumb_width);
            let pass = match thumb_width {
                Some(width) => {
                    let thumb = match luma_plane(&frame) {
                        Some((plane, stride)) => GreyThumb::from_luma(
                            plane,
                            stride,
                            frame.width(),
                            frame.height(),
                            width,
                        ),
                        None => {
                            // Not 8-bit YUV: convert first, then look.
                            let rgb = self.convert_to_rgb(&frame)?;
                            let t =
                                GreyThumb::from_rgb(rgb.as_raw(), rgb.width(), rgb.height(), width);
                            image = Some(rgb);
                            t
                        }
                    };
                    let decision = match self.gate.as_mut() {
                        Some(g) => {
                            let open = g.open_tracks.load(Ordering::Relaxed);
                            g.gate.decide(Some(thumb), offset, open)
                        }
                        None => GateDecision::Analyse(Pass::Ungated),
                    };
                    match decision {
                        GateDecision::Analyse(pass) => pass,
                        GateDecision::Skip => {
                            out(Sample::Skipped { at });
                            continue;
                        }
                    }
                }
                None => Pass::Ungated,
            };
            let image = match image {
                Some(i) => i,
                None => self.convert_to_rgb(&frame)?,
            };
            out(Sample::Frame(
                AnalysisFrame {
                    at,
                    frame_index: index,
                    image,
                },
                pass,
            ));
        }
        Ok(())
    }

    fn convert_to_rgb(&mut self, frame: &VideoFrame) -> Result<RgbImage, VideoError> {
        let (w, h, fmt) = (frame.width(), frame.height(), frame.format());
        let stale =
            !matches!(&self.scaler, Some((_, f, sw, sh)) if *f == fmt && *sw == w && *sh == h);
        if stale {
            let ctx =
                scaling::Context::get(fmt, w, h, Pixel::RGB24, w, h, scaling::Flags::BILINEAR)
                    .map_err(|e| {
                        VideoError::Decoder(format!("no RGB conversion from {fmt:?}: {e}"))
                    })?;
            self.scaler = Some((ctx, fmt, w, h));
        }
        let Some((scaler, ..)) = self.scaler.as_mut() else {
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
