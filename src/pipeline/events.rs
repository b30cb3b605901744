//! Events: what a camera logs, and how each event becomes a row for the store.
//!
//! Owns: [`PassageRecord`] (the tracker's passage with camera, clip linkage and snapshot),
//! the snapshot JPEG of a passage's best frame (cropped, at most 640 px wide, saved under
//! the camera's snapshots folder), and [`write_item`], the mapping of clips and passages to
//! the store's rows.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use image::RgbImage;
use serde::Serialize;

use super::IngestEvent;
use crate::scene::BoxXyxy;
use crate::store::{NewClip, NewPassage, NewPlateRead, PassageFacts, UnseenSpan, WriteItem};
use crate::track::Passage;
use crate::video::recorder::SegmentIndex;

/// A passage as logged: the tracker's passage plus camera, clip linkage and snapshot.
#[derive(Debug, Clone, Serialize)]
pub struct PassageRecord {
    /// Camera that saw it.
    pub camera: String,
    /// First time seen.
    pub first_seen: DateTime<Utc>,
    /// Last time seen.
    pub last_seen: DateTime<Utc>,
    /// Time of the best frame (snapshot, clip offset).
    pub best_at: DateTime<Utc>,
    /// Segment holding the best frame.
    pub clip_path: Option<PathBuf>,
    /// Offset of the best frame in that segment, milliseconds.
    pub clip_offset_ms: Option<i64>,
    /// JPEG of the vehicle and plate at the best frame.
    pub snapshot_path: Option<PathBuf>,
    /// The tracker's view.
    pub passage: Passage,
}

/// The vehicle (and its plate) cut out of the frame with a margin, at most 640 px wide.
pub(super) fn snapshot_crop(
    image: &RgbImage,
    vehicle: &BoxXyxy,
    plate: Option<&BoxXyxy>,
) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut b = *vehicle;
    if let Some(p) = plate {
        b = BoxXyxy {
            x1: b.x1.min(p.x1),
            y1: b.y1.min(p.y1),
            x2: b.x2.max(p.x2),
            y2: b.y2.max(p.y2),
        };
    }
    let (x, y, cw, ch) = b.expand(0.1, 0.1, w, h).crop_rect(w, h);
    let crop = image::imageops::crop_imm(image, x, y, cw, ch).to_image();
    if cw > 640 {
        let nh = (ch as f32 * 640.0 / cw as f32).round().max(1.0) as u32;
        image::imageops::resize(&crop, 640, nh, image::imageops::FilterType::Triangle)
    } else {
        crop
    }
}

/// `passage` as logged by `camera`: its times, the segment holding its best frame, and its
/// snapshot saved under `snap_dir`.
pub(super) fn passage_record(
    camera: &str,
    passage: Passage,
    snapshot: Option<RgbImage>,
    snap_dir: &Path,
    index: &SegmentIndex,
) -> PassageRecord {
    let ms = |v: i64| DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(v);
    let best_at = ms(passage.best_at_ms);
    let snapshot_path =
        snapshot.and_then(|img| save_snapshot(&img, snap_dir, best_at, passage.track_id));
    let clip = index.locate(best_at);
    PassageRecord {
        camera: camera.to_string(),
        first_seen: ms(passage.first_seen_ms),
        last_seen: ms(passage.last_seen_ms),
        best_at,
        clip_path: clip.as_ref().map(|c| c.0.clone()),
        clip_offset_ms: clip.map(|c| c.1),
        snapshot_path,
        passage,
    }
}

/// Saves a passage's snapshot as `snap_dir/<best_at>_<track>.jpg`; `None` (logged) when it
/// cannot be written.
fn save_snapshot(
    img: &RgbImage,
    snap_dir: &Path,
    best_at: DateTime<Utc>,
    track_id: u64,
) -> Option<PathBuf> {
    let path = snap_dir.join(format!(
        "{}_{}.jpg",
        best_at.format("%Y%m%dT%H%M%S%.3fZ"),
        track_id
    ));
    let saved = std::fs::create_dir_all(snap_dir)
        .map_err(|e| e.to_string())
        .and_then(|_| img.save(&path).map_err(|e| e.to_string()));
    match saved {
        Ok(()) => Some(path),
        Err(e) => {
            tracing::error!("cannot write snapshot {}: {e}", path.display());
            None
        }
    }
}

/// What the log stores for `event`. `counting_line` says whether the camera has a counting
/// line: without one, `crossed_line` is unknown (NULL), not false.
pub fn write_item(event: &IngestEvent, counting_line: bool) -> WriteItem {
    match event {
        IngestEvent::Clip(c) => WriteItem::Clip(NewClip {
            camera: c.camera.clone(),
            started_at: c.started_at,
            ended_at: c.ended_at,
            path: c.path.to_string_lossy().into_owned(),
            bytes: c.bytes as i64,
            sha256: c.sha256.clone(),
            fence: None,
        }),
        IngestEvent::Passage(p) => WriteItem::Passage(Box::new(passage_row(p, counting_line))),
    }
}

/// The passage row of `p`.
fn passage_row(p: &PassageRecord, counting_line: bool) -> NewPassage {
    let passage = &p.passage;
    let plate = passage.plate.as_ref();
    let b = passage.best_vehicle_bbox;
    NewPassage {
        camera: p.camera.clone(),
        track_no: passage.track_id as i64,
        facts: PassageFacts {
            first_seen: p.first_seen,
            last_seen: p.last_seen,
            best_at: p.best_at,
            vehicle_class: passage.vehicle_class,
            plate_key: plate.map(|v| v.key.clone()),
            plate_display: plate.map(|v| v.display.clone()),
            plate_confidence: plate.map(|v| v.confidence),
            is_vietnamese: plate.map(|v| v.is_vietnamese()),
            direction: passage.direction,
            crossed_line: counting_line.then_some(passage.crossed_line),
            partial_plate: passage.partial_plate.as_ref().map(|p| p.text.clone()),
            partial_confidence: passage.partial_plate.as_ref().map(|p| p.confidence),
            gaps: passage
                .gaps_ms
                .iter()
                .copied()
                .map(UnseenSpan::from_ms)
                .collect(),
        },
        clip_started_at: p
            .clip_offset_ms
            .map(|ms| p.best_at - TimeDelta::milliseconds(ms)),
        clip_offset_ms: p.clip_offset_ms,
        snapshot_path: p
            .snapshot_path
            .as_ref()
            .map(|s| s.to_string_lossy().into_owned()),
        bbox: vec![b.x1, b.y1, b.x2, b.y2],
        frames_seen: passage.frames_seen as i32,
        reads: plate.map(plate_reads).unwrap_or_default(),
        run_id: None,
        fence: None,
    }
}

/// The plate's candidate reads, best first; the best carries the per-character confidences.
fn plate_reads(v: &crate::track::VotedPlate) -> Vec<NewPlateRead> {
    v.candidates
        .iter()
        .enumerate()
        .map(|(i, (key, score))| NewPlateRead {
            rank: i as i16 + 1,
            key: key.clone(),
            confidence: *score,
            char_confidences: if i == 0 {
                v.char_confidences.clone()
            } else {
                Vec::new()
            },
        })
        .collect()
}
