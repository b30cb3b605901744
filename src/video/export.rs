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

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use ffmpeg_next::{codec, format, media, Dictionary, Packet, Rational};
use serde::Serialize;

use super::recorder::{mp4_output, ClipSegment};
use super::{init_ffmpeg, VideoError};

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

/// Decides, in decode order, which packets of one segment the clip keeps. Times are in the
/// segment's ticks; the window is `[from, to)`. Generic over the packet so the rule is tested
/// without FFmpeg.
struct Picker<T> {
    /// Window start, segment ticks.
    from: i64,
    /// Window end (excluded), segment ticks.
    to: i64,
    /// Copying: every packet until one decoded at or after `to`.
    copying: bool,
    /// No more packets wanted from this segment.
    done: bool,
    /// Packets since the last keyframe shown at or before `from`, held until it is certain
    /// no later keyframe is: `(packet, pts, dts)`.
    gop: Vec<(T, i64, i64)>,
}

impl<T> Picker<T> {
    fn new(from: i64, to: i64) -> Picker<T> {
        Picker {
            from,
            to,
            copying: false,
            done: false,
            gop: Vec::new(),
        }
    }

    /// Takes the next packet; returns those to write now, in decode order.
    fn feed(&mut self, item: T, key: bool, pts: i64, dts: i64) -> Vec<(T, i64, i64)> {
        if self.done {
            return Vec::new();
        }
        if dts >= self.to {
            return self.finish();
        }
        if self.copying {
            return vec![(item, pts, dts)];
        }
        if key && pts <= self.from {
            self.gop.clear();
            self.gop.push((item, pts, dts));
        } else if key {
            // A keyframe shown after the start: what is held leads up to it.
            self.copying = true;
            let mut out = std::mem::take(&mut self.gop);
            out.push((item, pts, dts));
            return out;
        } else if !self.gop.is_empty() {
            self.gop.push((item, pts, dts));
        } else {
            // Nothing before its keyframe can be decoded.
            return Vec::new();
        }
        if dts >= self.from {
            // Every later keyframe is shown after the start: the held one is the last before.
            self.copying = true;
            return std::mem::take(&mut self.gop);
        }
        Vec::new()
    }

    /// End of the segment (or of the window): returns held packets if one of them is shown
    /// inside the window.
    fn finish(&mut self) -> Vec<(T, i64, i64)> {
        self.done = true;
        let gop = std::mem::take(&mut self.gop);
        if gop
            .iter()
            .any(|&(_, pts, _)| pts >= self.from && pts < self.to)
        {
            gop
        } else {
            Vec::new()
        }
    }
}

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
struct ClipWriter {
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
    fn create(
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
    fn check_parameters(&self, input: &SegmentInput, seg_path: &Path) -> Result<(), VideoError> {
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
    fn write(
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
    fn finish(mut self, segments_used: usize) -> Result<ExportedClip, VideoError> {
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
fn fit_dts(last: Option<i64>, pts: i64, dts: i64, tolerance: i64) -> Option<i64> {
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

/// Nanoseconds from `b` to `a`, exact.
fn nanos_between(a: DateTime<Utc>, b: DateTime<Utc>) -> i128 {
    let ns = |t: DateTime<Utc>| {
        i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos())
    };
    ns(a) - ns(b)
}

/// `n / d` rounded to the nearest integer (halves up); `d > 0`.
fn div_round(n: i128, d: i128) -> i128 {
    (2 * n + d).div_euclid(2 * d)
}

/// Numerator and denominator of a time base, never zero.
fn parts(tb: Rational) -> (i128, i128) {
    (
        i128::from(tb.numerator()).max(1),
        i128::from(tb.denominator()).max(1),
    )
}

/// Ticks of time base `tb` in `ns` nanoseconds.
fn ns_to_ticks(ns: i128, tb: Rational) -> i128 {
    let (num, den) = parts(tb);
    div_round(ns * den, num * 1_000_000_000)
}

/// Nanoseconds in `ticks` of time base `tb`.
fn ticks_to_ns(ticks: i128, tb: Rational) -> i128 {
    let (num, den) = parts(tb);
    div_round(ticks * num * 1_000_000_000, den)
}

/// `ts` in time base `from` expressed in time base `to`.
fn rescale(ts: i64, from: Rational, to: Rational) -> i64 {
    let (fn_, fd) = parts(from);
    let (tn, td) = parts(to);
    clamp_i64(div_round(i128::from(ts) * fn_ * td, fd * tn))
}

fn clamp_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn seg(name: &str, at: &str) -> SegmentSource {
        SegmentSource {
            path: name.into(),
            started_at: t(at),
        }
    }

    fn names(v: Vec<&SegmentSource>) -> Vec<String> {
        v.iter().map(|s| s.path.display().to_string()).collect()
    }

    #[test]
    fn overlap_takes_the_segment_holding_the_start_and_those_before_the_end() {
        // Given out of order on purpose.
        let segs = [
            seg("c", "2026-01-01T00:00:08Z"),
            seg("a", "2026-01-01T00:00:00Z"),
            seg("b", "2026-01-01T00:00:04Z"),
        ];
        let w = |a, b| names(overlapping(&segs, t(a), t(b)));
        assert_eq!(
            w("2026-01-01T00:00:02Z", "2026-01-01T00:00:07Z"),
            ["a", "b"]
        );
        assert_eq!(w("2026-01-01T00:00:04Z", "2026-01-01T00:00:08Z"), ["b"]);
        assert_eq!(w("2026-01-01T00:00:09Z", "2026-01-01T00:01:00Z"), ["c"]);
        assert_eq!(w("2025-12-31T00:00:00Z", "2026-01-01T00:00:01Z"), ["a"]);
        assert!(w("2025-12-31T00:00:00Z", "2026-01-01T00:00:00Z").is_empty());
    }

    /// Feeds `(id, key, pts, dts)` and returns the ids written.
    fn pick(from: i64, to: i64, packets: &[(u32, bool, i64, i64)]) -> Vec<u32> {
        let mut p = Picker::new(from, to);
        let mut out = Vec::new();
        for &(id, key, pts, dts) in packets {
            out.extend(p.feed(id, key, pts, dts).into_iter().map(|x| x.0));
        }
        out.extend(p.finish().into_iter().map(|x| x.0));
        out
    }

    #[test]
    fn picker_starts_at_the_last_keyframe_shown_before_the_start() {
        // GOP of 4 without B-frames: keyframes at 0 and 4.
        let gop: Vec<_> = (0..10).map(|i| (i as u32, i % 4 == 0, i, i)).collect();
        assert_eq!(pick(5, 7, &gop), [4, 5, 6]);
        assert_eq!(pick(4, 5, &gop), [4]);
        assert_eq!(pick(-3, 2, &gop), [0, 1]);
        assert!(pick(20, 30, &gop).is_empty());
    }

    #[test]
    fn picker_keeps_the_gop_when_the_next_keyframe_is_shown_after_the_start() {
        // B-frames: a keyframe decoded at 4 is shown at 6; frames 4 and 5 belong to GOP 0.
        let packets = [
            (0, true, 2, 0),
            (1, false, 5, 1),
            (2, false, 3, 2),
            (3, false, 4, 3),
            (4, true, 6, 4),
            (5, false, 7, 5),
        ];
        // Shown at 4 (decoded at 3): starts at keyframe 0; keyframe 4 is decoded before 5.
        assert_eq!(pick(4, 5, &packets), [0, 1, 2, 3, 4]);
        assert_eq!(pick(6, 7, &packets), [4, 5]);
    }

    #[test]
    fn picker_skips_packets_before_any_keyframe() {
        let packets = [
            (0, false, 0, 0),
            (1, false, 1, 1),
            (2, true, 2, 2),
            (3, false, 3, 3),
        ];
        assert_eq!(pick(0, 10, &packets), [2, 3]);
    }

    #[test]
    fn decode_times_only_go_forward() {
        assert_eq!(fit_dts(None, 2, 0, 5), Some(0));
        assert_eq!(fit_dts(Some(10), 13, 11, 5), Some(11));
        // Rounding: a tick or two back is nudged forward.
        assert_eq!(fit_dts(Some(10), 13, 9, 5), Some(11));
        // Further back than rounding explains (overlapping segments), or shown before `last`:
        // dropped.
        assert_eq!(fit_dts(Some(10), 12, 9, 0), None);
        assert_eq!(fit_dts(Some(10), 20, 2, 5), None);
        assert_eq!(fit_dts(Some(10), 10, 9, 5), None);
        assert_eq!(fit_dts(None, 1, 2, 5), None);
    }

    #[test]
    fn time_bases_convert_exactly() {
        let mp4 = Rational(1, 12_800);
        assert_eq!(ns_to_ticks(80_000_000, mp4), 1024);
        assert_eq!(ticks_to_ns(1024, mp4), 80_000_000);
        assert_eq!(rescale(1024, mp4, Rational(1, 90_000)), 7200);
        assert_eq!(rescale(-1024, mp4, Rational(1, 90_000)), -7200);
        assert_eq!(
            nanos_between(t("2026-01-01T00:00:01.5Z"), t("2026-01-01T00:00:00Z")),
            1_500_000_000
        );
        assert_eq!(clamp_i64(i128::MAX), i64::MAX);
    }
}
