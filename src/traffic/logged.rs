//! A logged passage as the scoring sees it: the tracker's passage with its times in seconds
//! from the start of the video and its best box centre normalised by the frame size.
//!
//! PURE: plain data, no I/O.

use std::path::PathBuf;

use serde::Serialize;

use super::truth::TruthVehicle;
use crate::plate::PlateKey;
use crate::scene::VehicleClass;
use crate::track::{Direction, Passage};

/// A logged passage as scoring sees it: times in seconds from the start of the video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LoggedPassage {
    /// The tracker's id.
    pub track_id: u64,
    /// First time seen, seconds.
    pub first_s: f64,
    /// Last time seen, seconds.
    pub last_s: f64,
    /// Time of the best frame, seconds.
    pub best_s: f64,
    /// Normalised centre of the vehicle box in the best frame.
    pub centre: Option<(f32, f32)>,
    /// Class voted by the tracker.
    pub class: VehicleClass,
    /// Direction.
    pub direction: Direction,
    /// Whether its path crossed the counting line.
    pub crossed_line: bool,
    /// Voted plate key.
    pub plate: Option<PlateKey>,
    /// Plate candidates, best first (the voted key first).
    pub candidates: Vec<PlateKey>,
    /// Snapshot of the best frame.
    pub snapshot: Option<PathBuf>,
}

impl LoggedPassage {
    /// The tracker's `passage`, whose times count from `origin_ms` (the video's first frame),
    /// in a frame of `frame` pixels.
    pub fn from_passage(
        passage: &Passage,
        origin_ms: i64,
        frame: (u32, u32),
        snapshot: Option<PathBuf>,
    ) -> LoggedPassage {
        let s = |ms: i64| (ms - origin_ms) as f64 / 1000.0;
        let (cx, cy) = passage.best_vehicle_bbox.center();
        let (w, h) = (frame.0.max(1) as f32, frame.1.max(1) as f32);
        let centre = (cx.is_finite() && cy.is_finite()).then_some((cx / w, cy / h));
        LoggedPassage {
            track_id: passage.track_id,
            first_s: s(passage.first_seen_ms),
            last_s: s(passage.last_seen_ms),
            best_s: s(passage.best_at_ms),
            centre,
            class: passage.vehicle_class,
            direction: passage.direction,
            crossed_line: passage.crossed_line,
            plate: passage.plate.as_ref().map(|v| v.key.clone()),
            candidates: passage
                .plate
                .as_ref()
                .map(|v| v.candidates.iter().map(|(k, _)| k.clone()).collect())
                .unwrap_or_default(),
            snapshot,
        }
    }

    /// Whether its voted key is a fragment of a plate (such as `36837`, by the plate
    /// module's rule, [`PlateKey::is_fragment`]) while `v` has a whole plate: a piece logged
    /// as a plate key, which must never happen. A passage without a plate is no fragment; a
    /// whole key that is not `v`'s (a misread) is a wrong plate.
    pub fn is_fragment_of(&self, v: &TruthVehicle) -> bool {
        let truth_whole = v.plate.as_ref().is_some_and(PlateKey::is_whole);
        truth_whole && self.plate.as_ref().is_some_and(PlateKey::is_fragment)
    }
}
