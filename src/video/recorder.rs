//! The recorder: a camera's packets remuxed, never re-encoded, into MP4 segments.
//!
//! Owns: cutting segments on keyframes once they reach the configured length, naming them by
//! camera and start time, and closing each into a [`ClipSegment`] (size and SHA-256).
//! Segments are fragmented MP4 (`frag_keyframe+empty_moov`): every keyframe starts a
//! fragment, so a crash leaves a playable file up to the last complete fragment.
//!
//! A segment's `started_at` is the wall-clock time of its first packet's decode timestamp,
//! which is time 0 in the file: `offset_ms = t - started_at` seeks to `t`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use ffmpeg_next::{codec, encoder, format, Dictionary, Rational};
use serde::Serialize;

use super::clock::{ticks_to_ms, StreamClock};
use super::stream::{Packet, StreamInfo};
use super::VideoError;

/// A closed MP4 segment on disk.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ClipSegment {
    /// Camera that recorded it.
    pub camera: String,
    /// Wall-clock time of the file's time 0.
    pub started_at: DateTime<Utc>,
    /// Wall-clock time where the last frame ends.
    pub ended_at: DateTime<Utc>,
    /// Where the file is.
    pub path: PathBuf,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex: evidence that it was not altered.
    pub sha256: String,
}

/// Segments of one camera known so far, open or closed, in start order; shared with the
/// analysis thread so a passage can name the segment holding its best frame.
#[derive(Debug, Clone, Default)]
pub struct SegmentIndex(Arc<Mutex<Vec<SegmentStart>>>);

/// When a segment starts, and its file.
type SegmentStart = (DateTime<Utc>, PathBuf);

impl SegmentIndex {
    /// Records a segment that has just been opened, or one recorded earlier that is being read
    /// again (segments are added in start order).
    pub fn add(&self, started_at: DateTime<Utc>, path: PathBuf) {
        if let Ok(mut v) = self.0.lock() {
            v.push((started_at, path));
        }
    }

    /// The segment holding wall-clock time `at`, with the offset into it in milliseconds.
    pub fn locate(&self, at: DateTime<Utc>) -> Option<(PathBuf, i64)> {
        let v = self.0.lock().ok()?;
        let i = v.partition_point(|(start, _)| *start <= at);
        let (start, path) = v.get(i.checked_sub(1)?)?;
        Some((path.clone(), (at - *start).num_milliseconds()))
    }
}

struct OpenSegment {
    output: format::context::Output,
    path: PathBuf,
    started_at: DateTime<Utc>,
    /// Stream offset (ms) of the segment's first packet, to decide when it is long enough.
    start_offset_ms: i64,
    /// Decode timestamp of the first packet, subtracted so the file starts at 0.
    start_dts: i64,
    /// Time base of the output stream (the muxer picks it).
    out_tb: Rational,
    /// End of the last packet written, in stream units.
    end_ts: i64,
}

/// A new MP4 file at `path` with one stream copied (never re-encoded) from a stream with
/// `parameters` and `time_base`; the header is not written yet. On failure no file is left. Shared by the recorder and the
/// clip export.
pub(super) fn mp4_output(
    path: &Path,
    parameters: codec::Parameters,
    time_base: Rational,
) -> Result<format::context::Output, ffmpeg_next::Error> {
    let mut output = format::output_as(path, "mp4")?;
    {
        let mut stream = match output.add_stream(encoder::find(codec::Id::None)) {
            Ok(s) => s,
            Err(e) => {
                // The file exists by now; leave nothing half-made behind.
                drop(output);
                let _ = std::fs::remove_file(path);
                return Err(e);
            }
        };
        stream.set_parameters(parameters);
        stream.set_time_base(time_base);
        // SAFETY: the stream was just created by this output and is not shared; clearing
        // the codec tag lets the MP4 muxer choose its own, as FFmpeg's remux example does.
        unsafe {
            (*stream.parameters().as_mut_ptr()).codec_tag = 0;
        }
    }
    Ok(output)
}

/// Writes one camera's packets into segments.
pub struct SegmentRecorder {
    /// Camera name, in file names and records.
    camera: String,
    /// Folder for this camera's segments.
    dir: PathBuf,
    /// Target segment length; segments end on the first keyframe after it.
    segment_len_ms: i64,
    /// Codec parameters copied into every segment.
    parameters: codec::Parameters,
    /// Time base of incoming packets.
    in_tb: Rational,
    /// The segment being written.
    open: Option<OpenSegment>,
    /// Shared list of segments, for clip linkage.
    index: SegmentIndex,
}

/// Keeps letters, digits, `-` and `_` so a camera name is a safe folder name.
pub fn safe_name(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() {
        "camera".into()
    } else {
        s
    }
}

impl SegmentRecorder {
    /// A recorder writing under `clips_dir/<camera>/` the packets of a stream that carries
    /// `stream`.
    pub fn new(
        camera: &str,
        clips_dir: &Path,
        segment_len_ms: i64,
        stream: &StreamInfo,
        index: SegmentIndex,
    ) -> Result<SegmentRecorder, VideoError> {
        let dir = clips_dir.join(safe_name(camera));
        std::fs::create_dir_all(&dir).map_err(|e| VideoError::Segment {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        Ok(SegmentRecorder {
            camera: camera.to_string(),
            dir,
            segment_len_ms: segment_len_ms.max(1000),
            parameters: stream.parameters.clone(),
            in_tb: stream.time_base,
            open: None,
            index,
        })
    }

    /// Writes one packet; returns the segment it closed, if it started a new one.
    pub fn write(
        &mut self,
        packet: &Packet,
        clock: &mut StreamClock,
    ) -> Result<Option<ClipSegment>, VideoError> {
        let packet = &packet.0;
        let (Some(dts), Some(pts)) = (packet.dts().or(packet.pts()), packet.pts().or(packet.dts()))
        else {
            return Ok(None);
        };
        let mut closed = None;
        let due = self
            .open
            .as_ref()
            .is_some_and(|s| clock.offset_ms(pts) - s.start_offset_ms >= self.segment_len_ms);
        if packet.is_key() && (self.open.is_none() || due) {
            closed = self.close()?;
            self.open = Some(self.start(dts, clock)?);
        }
        let Some(seg) = self.open.as_mut() else {
            // Before the first keyframe nothing can be decoded: skip.
            return Ok(closed);
        };
        let mut out = packet.clone();
        out.set_pts(Some(pts - seg.start_dts));
        out.set_dts(Some(dts - seg.start_dts));
        out.rescale_ts(self.in_tb, seg.out_tb);
        out.set_stream(0);
        out.set_position(-1);
        seg.end_ts = seg.end_ts.max(pts + packet.duration().max(0));
        out.write_interleaved(&mut seg.output)
            .map_err(|e| VideoError::Segment {
                path: seg.path.clone(),
                reason: e.to_string(),
            })?;
        Ok(closed)
    }

    fn start(&mut self, dts: i64, clock: &mut StreamClock) -> Result<OpenSegment, VideoError> {
        let started_at = clock.wall(dts);
        let path = self
            .dir
            .join(format!("{}.mp4", started_at.format("%Y%m%dT%H%M%S%.3fZ")));
        let fail = |reason: String| VideoError::Segment {
            path: path.clone(),
            reason,
        };
        let mut output = mp4_output(&path, self.parameters.clone(), self.in_tb)
            .map_err(|e| fail(e.to_string()))?;
        let mut options = Dictionary::new();
        options.set("movflags", "frag_keyframe+empty_moov+default_base_moof");
        // Hand each finished fragment to the OS at once, so a crash cuts at most the one
        // being written.
        options.set("flush_packets", "1");
        output
            .write_header_with(options)
            .map_err(|e| fail(e.to_string()))?;
        let out_tb = output
            .stream(0)
            .map(|s| s.time_base())
            .unwrap_or(self.in_tb);
        self.index.add(started_at, path.clone());
        Ok(OpenSegment {
            output,
            started_at,
            start_offset_ms: clock.offset_ms(dts),
            start_dts: dts,
            out_tb,
            end_ts: dts,
            path,
        })
    }

    /// Closes the open segment, if any, and describes it.
    pub fn close(&mut self) -> Result<Option<ClipSegment>, VideoError> {
        let Some(mut seg) = self.open.take() else {
            return Ok(None);
        };
        let fail = |reason: String| VideoError::Segment {
            path: seg.path.clone(),
            reason,
        };
        seg.output
            .write_trailer()
            .map_err(|e| fail(e.to_string()))?;
        drop(seg.output);
        let (bytes, sha256) =
            crate::digest::sha256_file(&seg.path).map_err(|e| VideoError::Segment {
                path: seg.path.clone(),
                reason: e.to_string(),
            })?;
        let time_base = (
            i64::from(self.in_tb.numerator()),
            i64::from(self.in_tb.denominator()),
        );
        let len_ms = ticks_to_ms(seg.end_ts - seg.start_dts, time_base);
        Ok(Some(ClipSegment {
            camera: self.camera.clone(),
            started_at: seg.started_at,
            ended_at: seg.started_at + TimeDelta::milliseconds(len_ms.max(0)),
            path: seg.path,
            bytes,
            sha256,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camera_names_become_safe_folder_names() {
        assert_eq!(safe_name("Km 12/Yên Minh"), "Km_12_Y_n_Minh");
        assert_eq!(safe_name(""), "camera");
        assert_eq!(safe_name("../etc"), "___etc");
    }

    #[test]
    fn index_locates_the_segment_and_offset() {
        let idx = SegmentIndex::default();
        let t0 = DateTime::parse_from_rfc3339("2026-11-29T01:00:00Z")
            .unwrap()
            .to_utc();
        idx.add(t0, "a.mp4".into());
        idx.add(t0 + TimeDelta::seconds(60), "b.mp4".into());
        assert_eq!(idx.locate(t0 - TimeDelta::seconds(1)), None);
        assert_eq!(
            idx.locate(t0 + TimeDelta::milliseconds(1500)),
            Some(("a.mp4".into(), 1500))
        );
        assert_eq!(
            idx.locate(t0 + TimeDelta::seconds(61)),
            Some(("b.mp4".into(), 1000))
        );
    }
}
