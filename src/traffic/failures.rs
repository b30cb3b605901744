//! What went wrong in a scored run, one entry each, with the times and the snapshot to look
//! at: missed, merged, duplicate, wrong plate, fragment and false passage.
//!
//! PURE: built from the matching's [`Assignment`], no I/O.

use std::path::PathBuf;

use serde::Serialize;

use super::logged::LoggedPassage;
use super::matching::{matched, Assignment};
use super::truth::TruthVehicle;
use crate::plate::PlateKey;
use crate::scene::VehicleClass;

/// A truth vehicle, as a failure names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VehicleRef {
    /// Id in the truth file.
    pub id: u32,
    /// Class.
    pub class: VehicleClass,
    /// Plate.
    pub plate: Option<PlateKey>,
    /// First time visible, seconds.
    pub first_s: f64,
    /// Last time visible, seconds.
    pub last_s: f64,
}

/// A passage, as a failure names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassageRef {
    /// The tracker's id.
    pub track_id: u64,
    /// First time seen, seconds.
    pub first_s: f64,
    /// Last time seen, seconds.
    pub last_s: f64,
    /// Best frame, seconds.
    pub best_s: f64,
    /// Voted plate.
    pub plate: Option<PlateKey>,
    /// Class.
    pub class: VehicleClass,
    /// Snapshot of the best frame.
    pub snapshot: Option<PathBuf>,
}

/// Something that went wrong, with what to look at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A vehicle without a passage.
    Missed { vehicle: VehicleRef },
    /// A vehicle lost into another vehicle's passage.
    Merged {
        vehicle: VehicleRef,
        /// Id of the vehicle the passage belongs to.
        into_vehicle: u32,
        passage: PassageRef,
    },
    /// A vehicle logged more than once.
    Duplicate {
        vehicle: VehicleRef,
        /// Its passages, by first time seen.
        passages: Vec<PassageRef>,
        /// Seconds from each passage's last sight to the next one's first (negative: overlap).
        gaps_s: Vec<f64>,
    },
    /// A plated vehicle's passage voted another key (or none), not a fragment.
    WrongPlate {
        vehicle: VehicleRef,
        passage: PassageRef,
    },
    /// A passage's voted key is not a full Vietnamese plate while the truth's is one.
    Fragment {
        vehicle: VehicleRef,
        passage: PassageRef,
    },
    /// A passage that matches no vehicle.
    FalsePassage { passage: PassageRef },
}

impl Failure {
    /// The failure's kind, as in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Missed { .. } => "missed",
            Failure::Merged { .. } => "merged",
            Failure::Duplicate { .. } => "duplicate",
            Failure::WrongPlate { .. } => "wrong_plate",
            Failure::Fragment { .. } => "fragment",
            Failure::FalsePassage { .. } => "false_passage",
        }
    }
}

fn vehicle_ref(v: &TruthVehicle) -> VehicleRef {
    VehicleRef {
        id: v.id,
        class: v.class,
        plate: v.plate.clone(),
        first_s: v.first_s,
        last_s: v.last_s,
    }
}

fn passage_ref(p: &LoggedPassage) -> PassageRef {
    PassageRef {
        track_id: p.track_id,
        first_s: p.first_s,
        last_s: p.last_s,
        best_s: p.best_s,
        plate: p.plate.clone(),
        class: p.class,
        snapshot: p.snapshot.clone(),
    }
}

/// Every failure, by kind: missed, merged, duplicate, wrong plate, fragment, false passage.
pub fn failures(
    a: &Assignment,
    vehicles: &[TruthVehicle],
    passages: &[LoggedPassage],
) -> Vec<Failure> {
    let mut out = Vec::new();
    for (vi, v) in vehicles.iter().enumerate() {
        if a.passages_of[vi].is_empty() && a.merged_into[vi].is_none() {
            out.push(Failure::Missed {
                vehicle: vehicle_ref(v),
            });
        }
    }
    for (vi, v) in vehicles.iter().enumerate() {
        if let Some(pi) = a.merged_into[vi] {
            let owner = a.vehicle_of[pi].map(|o| vehicles[o].id).unwrap_or_default();
            out.push(Failure::Merged {
                vehicle: vehicle_ref(v),
                into_vehicle: owner,
                passage: passage_ref(&passages[pi]),
            });
        }
    }
    for (v, list) in vehicles.iter().zip(&a.passages_of) {
        if list.len() > 1 {
            let gaps_s = list
                .windows(2)
                .map(|w| passages[w[1]].first_s - passages[w[0]].last_s)
                .collect();
            out.push(Failure::Duplicate {
                vehicle: vehicle_ref(v),
                passages: list.iter().map(|&i| passage_ref(&passages[i])).collect(),
                gaps_s,
            });
        }
    }
    let wrong = |v: &TruthVehicle, p: &LoggedPassage| {
        v.plate.is_some() && p.plate != v.plate && !p.is_fragment_of(v)
    };
    for (v, p) in matched(a, vehicles, passages).filter(|(v, p)| wrong(v, p)) {
        out.push(Failure::WrongPlate {
            vehicle: vehicle_ref(v),
            passage: passage_ref(p),
        });
    }
    for (v, p) in matched(a, vehicles, passages).filter(|(v, p)| p.is_fragment_of(v)) {
        out.push(Failure::Fragment {
            vehicle: vehicle_ref(v),
            passage: passage_ref(p),
        });
    }
    for (p, v) in passages.iter().zip(&a.vehicle_of) {
        if v.is_none() {
            out.push(Failure::FalsePassage {
                passage: passage_ref(p),
            });
        }
    }
    out
}
