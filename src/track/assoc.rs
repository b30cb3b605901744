//! Association, ByteTrack style: the objects a frame shows, each track's predicted box, and
//! greedy matching of the two by descending affinity (IoU).
//!
//! Objects: each vehicle is an object, carrying its plate when it holds exactly one. A plate
//! with no vehicle, or whose vehicle holds two or more plates (the detector merged parked
//! motorbikes), becomes a plate-anchored object whose box is the plate grown around it; the
//! merged vehicle box itself is then no object (the plates stand for what it covers) but its
//! class still votes for each plate-anchored object.
//!
//! Invariants: objects have finite boxes (non-finite ones are skipped); scores are finite
//! (NaN counts as 0); an affinity is finite and in 0..1; a track or object is in at most one
//! match.

use super::VehicleLook;
use super::{FrameObservations, PlateObservation};
use crate::scene::{BoxXyxy, VehicleClass};

/// Growth of a plate box into a plate-anchored object box, in plate widths/heights:
/// left and right, up, down.
const PLATE_GROW: (f32, f32, f32) = (1.5, 3.0, 1.0);

/// How much a box IoU counts between a plate-anchored track and a vehicle object (or the other
/// way round), so that like matches like when both are on offer.
const CROSS_KIND_FACTOR: f32 = 0.75;

/// Share of the constant-velocity motion a prediction applies (damping against overshoot).
const PREDICTION_DAMPING: f32 = 0.8;

/// One thing to track in a frame.
#[derive(Debug, Clone)]
pub(super) struct FrameObject<'a> {
    /// Vehicle box, or the grown plate box of a plate-anchored object, in frame pixels.
    pub bbox: BoxXyxy,
    /// Detector score (plate read confidence for plate-anchored objects), finite.
    pub score: f32,
    /// Whether the object counts as high-score whatever its score: plate-anchored objects and
    /// vehicles holding a plate (a plate read confirms there is a vehicle).
    pub always_high: bool,
    /// Class vote with its weight (the vehicle's score); none for a lone plate.
    pub class_vote: Option<(VehicleClass, f32)>,
    /// The plate read this object carries.
    pub plate: Option<&'a PlateObservation>,
    /// Whether `bbox` was grown from a plate rather than detected as a vehicle.
    pub plate_anchored: bool,
    /// Whether the plate step looked for this object's plate in this frame.
    pub plate_searched: bool,
    /// What the vehicle looks like (none for a plate-anchored object).
    pub look: Option<VehicleLook>,
}

/// Whether every coordinate of the box is finite.
fn is_finite_box(b: &BoxXyxy) -> bool {
    b.x1.is_finite() && b.y1.is_finite() && b.x2.is_finite() && b.y2.is_finite()
}

/// A score as a finite number, NaN and infinities as 0.
fn finite_score(score: f32) -> f32 {
    if score.is_finite() {
        score
    } else {
        0.0
    }
}

/// The box of a plate-anchored object: the plate grown by [`PLATE_GROW`], clipped to the frame
/// (when the frame size is known).
fn grow_plate_box(plate: &BoxXyxy, frame_size: (u32, u32)) -> BoxXyxy {
    let (w, h) = (plate.width(), plate.height());
    let mut grown = BoxXyxy {
        x1: plate.x1 - w * PLATE_GROW.0,
        y1: plate.y1 - h * PLATE_GROW.1,
        x2: plate.x2 + w * PLATE_GROW.0,
        y2: plate.y2 + h * PLATE_GROW.2,
    };
    if frame_size.0 > 0 && frame_size.1 > 0 {
        let (fw, fh) = (frame_size.0 as f32, frame_size.1 as f32);
        grown.x1 = grown.x1.clamp(0.0, fw);
        grown.x2 = grown.x2.clamp(0.0, fw);
        grown.y1 = grown.y1.clamp(0.0, fh);
        grown.y2 = grown.y2.clamp(0.0, fh);
    }
    grown
}

/// The objects of one frame, vehicles first (in input order), then plate-anchored objects.
pub(super) fn frame_objects(frame: &FrameObservations) -> Vec<FrameObject<'_>> {
    let vehicle_ok: Vec<bool> = frame
        .vehicles
        .iter()
        .map(|v| is_finite_box(&v.bbox))
        .collect();
    let plates: Vec<&PlateObservation> = frame
        .plates
        .iter()
        .filter(|p| is_finite_box(&p.bbox))
        .collect();
    // The vehicle a plate belongs to, when that index names a usable vehicle.
    let holder = |p: &PlateObservation| p.vehicle.filter(|&i| vehicle_ok.get(i) == Some(&true));
    let mut held = vec![0usize; frame.vehicles.len()];
    for p in &plates {
        if let Some(i) = holder(p) {
            held[i] += 1;
        }
    }

    let mut objects = Vec::with_capacity(frame.vehicles.len() + plates.len());
    for (i, v) in frame.vehicles.iter().enumerate() {
        if !vehicle_ok[i] || held[i] >= 2 {
            continue;
        }
        let score = finite_score(v.score);
        let plate = plates.iter().copied().find(|p| holder(p) == Some(i));
        objects.push(FrameObject {
            bbox: v.bbox,
            score,
            always_high: plate.is_some(),
            class_vote: Some((v.class, score)),
            plate,
            plate_anchored: false,
            plate_searched: v.plate_searched,
            look: v.look,
        });
    }
    for p in plates {
        let merged = holder(p).filter(|&i| held[i] >= 2);
        if holder(p).is_some() && merged.is_none() {
            continue; // carried by its vehicle above
        }
        let class_vote = merged.map(|i| {
            let v = &frame.vehicles[i];
            (v.class, finite_score(v.score))
        });
        objects.push(FrameObject {
            bbox: grow_plate_box(&p.bbox, frame.frame_size),
            score: finite_score(p.confidence),
            always_high: true,
            class_vote,
            plate: Some(p),
            plate_anchored: true,
            plate_searched: true,
            look: None,
        });
    }
    objects
}

/// Constant-velocity state of a track, enough to predict where it is now.
#[derive(Debug, Clone, Copy)]
pub(super) struct Motion {
    /// Last observed box, frame pixels.
    pub last_box: BoxXyxy,
    /// When `last_box` was observed, ms.
    pub last_ms: i64,
    /// Pixels per ms of each coordinate (x1, y1, x2, y2), from the last two observations of
    /// the same kind; `None` after a single observation.
    pub velocity: Option<[f32; 4]>,
    /// Last plate box and when it was seen.
    pub last_plate: Option<(BoxXyxy, i64)>,
}

/// Where a track is expected in the current frame.
#[derive(Debug, Clone, Copy)]
pub(super) struct Prediction {
    /// Predicted track box.
    pub bbox: BoxXyxy,
    /// Predicted plate box, moved with the box centre.
    pub plate: Option<BoxXyxy>,
    /// Whether the track's box is plate-anchored.
    pub plate_anchored: bool,
}

impl Motion {
    /// Velocity between `self.last_box` and a new box seen at `at_ms`, if time moved on.
    pub fn velocity_to(&self, next: &BoxXyxy, at_ms: i64) -> Option<[f32; 4]> {
        let dt = at_ms.checked_sub(self.last_ms).filter(|&dt| dt > 0)? as f32;
        let (a, b) = (self.last_box, next);
        Some([
            (b.x1 - a.x1) / dt,
            (b.y1 - a.y1) / dt,
            (b.x2 - a.x2) / dt,
            (b.y2 - a.y2) / dt,
        ])
    }

    /// The damped constant-velocity prediction at `at_ms`, extrapolating at most `cap_ms`.
    pub fn predict(&self, at_ms: i64, cap_ms: i64, plate_anchored: bool) -> Prediction {
        let step = |since: i64| {
            let dt = at_ms.saturating_sub(since).clamp(0, cap_ms.max(0));
            dt as f32 * PREDICTION_DAMPING
        };
        let v = self.velocity.unwrap_or([0.0; 4]);
        let t = step(self.last_ms);
        let bbox = BoxXyxy {
            x1: self.last_box.x1 + v[0] * t,
            y1: self.last_box.y1 + v[1] * t,
            x2: self.last_box.x2 + v[2] * t,
            y2: self.last_box.y2 + v[3] * t,
        };
        let plate = self.last_plate.map(|(p, seen_ms)| {
            let t = step(seen_ms);
            let (dx, dy) = ((v[0] + v[2]) * 0.5 * t, (v[1] + v[3]) * 0.5 * t);
            BoxXyxy {
                x1: p.x1 + dx,
                y1: p.y1 + dy,
                x2: p.x2 + dx,
                y2: p.y2 + dy,
            }
        });
        Prediction {
            bbox,
            plate,
            plate_anchored,
        }
    }
}

/// How well an object fits a track's prediction, 0..1: the box IoU (discounted by
/// [`CROSS_KIND_FACTOR`] between a plate-anchored and a vehicle box) or the plate box IoU when
/// both have a plate, whichever is larger.
pub(super) fn affinity(prediction: &Prediction, object: &FrameObject) -> f32 {
    let mut box_iou = prediction.bbox.iou(&object.bbox);
    if prediction.plate_anchored != object.plate_anchored {
        box_iou *= CROSS_KIND_FACTOR;
    }
    let plate_iou = match (prediction.plate, object.plate) {
        (Some(predicted), Some(seen)) => predicted.iou(&seen.bbox),
        _ => 0.0,
    };
    let a = box_iou.max(plate_iou);
    if a.is_finite() {
        a.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

/// Greedy matching of `tracks` to `objects` (indices) on descending affinity; a pair needs an
/// affinity above 0 and at least `min_affinity`. Returns `(track, object)` pairs.
pub(super) fn match_greedy(
    tracks: &[usize],
    objects: &[usize],
    min_affinity: f32,
    affinity: impl Fn(usize, usize) -> f32,
) -> Vec<(usize, usize)> {
    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for &t in tracks {
        for &o in objects {
            let a = affinity(t, o);
            if a > 0.0 && a >= min_affinity {
                pairs.push((a, t, o));
            }
        }
    }
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut matches: Vec<(usize, usize)> = Vec::new();
    for (_, t, o) in pairs {
        if !matches.iter().any(|&(mt, mo)| mt == t || mo == o) {
            matches.push((t, o));
        }
    }
    matches
}
