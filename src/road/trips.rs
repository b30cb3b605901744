//! Building a plate's corridor: sightings → visits → trips with hops, and the pass-by checks the
//! store answers (was the junction recording when the vehicle should have passed it?).

use chrono::{DateTime, Utc};

use super::{Heading, Hop, PassBy, Place, RoadRules, Sighting, Trip, Visit};

/// The trips of one plate's sightings (any order). Pass-bys start as not recording: see
/// [`recording_checks`] and [`mark_recording`].
pub fn corridor(mut sightings: Vec<Sighting>, places: &[Place], rules: &RoadRules) -> Vec<Trip> {
    sightings.sort_by(|a, b| a.at.cmp(&b.at).then(a.passage_id.cmp(&b.passage_id)));
    let mut trips: Vec<Trip> = Vec::new();
    for visit in visits(sightings, rules) {
        let hop = trips
            .last()
            .and_then(|t| t.visits.last())
            .map(|prev| hop(prev, &visit, places, rules));
        match (trips.last_mut(), hop) {
            (Some(trip), Some(hop)) if !too_long(&hop, rules) => {
                trip.end = visit.last;
                trip.hops.push(hop);
                trip.visits.push(visit);
            }
            _ => trips.push(Trip {
                start: visit.first,
                end: visit.last,
                visits: vec![visit],
                hops: Vec::new(),
            }),
        }
    }
    trips
}

/// Consecutive sightings at one place, while no gap is longer than a stop.
fn visits(sightings: Vec<Sighting>, rules: &RoadRules) -> Vec<Visit> {
    let stop = rules.longest_hop(0.0);
    let mut out: Vec<Visit> = Vec::new();
    for s in sightings {
        if let Some(v) = out.last_mut() {
            let same_place = v.passages.last().is_some_and(|p| p.place() == s.place());
            if same_place && s.at - v.last <= stop {
                v.last = s.at;
                v.passages.push(s);
                continue;
            }
        }
        out.push(Visit {
            junction: s.junction.clone(),
            km: s.km,
            first: s.at,
            last: s.at,
            passages: vec![s],
        });
    }
    out
}

/// Whether `hop` took longer than the road explains: the trip ended before it.
fn too_long(hop: &Hop, rules: &RoadRules) -> bool {
    let longest = rules.longest_hop(hop.distance_km.unwrap_or(0.0));
    hop.arrived - hop.departed > longest
}

/// The place name of a visit: its junction, else its camera.
fn place_name(v: &Visit) -> String {
    v.junction
        .clone()
        .or_else(|| v.passages.first().map(|p| p.camera.clone()))
        .unwrap_or_default()
}

/// The hop from `a` to `b`.
fn hop(a: &Visit, b: &Visit, places: &[Place], rules: &RoadRules) -> Hop {
    let departed = a.last;
    let arrived = b.first;
    let travel_s = (arrived - departed).num_milliseconds() as f64 / 1000.0;
    let distance_km = a.km.zip(b.km).map(|(x, y)| (y - x).abs());
    let speed_kmh = distance_km
        .filter(|_| travel_s > 0.0)
        .map(|d| d / (travel_s / 3600.0));
    let moved = distance_km.is_some_and(|d| d > 0.0);
    let impossible = moved && speed_kmh.is_none_or(|v| v > rules.max_speed_kmh);
    let heading = match a.km.zip(b.km) {
        Some((x, y)) if y > x => Heading::Up,
        Some((x, y)) if y < x => Heading::Down,
        _ => Heading::Unknown,
    };
    let from = place_name(a);
    let to = place_name(b);
    let passed_by = match (a.km, b.km) {
        (Some(x), Some(y)) if moved => {
            let (lo, hi) = (x.min(y), x.max(y));
            let mut between: Vec<PassBy> = places
                .iter()
                .filter(|p| p.km > lo && p.km < hi && p.junction != from && p.junction != to)
                .map(|p| {
                    let share = (p.km - x).abs() / (y - x).abs();
                    let offset = chrono::TimeDelta::milliseconds(
                        ((arrived - departed).num_milliseconds() as f64 * share) as i64,
                    );
                    PassBy {
                        junction: p.junction.clone(),
                        km: p.km,
                        expected_at: departed + offset,
                        recording: false,
                    }
                })
                .collect();
            between.sort_by_key(|p| p.expected_at);
            between
        }
        _ => Vec::new(),
    };
    Hop {
        from,
        to,
        from_km: a.km,
        to_km: b.km,
        distance_km,
        departed,
        arrived,
        travel_s,
        speed_kmh,
        heading,
        impossible,
        passed_by,
        skipped_recording: false,
    }
}

/// Every pass-by of `trips` as (junction, expected time), in the order [`mark_recording`]
/// takes the answers.
pub fn recording_checks(trips: &[Trip]) -> Vec<(String, DateTime<Utc>)> {
    trips
        .iter()
        .flat_map(|t| &t.hops)
        .flat_map(|h| &h.passed_by)
        .map(|p| (p.junction.clone(), p.expected_at))
        .collect()
}

/// Sets each pass-by's `recording` from `answers` (in [`recording_checks`]' order; missing
/// answers are "not recording"), and each hop's `skipped_recording`.
pub fn mark_recording(trips: &mut [Trip], answers: &[bool]) {
    let mut answers = answers.iter().copied();
    for hop in trips.iter_mut().flat_map(|t| t.hops.iter_mut()) {
        for p in hop.passed_by.iter_mut() {
            p.recording = answers.next().unwrap_or(false);
        }
        hop.skipped_recording = hop.passed_by.iter().any(|p| p.recording);
    }
}
