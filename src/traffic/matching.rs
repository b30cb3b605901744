//! Which truth vehicle each logged passage belongs to, and which vehicles without a passage of
//! their own were swallowed by another's passage.
//!
//! PURE: plain data in, indices out.
//!
//! A passage and a vehicle are compatible when:
//! - their times overlap: the passage's `[first_s, last_s]` meets the vehicle's
//!   `[first_s, last_s]` widened by [`TIME_SLACK_S`] on both sides;
//! - and they are in the same place: the passage's best box centre lies within
//!   [`POSITION_TOLERANCE`] of the vehicle's path (centre at first and last visible, linearly
//!   interpolated at the passage's best time) — unless the passage's voted plate equals the
//!   vehicle's plate, which is evidence enough (the path is rough for a vehicle that stops
//!   and goes), or either side has no position (then time alone decides).
//!
//! Each passage goes to its most compatible vehicle ([`affinity`]: equal plate first, then
//! time overlap, then closeness), at most one; a passage compatible with none is false.

use super::logged::LoggedPassage;
use super::truth::TruthVehicle;

/// Seconds a passage may start before or end after a vehicle's visible time and still match
/// it (the tracker's first and last observation fall on sampled frames, 5 a second).
pub const TIME_SLACK_S: f64 = 0.5;
/// Largest distance (normalised frame units) between a passage's best box centre and the
/// vehicle's interpolated path for them to match: a quarter of the frame, as the path
/// between first and last sight is rough for a vehicle that stops and goes.
pub const POSITION_TOLERANCE: f32 = 0.25;
/// A vehicle without a passage of its own is merged into another's passage when at least
/// this share of its visible time lies within that passage.
pub const MERGE_COVER: f64 = 0.5;

/// Where every passage went.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// Per passage (same order as given): the index of its vehicle, `None` when false.
    pub vehicle_of: Vec<Option<usize>>,
    /// Per vehicle: its passages' indices, by first time seen.
    pub passages_of: Vec<Vec<usize>>,
    /// Per vehicle without a passage of its own: the passage that swallowed it, if any.
    pub merged_into: Vec<Option<usize>>,
}

/// Assigns `passages` to `vehicles`.
pub fn assign(vehicles: &[TruthVehicle], passages: &[LoggedPassage]) -> Assignment {
    let vehicle_of: Vec<Option<usize>> = passages
        .iter()
        .map(|p| {
            let mut best: Option<(usize, f64)> = None;
            for (i, v) in vehicles.iter().enumerate() {
                if let Some(a) = affinity(p, v) {
                    if best.is_none_or(|(_, b)| a > b) {
                        best = Some((i, a));
                    }
                }
            }
            best.map(|(i, _)| i)
        })
        .collect();
    let mut passages_of = vec![Vec::new(); vehicles.len()];
    for (pi, vi) in vehicle_of.iter().enumerate() {
        if let Some(vi) = vi {
            passages_of[*vi].push(pi);
        }
    }
    for list in &mut passages_of {
        list.sort_by(|&a, &b| passages[a].first_s.total_cmp(&passages[b].first_s));
    }
    let merged_into = vehicles
        .iter()
        .enumerate()
        .map(|(vi, v)| {
            if !passages_of[vi].is_empty() {
                return None;
            }
            passages
                .iter()
                .enumerate()
                .filter(|(pi, _)| vehicle_of[*pi].is_some())
                .map(|(pi, p)| (pi, cover(p, v)))
                .filter(|&(pi, c)| c >= MERGE_COVER && near_path(&passages[pi], v))
                .max_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(pi, _)| pi)
        })
        .collect();
    Assignment {
        vehicle_of,
        passages_of,
        merged_into,
    }
}

/// Every matched (vehicle, passage) pair, in passage order.
pub fn matched<'a>(
    a: &'a Assignment,
    vehicles: &'a [TruthVehicle],
    passages: &'a [LoggedPassage],
) -> impl Iterator<Item = (&'a TruthVehicle, &'a LoggedPassage)> + 'a {
    a.vehicle_of
        .iter()
        .zip(passages)
        .filter_map(|(v, p)| Some((&vehicles[(*v)?], p)))
}

/// How well passage `p` fits vehicle `v`, higher is better; `None` when incompatible.
pub fn affinity(p: &LoggedPassage, v: &TruthVehicle) -> Option<f64> {
    let overlap = p.last_s.min(v.last_s + TIME_SLACK_S) - p.first_s.max(v.first_s - TIME_SLACK_S);
    if overlap.is_nan() || overlap < 0.0 {
        return None;
    }
    let same_plate = p.plate.is_some() && p.plate == v.plate;
    let shorter = (p.last_s - p.first_s).min(v.last_s - v.first_s).max(0.0);
    let time = (overlap / (shorter + TIME_SLACK_S)).clamp(0.0, 1.0);
    let place = match (p.centre, v.path) {
        (Some(c), Some(_)) => {
            let d = distance(c, path_at(v, p.best_s)?);
            if d > POSITION_TOLERANCE && !same_plate {
                return None;
            }
            f64::from((1.0 - d / POSITION_TOLERANCE).max(0.0))
        }
        _ => 0.5,
    };
    Some(if same_plate { 2.0 } else { 0.0 } + time + place)
}

/// The vehicle's centre at `t` seconds: its path interpolated, held at the ends; `None`
/// without a path.
pub fn path_at(v: &TruthVehicle, t: f64) -> Option<(f32, f32)> {
    let [a, b] = v.path?;
    let span = v.last_s - v.first_s;
    let f = if span > 0.0 {
        ((t - v.first_s) / span).clamp(0.0, 1.0) as f32
    } else {
        0.0
    };
    Some((a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f))
}

/// Share of the vehicle's visible time that lies within the passage (1 when the vehicle is
/// seen for an instant inside it).
fn cover(p: &LoggedPassage, v: &TruthVehicle) -> f64 {
    let inside = p.last_s.min(v.last_s) - p.first_s.max(v.first_s);
    let span = v.last_s - v.first_s;
    if span <= 0.0 {
        return if (p.first_s..=p.last_s).contains(&v.first_s) {
            1.0
        } else {
            0.0
        };
    }
    (inside / span).clamp(0.0, 1.0)
}

/// Whether the passage's best centre lies within tolerance of any point of the vehicle's
/// path (true when either has no position).
fn near_path(p: &LoggedPassage, v: &TruthVehicle) -> bool {
    match (p.centre, v.path) {
        (Some(c), Some([a, b])) => segment_distance(c, a, b) <= POSITION_TOLERANCE,
        _ => true,
    }
}

/// Euclidean distance of two points.
fn distance(a: (f32, f32), b: (f32, f32)) -> f32 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// Distance from `c` to the segment `a`–`b`.
fn segment_distance(c: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let f = if len2 > 0.0 {
        (((c.0 - a.0) * dx + (c.1 - a.1) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    distance(c, (a.0 + dx * f, a.1 + dy * f))
}
