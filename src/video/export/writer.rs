//! The output MP4 of an export: one stream copied from the segments, its timestamps placed
//! on one timeline that follows the wall clock, decode times kept strictly increasing.
//!
//! Owns: the muxer (plain MP4 with `faststart`), the check that every segment continues the
//! same stream (codec and size), and the description of the finished file.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use ffmpeg_next::{codec, format, Dictionary, Packet, Rational};

use super::ticks::{clamp_i64, nanos_between, ns_to_ticks, rescale, ticks_to_ns};
use super::{ExportedClip, SegmentInput};
use crate::video::recorder::mp4_output;
use crate::video::VideoError;

/// What must match between segments for their packets to share one stream.
#[derive(Debug, PartialEq, Eq)]
struct VideoShape {
    /// Codec.
    codec: codec::Id,
    /// Width in pixels.
    width: i32,
    /// Height in pixels.
    height: i32,
}

fn shape(parameters: &codec::Parameters) -> VideoShape {
    // SAFETY: the pointer comes from a live Parameters owned by the caller; only plain integer
    // fields are read.
    let (width, height) = unsafe {
        let p = parameters.as_ptr();
        ((*p).width, (*p).height)
    };
    VideoShape {
        codec: parameters.id(),
        width,
        height,
    }
}

/// The output MP4 being written.
pub(super) struct ClipWriter {
    /// The muxer; dropping it closes the file.
    output: format::context::Output,
    /// Where the file is.
    path: PathBuf,
    /// Time base of the output stream (the muxer picks it).
    out_tb: Rational,
    /// Codec and size of the first segment copied.
    shape: VideoShape,
    /// `started_at` of the first segment copied: output ticks count from it...
    anchor: DateTime<Utc>,
    /// ...less this many: the first packet's decode time in that segment, in output ticks.
    shift: i64,
    /// Decode time of the last packet written, output ticks.
    last_dts: Option<i64>,
    /// A packet was dropped: nothing more until a keyframe, as what follows may need it.
    need_key: bool,
    /// How far back (output ticks, 2 ms) a decode time may be nudged forward instead of the
    /// packet dropped: segment start times are rounded to the millisecond.
    tolerance: i64,
    /// Latest end (pts + duration) of a packet written, output ticks.
    end_ts: i64,
}

impl ClipWriter {
    /// Creates `out` and writes the MP4 header with the stream of `input`; `first_dts` (in the
    /// segment's ticks) becomes the output's time 0.
    pub(super) fn create(
        out: &Path,
        input: &SegmentInput,
        started_at: DateTime<Utc>,
        first_dts: i64,
        created: &mut bool,
    ) -> Result<ClipWriter, VideoError> {
        let fail = |reason: String| VideoError::Export {
            path: out.to_path_buf(),
            reason,
        };
        let mut output = mp4_output(out, input.parameters.clone(), input.time_base)
            .map_err(|e| fail(e.to_string()))?;
        *created = true;
        let mut options = Dictionary::new();
        options.set("movflags", "+faststart");
        output
            .write_header_with(options)
            .map_err(|e| fail(e.to_string()))?;
        let out_tb = output
            .stream(0)
            .map(|s| s.time_base())
            .unwrap_or(input.time_base);
        Ok(ClipWriter {
            output,
            path: out.to_path_buf(),
            out_tb,
            shape: shape(&input.parameters),
            anchor: started_at,
            shift: rescale(first_dts, input.time_base, out_tb),
            last_dts: None,
            need_key: false,
            tolerance: clamp_i64(ns_to_ticks(2_000_000, out_tb)),
            end_ts: 0,
        })
    }

    /// Refuses a segment whose stream cannot continue the clip's.
    pub(super) fn check_parameters(
        &self,
        input: &SegmentInput,
        seg_path: &Path,
    ) -> Result<(), VideoError> {
        let theirs = shape(&input.parameters);
        if theirs == self.shape {
            return Ok(());
        }
        Err(VideoError::Export {
            path: self.path.clone(),
            reason: format!(
                "segment {} is {:?} {}x{}, the clip so far {:?} {}x{} (camera reconfigured?): \
                 export the window on either side separately",
                seg_path.display(),
                theirs.codec,
                theirs.width,
                theirs.height,
                self.shape.codec,
                self.shape.width,
                self.shape.height
            ),
        })
    }

    /// Output ticks of time `ts` (segment ticks `tb`) in a segment starting at `started_at`.
    fn place(&self, started_at: DateTime<Utc>, tb: Rational, ts: i64) -> i64 {
        let offset = clamp_i64(ns_to_ticks(
            nanos_between(started_at, self.anchor),
            self.out_tb,
        ));
        offset
            .saturating_add(rescale(ts, tb, self.out_tb))
            .saturating_sub(self.shift)
    }

    /// Wall-clock time of output tick `ts`.
    fn wall(&self, ts: i64) -> DateTime<Utc> {
        let ns = ticks_to_ns(i128::from(ts) + i128::from(self.shift), self.out_tb);
        self.anchor + TimeDelta::nanoseconds(clamp_i64(ns))
    }

    /// Writes one packet; `false` when it was dropped to keep decode times increasing.
    pub(super) fn write(
        &mut self,
        mut packet: Packet,
        started_at: DateTime<Utc>,
        tb: Rational,
        pts: i64,
        dts: i64,
    ) -> Result<bool, VideoError> {
        let pts = self.place(started_at, tb, pts);
        let key = packet.is_key();
        let fitted = fit_dts(
            self.last_dts,
            pts,
            self.place(started_at, tb, dts),
            self.tolerance,
        );
        let Some(dts) = fitted.filter(|_| key || !self.need_key) else {
            self.need_key = true;
            return Ok(false);
        };
        self.need_key = false;
        let duration = rescale(packet.duration().max(0), tb, self.out_tb);
        packet.set_pts(Some(pts));
        packet.set_dts(Some(dts));
        packet.set_duration(duration);
        packet.set_stream(0);
        packet.set_position(-1);
        packet
            .write_interleaved(&mut self.output)
            .map_err(|e| VideoError::Export {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        self.last_dts = Some(dts);
        self.end_ts = self.end_ts.max(pts.saturating_add(duration));
        Ok(true)
    }

    /// Writes the trailer (moving the index to the front), closes the file and describes it.
    pub(super) fn finish(mut self, segments_used: usize) -> Result<ExportedClip, VideoError> {
        let fail = |reason: String| VideoError::Export {
            path: self.path.clone(),
            reason,
        };
        self.output
            .write_trailer()
            .map_err(|e| fail(e.to_string()))?;
        let started_at = self.wall(0);
        let ended_at = self.wall(self.end_ts);
        let path = self.path.clone();
        drop(self.output);
        let (bytes, sha256) =
            crate::digest::sha256_file(&path).map_err(|e| VideoError::Export {
                path: path.clone(),
                reason: e.to_string(),
            })?;
        Ok(ExportedClip {
            path,
            bytes,
            sha256,
            started_at,
            ended_at,
            duration_ms: (ended_at - started_at).num_milliseconds(),
            segments_used,
        })
    }
}

/// The decode time to write a packet with after one written at `last` (all output ticks), so
/// that decode times strictly increase: `dts` itself, `last + 1` when `dts` is at most
/// `tolerance` behind and the packet is still shown after `last`, else `None` (drop it).
pub(super) fn fit_dts(last: Option<i64>, pts: i64, dts: i64, tolerance: i64) -> Option<i64> {
    let dts = match last {
        Some(last) if dts <= last => {
            if last - dts > tolerance || pts <= last {
                return None;
            }
            last + 1
        }
        _ => dts,
    };
    (pts >= dts).then_some(dts)
}
