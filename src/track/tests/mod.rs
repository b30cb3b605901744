//! Scenario tests of the tracker on plain synthetic frames (1920×1080, 200 ms apart).

use super::*;
use PlateLayout::{OneLine, TwoLine};
use VehicleClass::{Car, Motorbike, Van};

const T0: i64 = 1_700_000_000_000;

fn bbox(x: f32, y: f32, w: f32, h: f32) -> BoxXyxy {
    BoxXyxy {
        x1: x,
        y1: y,
        x2: x + w,
        y2: y + h,
    }
}

fn vehicle(bbox: BoxXyxy, class: VehicleClass) -> VehicleObservation {
    VehicleObservation {
        bbox,
        class,
        score: 0.9,
        plate_searched: true,
        look: None,
    }
}

/// `key` as a plate key; test keys are canonical already.
fn plate_text(key: &str) -> PlateKey {
    PlateKey::parse(key).unwrap()
}

/// A read of `key` at `confidence` (every character too), held by no vehicle.
fn read(bbox: BoxXyxy, key: &str, confidence: f32, layout: PlateLayout) -> PlateObservation {
    let key = plate_text(key);
    PlateObservation {
        bbox,
        display: String::new(),
        confidence,
        char_confidences: vec![confidence; key.as_str().len()],
        candidates: vec![(key.clone(), confidence)],
        key,
        layout,
        vehicle: None,
    }
}

fn held_by(plate: PlateObservation, vehicle: usize) -> PlateObservation {
    PlateObservation {
        vehicle: Some(vehicle),
        ..plate
    }
}

/// A plate box at the bottom middle of a vehicle box.
fn plate_in(v: BoxXyxy) -> BoxXyxy {
    bbox(v.center().0 - 40.0, v.y2 - 50.0, 80.0, 40.0)
}

fn frame(
    i: u64,
    vehicles: Vec<VehicleObservation>,
    plates: Vec<PlateObservation>,
) -> FrameObservations {
    let (at_ms, frame_size) = (T0 + i as i64 * 200, (1920, 1080));
    FrameObservations {
        at_ms,
        frame_index: i,
        frame_size,
        vehicles,
        plates,
    }
}

/// Runs frames through a fresh tracker; every passage, from updates then finish.
fn run(geometry: CameraGeometry, frames: &[FrameObservations]) -> Vec<Passage> {
    let mut tracker = Tracker::new(TrackerSettings::default(), geometry);
    let mut passages: Vec<Passage> = frames
        .iter()
        .flat_map(|f| tracker.update(f).ended)
        .collect();
    passages.extend(tracker.finish());
    assert_eq!(tracker.open_tracks(), 0);
    passages
}

/// A car at x=800 moving down 60 px per frame from y=100, seen in frames `seen`.
fn car_frames(seen: impl Iterator<Item = u64>) -> Vec<FrameObservations> {
    let car = |i: u64| vehicle(bbox(800.0, 100.0 + 60.0 * i as f32, 400.0, 300.0), Car);
    seen.map(|i| frame(i, vec![car(i)], vec![])).collect()
}

fn with_line(road_direction: (f32, f32)) -> CameraGeometry {
    CameraGeometry {
        road_direction,
        counting_line: Some([(0.1, 0.5), (0.9, 0.5)]),
    }
}

fn plate_key(p: &Passage) -> &str {
    p.plate.as_ref().map_or("", |v| v.key.as_str())
}

#[test]
fn car_crossing_the_line() {
    let frames = car_frames(0..10);
    let along = run(with_line((0.0, 1.0)), &frames);
    assert_eq!(along.len(), 1);
    assert!(along[0].crossed_line);
    assert_eq!(along[0].direction, Direction::Along);
    assert_eq!((along[0].frames_seen, along[0].vehicle_class), (10, Car));
    assert!(along[0].plate.is_none());

    let against = run(with_line((0.0, -1.0)), &frames);
    assert_eq!(against.len(), 1);
    assert_eq!(against[0].direction, Direction::Against);

    let stopped_above = run(with_line((0.0, 1.0)), &car_frames(0..3));
    assert_eq!(stopped_above.len(), 1);
    assert!(!stopped_above[0].crossed_line);
}

#[test]
fn occlusion_shorter_than_max_gap_keeps_one_track() {
    let short = run(with_line((0.0, 1.0)), &car_frames((0..4).chain(7..10)));
    assert_eq!(short.len(), 1);
    assert_eq!(short[0].frames_seen, 7);

    // 15 frames (3000 ms) between sightings: longer than max_gap.
    let long = run(with_line((0.0, 1.0)), &car_frames((0..3).chain(17..20)));
    assert_eq!(long.len(), 2);
    assert!(long[0].first_seen_ms < long[1].first_seen_ms);
    assert_eq!((long[0].frames_seen, long[1].frames_seen), (3, 3));
}

/// Two vehicles and their plates; their order in the lists flips every other frame.
fn pair_frame(
    i: u64,
    a: VehicleObservation,
    pa: PlateObservation,
    b: VehicleObservation,
    pb: PlateObservation,
) -> FrameObservations {
    if i.is_multiple_of(2) {
        frame(i, vec![a, b], vec![held_by(pa, 0), held_by(pb, 1)])
    } else {
        frame(i, vec![b, a], vec![held_by(pb, 0), held_by(pa, 1)])
    }
}

#[test]
fn two_cars_side_by_side_keep_their_plates() {
    let frames: Vec<_> = (0..8)
        .map(|i| {
            let y = 100.0 + 50.0 * i as f32;
            let (left, right) = (
                bbox(200.0, y, 400.0, 300.0),
                bbox(700.0, y + 10.0, 400.0, 300.0),
            );
            let (pl, pr) = (
                read(plate_in(left), "51F12345", 0.9, OneLine),
                read(plate_in(right), "30A33918", 0.9, OneLine),
            );
            pair_frame(i, vehicle(left, Car), pl, vehicle(right, Van), pr)
        })
        .collect();
    let passages = run(CameraGeometry::default(), &frames);
    assert_eq!(passages.len(), 2);
    let mut seen: Vec<_> = passages
        .iter()
        .map(|p| (plate_key(p), p.vehicle_class, p.frames_seen))
        .collect();
    seen.sort_by_key(|s| s.0);
    assert_eq!(seen, [("30A33918", Van, 8), ("51F12345", Car, 8)]);
    assert!(passages
        .iter()
        .all(|p| p.plate.as_ref().unwrap().reads == 8));
}

#[test]
fn motorbike_overtaking_a_car_keeps_its_plate() {
    let frames: Vec<_> = (0..12)
        .map(|i| {
            let car = bbox(600.0, 200.0 + 15.0 * i as f32, 300.0, 250.0);
            let bike = bbox(760.0, 60.0 * i as f32, 120.0, 200.0);
            let car_plate = read(plate_in(car), "30A33918", 0.9, OneLine);
            let bike_plate = read(
                bbox(bike.x1 + 30.0, bike.y2 - 60.0, 60.0, 45.0),
                "29B125662",
                0.8,
                TwoLine,
            );
            pair_frame(
                i,
                vehicle(car, Car),
                car_plate,
                vehicle(bike, Motorbike),
                bike_plate,
            )
        })
        .collect();
    // The boxes really overlap while the motorbike passes.
    assert!(frames
        .iter()
        .any(|f| f.vehicles[0].bbox.iou(&f.vehicles[1].bbox) > 0.2));
    let passages = run(CameraGeometry::default(), &frames);
    let mut seen: Vec<_> = passages
        .iter()
        .map(|p| (p.vehicle_class, plate_key(p), p.frames_seen))
        .collect();
    seen.sort_by_key(|s| s.1);
    assert_eq!(seen, [(Motorbike, "29B125662", 12), (Car, "30A33918", 12)]);
    for p in &passages {
        let plate = p.plate.as_ref().unwrap();
        assert_eq!((plate.reads, plate.candidates.len()), (12, 1));
        assert!(plate.confidence > 0.99);
    }
}

#[test]
fn plate_voting_over_misreads() {
    // (key, read confidence, confidence of the odd character)
    let reads = [
        ("29B125662", 0.9, 0.9),
        ("29B12S662", 0.4, 0.3),
        ("29B125662", 0.9, 0.9),
        ("298125662", 0.7, 0.5),
        ("29B125662", 0.85, 0.9),
    ];
    let frames: Vec<_> = reads
        .iter()
        .enumerate()
        .map(|(i, &(key, confidence, odd))| {
            let v = bbox(800.0, 300.0 + 10.0 * i as f32, 150.0, 250.0);
            let mut p = held_by(read(plate_in(v), key, confidence, TwoLine), 0);
            p.char_confidences = vec![0.9; 9];
            for pos in [2, 5] {
                if key.as_bytes()[pos] != b"29B125662"[pos] {
                    p.char_confidences[pos] = odd;
                }
            }
            frame(i as u64, vec![vehicle(v, Motorbike)], vec![p])
        })
        .collect();
    let passages = run(CameraGeometry::default(), &frames);
    assert_eq!(passages.len(), 1);
    let plate = passages[0].plate.as_ref().unwrap();
    assert_eq!(
        (plate.key.as_str(), plate.display.as_str()),
        ("29B125662", "29-B1 256.62")
    );
    assert_eq!(
        (plate.layout, plate.is_vietnamese(), plate.reads),
        (TwoLine, true, 5)
    );
    assert_eq!(plate.char_confidences.len(), 9);
    assert!(plate.char_confidences[5] < plate.char_confidences[0]);
    assert!(plate.confidence > 0.5 && plate.confidence <= 1.0);
    let keys: Vec<&str> = plate.candidates.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(keys[0], "29B125662");
    assert!(keys.contains(&"29B12S662") && keys.contains(&"298125662"));
    assert!(plate.candidates.iter().all(|c| (0.0..=1.0).contains(&c.1)));
}

#[test]
fn two_plates_in_one_merged_motorbike_box() {
    let frames: Vec<_> = (0..4)
        .map(|i| {
            let merged = vehicle(bbox(600.0, 400.0, 400.0, 300.0), Motorbike);
            let left = held_by(
                read(bbox(650.0, 620.0, 60.0, 45.0), "29B125662", 0.8, TwoLine),
                0,
            );
            let right = held_by(
                read(bbox(880.0, 625.0, 60.0, 45.0), "29E112345", 0.8, TwoLine),
                0,
            );
            frame(i, vec![merged], vec![left, right])
        })
        .collect();
    let passages = run(CameraGeometry::default(), &frames);
    let mut seen: Vec<_> = passages
        .iter()
        .map(|p| (plate_key(p), p.frames_seen, p.vehicle_class, p.direction))
        .collect();
    seen.sort_by_key(|s| s.0);
    let still = Direction::Unknown;
    assert_eq!(
        seen,
        [
            ("29B125662", 4, Motorbike, still),
            ("29E112345", 4, Motorbike, still)
        ]
    );
}

#[test]
fn a_lone_plate_is_plate_anchored_and_classed_by_its_series() {
    // No vehicle box: the class comes from the plate alone, a motorbike series (`B1`) here;
    // a plate whose series says nothing leaves the class `other`.
    for (plate, class) in [
        ("29B125662", VehicleClass::Motorbike),
        ("51LD12345", VehicleClass::Other),
    ] {
        let frames: Vec<_> = (0..3)
            .map(|i| {
                frame(
                    i,
                    vec![],
                    vec![read(
                        bbox(900.0, 500.0 + 20.0 * i as f32, 60.0, 45.0),
                        plate,
                        0.8,
                        TwoLine,
                    )],
                )
            })
            .collect();
        let passages = run(CameraGeometry::default(), &frames);
        assert_eq!(passages.len(), 1);
        assert_eq!(
            (passages[0].vehicle_class, passages[0].frames_seen),
            (class, 3),
            "{plate}"
        );
    }
}

#[test]
fn single_frame_needs_a_plate_to_be_kept() {
    let car = bbox(800.0, 300.0, 400.0, 300.0);
    let without = run(
        CameraGeometry::default(),
        &[frame(0, vec![vehicle(car, Car)], vec![])],
    );
    assert!(without.is_empty());
    let plate = held_by(read(plate_in(car), "30A33918", 0.9, OneLine), 0);
    let with = run(
        CameraGeometry::default(),
        &[frame(0, vec![vehicle(car, Car)], vec![plate])],
    );
    assert_eq!(with.len(), 1);
    assert_eq!(with[0].plate.as_ref().unwrap().display, "30A-339.18");
}

#[test]
fn best_frame_is_largest_plate_times_confidence() {
    // The plate grows while the confidence peaks at frame 3: area × confidence peaks there.
    let confidences = [0.5, 0.6, 0.7, 0.95, 0.4, 0.3];
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    let mut reported = Vec::new();
    for (i, &c) in confidences.iter().enumerate() {
        let v = bbox(800.0, 300.0 + 20.0 * i as f32, 400.0, 300.0);
        let grow = 1.0 + 0.02 * i as f32;
        let p = bbox(960.0, v.y2 - 50.0, 80.0 * grow, 40.0 * grow);
        let update = tracker.update(&frame(
            i as u64,
            vec![vehicle(v, Car)],
            vec![held_by(read(p, "30A33918", c, OneLine), 0)],
        ));
        for best in update.new_best {
            assert_eq!((best.vehicle_bbox, best.plate_bbox), (v, Some(p)));
            reported.push(i as u64);
        }
    }
    assert_eq!(reported, [0, 1, 2, 3]);
    let passages = tracker.finish();
    assert_eq!(passages.len(), 1);
    assert_eq!(
        (passages[0].best_frame_index, passages[0].best_at_ms),
        (3, T0 + 600)
    );
    assert_eq!(passages[0].best_plate_bbox.map(|b| b.x1), Some(960.0));
}

#[test]
fn time_going_backwards_ends_open_tracks() {
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    for f in car_frames(0..3) {
        assert!(tracker.update(&f).ended.is_empty());
    }
    assert_eq!(tracker.open_tracks(), 1);
    let mut back = car_frames(3..4).remove(0);
    back.at_ms = T0 - 10_000;
    let update = tracker.update(&back);
    assert_eq!(update.ended.len(), 1);
    assert_eq!(update.ended[0].frames_seen, 3);
    assert_eq!(tracker.open_tracks(), 1); // the frame's car starts a new track
    assert_eq!(tracker.finish().len(), 0); // seen once, no plate
}

#[test]
fn hostile_input_does_not_panic() {
    // Empty or non-Latin plate text stops at the edge, where a `PlateKey` is parsed.
    assert!(PlateKey::parse("").is_err() && PlateKey::parse("ÉÉ").is_err());
    let nan_box = BoxXyxy {
        x1: f32::NAN,
        y1: 0.0,
        x2: f32::INFINITY,
        y2: 10.0,
    };
    let zero = bbox(100.0, 100.0, 0.0, 0.0);
    let settings = TrackerSettings {
        match_iou: 0.0,
        ..TrackerSettings::default()
    };
    let geometry = CameraGeometry {
        road_direction: (f32::NAN, 0.0),
        counting_line: Some([(0.0, 0.0); 2]),
    };
    let mut tracker = Tracker::new(settings, geometry);
    for i in 0..6 {
        let mut nan_plate = held_by(read(zero, "ZZ", f32::NAN, OneLine), 7);
        nan_plate.char_confidences = vec![f32::NAN; 3];
        nan_plate.candidates = vec![(plate_text("ZZ"), f32::NAN), (plate_text("EE"), 2.0)];
        let nan_score = VehicleObservation {
            score: f32::NAN,
            ..vehicle(zero, Car)
        };
        let vehicles = vec![
            nan_score,
            vehicle(zero, VehicleClass::Bus),
            vehicle(nan_box, VehicleClass::Truck),
        ];
        let plates = vec![
            nan_plate,
            held_by(read(nan_box, "30A33918", 0.9, OneLine), 0),
            held_by(read(zero, "29B125662", 0.9, TwoLine), 1),
        ];
        let mut f = frame(i, vehicles, plates);
        f.frame_size = if i % 2 == 0 { (0, 0) } else { (1920, 1080) };
        f.at_ms = [0, i64::MIN, i64::MAX, -5, 0, 0][i as usize];
        tracker.update(&f);
        tracker.update(&frame(i, vec![], vec![]));
    }
    let _ = tracker.finish();
    assert!(run(CameraGeometry::default(), &[frame(0, vec![], vec![])]).is_empty());
}

#[test]
fn a_settled_plate_and_a_hidden_one_stop_asking_for_searches() {
    let mut tracker = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
    let car = bbox(200.0, 300.0, 400.0, 300.0);
    let truck = bbox(1000.0, 300.0, 500.0, 400.0);
    let plate = read(plate_in(car), "29B125662", 0.9, OneLine);
    let at = |i: u64| T0 + i as i64 * 200;
    for i in 0..4u64 {
        assert_eq!(tracker.quiet_boxes(at(i)).len(), 0, "frame {i}");
        let f = frame(
            i,
            vec![vehicle(car, Car), vehicle(truck, Car)],
            vec![held_by(plate.clone(), 0)],
        );
        tracker.update(&f);
    }
    // Four reads of 0.9 settle the car; four searches without a plate rest the truck.
    let quiet = tracker.quiet_boxes(at(4));
    assert_eq!(quiet.len(), 2, "{quiet:?}");
    assert!(quiet
        .iter()
        .any(|(b, settled)| *settled && b.iou(&car) > 0.9));
    assert!(quiet
        .iter()
        .any(|(b, settled)| !*settled && b.iou(&truck) > 0.9));
    // Unsearched frames: the truck's rest ends after four, the car stays settled.
    for i in 4..8u64 {
        let mut t = vehicle(truck, Car);
        t.plate_searched = false;
        let mut c = vehicle(car, Car);
        c.plate_searched = false;
        tracker.update(&frame(i, vec![c, t], vec![]));
    }
    let quiet = tracker.quiet_boxes(at(8));
    assert_eq!(quiet.len(), 1, "{quiet:?}");
    assert!(quiet[0].1 && quiet[0].0.iou(&car) > 0.9);
}

#[test]
fn a_whole_plate_read_beats_more_fragment_reads_of_the_same_track() {
    // A motorbike whose two-line plate is mostly read one line at a time: six confident
    // reads of its bottom line, two faint reads of the whole plate (faint enough that they
    // never veto a match).
    let keys = [
        ("25662", 0.9),
        ("25662", 0.9),
        ("29B125662", 0.25),
        ("25662", 0.9),
        ("25662", 0.9),
        ("29B125662", 0.25),
        ("25662", 0.9),
        ("25662", 0.9),
    ];
    let bike = |i: usize| bbox(800.0, 300.0 + 20.0 * i as f32, 150.0, 250.0);
    let frames: Vec<_> = keys
        .iter()
        .enumerate()
        .map(|(i, &(key, confidence))| {
            let p = held_by(read(plate_in(bike(i)), key, confidence, TwoLine), 0);
            frame(i as u64, vec![vehicle(bike(i), Motorbike)], vec![p])
        })
        .collect();
    let passages = run(CameraGeometry::default(), &frames);
    assert_eq!(passages.len(), 1);
    let plate = passages[0].plate.as_ref().unwrap();
    assert_eq!((plate.key.as_str(), plate.reads), ("29B125662", 8));
    assert!(plate.candidates.iter().all(|c| c.0.is_whole()));
    assert_eq!(passages[0].partial_plate, None);

    // The same motorbike without the whole reads: no plate, the fragment kept apart.
    let pieces: Vec<_> = frames
        .into_iter()
        .filter(|f| f.plates[0].key.is_fragment())
        .collect();
    let passages = run(CameraGeometry::default(), &pieces);
    assert_eq!(passages.len(), 1);
    assert!(passages[0].plate.is_none());
    let partial = passages[0].partial_plate.as_ref().unwrap();
    assert_eq!((partial.text.as_str(), partial.reads), ("25662", 6));
    assert!(partial.confidence > 0.9);
}

mod followers;
