//! The rows the cameras log: passages with their plate candidates, and closed clip segments.
//!
//! Owns [`WriteItem`] and the `New*` rows, the shapes that travel from the pipeline through
//! the writer's queue and, when the database is down, through the on-disk spool (serialised
//! with serde). Plain data: no I/O, no SQL. Both [`super::writer`] and [`super::spool`] import
//! these; neither imports the other's rows.
//!
//! Also owns [`PassageFacts`], the fields a passage has on both sides of the database: the
//! write row [`NewPassage`] holds it, and so does the read view
//! [`crate::store::query::PassageView`], so they are written out once.
//!
//! The rows hold the domain types ([`VehicleClass`], [`Direction`], [`PlateKey`]); the writer
//! turns them into the database's text at the SQL edge. In the spool they are encoded as
//! their names (postcard strings), byte for byte as when these fields were strings, so
//! batches spooled by an older build still replay; a name this build does not know makes the
//! batch fail to decode (the spool sets it aside), never a panic.

use chrono::{DateTime, Utc};

use crate::plate::PlateKey;
use crate::scene::VehicleClass;
use crate::track::Direction;

/// One plate candidate of a passage.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPlateRead {
    /// 1 for the voted plate, then by score.
    pub rank: i16,
    /// Canonical key.
    pub key: PlateKey,
    /// Score 0..1.
    pub confidence: f32,
    /// Per-character confidences (for the voted plate; empty for the others).
    pub char_confidences: Vec<f32>,
}

/// What a passage is, as both its write row ([`NewPassage`]) and its read view
/// ([`crate::store::query::PassageView`]) hold it: the times, the class, the voted plate, the
/// direction and the line crossing.
///
/// In the spool (postcard) it is encoded as its fields in order, as when they were
/// [`NewPassage`]'s own; in the API's JSON it is flattened into the view, so the field names and
/// order are the view's as before.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PassageFacts {
    /// First time seen.
    pub first_seen: DateTime<Utc>,
    /// Last time seen.
    pub last_seen: DateTime<Utc>,
    /// Time of the snapshot frame; the partition key.
    pub best_at: DateTime<Utc>,
    /// The tracker's class (spooled as its name).
    #[serde(with = "by_name")]
    pub vehicle_class: VehicleClass,
    /// Voted plate key, if any plate was read.
    pub plate_key: Option<PlateKey>,
    /// Display form of the voted plate.
    pub plate_display: Option<String>,
    /// Vote confidence 0..1.
    pub plate_confidence: Option<f32>,
    /// Whether the voted plate fits the Vietnamese grammar.
    pub is_vietnamese: Option<bool>,
    /// Which way it went (spooled as its name).
    #[serde(with = "by_name")]
    pub direction: Direction,
    /// Whether it crossed the counting line; `None` when the camera has none.
    pub crossed_line: Option<bool>,
}

/// A passage to log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPassage {
    /// Camera name (created in `cameras` if unknown).
    pub camera: String,
    /// Tracker's track number: with camera, first and best time, the passage's natural key.
    pub track_no: i64,
    /// What was seen: times, class, voted plate, direction.
    pub facts: PassageFacts,
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

/// Serde through a type's name: `Display` out, `FromStr` in, as a plain string. What keeps the
/// spool's encoding of the typed fields the same as when they were `String`s (the derived
/// serde of an enum would write a variant index in postcard).
mod by_name {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&value.to_string())
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// [`NewPlateRead`] as it was when its key was a string.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct OldPlateRead {
        rank: i16,
        key: String,
        confidence: f32,
        char_confidences: Vec<f32>,
    }

    /// [`NewPassage`] as it was when its class, plate keys and direction were strings.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct OldPassage {
        camera: String,
        track_no: i64,
        first_seen: DateTime<Utc>,
        last_seen: DateTime<Utc>,
        best_at: DateTime<Utc>,
        vehicle_class: String,
        plate_key: Option<String>,
        plate_display: Option<String>,
        plate_confidence: Option<f32>,
        is_vietnamese: Option<bool>,
        direction: String,
        crossed_line: Option<bool>,
        clip_started_at: Option<DateTime<Utc>>,
        clip_offset_ms: Option<i64>,
        snapshot_path: Option<String>,
        bbox: Vec<f32>,
        frames_seen: i32,
        reads: Vec<OldPlateRead>,
    }

    /// [`WriteItem`] as it was.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    enum OldWriteItem {
        Passage(Box<OldPassage>),
        Clip(NewClip),
    }

    fn old_passage(class: &str, direction: &str) -> OldWriteItem {
        let at = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        OldWriteItem::Passage(Box::new(OldPassage {
            camera: "Km 12/Yên Minh".into(),
            track_no: 7,
            first_seen: at,
            last_seen: at,
            best_at: at,
            vehicle_class: class.into(),
            plate_key: Some("29B125662".into()),
            plate_display: Some("29-B1 256.62".into()),
            plate_confidence: Some(0.75),
            is_vietnamese: Some(true),
            direction: direction.into(),
            crossed_line: Some(false),
            clip_started_at: None,
            clip_offset_ms: Some(40),
            snapshot_path: Some("snap.jpg".into()),
            bbox: vec![1.0, 2.0, 3.0, 4.0],
            frames_seen: 5,
            reads: vec![
                OldPlateRead {
                    rank: 1,
                    key: "29B125662".into(),
                    confidence: 0.75,
                    char_confidences: vec![0.5, 0.25],
                },
                OldPlateRead {
                    rank: 2,
                    key: "ABC123".into(),
                    confidence: 0.5,
                    char_confidences: vec![],
                },
            ],
        }))
    }

    #[test]
    fn rows_spooled_with_string_fields_decode_and_encode_to_the_same_bytes() {
        for class in VehicleClass::names() {
            for direction in Direction::names() {
                let old = vec![old_passage(class, direction)];
                let bytes = postcard::to_stdvec(&old).unwrap();
                let new: Vec<WriteItem> = postcard::from_bytes(&bytes).unwrap();
                let WriteItem::Passage(p) = &new[0] else {
                    panic!("not a passage: {new:?}");
                };
                assert_eq!(p.facts.vehicle_class.as_str(), class);
                assert_eq!(p.facts.direction.as_str(), direction);
                assert_eq!(p.facts.plate_key.as_ref().unwrap(), "29B125662");
                assert_eq!(p.reads[1].key, "ABC123");
                assert_eq!(postcard::to_stdvec(&new).unwrap(), bytes);
            }
        }
    }

    #[test]
    fn an_unknown_class_or_direction_in_a_spooled_row_is_an_error() {
        for old in [old_passage("tank", "along"), old_passage("car", "sideways")] {
            let bytes = postcard::to_stdvec(&vec![old]).unwrap();
            let err = postcard::from_bytes::<Vec<WriteItem>>(&bytes).unwrap_err();
            assert!(!err.to_string().is_empty());
        }
    }
}
