//! What a made traffic video really shows: the truth file of its plan, and counts that say
//! how dense and lively the traffic is.
//!
//! PURE: plan in, [`Truth`] out. The rules (every number is a constant here):
//! - visible: the vehicle's box is at least [`MIN_BOX_PX`] wide and at least [`MIN_INSIDE`] of
//!   its area is inside the frame (being partly hidden behind a nearer vehicle does not count);
//!   `first_s`/`last_s` are the first and last visible frames, `path` the normalised box centre
//!   then; vehicles never visible are left out;
//! - `line_s`: when the box centre crosses the counting line, the row at [`COUNTING_LINE_Y`] of
//!   the height, moving the vehicle's way (interpolated between frames);
//! - readable: in some visible frame its plate is at least [`MIN_PLATE_PX`] wide and wholly in
//!   the frame, at most [`MAX_COVER`] of it is covered by nearer vehicles, and it moves at most
//!   [`MAX_BLUR_PX`] while the shutter is open; and it is not a vehicle coming toward the
//!   camera at night whose headlight glare is [`MAX_GLARE`] or more (its plate is flared out).
//!
//! Boxes are the upright faces of the plan; the render's slight shear is left out.

use super::camera::{inside_share, Camera};
use super::model::Model;
use super::plan::{Plan, PlannedVehicle};
use super::road::LANES;
use crate::scene::{BoxXyxy, VehicleClass};
use crate::track::Direction;
use crate::traffic::{Truth, TruthVehicle};

/// The counting line's row, share of the height.
pub const COUNTING_LINE_Y: f32 = 0.7;
/// Narrowest visible box, pixels.
pub const MIN_BOX_PX: f32 = 24.0;
/// Least share of a visible box inside the frame.
pub const MIN_INSIDE: f32 = 0.5;
/// Narrowest readable plate, pixels.
pub const MIN_PLATE_PX: f32 = 40.0;
/// Most motion blur on a readable plate, pixels.
pub const MAX_BLUR_PX: f32 = 8.0;
/// Most share of a readable plate covered by nearer vehicles.
pub const MAX_COVER: f32 = 0.2;
/// Headlight glare from which the plate is flared out.
pub const MAX_GLARE: f32 = 0.7;
/// Time headway under which a vehicle follows closely, s.
pub const CLOSE_HEADWAY_S: f64 = 1.0;

/// Share of a frame interval the shutter is open: 1/250 s by day, 1/60 s at night (at 25
/// frames a second).
pub fn exposure(night: bool) -> f32 {
    if night {
        0.4
    } else {
        0.1
    }
}

/// The plate's box in the picture for a vehicle box.
pub fn plate_box(b: &BoxXyxy, model: &Model) -> BoxXyxy {
    let s = model.plate_spot;
    let (w, h) = (b.width(), b.height());
    let (cx, cy) = (b.x1 + s.cx * w, b.y1 + s.cy * h);
    BoxXyxy {
        x1: cx - s.w * w / 2.0,
        y1: cy - s.h * h / 2.0,
        x2: cx + s.w * w / 2.0,
        y2: cy + s.h * h / 2.0,
    }
}

/// Whether a box counts as visible.
fn visible(b: &BoxXyxy, cam: &Camera) -> bool {
    b.width() >= MIN_BOX_PX && inside_share(b, cam.width, cam.height) >= MIN_INSIDE
}

/// The truth file of a plan.
pub fn truth(plan: &Plan, models: &[Model]) -> Truth {
    let cam = &plan.camera;
    let fps = plan.params.fps as f64;
    let line_y = COUNTING_LINE_Y * cam.height as f32;
    let (w, h) = (cam.width as f32, cam.height as f32);
    let mut readable = vec![false; plan.vehicles.len()];
    for frame in 0..plan.frames {
        let boxes: Vec<(usize, BoxXyxy, f32)> = plan
            .vehicles
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((i, v.screen_box(cam, frame)?, v.pose(frame)?.z)))
            .collect();
        for &(i, b, z) in &boxes {
            let v = &plan.vehicles[i];
            if readable[i] || v.glare >= MAX_GLARE || !visible(&b, cam) {
                continue;
            }
            let Some(model) = models.get(v.model) else {
                continue;
            };
            let p = plate_box(&b, model);
            let whole = p.x1 >= 0.0 && p.y1 >= 0.0 && p.x2 <= w && p.y2 <= h;
            if !whole || p.width() < MIN_PLATE_PX {
                continue;
            }
            let covered: f32 = boxes
                .iter()
                .filter(|(j, _, zj)| *j != i && *zj < z)
                .map(|(_, o, _)| o.intersection(&p))
                .sum();
            let blur = v.blur_px(cam, frame, exposure(plan.params.night));
            readable[i] = covered <= MAX_COVER * p.area() && blur <= MAX_BLUR_PX;
        }
    }
    let mut vehicles = Vec::new();
    for (i, v) in plan.vehicles.iter().enumerate() {
        let seen: Vec<(usize, BoxXyxy)> = (v.first_frame..v.first_frame + v.poses.len())
            .filter_map(|f| Some((f, v.screen_box(cam, f)?)))
            .filter(|(_, b)| visible(b, cam))
            .collect();
        let (Some(&(f1, b1)), Some(&(f2, b2))) = (seen.first(), seen.last()) else {
            continue;
        };
        let (first_s, last_s) = (f1 as f64 / fps, f2 as f64 / fps);
        let norm = |b: &BoxXyxy| (b.center().0 / w, b.center().1 / h);
        let line_s = line_crossing(v, cam, line_y).map(|f| (f / fps).clamp(first_s, last_s));
        vehicles.push(TruthVehicle {
            id: v.id,
            class: v.class,
            plate: models.get(v.model).and_then(|m| m.plate.clone()),
            direction: v.direction,
            line_s,
            first_s,
            last_s,
            path: Some([norm(&b1), norm(&b2)]),
            readable: readable[i],
            line: 0,
        });
    }
    Truth {
        video_s: Some(plan.frames as f64 / fps),
        frame: Some((cam.width, cam.height)),
        road_direction: Some((0.0, 1.0)),
        counting_line: Some([(0.0, COUNTING_LINE_Y), (1.0, COUNTING_LINE_Y)]),
        vehicles,
    }
}

/// The (fractional) frame at which the box centre first crosses row `line_y` its way.
fn line_crossing(v: &PlannedVehicle, cam: &Camera, line_y: f32) -> Option<f64> {
    let down = v.direction == Direction::Along;
    let mut before: Option<f32> = None;
    for f in v.first_frame..v.first_frame + v.poses.len() {
        let Some(c) = v.screen_box(cam, f).map(|b| b.center().1) else {
            before = None;
            continue;
        };
        if let Some(c0) = before {
            let crossed = if down {
                c0 < line_y && c >= line_y
            } else {
                c0 > line_y && c <= line_y
            };
            if crossed {
                return Some((f - 1) as f64 + f64::from((line_y - c0) / (c - c0)));
            }
        }
        before = Some(c);
    }
    None
}

/// How dense and lively a plan's traffic is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanStats {
    /// Vehicles in the truth (visible at some frame).
    pub vehicles: usize,
    /// Of them motorbikes.
    pub motorbikes: usize,
    /// Of them coming toward the camera (along).
    pub along: usize,
    /// Vehicles passing the counting line's distance.
    pub passing: usize,
    /// Of them passing within [`CLOSE_HEADWAY_S`] of the one before in the same lane.
    pub close_followers: usize,
    /// Vehicles that changed lanes.
    pub lane_changers: usize,
    /// Vehicles that stood still for at least a second.
    pub stopped: usize,
    /// Motorbike groups seen.
    pub groups: usize,
    /// Vehicles whose plate is readable.
    pub readable: usize,
}

/// Counts for a plan and its truth.
pub fn stats(plan: &Plan, truth: &Truth) -> PlanStats {
    let fps = plan.params.fps as f64;
    let z_line = plan
        .camera
        .z_at_row(COUNTING_LINE_Y * plan.camera.height as f32);
    // (lane, time) when each vehicle's face toward the camera passes the line's distance.
    let mut passes: Vec<(u8, f64)> = Vec::new();
    let mut s = PlanStats::default();
    let in_truth = |id: u32| truth.vehicles.iter().any(|t| t.id == id);
    let mut groups: Vec<u32> = Vec::new();
    for v in plan.vehicles.iter().filter(|v| in_truth(v.id)) {
        let down = v.direction == Direction::Along;
        if let Some(k) = v.poses.windows(2).position(|p| {
            !p[0].changing
                && (if down {
                    p[0].z > z_line && p[1].z <= z_line
                } else {
                    p[0].z < z_line && p[1].z >= z_line
                })
        }) {
            passes.push((v.poses[k].lane, (v.first_frame + k) as f64 / fps));
        }
        if v.poses.windows(2).any(|p| p[0].lane != p[1].lane) {
            s.lane_changers += 1;
        }
        let still = v
            .poses
            .split(|p| p.speed > 0.05)
            .map(<[_]>::len)
            .max()
            .unwrap_or(0);
        if still as f64 >= fps {
            s.stopped += 1;
        }
        if v.group > 0 && !groups.contains(&v.group) {
            groups.push(v.group);
        }
    }
    for lane in 0..LANES.len() as u8 {
        let mut times: Vec<f64> = passes.iter().filter(|p| p.0 == lane).map(|p| p.1).collect();
        times.sort_by(f64::total_cmp);
        s.passing += times.len();
        s.close_followers += times
            .windows(2)
            .filter(|w| w[1] - w[0] < CLOSE_HEADWAY_S)
            .count();
    }
    s.vehicles = truth.vehicles.len();
    s.motorbikes = truth
        .vehicles
        .iter()
        .filter(|v| v.class == VehicleClass::Motorbike)
        .count();
    s.along = truth
        .vehicles
        .iter()
        .filter(|v| v.direction == Direction::Along)
        .count();
    s.groups = groups.len();
    s.readable = truth.vehicles.iter().filter(|v| v.readable).count();
    s
}
