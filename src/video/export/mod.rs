//! Export of one MP4 holding a wall-clock window of a camera's recording, cut from its MP4
//! segments by remuxing (stream copy): never re-encoded, so the pictures are the recorded ones.
//!
//! Owns: choosing the segments that overlap the window, finding where the copy may start,
//! stitching packets of consecutive segments onto one timeline, and writing a plain
//! (non-fragmented) MP4 with `faststart`, so a browser can seek it before it has all of it.
//!
//! Timing: a packet of a segment is shown at `segment.started_at + its timestamp`. Stream copy
//! can only start on a keyframe, so the clip starts at the last keyframe shown at or before the
//! window start (up to one GOP early) and keeps every packet decoded before the window end (so
//! B-frames shown before the end decode), then stops. The clip's timestamps follow the wall
//! clock: a gap between segments (camera offline) stays a gap; decode timestamps are kept
//! strictly increasing, dropping a packet that would go back in time (overlapping segments).
//!
//! Files: this one picks the segments and copies each one's packets; `picker.rs` decides
//! which packets of a segment the clip keeps (pure, generic over the packet); `writer.rs`
//! writes the output MP4 on one timeline; `ticks.rs` converts between time bases exactly.

mod picker;
mod ticks;
mod writer;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use ffmpeg_next::{codec, format, media, Packet, Rational};
use serde::Serialize;

use super::recorder::ClipSegment;
use super::{init_ffmpeg, VideoError};
use picker::Picker;
use ticks::{clamp_i64, nanos_between, ns_to_ticks};
use writer::ClipWriter;

/// One recorded segment to export from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSource {
    /// The segment's MP4 file.
    pub path: PathBuf,
    /// Wall-clock time of the file's time 0.
    pub started_at: DateTime<Utc>,
}

impl From<&ClipSegment> for SegmentSource {
    fn from(c: &ClipSegment) -> SegmentSource {
        SegmentSource {
            path: c.path.clone(),
            started_at: c.started_at,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportedClip {
    /// Where the MP4 is (the `out` given).
    pub path: PathBuf,
    /// File size.
    pub bytes: u64,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Wall-clock time of the output's time 0 (its first packet's decode time): at or before
    /// the window start, by up to a GOP plus the B-frame delay, unless the recording starts
    /// later (the window begins in a gap).
    pub started_at: DateTime<Utc>,
    /// Wall-clock time where the last frame ends: at or after the window end, unless the
    /// recording stops earlier.
    pub ended_at: DateTime<Utc>,
    /// `ended_at - started_at` in milliseconds.
    pub duration_ms: i64,
    /// Segments that contributed at least one packet.
    pub segments_used: usize,
}

/// Writes to `out` one MP4 of the recording between `from` and `to` (wall clock, `to`
/// excluded), cut from `segments` at keyframes without re-encoding.
///
/// Errors: [`VideoError::NothingToExport`] when the window is empty, no segment overlaps it
/// or no packet falls in it; [`VideoError::Open`] / [`VideoError::Read`] naming a segment
/// that cannot be read; [`VideoError::Export`] when `out` cannot be written or the segments
/// differ in codec or size. On error nothing is left at `out`.
pub fn export_window(
    segments: &[SegmentSource],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &Path,
) -> Result<ExportedClip, VideoError> {
    init_ffmpeg();
    if to <= from {
        return Err(VideoError::NothingToExport {
            reason: format!("empty window: {from} is not before {to}"),
        });
    }
    let chosen = overlapping(segments, from, to);
    if chosen.is_empty() {
        return Err(VideoError::NothingToExport {
            reason: format!(
                "no segment overlaps {} .. {} ({} segments given)",
                from.to_rfc3339(),
                to.to_rfc3339(),
                segments.len()
            ),
        });
    }
    let mut created = false;
    let result = write_clip(&chosen, from, to, out, &mut created);
    if result.is_err() && created {
        // The muxer was dropped inside write_clip, so the file is closed.
        let _ = std::fs::remove_file(out);
    }
    result
}

/// The segments that may hold packets in `[from, to)`, in start order: from the last one
/// starting at or before `from` (it may reach into the window) to the last starting before
/// `to`.
fn overlapping(
    segments: &[SegmentSource],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<&SegmentSource> {
    let mut sorted: Vec<&SegmentSource> = segments.iter().collect();
    sorted.sort_by_key(|s| s.started_at);
    let first = sorted
        .partition_point(|s| s.started_at <= from)
        .saturating_sub(1);
    sorted
        .into_iter()
        .skip(first)
        .take_while(|s| s.started_at < to)
        .collect()
}

fn write_clip(
    chosen: &[&SegmentSource],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &Path,
    created: &mut bool,
) -> Result<ExportedClip, VideoError> {
    let mut writer: Option<ClipWriter> = None;
    let mut used = 0;
    for seg in chosen {
        if copy_segment(seg, from, to, out, &mut writer, created)? > 0 {
            used += 1;
        }
    }
    let Some(writer) = writer else {
        return Err(VideoError::NothingToExport {
            reason: format!(
                "no recorded packet between {} and {} in {} segment(s)",
                from.to_rfc3339(),
                to.to_rfc3339(),
                chosen.len()
            ),
        });
    };
    writer.finish(used)
}

/// An open segment file and its video stream.
struct SegmentInput {
    /// The demuxer.
    input: format::context::Input,
    /// Index of the video stream.
    stream_index: usize,
    /// The video stream's time base (segment ticks).
    time_base: Rational,
    /// Codec parameters, copied into the output.
    parameters: codec::Parameters,
}

fn open_segment(path: &Path) -> Result<SegmentInput, VideoError> {
    let name = path.display().to_string();
    if !path.is_file() {
        return Err(VideoError::Open {
            source_name: name,
            reason: "no such file".into(),
        });
    }
    let input = format::input(path).map_err(|e| VideoError::Open {
        source_name: name.clone(),
        reason: e.to_string(),
    })?;
    let stream = input
        .streams()
        .best(media::Type::Video)
        .ok_or(VideoError::NoVideoStream(name))?;
    Ok(SegmentInput {
        stream_index: stream.index(),
        time_base: stream.time_base(),
        parameters: stream.parameters(),
        input,
    })
}

/// The next packet of the video stream; `None` at end of file.
fn next_packet(seg: &mut SegmentInput, path: &Path) -> Result<Option<Packet>, VideoError> {
    loop {
        let mut packet = Packet::empty();
        match packet.read(&mut seg.input) {
            Ok(()) if packet.stream() == seg.stream_index => return Ok(Some(packet)),
            Ok(()) => {}
            Err(ffmpeg_next::Error::Eof) => return Ok(None),
            Err(e) => {
                return Err(VideoError::Read {
                    source_name: path.display().to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

/// Presentation and decode timestamps of a packet (each standing in for the other when
/// missing); `None` when it has neither.
fn times(p: &Packet) -> Option<(i64, i64)> {
    let pts = p.pts().or(p.dts())?;
    let dts = p.dts().or(p.pts())?;
    Some((pts, dts))
}

/// Copies the packets of one segment that belong to the window; returns how many.
fn copy_segment(
    seg: &SegmentSource,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    out: &Path,
    writer: &mut Option<ClipWriter>,
    created: &mut bool,
) -> Result<usize, VideoError> {
    let mut input = open_segment(&seg.path)?;
    let tb = input.time_base;
    let from_ns = nanos_between(from, seg.started_at);
    let from_ts = clamp_i64(ns_to_ticks(from_ns, tb));
    let to_ts = clamp_i64(ns_to_ticks(nanos_between(to, seg.started_at), tb));
    let mut first = None;
    if from_ns > 0 {
        // Seek to the last keyframe decoded at or before the start; `..ts` bounds it from above.
        let us = clamp_i64(from_ns / 1000);
        if input.input.seek(us, ..us).is_ok() {
            first = next_packet(&mut input, &seg.path)?;
        }
        // A keyframe shown after the start (B-frame delay), or a failed seek: scan from the top.
        let good = first
            .as_ref()
            .and_then(|p| times(p).map(|(pts, _)| p.is_key() && pts <= from_ts))
            .unwrap_or(false);
        if !good {
            tracing::debug!(path = %seg.path.display(), "seek missed the start; reading all");
            input = open_segment(&seg.path)?;
            first = None;
        }
    }
    let mut picker = Picker::new(from_ts, to_ts);
    let mut written = 0;
    loop {
        let packet = match first.take() {
            Some(p) => Some(p),
            None => next_packet(&mut input, &seg.path)?,
        };
        let chosen = match packet {
            Some(p) => match times(&p) {
                Some((pts, dts)) => {
                    let key = p.is_key();
                    picker.feed(p, key, pts, dts)
                }
                None => Vec::new(),
            },
            None => picker.finish(),
        };
        for (p, pts, dts) in chosen {
            if writer.is_none() {
                *writer = Some(ClipWriter::create(
                    out,
                    &input,
                    seg.started_at,
                    dts,
                    created,
                )?);
            }
            if let Some(w) = writer.as_mut() {
                if written == 0 {
                    w.check_parameters(&input, &seg.path)?;
                }
                if w.write(p, seg.started_at, tb, pts, dts)? {
                    written += 1;
                }
            }
        }
        if picker.done {
            return Ok(written);
        }
    }
}

#[cfg(test)]
mod tests;
