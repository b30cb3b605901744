//! The road a made traffic video shows: its lanes, painted lines and stop lines, and how far
//! it runs for a camera.
//!
//! PURE. Lateral metres are across the road, positive to the right of the picture, the centre
//! line at 0: two car lanes coming toward the camera (direction `along`, down the picture) on
//! the left; going away (`against`, up the picture) a car lane and a motorbike lane of two
//! tracks on the right. Motorbike photos are rear views, so motorbikes only go away. The lanes
//! nearer the middle of the picture carry more of the traffic (the outer ones leave the
//! picture at its sides before the counting line).

use super::camera::Camera;
use crate::track::Direction;

/// Which vehicles a lane carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneUse {
    /// Cars.
    Cars,
    /// Motorbikes (one track of the motorbike lane).
    Motorbikes,
}

/// One lane (or motorbike track).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lane {
    /// Which way its traffic goes.
    pub direction: Direction,
    /// Its centre, metres across the road.
    pub lateral_m: f32,
    /// What rides in it.
    pub use_for: LaneUse,
    /// Its share of the arrivals of its direction and use.
    pub share: f64,
}

/// The road's lanes.
pub const LANES: [Lane; 5] = [
    Lane {
        direction: Direction::Along,
        lateral_m: -4.8,
        use_for: LaneUse::Cars,
        share: 0.3,
    },
    Lane {
        direction: Direction::Along,
        lateral_m: -1.6,
        use_for: LaneUse::Cars,
        share: 0.7,
    },
    Lane {
        direction: Direction::Against,
        lateral_m: 1.6,
        use_for: LaneUse::Cars,
        share: 1.0,
    },
    Lane {
        direction: Direction::Against,
        lateral_m: 3.6,
        use_for: LaneUse::Motorbikes,
        share: 0.65,
    },
    Lane {
        direction: Direction::Against,
        lateral_m: 4.8,
        use_for: LaneUse::Motorbikes,
        share: 0.35,
    },
];

/// The road's edges, lateral m (left, right); the centre line is at 0.
pub const ROAD_EDGES_M: [f32; 2] = [-6.4, 5.6];
/// Dashed lines between lanes of one direction, lateral m.
pub const LANE_LINES_M: [f32; 2] = [-3.2, 3.2];
/// Rows (share of the height) of each direction's stop line: along, against.
const STOP_ROWS: [f32; 2] = [0.2, 0.06];
/// Tallest vehicle face, m: vehicles leave (or enter) at the bottom once (until) even this
/// is below the picture.
const TALLEST_M: f32 = 2.2;

/// How far the road runs for a camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Road {
    /// Farthest distance, m: just beyond the top of the picture; vehicles coming toward the
    /// camera enter here, vehicles going away leave here.
    pub z_far: f32,
    /// Nearest distance, m: below the bottom of the picture; vehicles going away enter here,
    /// vehicles coming toward the camera leave here.
    pub z_min: f32,
    /// Each direction's stop line, m from the camera: along, against.
    pub stop_z: [f32; 2],
}

impl Road {
    /// The road seen by a camera.
    pub fn for_camera(cam: &Camera) -> Road {
        let h = cam.height as f32;
        // Depth factor at which a face TALLEST_M high is wholly below the bottom row.
        let room = (1.0 - cam.horizon) * h - TALLEST_M * cam.px_per_m;
        let t_max = if room > 0.0 {
            ((1.0 - cam.horizon) * h / room).min(4.0)
        } else {
            4.0
        };
        Road {
            z_far: cam.z_at_row(0.0) + 5.0,
            z_min: cam.near_z / t_max,
            stop_z: STOP_ROWS.map(|r| cam.z_at_row(r * h)),
        }
    }
}
