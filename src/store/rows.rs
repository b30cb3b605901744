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
//! The rows hold the domain types ([`VehicleClass`], [`Direction`], [`PlateKey`],
//! [`PlateFragment`]); the writer turns them into the database's text at the SQL edge. In the
//! spool they are encoded as their names (postcard strings), byte for byte as when these
//! fields were strings, so batches spooled by an older build still replay; a name this build
//! does not know makes the batch fail to decode (the spool sets it aside), never a panic.
//!
//! Spool format versions: postcard writes a [`WriteItem`] as its variant's index and then its
//! fields in order, without names, so a passage row with a new field is a new variant index:
//! index 0 is a passage as spooled before passages had a partial plate read and unseen spans
//! (decoded with neither), 1 a clip as spooled before rows had a fence, 2 a passage as spooled
//! before passages had an analysis run (decoded as the live analysis'), 3 a passage as spooled
//! before rows had a fence (decoded without one: not fenced, of no node), 4 a passage as now, 5
//! a clip as now. A later change to a row adds an index again and keeps decoding the older
//! ones.
//!
//! A row a node's camera made carries its [`Fence`]: the node, the epoch of the camera's lease
//! and when it was made; the writer checks it in the committing transaction and logs the
//! node as the holder of the row's files. Rows of `matthan ingest` and re-reads have none.

use chrono::{DateTime, Utc};

pub use crate::lease::Fence;
use crate::plate::{PlateFragment, PlateKey};
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
/// ([`crate::store::query::PassageView`]) hold it: the times, the class, the voted plate (or,
/// when only pieces of the plate were read, the partial read), the direction, the line
/// crossing and the spans in which the vehicle went unseen.
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
    /// When no read was a whole plate: the fragment read (`5919`), never a plate key (not
    /// searched, watched or given plate reads). `None` when `plate_key` is set.
    pub partial_plate: Option<PlateFragment>,
    /// Vote confidence 0..1 of `partial_plate`.
    pub partial_confidence: Option<f32>,
    /// The spans in which the vehicle went unseen inside the passage (its track broke and a
    /// later track with the same plate continued it), in time order; empty for most passages.
    pub gaps: Vec<UnseenSpan>,
}

impl PassageFacts {
    /// Milliseconds the vehicle went unseen inside the passage, over all its gaps (at most
    /// `i32::MAX`); `None` when it has none.
    pub fn unseen_ms(&self) -> Option<i32> {
        if self.gaps.is_empty() {
            return None;
        }
        let total = self.gaps.iter().fold(0i64, |t, g| t.saturating_add(g.ms()));
        Some(total.clamp(0, i32::MAX as i64) as i32)
    }
}

/// A span in which a passage's vehicle went unseen: from the last sighting before the gap to
/// the first after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UnseenSpan {
    /// Last seen before the gap.
    pub from: DateTime<Utc>,
    /// First seen again.
    pub to: DateTime<Utc>,
}

impl UnseenSpan {
    /// The span from milliseconds since the Unix epoch (the tracker's `[first, last]`); a time
    /// beyond what a date can hold is held at the first or last date there is.
    pub fn from_ms([from, to]: [i64; 2]) -> UnseenSpan {
        let at = |ms: i64| {
            DateTime::from_timestamp_millis(ms).unwrap_or(if ms < 0 {
                DateTime::<Utc>::MIN_UTC
            } else {
                DateTime::<Utc>::MAX_UTC
            })
        };
        UnseenSpan {
            from: at(from),
            to: at(to),
        }
    }

    /// Its length in milliseconds (0 for a span whose ends are out of order).
    pub fn ms(&self) -> i64 {
        (self.to - self.from).num_milliseconds().max(0)
    }
}

/// A passage to log.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewPassage {
    /// Camera name (created in `cameras` if unknown).
    pub camera: String,
    /// Tracker's track number: with camera, first and best time and run, the natural key.
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
    /// Plate candidates, rank 1 first; whole plates only (none when the plate is partial).
    pub reads: Vec<NewPlateRead>,
    /// The analysis run that read it (`analysis_runs.id`, a re-read of recorded segments);
    /// `None` for the live analysis. Part of the natural key.
    pub run_id: Option<i64>,
    /// The node and lease epoch it was made under; `None`: not fenced, of no node.
    pub fence: Option<Fence>,
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
    /// The node and lease epoch it was made under; `None`: not fenced, of no node.
    pub fence: Option<Fence>,
}

/// What goes into the writer (and, when the database is down, into the spool, in the format
/// the module docs describe).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(from = "SpooledItem")]
pub enum WriteItem {
    /// A passage.
    Passage(Box<NewPassage>),
    /// A segment.
    Clip(NewClip),
}

impl WriteItem {
    /// The camera the row is of.
    pub fn camera(&self) -> &str {
        match self {
            WriteItem::Passage(p) => &p.camera,
            WriteItem::Clip(c) => &c.camera,
        }
    }

    /// Its fence, if it has one.
    pub fn fence(&self) -> Option<&Fence> {
        match self {
            WriteItem::Passage(p) => p.fence.as_ref(),
            WriteItem::Clip(c) => c.fence.as_ref(),
        }
    }

    /// The row, fenced by `fence`.
    pub fn fenced(mut self, fence: Fence) -> WriteItem {
        match &mut self {
            WriteItem::Passage(p) => p.fence = Some(fence),
            WriteItem::Clip(c) => c.fence = Some(fence),
        }
        self
    }
}

impl serde::Serialize for WriteItem {
    /// As [`SpooledItem`]'s current variants.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            WriteItem::Passage(p) => s.serialize_newtype_variant("SpooledItem", 4, "Passage", p),
            WriteItem::Clip(c) => s.serialize_newtype_variant("SpooledItem", 5, "Clip", c),
        }
    }
}

/// Every [`WriteItem`] layout the spool may hold, by variant index (see the module docs).
#[derive(serde::Deserialize)]
enum SpooledItem {
    /// 0: a passage without a partial plate read or unseen spans.
    PassageV1(Box<PassageV1>),
    /// 1: a clip without a fence.
    ClipV1(ClipV1),
    /// 2: a passage without an analysis run.
    PassageV2(Box<PassageV2>),
    /// 3: a passage without a fence.
    PassageV3(Box<PassageV3>),
    /// 4: a passage as now.
    Passage(Box<NewPassage>),
    /// 5: a clip as now.
    Clip(NewClip),
}

impl From<SpooledItem> for WriteItem {
    fn from(item: SpooledItem) -> WriteItem {
        match item {
            SpooledItem::PassageV1(p) => WriteItem::Passage(Box::new(p.upgrade())),
            SpooledItem::ClipV1(c) => WriteItem::Clip(c.upgrade()),
            SpooledItem::PassageV2(p) => WriteItem::Passage(Box::new(p.upgrade())),
            SpooledItem::PassageV3(p) => WriteItem::Passage(Box::new(p.upgrade())),
            SpooledItem::Passage(p) => WriteItem::Passage(p),
            SpooledItem::Clip(c) => WriteItem::Clip(c),
        }
    }
}

/// [`NewClip`] as spooled before rows had a fence.
#[derive(serde::Deserialize)]
struct ClipV1 {
    camera: String,
    started_at: DateTime<Utc>,
    ended_at: DateTime<Utc>,
    path: String,
    bytes: i64,
    sha256: String,
}

impl ClipV1 {
    /// The clip as now, not fenced.
    fn upgrade(self) -> NewClip {
        NewClip {
            camera: self.camera,
            started_at: self.started_at,
            ended_at: self.ended_at,
            path: self.path,
            bytes: self.bytes,
            sha256: self.sha256,
            fence: None,
        }
    }
}

/// [`NewPassage`] as spooled before rows had a fence.
#[derive(serde::Deserialize)]
struct PassageV3 {
    camera: String,
    track_no: i64,
    facts: PassageFacts,
    clip_started_at: Option<DateTime<Utc>>,
    clip_offset_ms: Option<i64>,
    snapshot_path: Option<String>,
    bbox: Vec<f32>,
    frames_seen: i32,
    reads: Vec<NewPlateRead>,
    run_id: Option<i64>,
}

impl PassageV3 {
    /// The passage as now, not fenced.
    fn upgrade(self) -> NewPassage {
        NewPassage {
            camera: self.camera,
            track_no: self.track_no,
            facts: self.facts,
            clip_started_at: self.clip_started_at,
            clip_offset_ms: self.clip_offset_ms,
            snapshot_path: self.snapshot_path,
            bbox: self.bbox,
            frames_seen: self.frames_seen,
            reads: self.reads,
            run_id: self.run_id,
            fence: None,
        }
    }
}

/// [`NewPassage`] as spooled before passages had an analysis run.
#[derive(serde::Deserialize)]
struct PassageV2 {
    camera: String,
    track_no: i64,
    facts: PassageFacts,
    clip_started_at: Option<DateTime<Utc>>,
    clip_offset_ms: Option<i64>,
    snapshot_path: Option<String>,
    bbox: Vec<f32>,
    frames_seen: i32,
    reads: Vec<NewPlateRead>,
}

impl PassageV2 {
    /// The passage as now, of the live analysis.
    fn upgrade(self) -> NewPassage {
        PassageV3 {
            camera: self.camera,
            track_no: self.track_no,
            facts: self.facts,
            clip_started_at: self.clip_started_at,
            clip_offset_ms: self.clip_offset_ms,
            snapshot_path: self.snapshot_path,
            bbox: self.bbox,
            frames_seen: self.frames_seen,
            reads: self.reads,
            run_id: None,
        }
        .upgrade()
    }
}

/// [`NewPassage`] as spooled before passages had a partial plate read and unseen spans.
#[derive(serde::Deserialize)]
struct PassageV1 {
    camera: String,
    track_no: i64,
    facts: FactsV1,
    clip_started_at: Option<DateTime<Utc>>,
    clip_offset_ms: Option<i64>,
    snapshot_path: Option<String>,
    bbox: Vec<f32>,
    frames_seen: i32,
    reads: Vec<NewPlateRead>,
}

/// [`PassageFacts`] as spooled before passages had a partial plate read and unseen spans.
#[derive(serde::Deserialize)]
struct FactsV1 {
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    best_at: DateTime<Utc>,
    #[serde(with = "by_name")]
    vehicle_class: VehicleClass,
    plate_key: Option<PlateKey>,
    plate_display: Option<String>,
    plate_confidence: Option<f32>,
    is_vietnamese: Option<bool>,
    #[serde(with = "by_name")]
    direction: Direction,
    crossed_line: Option<bool>,
}

impl PassageV1 {
    /// The passage as now, without a partial read or unseen spans, of the live analysis.
    fn upgrade(self) -> NewPassage {
        let f = self.facts;
        PassageV2 {
            camera: self.camera,
            track_no: self.track_no,
            facts: PassageFacts {
                first_seen: f.first_seen,
                last_seen: f.last_seen,
                best_at: f.best_at,
                vehicle_class: f.vehicle_class,
                plate_key: f.plate_key,
                plate_display: f.plate_display,
                plate_confidence: f.plate_confidence,
                is_vietnamese: f.is_vietnamese,
                direction: f.direction,
                crossed_line: f.crossed_line,
                partial_plate: None,
                partial_confidence: None,
                gaps: Vec::new(),
            },
            clip_started_at: self.clip_started_at,
            clip_offset_ms: self.clip_offset_ms,
            snapshot_path: self.snapshot_path,
            bbox: self.bbox,
            frames_seen: self.frames_seen,
            reads: self.reads,
        }
        .upgrade()
    }
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

    /// [`NewClip`] as it was before rows had a fence.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    struct OldClip {
        camera: String,
        started_at: DateTime<Utc>,
        ended_at: DateTime<Utc>,
        path: String,
        bytes: i64,
        sha256: String,
    }

    /// [`WriteItem`] as it was.
    #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
    enum OldWriteItem {
        Passage(Box<OldPassage>),
        Clip(OldClip),
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
    fn rows_spooled_by_older_builds_decode_without_a_partial_read_or_gaps() {
        let clip = OldWriteItem::Clip(OldClip {
            camera: "cam".into(),
            started_at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            ended_at: Utc.timestamp_opt(1_700_000_004, 0).unwrap(),
            path: "a.mp4".into(),
            bytes: 3,
            sha256: "00".into(),
        });
        for class in VehicleClass::names() {
            for direction in Direction::names() {
                let old = vec![old_passage(class, direction), clip.clone()];
                let bytes = postcard::to_stdvec(&old).unwrap();
                let new: Vec<WriteItem> = postcard::from_bytes(&bytes).unwrap();
                let WriteItem::Passage(p) = &new[0] else {
                    panic!("not a passage: {new:?}");
                };
                assert_eq!(p.facts.vehicle_class.as_str(), class);
                assert_eq!(p.facts.direction.as_str(), direction);
                assert_eq!(p.facts.plate_key.as_ref().unwrap(), "29B125662");
                assert_eq!(
                    (p.facts.partial_plate.as_ref(), p.facts.partial_confidence),
                    (None, None)
                );
                assert_eq!((&p.facts.gaps[..], p.facts.unseen_ms()), (&[][..], None));
                assert_eq!(p.reads[1].key, "ABC123");
                assert!(matches!(&new[1], WriteItem::Clip(c) if c.path == "a.mp4"));
                // Written again in the current format, which reads back the same.
                let again = postcard::to_stdvec(&new).unwrap();
                assert_ne!(again, bytes);
                assert_eq!(postcard::from_bytes::<Vec<WriteItem>>(&again).unwrap(), new);
            }
        }
        // A clip spooled before rows had a fence reads back without one; written again it
        // has the current layout, which reads back the same.
        let bytes = postcard::to_stdvec(&vec![clip]).unwrap();
        let new: Vec<WriteItem> = postcard::from_bytes(&bytes).unwrap();
        assert!(matches!(&new[0], WriteItem::Clip(c) if c.fence.is_none() && c.bytes == 3));
        let again = postcard::to_stdvec(&new).unwrap();
        assert_ne!(again, bytes);
        assert_eq!(postcard::from_bytes::<Vec<WriteItem>>(&again).unwrap(), new);
    }

    #[test]
    fn fences_survive_the_spool_and_older_passages_have_none() {
        let old = postcard::to_stdvec(&vec![old_passage("car", "along")]).unwrap();
        let WriteItem::Passage(p) = postcard::from_bytes::<Vec<WriteItem>>(&old)
            .unwrap()
            .remove(0)
        else {
            panic!("not a passage");
        };
        assert_eq!(p.fence, None);
        // A passage as spooled before rows had a fence (variant 3): read back without one.
        let v3 = postcard::to_stdvec(&vec![WriteItemV3::Passage(Box::new(SpooledV3 {
            camera: p.camera.clone(),
            track_no: p.track_no,
            facts: p.facts.clone(),
            clip_started_at: p.clip_started_at,
            clip_offset_ms: p.clip_offset_ms,
            snapshot_path: p.snapshot_path.clone(),
            bbox: p.bbox.clone(),
            frames_seen: p.frames_seen,
            reads: p.reads.clone(),
            run_id: Some(3),
        }))])
        .unwrap();
        let back: Vec<WriteItem> = postcard::from_bytes(&v3).unwrap();
        assert_eq!(
            back,
            vec![WriteItem::Passage(Box::new(NewPassage {
                run_id: Some(3),
                ..(*p).clone()
            }))]
        );
        let fence = Fence {
            node_id: 4,
            epoch: 9,
            made_at: Utc.timestamp_opt(1_800_000_000, 5_000_000).unwrap(),
        };
        let clip = WriteItem::Clip(NewClip {
            camera: "cam".into(),
            started_at: fence.made_at,
            ended_at: fence.made_at,
            path: "a.mp4".into(),
            bytes: 1,
            sha256: "00".into(),
            fence: None,
        });
        let items = vec![WriteItem::Passage(p).fenced(fence), clip.fenced(fence)];
        let bytes = postcard::to_stdvec(&items).unwrap();
        let back = postcard::from_bytes::<Vec<WriteItem>>(&bytes).unwrap();
        assert_eq!(back, items);
        assert!(back.iter().all(|i| i.fence() == Some(&fence)));
        assert_eq!(back[1].camera(), "cam");
    }

    /// [`NewPassage`] as spooled before rows had a fence.
    #[derive(serde::Serialize)]
    struct SpooledV3 {
        camera: String,
        track_no: i64,
        facts: PassageFacts,
        clip_started_at: Option<DateTime<Utc>>,
        clip_offset_ms: Option<i64>,
        snapshot_path: Option<String>,
        bbox: Vec<f32>,
        frames_seen: i32,
        reads: Vec<NewPlateRead>,
        run_id: Option<i64>,
    }

    /// [`WriteItem`] as spooled then: a passage was variant 3.
    #[derive(serde::Serialize)]
    enum WriteItemV3 {
        _PassageV1,
        _Clip,
        _PassageV2,
        Passage(Box<SpooledV3>),
    }

    #[test]
    fn gaps_survive_the_spool() {
        let old = postcard::to_stdvec(&vec![old_passage("car", "along")]).unwrap();
        let mut items: Vec<WriteItem> = postcard::from_bytes(&old).unwrap();
        let WriteItem::Passage(p) = &mut items[0] else {
            panic!("not a passage");
        };
        let t0 = 1_700_000_000_000;
        p.facts.gaps = vec![
            UnseenSpan::from_ms([t0, t0 + 2_400]),
            UnseenSpan::from_ms([t0 + 3_000, t0 + 3_500]),
        ];
        let bytes = postcard::to_stdvec(&items).unwrap();
        let back = postcard::from_bytes::<Vec<WriteItem>>(&bytes).unwrap();
        assert_eq!(back, items);
        let WriteItem::Passage(p) = &back[0] else {
            panic!("not a passage");
        };
        assert_eq!(p.facts.gaps[1].to.timestamp_millis(), t0 + 3_500);
        assert_eq!(p.facts.unseen_ms(), Some(2_900));
    }

    #[test]
    fn unseen_ms_adds_the_gaps_and_stays_in_range() {
        let mut f = match postcard::from_bytes::<Vec<WriteItem>>(
            &postcard::to_stdvec(&vec![old_passage("car", "along")]).unwrap(),
        )
        .unwrap()
        .remove(0)
        {
            WriteItem::Passage(p) => p.facts,
            WriteItem::Clip(_) => panic!("not a passage"),
        };
        assert_eq!(f.unseen_ms(), None);
        f.gaps = vec![UnseenSpan::from_ms([1_000, 1_000])];
        assert_eq!(f.unseen_ms(), Some(0));
        // Ends out of order count as nothing, never as a negative time.
        f.gaps = vec![
            UnseenSpan::from_ms([5_000, 4_000]),
            UnseenSpan::from_ms([6_000, 8_500]),
        ];
        assert_eq!(f.unseen_ms(), Some(2_500));
        // Longer than an int column holds: held at its largest.
        f.gaps = vec![UnseenSpan::from_ms([0, 30 * 86_400_000])];
        assert_eq!(f.unseen_ms(), Some(i32::MAX));
        // Times beyond a date's range are held at the ends, not a panic.
        let far = UnseenSpan::from_ms([i64::MIN, i64::MAX]);
        assert_eq!(
            (far.from, far.to),
            (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
        );
        f.gaps = vec![far, far];
        assert_eq!(f.unseen_ms(), Some(i32::MAX));
    }

    #[test]
    fn a_partial_read_survives_the_spool() {
        let old = postcard::to_stdvec(&vec![old_passage("car", "along")]).unwrap();
        let mut items: Vec<WriteItem> = postcard::from_bytes(&old).unwrap();
        let WriteItem::Passage(p) = &mut items[0] else {
            panic!("not a passage");
        };
        p.facts.plate_key = None;
        p.reads.clear();
        p.facts.partial_plate = Some("5919".parse().unwrap());
        p.facts.partial_confidence = Some(0.5);
        let bytes = postcard::to_stdvec(&items).unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<WriteItem>>(&bytes).unwrap(),
            items
        );
    }

    /// [`NewPassage`] as spooled before passages had an analysis run.
    #[derive(serde::Serialize)]
    struct SpooledV2 {
        camera: String,
        track_no: i64,
        facts: PassageFacts,
        clip_started_at: Option<DateTime<Utc>>,
        clip_offset_ms: Option<i64>,
        snapshot_path: Option<String>,
        bbox: Vec<f32>,
        frames_seen: i32,
        reads: Vec<NewPlateRead>,
    }

    /// [`WriteItem`] as spooled then: a passage was variant 2.
    #[derive(serde::Serialize)]
    enum WriteItemV2 {
        _PassageV1,
        _Clip,
        Passage(Box<SpooledV2>),
    }

    #[test]
    fn passages_spooled_before_analysis_runs_are_the_live_analysis() {
        let old = postcard::to_stdvec(&vec![old_passage("car", "along")]).unwrap();
        let WriteItem::Passage(p) = postcard::from_bytes::<Vec<WriteItem>>(&old)
            .unwrap()
            .remove(0)
        else {
            panic!("not a passage");
        };
        let p = *p;
        let v2 = WriteItemV2::Passage(Box::new(SpooledV2 {
            camera: p.camera.clone(),
            track_no: p.track_no,
            facts: p.facts.clone(),
            clip_started_at: p.clip_started_at,
            clip_offset_ms: p.clip_offset_ms,
            snapshot_path: p.snapshot_path.clone(),
            bbox: p.bbox.clone(),
            frames_seen: p.frames_seen,
            reads: p.reads.clone(),
        }));
        let bytes = postcard::to_stdvec(&vec![v2]).unwrap();
        let back: Vec<WriteItem> = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, vec![WriteItem::Passage(Box::new(p.clone()))]);
        assert_eq!(p.run_id, None);
        // A re-read passage keeps its run through the spool.
        let reread = vec![WriteItem::Passage(Box::new(NewPassage {
            run_id: Some(42),
            ..p
        }))];
        let bytes = postcard::to_stdvec(&reread).unwrap();
        assert_eq!(
            postcard::from_bytes::<Vec<WriteItem>>(&bytes).unwrap(),
            reread
        );
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
