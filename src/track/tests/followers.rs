//! Scenario tests of vehicles that follow each other or lose their track: the next car
//! stopping where a settled one stood, and one vehicle whose track broke (rejoined by plate).

use super::*;

const WHITE: [u8; 3] = [230, 230, 225];
const RED: [u8; 3] = [190, 30, 35];

/// A vehicle of one colour all over.
fn coloured(bbox: BoxXyxy, colour: [u8; 3], searched: bool) -> VehicleObservation {
    VehicleObservation {
        look: VehicleLook::of(&bbox, (1920, 1080), |_, _| colour),
        plate_searched: searched,
        ..vehicle(bbox, Car)
    }
}

/// The cascade's rule: a vehicle in a quiet box gets no plate search.
fn searched(tracker: &Tracker, at_ms: i64, b: &BoxXyxy) -> bool {
    !tracker
        .quiet_boxes(at_ms)
        .iter()
        .any(|(q, _)| q.iou(b) >= 0.5)
}

#[test]
fn a_red_car_stopping_where_a_settled_white_one_stood_gets_its_own_passage() {
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    let booth = bbox(700.0, 400.0, 400.0, 300.0);
    let at = |i: u64| T0 + i as i64 * 200;
    let mut passages = Vec::new();
    // The white car waits at the booth; five good reads settle it.
    for i in 0..5u64 {
        let f = frame(
            i,
            vec![coloured(booth, WHITE, true)],
            vec![held_by(read(plate_in(booth), "34A36837", 0.9, OneLine), 0)],
        );
        passages.extend(tracker.update(&f).ended);
    }
    assert!(
        !searched(&tracker, at(5), &booth),
        "a settled car is not searched"
    );
    // It leaves and the red car stops in the same place: same box, another look.
    let mut i = 5;
    while !searched(&tracker, at(i), &booth) {
        passages.extend(
            tracker
                .update(&frame(i, vec![coloured(booth, RED, false)], vec![]))
                .ended,
        );
        i += 1;
        assert!(
            i < 7,
            "the changed look must bring the plate search back at once"
        );
    }
    // The search reads the red car's plate: a new track, and the white one is over.
    for j in i..i + 5 {
        let f = frame(
            j,
            vec![coloured(booth, RED, true)],
            vec![held_by(read(plate_in(booth), "34A23126", 0.9, OneLine), 0)],
        );
        passages.extend(tracker.update(&f).ended);
    }
    passages.extend(tracker.finish());
    let keys: Vec<&str> = passages.iter().map(plate_key).collect();
    assert_eq!(keys, ["34A36837", "34A23126"], "{passages:#?}");
    assert!(passages[0].last_seen_ms < passages[1].first_seen_ms + 1000);
}

#[test]
fn a_settled_car_that_looks_the_same_stays_quiet_until_its_recheck() {
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    let booth = bbox(700.0, 400.0, 400.0, 300.0);
    let at = |i: u64| T0 + i as i64 * 200;
    for i in 0..5u64 {
        let f = frame(
            i,
            vec![coloured(booth, WHITE, true)],
            vec![held_by(read(plate_in(booth), "34A36837", 0.9, OneLine), 0)],
        );
        tracker.update(&f);
    }
    // Last search at frame 4; quiet for RECHECK_MS after it, then searched once more.
    for i in 5..14u64 {
        let quiet_now = !searched(&tracker, at(i), &booth);
        let due = at(i) - at(4) >= RECHECK_MS;
        assert_eq!(quiet_now, !due, "frame {i}");
        tracker.update(&frame(i, vec![coloured(booth, WHITE, false)], vec![]));
    }
}

#[test]
fn a_broken_track_is_continued_by_its_plate_and_the_gap_is_stated() {
    let geometry = with_line((0.0, 1.0));
    let mut tracker = Tracker::new(TrackerSettings::default(), geometry);
    // A car moving down; seen in frames 0..6, lost for 3 s (beyond max_gap), seen again from
    // frame 21 further down (past the counting line at y = 540).
    let car = |i: u64| bbox(800.0, 60.0 + 20.0 * i as f32, 300.0, 200.0);
    let mut passages = Vec::new();
    for i in (0..6u64).chain(21..26) {
        let f = frame(
            i,
            vec![vehicle(car(i), Car)],
            vec![held_by(
                read(plate_in(car(i)), "29B125662", 0.8, OneLine),
                0,
            )],
        );
        passages.extend(tracker.update(&f).ended);
    }
    passages.extend(tracker.finish());
    assert_eq!(passages.len(), 1, "{passages:#?}");
    let p = &passages[0];
    assert_eq!(plate_key(p), "29B125662");
    assert_eq!((p.first_seen_ms, p.last_seen_ms), (T0, T0 + 25 * 200));
    assert_eq!(p.gaps_ms, vec![[T0 + 5 * 200, T0 + 21 * 200]]);
    assert_eq!(p.frames_seen, 11);
    assert_eq!(p.direction, Direction::Along);
    assert!(
        p.crossed_line,
        "the line was crossed while the car was unseen"
    );
}

#[test]
fn tracks_are_not_rejoined_across_plates_or_beyond_the_window() {
    let car = |i: u64| bbox(800.0, 60.0 + 20.0 * i as f32, 300.0, 200.0);
    let passes = |second_key: &str, resume: u64| {
        let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
        let mut passages = Vec::new();
        for i in (0..6u64).chain(resume..resume + 5) {
            let key = if i < 6 { "29B125662" } else { second_key };
            let f = frame(
                i,
                vec![vehicle(car(i), Car)],
                vec![held_by(read(plate_in(car(i)), key, 0.8, OneLine), 0)],
            );
            passages.extend(tracker.update(&f).ended);
        }
        passages.extend(tracker.finish());
        passages
    };
    // Another plate: two vehicles.
    assert_eq!(passes("51F99871", 21).len(), 2);
    // The same plate, but 7 s later (window 5 s): two passages.
    let late = passes("29B125662", 40);
    assert_eq!(late.len(), 2, "{late:#?}");
    assert!(late.iter().all(|p| p.gaps_ms.is_empty()));
    // Within the window: one.
    assert_eq!(passes("29B125662", 21).len(), 1);
}

#[test]
fn a_held_passage_comes_out_once_its_wait_is_over() {
    let settings = TrackerSettings::default();
    let mut tracker = Tracker::new(settings.clone(), CameraGeometry::default());
    let car = bbox(800.0, 300.0, 300.0, 200.0);
    for i in 0..3u64 {
        let f = frame(
            i,
            vec![vehicle(car, Car)],
            vec![held_by(read(plate_in(car), "29B125662", 0.8, OneLine), 0)],
        );
        assert!(tracker.update(&f).ended.is_empty());
    }
    // Last seen at frame 2; it ends after max_gap and is held until rejoin_ms after that.
    let mut out_at = None;
    for i in 3..60u64 {
        if !tracker.update(&frame(i, vec![], vec![])).ended.is_empty() {
            out_at = Some(i);
            break;
        }
    }
    let waited = (out_at.expect("the passage comes out") - 2) as i64 * 200;
    assert!(
        waited > settings.rejoin_ms && waited <= settings.rejoin_ms + 200,
        "{waited}"
    );
    assert_eq!(tracker.open_tracks(), 0);
    assert!(tracker.finish().is_empty());
}

#[test]
fn fragment_reads_neither_settle_a_track_nor_split_it() {
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    let bike = bbox(700.0, 400.0, 200.0, 300.0);
    let at = |i: u64| T0 + i as i64 * 200;
    // The top line is hidden: six confident reads of the bottom line only.
    for i in 0..6u64 {
        let f = frame(
            i,
            vec![vehicle(bike, Motorbike)],
            vec![held_by(read(plate_in(bike), "39619", 0.95, OneLine), 0)],
        );
        tracker.update(&f);
        assert!(
            searched(&tracker, at(i + 1), &bike),
            "frame {i}: still needs a whole read"
        );
    }
    // Then the whole plate shows, and a fragment read again after it does not split the track.
    for i in 6..12u64 {
        let key = if i == 10 { "39619" } else { "59U139619" };
        let f = frame(
            i,
            vec![vehicle(bike, Motorbike)],
            vec![held_by(read(plate_in(bike), key, 0.9, TwoLine), 0)],
        );
        tracker.update(&f);
    }
    let passages = tracker.finish();
    assert_eq!(passages.len(), 1, "{passages:#?}");
    assert_eq!(plate_key(&passages[0]), "59U139619");
    assert!(passages[0].partial_plate.is_none());
}

#[test]
fn a_vehicle_tracked_twice_at_once_by_its_box_and_by_its_plate_is_one_passage() {
    let bike = |i: u64| bbox(800.0, 200.0 + 30.0 * i as f32, 200.0, 300.0);
    // The plate just below the detected box, so it is not the box's: a plate-anchored track.
    let plate_below = |i: u64| {
        let b = bike(i);
        bbox(b.center().0 - 40.0, b.y2 + 5.0, 80.0, 40.0)
    };
    // Frames go on after the vehicle left (both tracks end on their own), or the video ends
    // while both are open.
    for frames in [30u64, 10] {
        let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
        let mut passages = Vec::new();
        for i in 0..frames {
            let vehicles = if i < 6 {
                vec![vehicle(bike(i), Motorbike)]
            } else {
                vec![]
            };
            let mut plates = vec![];
            if i < 3 {
                plates.push(held_by(
                    read(plate_in(bike(i)), "59D143820", 0.9, TwoLine),
                    0,
                ));
            } else if i < 10 {
                plates.push(read(plate_below(i), "59D143820", 0.9, TwoLine));
            }
            passages.extend(tracker.update(&frame(i, vehicles, plates)).ended);
        }
        passages.extend(tracker.finish());
        assert_eq!(passages.len(), 1, "{frames} frames: {passages:#?}");
        let p = &passages[0];
        assert_eq!(plate_key(p), "59D143820");
        assert_eq!((p.first_seen_ms, p.last_seen_ms), (T0, T0 + 9 * 200));
        assert!(p.gaps_ms.is_empty(), "never unseen: {:?}", p.gaps_ms);
        assert_eq!(p.vehicle_class, Motorbike);
    }
}
