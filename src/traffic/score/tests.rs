//! Unit tests of the scoring on plain data: a perfect run, a merge, a split, false passages,
//! wrong and fragment plates, an empty truth and count errors.

use std::path::PathBuf;

use super::*;
use crate::plate::PlateKey;
use crate::traffic::matching::{path_at, POSITION_TOLERANCE};

fn key(s: &str) -> PlateKey {
    PlateKey::parse(s).unwrap()
}

/// A car going down the middle of the frame from y 0.3 to 0.9, along the road.
fn car(id: u32, plate: &str, first_s: f64, last_s: f64) -> TruthVehicle {
    TruthVehicle {
        id,
        class: VehicleClass::Car,
        plate: (!plate.is_empty()).then(|| key(plate)),
        direction: Direction::Along,
        line_s: Some((first_s + last_s) / 2.0),
        first_s,
        last_s,
        path: Some([(0.5, 0.3), (0.5, 0.9)]),
        readable: true,
        line: id as usize + 1,
    }
}

fn truth(vehicles: Vec<TruthVehicle>) -> Truth {
    Truth {
        video_s: Some(60.0),
        frame: Some((1280, 720)),
        road_direction: Some((0.0, 1.0)),
        counting_line: Some([(0.0, 0.6), (1.0, 0.6)]),
        vehicles,
    }
}

/// What a good tracker logs for `v`: its whole visible time, best frame in the middle, its
/// plate read.
fn logged(track_id: u64, v: &TruthVehicle) -> LoggedPassage {
    let best_s = (v.first_s + v.last_s) / 2.0;
    LoggedPassage {
        track_id,
        first_s: v.first_s + 0.1,
        last_s: v.last_s - 0.1,
        best_s,
        centre: path_at(v, best_s),
        class: v.class,
        direction: v.direction,
        crossed_line: v.line_s.is_some(),
        plate: v.plate.clone(),
        candidates: v.plate.iter().cloned().collect(),
        snapshot: Some(PathBuf::from(format!("snap/{track_id}.jpg"))),
    }
}

fn kinds(s: &Score) -> Vec<&'static str> {
    s.failures.iter().map(Failure::kind).collect()
}

#[test]
fn a_perfect_run_scores_full_marks() {
    let t = truth(vec![
        car(1, "34A36837", 0.0, 8.0),
        car(2, "34A23126", 2.0, 9.0),
        car(3, "89C20339", 10.0, 18.0),
    ]);
    let passages: Vec<_> = t
        .vehicles
        .iter()
        .zip(1..)
        .map(|(v, i)| logged(i, v))
        .collect();
    let s = score(&t, &passages);
    assert_eq!((s.vehicles, s.passages, s.matched_once), (3, 3, 3));
    assert_eq!(s.recall, Some(1.0));
    assert_eq!(
        (s.missed, s.merged, s.duplicate_passages, s.false_passages),
        (0, 0, 0, 0)
    );
    assert_eq!(
        (s.plates.exact, s.plates.vehicles, s.plates.exact_rate),
        (3, 3, Some(1.0))
    );
    assert_eq!(s.readable_plates.top_n_rate, Some(1.0));
    assert_eq!(s.fragments, 0);
    assert_eq!(s.classes.accuracy, Some(1.0));
    assert_eq!(s.total, Count::new(3, 3));
    assert_eq!(s.total.relative_error, Some(0.0));
    assert_eq!(s.crossings, Some(Count::new(3, 3)));
    assert_eq!(s.counts.len(), 1);
    assert_eq!(
        (s.counts[0].class, s.counts[0].direction),
        (VehicleClass::Car, Direction::Along)
    );
    assert!(s.failures.is_empty(), "{:?}", s.failures);
}

#[test]
fn a_follower_swallowed_by_the_leader_is_a_merge() {
    // The red car follows the white one; the tracker logs one passage over both.
    let t = truth(vec![
        car(1, "34A36837", 0.0, 5.0),
        car(2, "34A23126", 0.5, 8.5),
    ]);
    let mut p = logged(7, &t.vehicles[0]);
    p.last_s = 8.5;
    let s = score(&t, &[p]);
    assert_eq!((s.matched_once, s.merged, s.missed), (1, 1, 0));
    assert_eq!(s.recall, Some(0.5));
    assert_eq!(kinds(&s), ["merged"]);
    match &s.failures[0] {
        Failure::Merged {
            vehicle,
            into_vehicle,
            passage,
        } => {
            assert_eq!((vehicle.id, *into_vehicle, passage.track_id), (2, 1, 7));
            assert_eq!(
                passage.snapshot.as_deref(),
                Some(std::path::Path::new("snap/7.jpg"))
            );
        }
        f => panic!("{f:?}"),
    }
    // A vehicle only briefly inside the passage is missed, not merged.
    let t = truth(vec![
        car(1, "34A36837", 0.0, 5.0),
        car(2, "34A23126", 4.0, 12.0),
    ]);
    let s = score(&t, &[logged(7, &t.vehicles[0])]);
    assert_eq!((s.merged, s.missed), (0, 1));
    assert_eq!(kinds(&s), ["missed"]);
}

#[test]
fn a_vehicle_logged_twice_is_a_duplicate_with_its_gap() {
    let t = truth(vec![car(1, "34A36837", 0.0, 10.0)]);
    let v = &t.vehicles[0];
    let mut first = logged(1, v);
    first.last_s = 4.0;
    first.best_s = 2.0;
    first.centre = path_at(v, 2.0);
    let mut second = logged(2, v);
    second.first_s = 5.5;
    second.best_s = 8.0;
    second.centre = path_at(v, 8.0);
    second.plate = Some(key("36837"));
    second.candidates = vec![key("36837")];
    let s = score(&t, &[second, first]);
    assert_eq!(
        (s.matched_once, s.duplicated_vehicles, s.duplicate_passages),
        (0, 1, 1)
    );
    assert_eq!(s.recall, Some(0.0));
    // The vehicle still has one exact passage; the fragment is counted.
    assert_eq!(
        (s.plates.exact, s.plates.passages, s.plates.passages_exact),
        (1, 2, 1)
    );
    assert_eq!(s.fragments, 1);
    assert_eq!(kinds(&s), ["duplicate", "fragment"]);
    match &s.failures[0] {
        Failure::Duplicate {
            passages, gaps_s, ..
        } => {
            let ids: Vec<u64> = passages.iter().map(|p| p.track_id).collect();
            assert_eq!(ids, [1, 2], "listed by first time seen");
            assert!((gaps_s[0] - 1.5).abs() < 1e-9, "{gaps_s:?}");
        }
        f => panic!("{f:?}"),
    }
    assert_eq!(s.total, Count::new(1, 2));
    assert_eq!(s.total.relative_error, Some(1.0));
}

#[test]
fn passages_in_another_time_or_place_are_false() {
    let t = truth(vec![car(1, "", 10.0, 20.0)]);
    let v = &t.vehicles[0];
    let mut early = logged(1, v);
    (early.first_s, early.last_s, early.best_s) = (1.0, 3.0, 2.0);
    let mut elsewhere = logged(2, v);
    elsewhere.centre = Some((0.1, 0.1));
    let s = score(&t, &[early, elsewhere, logged(3, v)]);
    assert_eq!((s.matched_once, s.false_passages), (1, 2));
    assert_eq!(kinds(&s), ["false_passage", "false_passage"]);
    // No plate in the truth: no plate figures.
    assert_eq!(s.plates, PlateScore::default());
    assert_eq!(s.plates.exact_rate, None);
}

#[test]
fn an_equal_plate_matches_far_from_the_rough_path() {
    let t = truth(vec![car(1, "34A36837", 0.0, 10.0)]);
    let mut p = logged(1, &t.vehicles[0]);
    p.centre = Some((0.95, 0.95));
    let far = p.centre.unwrap().1 - path_at(&t.vehicles[0], p.best_s).unwrap().1;
    assert!(far > POSITION_TOLERANCE);
    let s = score(&t, std::slice::from_ref(&p));
    assert_eq!(s.matched_once, 1);
    p.plate = Some(key("30A99999"));
    let s = score(&t, &[p]);
    assert_eq!((s.matched_once, s.false_passages), (0, 1));
}

#[test]
fn wrong_plates_are_listed_and_top_n_counts_candidates() {
    let mut unreadable = car(2, "34A23126", 12.0, 18.0);
    unreadable.readable = false;
    let t = truth(vec![car(1, "34A36837", 0.0, 10.0), unreadable]);
    let mut a = logged(1, &t.vehicles[0]);
    a.plate = Some(key("34A36887"));
    a.candidates = vec![key("34A36887"), key("34A36837")];
    let mut b = logged(2, &t.vehicles[1]);
    b.plate = None;
    b.candidates.clear();
    let s = score(&t, &[a, b]);
    assert_eq!(s.recall, Some(1.0));
    assert_eq!(
        (s.plates.vehicles, s.plates.exact, s.plates.in_top_n),
        (2, 0, 1)
    );
    assert_eq!(s.plates.top_n_rate, Some(0.5));
    assert_eq!(
        (s.readable_plates.vehicles, s.readable_plates.in_top_n),
        (1, 1)
    );
    assert_eq!(s.fragments, 0);
    assert_eq!(kinds(&s), ["wrong_plate", "wrong_plate"]);
}

#[test]
fn an_empty_truth_has_no_recall_and_lists_false_passages() {
    let t = truth(Vec::new());
    let s = score(&t, &[]);
    assert_eq!(
        (s.recall, s.plates.exact_rate, s.classes.accuracy),
        (None, None, None)
    );
    assert!(s.counts.is_empty() && s.failures.is_empty());
    let p = logged(4, &car(1, "34A36837", 0.0, 5.0));
    let s = score(&t, &[p]);
    assert_eq!(s.recall, None);
    assert_eq!(s.false_passages, 1);
    assert_eq!(s.total, Count::new(0, 1));
    assert_eq!(s.total.relative_error, None);
    assert_eq!(s.crossings.unwrap().relative_error, None);
    assert_eq!(kinds(&s), ["false_passage"]);
}

#[test]
fn counts_per_class_and_direction_show_their_errors() {
    let mut bike = car(3, "", 20.0, 25.0);
    bike.class = VehicleClass::Motorbike;
    bike.direction = Direction::Against;
    bike.line_s = None;
    let t = truth(vec![car(1, "", 0.0, 5.0), car(2, "", 10.0, 15.0), bike]);
    let mut a = logged(1, &t.vehicles[0]);
    a.class = VehicleClass::Truck;
    let b = logged(2, &t.vehicles[1]);
    let mut c = logged(3, &t.vehicles[2]);
    c.crossed_line = true;
    let mut d = logged(4, &t.vehicles[2]);
    (d.first_s, d.last_s, d.best_s) = (40.0, 42.0, 41.0);
    let s = score(&t, &[a, b, c, d]);
    let row = |class, direction| {
        s.counts
            .iter()
            .find(|r| r.class == class && r.direction == direction)
            .map(|r| r.count)
    };
    assert_eq!(
        row(VehicleClass::Car, Direction::Along),
        Some(Count::new(2, 1))
    );
    let car_along = row(VehicleClass::Car, Direction::Along).unwrap();
    assert_eq!((car_along.error, car_along.relative_error), (-1, Some(0.5)));
    assert_eq!(
        row(VehicleClass::Truck, Direction::Along),
        Some(Count::new(0, 1))
    );
    let bikes = row(VehicleClass::Motorbike, Direction::Against).unwrap();
    assert_eq!((bikes.truth, bikes.logged, bikes.error), (1, 2, 1));
    assert_eq!(s.counts.len(), 3);
    // Two cars cross the line in the truth; the truck-classed car, the car and one bike
    // passage say they crossed.
    let crossings = s.crossings.unwrap();
    assert_eq!(
        (crossings.truth, crossings.logged, crossings.error),
        (2, 3, 1)
    );
    assert_eq!(crossings.relative_error, Some(0.5));
    // Classes: one car logged as a truck.
    assert_eq!((s.classes.passages, s.classes.correct), (3, 2));
    let cells: Vec<_> = s
        .classes
        .confusion
        .iter()
        .map(|c| (c.truth, c.logged, c.passages))
        .collect();
    assert_eq!(
        cells,
        [
            (VehicleClass::Motorbike, VehicleClass::Motorbike, 1),
            (VehicleClass::Car, VehicleClass::Car, 1),
            (VehicleClass::Car, VehicleClass::Truck, 1),
        ]
    );
}

#[test]
fn without_a_counting_line_crossings_are_not_scored() {
    let mut t = truth(vec![car(1, "", 0.0, 5.0)]);
    t.counting_line = None;
    let s = score(&t, &[logged(1, &t.vehicles[0])]);
    assert_eq!(s.crossings, None);
}

#[test]
fn ratios_never_divide_by_zero() {
    assert_eq!(ratio(0, 0), None);
    assert_eq!(ratio(3, 4), Some(0.75));
    assert_eq!(Count::new(0, 0).relative_error, None);
}
