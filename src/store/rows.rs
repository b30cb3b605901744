//! The rows the cameras log: passages with their plate candidates, and closed clip segments.
//!
//! Owns [`WriteItem`] and the `New*` rows, the shapes that travel from the pipeline through
//! the writer's queue and, when the database is down, through the on-disk spool (serialised
//! with serde). Plain data: no I/O, no SQL. Both [`super::writer`] and [`super::spool`] import
//! these; neither imports the other's rows.

use chrono::{DateTime, Utc};

/// One plate candidate of a passage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPlateRead {
    /// 1 for the voted plate, then by score.
    pub rank: i16,
    /// Canonical key.
    pub key: String,
    /// Score 0..1.
    pub confidence: f32,
    /// Per-character confidences (for the voted plate; empty for the others).
    pub char_confidences: Vec<f32>,
}

/// A passage to log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPassage {
    /// Camera name (created in `cameras` if unknown).
    pub camera: String,
    /// Tracker's track number: with camera, first and best time, the passage's natural key.
    pub track_no: i64,
    /// First time seen.
    pub first_seen: DateTime<Utc>,
    /// Last time seen.
    pub last_seen: DateTime<Utc>,
    /// Time of the snapshot frame; the partition key.
    pub best_at: DateTime<Utc>,
    /// `motorbike`, `car`, ... (see `scene::VehicleClass::as_str`).
    pub vehicle_class: String,
    /// Voted plate key, if any plate was read.
    pub plate_key: Option<String>,
    /// Display form of the voted plate.
    pub plate_display: Option<String>,
    /// Vote confidence 0..1.
    pub plate_confidence: Option<f32>,
    /// Whether the voted plate fits the Vietnamese grammar.
    pub is_vietnamese: Option<bool>,
    /// `along`, `against` or `unknown`.
    pub direction: String,
    /// Whether it crossed the counting line; `None` when the camera has none.
    pub crossed_line: Option<bool>,
    /// Start of the segment holding the best frame (the clip's natural key with the camera).
    pub clip_started_at: Option<DateTime<Utc>>,
    /// Offset of the best frame in that segment.
    pub clip_offset_ms: Option<i64>,
    /// Snapshot JPEG path.
    pub snapshot_path: Option<String>,
    /// Vehicle box in the best frame, x1 y1 x2 y2 pixels.
    pub bbox: Vec<f32>,
    /// Frames the track was seen in.
    pub frames_seen: i32,
    /// Plate candidates, rank 1 first.
    pub reads: Vec<NewPlateRead>,
}

/// A closed clip segment to log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewClip {
    /// Camera name.
    pub camera: String,
    /// Wall-clock time of the file's time 0.
    pub started_at: DateTime<Utc>,
    /// End of the last frame.
    pub ended_at: DateTime<Utc>,
    /// File path.
    pub path: String,
    /// File size.
    pub bytes: i64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// What goes into the writer (and, when the database is down, into the spool).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum WriteItem {
    /// A passage.
    Passage(Box<NewPassage>),
    /// A segment.
    Clip(NewClip),
}
