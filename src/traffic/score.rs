//! Scores the passages a camera logged against the truth of what passed.
//!
//! PURE: a [`Truth`] and the [`LoggedPassage`]s in, a [`Score`] out; no I/O, no clock.
//! The failures are listed by `failures`.
//!
//! Passages are matched to vehicles by time and place (see `matching`). Then:
//! - recall: vehicles matched by exactly one passage over all vehicles (`None` without
//!   vehicles);
//! - merged: vehicles without a passage of their own whose visible time lies mostly within
//!   another vehicle's passage, in the same place; missed: the other vehicles without one;
//! - duplicates: vehicles matched by two or more passages, counted as the extra passages;
//! - plates, per plated vehicle: exact when one of its passages voted the truth key, in the
//!   top N when one lists it among its first [`TOP_N`] candidates; over all plated vehicles
//!   and over the `readable` ones;
//! - fragments: matched passages whose voted key is a fragment of a plate
//!   ([`PlateKey::is_fragment`](crate::plate::PlateKey::is_fragment)) while the truth plate
//!   is whole;
//! - classes: matched passages' class against the truth's, with a confusion table;
//! - counts: per (class, direction) and in all, passages logged against vehicles in the
//!   truth; counting-line crossings against vehicles with a `line_s` (when the truth has a
//!   counting line);
//! - failures, one entry each: missed, merged, duplicate, wrong plate, fragment, false
//!   passage, with the times and the snapshot to look at.

use serde::Serialize;

use super::failures::{failures, Failure};
use super::logged::LoggedPassage;
use super::matching::{assign, matched, Assignment};
use super::truth::{Truth, TruthVehicle};
use crate::scene::VehicleClass;
use crate::track::Direction;

#[cfg(test)]
mod tests;

/// How many of a passage's plate candidates count for "in the top N".
pub const TOP_N: usize = 5;

/// A count in the truth against the count logged.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Count {
    /// In the truth.
    pub truth: usize,
    /// Logged.
    pub logged: usize,
    /// `logged − truth`.
    pub error: i64,
    /// `|error| / truth`; `None` when the truth has none.
    pub relative_error: Option<f64>,
}

impl Count {
    /// `logged` against `truth`.
    pub fn new(truth: usize, logged: usize) -> Count {
        let error = logged as i64 - truth as i64;
        Count {
            truth,
            logged,
            error,
            relative_error: ratio(error.unsigned_abs() as usize, truth),
        }
    }
}

/// The count of one class going one way.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CountRow {
    /// Class.
    pub class: VehicleClass,
    /// Direction.
    pub direction: Direction,
    /// Truth against logged.
    #[serde(flatten)]
    pub count: Count,
}

/// Plate figures over a set of plated vehicles.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PlateScore {
    /// Plated vehicles in the set.
    pub vehicles: usize,
    /// Of them, those with a passage that voted the truth key.
    pub exact: usize,
    /// `exact / vehicles`.
    pub exact_rate: Option<f64>,
    /// Those with a passage listing the truth key among its first [`TOP_N`] candidates.
    pub in_top_n: usize,
    /// `in_top_n / vehicles`.
    pub top_n_rate: Option<f64>,
    /// Passages matched to the set's vehicles.
    pub passages: usize,
    /// Of them, those that voted the truth key.
    pub passages_exact: usize,
}

/// One cell of the class confusion table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Confusion {
    /// The truth's class.
    pub truth: VehicleClass,
    /// The passage's class.
    pub logged: VehicleClass,
    /// Matched passages with these two classes.
    pub passages: usize,
}

/// Class figures over the matched passages.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ClassScore {
    /// Matched passages.
    pub passages: usize,
    /// Of them, those whose class is the truth's.
    pub correct: usize,
    /// `correct / passages`.
    pub accuracy: Option<f64>,
    /// Non-empty cells, by truth class then logged class.
    pub confusion: Vec<Confusion>,
}

/// Everything the scoring found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// Vehicles in the truth.
    pub vehicles: usize,
    /// Passages logged.
    pub passages: usize,
    /// Vehicles matched by exactly one passage.
    pub matched_once: usize,
    /// `matched_once / vehicles`; `None` when the truth has no vehicles.
    pub recall: Option<f64>,
    /// Vehicles without any passage, not merged.
    pub missed: usize,
    /// Vehicles lost into another vehicle's passage.
    pub merged: usize,
    /// Vehicles matched by two or more passages.
    pub duplicated_vehicles: usize,
    /// Passages beyond the first of those vehicles.
    pub duplicate_passages: usize,
    /// Passages matching no vehicle.
    pub false_passages: usize,
    /// Plates over every plated vehicle.
    pub plates: PlateScore,
    /// Plates over the readable plated vehicles.
    pub readable_plates: PlateScore,
    /// Matched passages with a non-Vietnamese key for a Vietnamese truth plate.
    pub fragments: usize,
    /// Classes of the matched passages.
    pub classes: ClassScore,
    /// Per (class, direction) present in the truth or the log.
    pub counts: Vec<CountRow>,
    /// All passages against all vehicles.
    pub total: Count,
    /// Counting-line crossings; `None` when the truth has no counting line.
    pub crossings: Option<Count>,
    /// What went wrong.
    pub failures: Vec<Failure>,
}

/// Scores `passages` against `truth`.
pub fn score(truth: &Truth, passages: &[LoggedPassage]) -> Score {
    let vehicles = &truth.vehicles;
    let a = assign(vehicles, passages);
    let matched_once = a.passages_of.iter().filter(|l| l.len() == 1).count();
    let merged = a.merged_into.iter().filter(|m| m.is_some()).count();
    let missed = a
        .passages_of
        .iter()
        .zip(&a.merged_into)
        .filter(|(l, m)| l.is_empty() && m.is_none())
        .count();
    let duplicated: Vec<&Vec<usize>> = a.passages_of.iter().filter(|l| l.len() > 1).collect();
    let plates = plate_score(vehicles, passages, &a, |_| true);
    let readable_plates = plate_score(vehicles, passages, &a, |v| v.readable);
    let fragments = matched(&a, vehicles, passages)
        .filter(|(v, p)| p.is_fragment_of(v))
        .count();
    Score {
        vehicles: vehicles.len(),
        passages: passages.len(),
        matched_once,
        recall: ratio(matched_once, vehicles.len()),
        missed,
        merged,
        duplicated_vehicles: duplicated.len(),
        duplicate_passages: duplicated.iter().map(|l| l.len() - 1).sum(),
        false_passages: a.vehicle_of.iter().filter(|v| v.is_none()).count(),
        plates,
        readable_plates,
        fragments,
        classes: class_score(&a, vehicles, passages),
        counts: count_rows(vehicles, passages),
        total: Count::new(vehicles.len(), passages.len()),
        crossings: truth.counting_line.map(|_| {
            Count::new(
                vehicles.iter().filter(|v| v.line_s.is_some()).count(),
                passages.iter().filter(|p| p.crossed_line).count(),
            )
        }),
        failures: failures(&a, vehicles, passages),
    }
}

/// `n / d`, `None` when `d` is 0.
pub fn ratio(n: usize, d: usize) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Plate figures over the plated vehicles that `keep` keeps.
fn plate_score(
    vehicles: &[TruthVehicle],
    passages: &[LoggedPassage],
    a: &Assignment,
    keep: impl Fn(&TruthVehicle) -> bool,
) -> PlateScore {
    let mut s = PlateScore::default();
    for (v, list) in vehicles.iter().zip(&a.passages_of) {
        let Some(key) = v.plate.as_ref().filter(|_| keep(v)) else {
            continue;
        };
        s.vehicles += 1;
        s.passages += list.len();
        let exact = list
            .iter()
            .filter(|&&i| passages[i].plate.as_ref() == Some(key))
            .count();
        s.passages_exact += exact;
        s.exact += usize::from(exact > 0);
        s.in_top_n += usize::from(
            list.iter()
                .any(|&i| passages[i].candidates.iter().take(TOP_N).any(|c| c == key)),
        );
    }
    s.exact_rate = ratio(s.exact, s.vehicles);
    s.top_n_rate = ratio(s.in_top_n, s.vehicles);
    s
}

/// Class accuracy and confusion over the matched passages.
fn class_score(
    a: &Assignment,
    vehicles: &[TruthVehicle],
    passages: &[LoggedPassage],
) -> ClassScore {
    let mut s = ClassScore::default();
    for (v, p) in matched(a, vehicles, passages) {
        s.passages += 1;
        s.correct += usize::from(v.class == p.class);
        match s
            .confusion
            .iter_mut()
            .find(|c| c.truth == v.class && c.logged == p.class)
        {
            Some(c) => c.passages += 1,
            None => s.confusion.push(Confusion {
                truth: v.class,
                logged: p.class,
                passages: 1,
            }),
        }
    }
    let order = |c: VehicleClass| VehicleClass::ALL.iter().position(|&x| x == c);
    s.confusion
        .sort_by_key(|c| (order(c.truth), order(c.logged)));
    s.accuracy = ratio(s.correct, s.passages);
    s
}

/// Counts per (class, direction) present in either side, in the order of the class and
/// direction lists.
fn count_rows(vehicles: &[TruthVehicle], passages: &[LoggedPassage]) -> Vec<CountRow> {
    let mut rows = Vec::new();
    for class in VehicleClass::ALL {
        for direction in Direction::ALL {
            let truth = vehicles
                .iter()
                .filter(|v| v.class == class && v.direction == direction)
                .count();
            let logged = passages
                .iter()
                .filter(|p| p.class == class && p.direction == direction)
                .count();
            if truth + logged > 0 {
                rows.push(CountRow {
                    class,
                    direction,
                    count: Count::new(truth, logged),
                });
            }
        }
    }
    rows
}
