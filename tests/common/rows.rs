//! Passage rows to write in the tests. Every field of a passage row is written out once, in
//! `new_passage`; the other builders start from it.

use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use matthan::plate::{PlateFragment, PlateKey};
use matthan::scene::VehicleClass;
use matthan::store::{NewPassage, NewPlateRead, PassageFacts, UnseenSpan, WriteItem};
use matthan::track::Direction;

/// A car passage of `camera`'s track `track`, best seen at `best_at` with the plate candidates
/// `reads` (`(key, confidence)`, rank 1 first; the first is the voted plate; each key must be
/// a canonical plate key): seen from 2 s
/// before to 1 s after, over 5 frames, in a 10-pixel box, going along the road.
pub fn new_passage(
    camera: &str,
    track: i64,
    best_at: DateTime<Utc>,
    reads: &[(&str, f32)],
) -> NewPassage {
    NewPassage {
        camera: camera.into(),
        track_no: track,
        facts: PassageFacts {
            first_seen: best_at - TimeDelta::seconds(2),
            last_seen: best_at + TimeDelta::seconds(1),
            best_at,
            vehicle_class: VehicleClass::Car,
            plate_key: reads.first().map(|r| key(r.0)),
            plate_display: reads.first().map(|r| r.0.to_string()),
            plate_confidence: reads.first().map(|r| r.1),
            is_vietnamese: Some(true),
            direction: Direction::Along,
            crossed_line: None,
            partial_plate: None,
            partial_confidence: None,
            gaps: Vec::new(),
        },
        clip_started_at: None,
        clip_offset_ms: None,
        snapshot_path: None,
        bbox: vec![0.0, 0.0, 10.0, 10.0],
        frames_seen: 5,
        reads: reads
            .iter()
            .enumerate()
            .map(|(i, (k, c))| NewPlateRead {
                rank: i as i16 + 1,
                key: key(k),
                confidence: *c,
                char_confidences: vec![],
            })
            .collect(),
        run_id: None,
        fence: None,
    }
}

/// `text` as a plate key; the tests write canonical keys, so anything else is a mistake in
/// the test.
pub fn key(text: &str) -> PlateKey {
    let key = PlateKey::parse(text).unwrap();
    assert_eq!(key, text, "not a canonical key");
    key
}

/// A passage of camera `camera` seen at the one instant `at` over 3 frames, with no box, with
/// the voted plate `key` (or none) as its one candidate at confidence 0.9.
pub fn passage(camera: &str, track: i64, at: DateTime<Utc>, key: Option<&str>) -> WriteItem {
    let reads: Vec<(&str, f32)> = key.map(|k| (k, 0.9)).into_iter().collect();
    let base = new_passage(camera, track, at, &reads);
    WriteItem::Passage(Box::new(NewPassage {
        facts: PassageFacts {
            first_seen: at,
            last_seen: at,
            is_vietnamese: key.map(|_| true),
            ..base.facts
        },
        bbox: vec![],
        frames_seen: 3,
        ..base
    }))
}

/// A passage like [`passage`]'s without a plate whose reads were all pieces of a plate: no
/// plate key, no plate reads, the partial read `fragment` at confidence 0.6.
pub fn partial_passage(camera: &str, track: i64, at: DateTime<Utc>, fragment: &str) -> WriteItem {
    let mut item = passage(camera, track, at, None);
    if let WriteItem::Passage(p) = &mut item {
        let text: PlateFragment = fragment.parse().unwrap();
        assert_eq!(text.as_str(), fragment, "not a canonical fragment");
        p.facts.partial_plate = Some(text);
        p.facts.partial_confidence = Some(0.6);
    }
    item
}

/// `item`, a passage, whose vehicle went unseen in `gaps` (each from the last sighting
/// before it to the first after it).
pub fn with_gaps(mut item: WriteItem, gaps: &[(DateTime<Utc>, DateTime<Utc>)]) -> WriteItem {
    if let WriteItem::Passage(p) = &mut item {
        p.facts.gaps = gaps
            .iter()
            .map(|&(from, to)| UnseenSpan { from, to })
            .collect();
    }
    item
}

/// `item`, a passage, with its snapshot JPEG at `path` (which need not exist).
pub fn with_snapshot(mut item: WriteItem, path: &Path) -> WriteItem {
    if let WriteItem::Passage(p) = &mut item {
        p.snapshot_path = Some(path.to_string_lossy().into_owned());
    }
    item
}

/// The rows as items for the writer.
pub fn items(ps: Vec<NewPassage>) -> Vec<WriteItem> {
    ps.into_iter()
        .map(|p| WriteItem::Passage(Box::new(p)))
        .collect()
}
