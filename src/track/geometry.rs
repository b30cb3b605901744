//! Camera geometry for passages: which way is "along" the road, where the counting line lies,
//! and the plane geometry that turns box centres into a [`Direction`] and a line crossing.
//!
//! Invariants: every point here is in normalised frame coordinates (x right, y down, 0..1 over
//! the frame); non-finite input never panics and yields `Unknown` / no crossing.
//!
//! [`Direction`] is the one source of the direction names (`along`, `against`, `unknown`)
//! that JSON, the database and the API use: [`Direction::as_str`], its `FromStr` and serde
//! forms and [`Direction::ALL`] agree, which the tests hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Displacement (in normalised frame units, along the road direction) beyond which a track has
/// a direction; shorter moves are `Unknown`.
pub const DIRECTION_THRESHOLD: f32 = 0.05;

/// How the camera sees the road.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraGeometry {
    /// Unit-ish vector in normalised frame coordinates (x right, y down, 0..1) pointing the way
    /// traffic "along" the road moves, e.g. (0.0, 1.0) = towards the camera bottom.
    pub road_direction: (f32, f32),
    /// Optional counting line in normalised frame coordinates, two points.
    pub counting_line: Option<[(f32, f32); 2]>,
}

impl Default for CameraGeometry {
    /// Traffic coming towards the camera (down the frame), no counting line.
    fn default() -> Self {
        CameraGeometry {
            road_direction: (0.0, 1.0),
            counting_line: None,
        }
    }
}

/// Which way a passage went relative to [`CameraGeometry::road_direction`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Moved the way of `road_direction`.
    Along,
    /// Moved against `road_direction`.
    Against,
    /// Moved too little (or the geometry is degenerate) to tell.
    Unknown,
}

impl Direction {
    /// Every direction.
    pub const ALL: [Direction; 3] = [Direction::Along, Direction::Against, Direction::Unknown];

    /// The name used in JSON, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Along => "along",
            Direction::Against => "against",
            Direction::Unknown => "unknown",
        }
    }

    /// The names of [`Direction::ALL`], in order.
    pub fn names() -> [&'static str; 3] {
        Direction::ALL.map(Direction::as_str)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Text that names no direction.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown direction `{0}` (one of {names})", names = Direction::names().join(", "))]
pub struct UnknownDirection(pub String);

impl FromStr for Direction {
    type Err = UnknownDirection;

    /// One of the names of [`Direction::as_str`], exactly (case and spaces count).
    fn from_str(s: &str) -> Result<Direction, UnknownDirection> {
        Direction::ALL
            .into_iter()
            .find(|d| d.as_str() == s)
            .ok_or_else(|| UnknownDirection(s.to_string()))
    }
}

/// A pixel point in normalised frame coordinates; a zero frame dimension counts as 1 pixel.
pub(super) fn normalise_point((x, y): (f32, f32), frame_size: (u32, u32)) -> (f32, f32) {
    (
        x / frame_size.0.max(1) as f32,
        y / frame_size.1.max(1) as f32,
    )
}

/// Direction of the move from `first` to `last` (normalised centres): their displacement
/// dotted with the normalised road direction, against ±[`DIRECTION_THRESHOLD`].
pub(super) fn direction(first: (f32, f32), last: (f32, f32), road: (f32, f32)) -> Direction {
    let norm = road.0.hypot(road.1);
    if !(norm.is_finite() && norm > 0.0) {
        return Direction::Unknown;
    }
    let along = ((last.0 - first.0) * road.0 + (last.1 - first.1) * road.1) / norm;
    if along > DIRECTION_THRESHOLD {
        Direction::Along
    } else if along < -DIRECTION_THRESHOLD {
        Direction::Against
    } else {
        Direction::Unknown
    }
}

/// Twice the signed area of the triangle `a b c`: > 0 when `c` lies left of `a→b`.
fn orientation(a: (f32, f32), b: (f32, f32), c: (f32, f32)) -> f32 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

/// Whether `p`, known to be collinear with `a b`, lies within the segment's extent.
fn within_extent(a: (f32, f32), b: (f32, f32), p: (f32, f32)) -> bool {
    p.0 >= a.0.min(b.0) && p.0 <= a.0.max(b.0) && p.1 >= a.1.min(b.1) && p.1 <= a.1.max(b.1)
}

/// Whether segments `a b` and `c d` share a point: strict straddling both ways, or an end
/// point lying on the other segment (touching counts). NaN anywhere gives `false`.
pub(super) fn segments_intersect(
    a: (f32, f32),
    b: (f32, f32),
    c: (f32, f32),
    d: (f32, f32),
) -> bool {
    let d1 = orientation(c, d, a);
    let d2 = orientation(c, d, b);
    let d3 = orientation(a, b, c);
    let d4 = orientation(a, b, d);
    let straddles = |p: f32, q: f32| (p > 0.0 && q < 0.0) || (p < 0.0 && q > 0.0);
    if straddles(d1, d2) && straddles(d3, d4) {
        return true;
    }
    (d1 == 0.0 && within_extent(c, d, a))
        || (d2 == 0.0 && within_extent(c, d, b))
        || (d3 == 0.0 && within_extent(a, b, c))
        || (d4 == 0.0 && within_extent(a, b, d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_thresholds() {
        assert_eq!(
            direction((0.5, 0.2), (0.5, 0.8), (0.0, 1.0)),
            Direction::Along
        );
        assert_eq!(
            direction((0.5, 0.2), (0.5, 0.8), (0.0, -2.0)),
            Direction::Against
        );
        assert_eq!(
            direction((0.5, 0.2), (0.5, 0.22), (0.0, 1.0)),
            Direction::Unknown
        );
        assert_eq!(
            direction((0.5, 0.2), (0.5, 0.8), (0.0, 0.0)),
            Direction::Unknown
        );
        assert_eq!(
            direction((f32::NAN, 0.2), (0.5, 0.8), (0.0, 1.0)),
            Direction::Unknown
        );
    }

    #[test]
    fn direction_names_round_trip_through_every_form() {
        assert_eq!(Direction::names(), ["along", "against", "unknown"]);
        for direction in Direction::ALL {
            let name = direction.as_str();
            assert_eq!(name.parse::<Direction>(), Ok(direction));
            assert_eq!(direction.to_string(), name);
            let json = format!("\"{name}\"");
            assert_eq!(serde_json::to_string(&direction).unwrap(), json);
            assert_eq!(serde_json::from_str::<Direction>(&json).unwrap(), direction);
        }
        for bad in ["", "Along", "along ", "up", "forward"] {
            assert_eq!(
                bad.parse::<Direction>(),
                Err(UnknownDirection(bad.to_string())),
                "{bad:?}"
            );
        }
        assert_eq!(
            "up".parse::<Direction>().unwrap_err().to_string(),
            "unknown direction `up` (one of along, against, unknown)"
        );
        assert!(serde_json::from_str::<Direction>("\"up\"").is_err());
    }

    #[test]
    fn segment_intersection() {
        let line = [(0.0, 0.5), (1.0, 0.5)];
        assert!(segments_intersect((0.5, 0.4), (0.5, 0.6), line[0], line[1]));
        assert!(!segments_intersect(
            (0.5, 0.1),
            (0.5, 0.4),
            line[0],
            line[1]
        ));
        // Beyond the line's end.
        assert!(!segments_intersect(
            (1.5, 0.4),
            (1.5, 0.6),
            line[0],
            line[1]
        ));
        // Touching at an end point.
        assert!(segments_intersect((0.5, 0.4), (0.5, 0.5), line[0], line[1]));
        assert!(!segments_intersect(
            (f32::NAN, 0.4),
            (0.5, 0.6),
            line[0],
            line[1]
        ));
    }
}
