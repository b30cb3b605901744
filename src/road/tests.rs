//! The corridor on plain data: a road of four junctions 10 km apart.

use chrono::{DateTime, Utc};

use super::*;

fn at(hm: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-30T{hm}:00+07:00"))
        .unwrap()
        .to_utc()
}

fn places() -> Vec<Place> {
    ["A", "B", "C", "D"]
        .iter()
        .enumerate()
        .map(|(i, j)| Place {
            junction: j.to_string(),
            km: 10.0 * i as f64,
        })
        .collect()
}

fn seen(id: i64, junction: &str, hm: &str) -> Sighting {
    let km = places()
        .into_iter()
        .find(|p| p.junction == junction)
        .map(|p| p.km);
    Sighting {
        passage_id: id,
        at: at(hm),
        camera: format!("{junction}-cam"),
        junction: Some(junction.to_string()),
        km,
        direction: Direction::Along,
    }
}

#[test]
fn a_journey_is_one_trip_with_hops_speeds_and_headings() {
    let rules = RoadRules::default();
    // Out of order on purpose; two cameras at B see it within a minute.
    let s = vec![
        seen(3, "B", "08:12"),
        seen(1, "A", "08:00"),
        seen(4, "B", "08:13"),
        seen(5, "C", "08:25"),
    ];
    let trips = corridor(s, &places(), &rules);
    assert_eq!(trips.len(), 1);
    let t = &trips[0];
    assert_eq!(t.visits.len(), 3);
    assert_eq!(t.visits[1].passages.len(), 2);
    assert_eq!((t.start, t.end), (at("08:00"), at("08:25")));
    assert_eq!(t.hops.len(), 2);
    let h = &t.hops[0];
    assert_eq!((h.from.as_str(), h.to.as_str()), ("A", "B"));
    assert_eq!(h.distance_km, Some(10.0));
    assert_eq!(h.travel_s, 720.0);
    assert!((h.speed_kmh.unwrap() - 50.0).abs() < 1e-9);
    assert_eq!(h.heading, Heading::Up);
    assert!(!h.impossible && h.passed_by.is_empty());
    // The second hop leaves B at its last sighting.
    assert_eq!(t.hops[1].departed, at("08:13"));
    assert!(!t.has_impossible_hop());
}

#[test]
fn a_hop_over_a_recording_junction_is_a_skip() {
    let rules = RoadRules::default();
    let mut trips = corridor(
        vec![seen(1, "D", "09:00"), seen(2, "B", "09:24")],
        &places(),
        &rules,
    );
    assert_eq!(trips.len(), 1);
    let h = &trips[0].hops[0];
    assert_eq!(h.heading, Heading::Down);
    assert_eq!(h.passed_by.len(), 1);
    assert_eq!(h.passed_by[0].junction, "C");
    // Halfway in km, halfway in time.
    assert_eq!(h.passed_by[0].expected_at, at("09:12"));
    let checks = recording_checks(&trips);
    assert_eq!(checks, vec![("C".to_string(), at("09:12"))]);
    mark_recording(&mut trips, &[false]);
    assert!(!trips[0].hops[0].skipped_recording);
    mark_recording(&mut trips, &[true]);
    assert!(trips[0].hops[0].skipped_recording);
    assert!(trips[0].hops[0].passed_by[0].recording);
}

#[test]
fn too_fast_is_impossible_and_two_places_at_once_too() {
    let rules = RoadRules::default();
    // 30 km in 5 minutes: 360 km/h.
    let trips = corridor(
        vec![seen(1, "A", "10:00"), seen(2, "D", "10:05")],
        &places(),
        &rules,
    );
    let h = &trips[0].hops[0];
    assert!(h.impossible, "{h:?}");
    assert!((h.speed_kmh.unwrap() - 360.0).abs() < 1e-9);
    assert!(trips[0].has_impossible_hop());
    // Same second at two junctions: no speed, impossible.
    let trips = corridor(
        vec![seen(1, "A", "10:00"), seen(2, "B", "10:00")],
        &places(),
        &rules,
    );
    assert_eq!(trips[0].hops[0].speed_kmh, None);
    assert!(trips[0].hops[0].impossible);
    // A limit of 400 km/h lets the first through.
    let fast = RoadRules {
        max_speed_kmh: 400.0,
        ..rules
    };
    let trips = corridor(
        vec![seen(1, "A", "10:00"), seen(2, "D", "10:05")],
        &places(),
        &fast,
    );
    assert!(!trips[0].hops[0].impossible);
}

#[test]
fn a_gap_the_road_cannot_explain_ends_the_trip() {
    let rules = RoadRules::default();
    // A→B in 12 min is a trip; B at 15:00 is hours later: a new trip, even at the same place.
    // B→D (20 km) in 1 h 50 min is within 20/15 h + 30 min = 1 h 50 min: still one trip.
    let trips = corridor(
        vec![
            seen(1, "A", "08:00"),
            seen(2, "B", "08:12"),
            seen(3, "B", "15:00"),
            seen(4, "D", "16:50"),
            seen(5, "D", "16:51"),
            seen(6, "D", "17:15"),
        ],
        &places(),
        &rules,
    );
    let shape: Vec<usize> = trips.iter().map(|t| t.visits.len()).collect();
    assert_eq!(shape, vec![2, 2], "{trips:#?}");
    // D at 16:50, 16:51 and 17:15 (within a stop of each other) are one visit.
    assert_eq!(trips[1].visits[1].passages.len(), 3);
    // One minute more and B→D is two trips.
    let trips = corridor(
        vec![seen(3, "B", "15:00"), seen(4, "D", "16:51")],
        &places(),
        &rules,
    );
    assert_eq!(trips.len(), 2);
}

#[test]
fn places_without_km_still_count_but_have_no_speed() {
    let rules = RoadRules::default();
    let mut lone = seen(2, "B", "08:10");
    lone.junction = None;
    lone.km = None;
    lone.camera = "house-7".into();
    let trips = corridor(vec![seen(1, "A", "08:00"), lone], &places(), &rules);
    assert_eq!(trips.len(), 1);
    let h = &trips[0].hops[0];
    assert_eq!(h.to, "house-7");
    assert_eq!((h.distance_km, h.speed_kmh), (None, None));
    assert_eq!(h.heading, Heading::Unknown);
    assert!(!h.impossible);
    assert!(corridor(Vec::new(), &places(), &rules).is_empty());
}

#[test]
fn rules_are_checked() {
    assert!(RoadRules::default().validate().is_ok());
    for bad in [
        RoadRules {
            max_speed_kmh: 0.0,
            ..RoadRules::default()
        },
        RoadRules {
            slowest_kmh: 200.0,
            ..RoadRules::default()
        },
        RoadRules {
            stop_minutes: f64::NAN,
            ..RoadRules::default()
        },
    ] {
        assert!(bad.validate().is_err(), "{bad:?}");
    }
}
