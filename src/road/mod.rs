//! PURE. The road as one picture: National Road 279 is a line of junctions with km markers, so
//! one plate's passages across junctions make a trajectory.
//!
//! Owns the corridor of a plate (no I/O; the store fetches the sightings and answers which
//! junctions were recording):
//! - sightings in time order, consecutive ones at one place (a junction, or a camera with no
//!   junction) folded into a [`Visit`];
//! - [`Trip`]s: a hop that takes longer than the road could explain (its distance at
//!   [`RoadRules::slowest_kmh`], plus [`RoadRules::stop_allowance`]) ends a trip;
//! - [`Hop`]s between visits: distance, travel time, mean speed, heading (km up or down), an
//!   *impossible* flag when the speed is over [`RoadRules::max_speed_kmh`] (a misread or a
//!   cloned plate), and the junctions it passed by without a sighting ([`PassBy`]); a passed-by
//!   junction whose cameras were recording at the expected time is a *skip* (a read that was
//!   missed, or the vehicle turned off).
//!
//! - [`trips`](mod@trips): building visits, trips and hops.

pub mod trips;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use crate::track::Direction;

pub use trips::{corridor, mark_recording, recording_checks};

/// What the road allows; from the `[road]` section of the config.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoadRules {
    /// A hop faster than this (mean km/h) is impossible: a misread or a cloned plate.
    pub max_speed_kmh: f64,
    /// The slowest a vehicle still on its way is assumed to go (mean km/h, stops included).
    pub slowest_kmh: f64,
    /// Time a trip may stand still on top of the slowest travel time (a meal, a queue, a
    /// fuel stop), in minutes. A longer gap ends the trip.
    pub stop_minutes: f64,
    /// A junction counts as recording when a segment of one of its cameras covers the expected
    /// pass-by time, give or take this many seconds.
    pub recording_slack_sec: f64,
}

impl Default for RoadRules {
    fn default() -> RoadRules {
        RoadRules {
            max_speed_kmh: 120.0,
            slowest_kmh: 15.0,
            stop_minutes: 30.0,
            recording_slack_sec: 60.0,
        }
    }
}

/// Why [`RoadRules`] are refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("road: {0}")]
pub struct RoadError(pub String);

impl RoadRules {
    /// Checks the values make sense (positive, slowest below the limit).
    pub fn validate(&self) -> Result<(), RoadError> {
        let positive = |v: f64, name: &str| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(RoadError(format!("{name} must be a positive number")))
            }
        };
        positive(self.max_speed_kmh, "max_speed_kmh")?;
        positive(self.slowest_kmh, "slowest_kmh")?;
        if !(self.stop_minutes.is_finite() && self.stop_minutes >= 0.0) {
            return Err(RoadError("stop_minutes must be 0 or more".into()));
        }
        if !(self.recording_slack_sec.is_finite() && self.recording_slack_sec >= 0.0) {
            return Err(RoadError("recording_slack_sec must be 0 or more".into()));
        }
        if self.slowest_kmh >= self.max_speed_kmh {
            return Err(RoadError("slowest_kmh must be below max_speed_kmh".into()));
        }
        Ok(())
    }

    /// The longest a hop of `distance_km` may take and still be one trip.
    pub fn longest_hop(&self, distance_km: f64) -> TimeDelta {
        let hours = distance_km.abs() / self.slowest_kmh;
        TimeDelta::milliseconds(
            ((hours * 3600.0 + self.stop_minutes * 60.0) * 1000.0).round() as i64,
        )
    }

    /// The slack around an expected pass-by time.
    pub fn recording_slack(&self) -> TimeDelta {
        TimeDelta::milliseconds((self.recording_slack_sec * 1000.0).round() as i64)
    }
}

/// A junction on the road with its km marker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    /// Junction name.
    pub junction: String,
    /// Km marker.
    pub km: f64,
}

/// One passage of the plate: where and when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sighting {
    /// The passage.
    pub passage_id: i64,
    /// Its best frame's time.
    pub at: DateTime<Utc>,
    /// Camera name.
    pub camera: String,
    /// Junction name, if the camera has one.
    pub junction: Option<String>,
    /// The junction's km marker, if it has one.
    pub km: Option<f64>,
    /// Which way the camera saw it go.
    pub direction: Direction,
}

impl Sighting {
    /// The place it counts at: its junction, else its camera.
    fn place(&self) -> &str {
        self.junction.as_deref().unwrap_or(&self.camera)
    }
}

/// Consecutive sightings at one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Visit {
    /// Junction name (none: a camera with no junction, named in `cameras`).
    pub junction: Option<String>,
    /// Km marker, if known.
    pub km: Option<f64>,
    /// First sighting.
    pub first: DateTime<Utc>,
    /// Last sighting.
    pub last: DateTime<Utc>,
    /// Its passages, in time order.
    pub passages: Vec<Sighting>,
}

/// Which way along the road a hop went, by km marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Heading {
    /// Towards higher km markers.
    Up,
    /// Towards lower km markers.
    Down,
    /// Unknown: a place without a km marker, or two junctions at the same km.
    Unknown,
}

/// A junction between a hop's two ends where the vehicle was not seen.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassBy {
    /// Junction name.
    pub junction: String,
    /// Its km marker.
    pub km: f64,
    /// When the vehicle should have passed it, at the hop's mean speed.
    pub expected_at: DateTime<Utc>,
    /// Whether one of its cameras was recording then (set by the store's answer).
    pub recording: bool,
}

/// From one visit to the next.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    /// Junction (or camera) left.
    pub from: String,
    /// Junction (or camera) reached.
    pub to: String,
    /// Km markers of both ends, when known.
    pub from_km: Option<f64>,
    /// See `from_km`.
    pub to_km: Option<f64>,
    /// Distance along the road, when both km markers are known.
    pub distance_km: Option<f64>,
    /// Last sighting at `from`.
    pub departed: DateTime<Utc>,
    /// First sighting at `to`.
    pub arrived: DateTime<Utc>,
    /// Seconds between them.
    pub travel_s: f64,
    /// Mean speed, when the distance is known and time passed.
    pub speed_kmh: Option<f64>,
    /// Km up or down.
    pub heading: Heading,
    /// Faster than the road allows (or at two places at once).
    pub impossible: bool,
    /// Junctions in between, with whether they were recording.
    pub passed_by: Vec<PassBy>,
    /// Whether a junction in between was recording and did not see the vehicle.
    pub skipped_recording: bool,
}

/// Sightings close enough in time and space to be one journey.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trip {
    /// First sighting.
    pub start: DateTime<Utc>,
    /// Last sighting.
    pub end: DateTime<Utc>,
    /// Visits in time order.
    pub visits: Vec<Visit>,
    /// Hops between consecutive visits (`visits.len() - 1` of them).
    pub hops: Vec<Hop>,
}

impl Trip {
    /// Whether any hop is impossible.
    pub fn has_impossible_hop(&self) -> bool {
        self.hops.iter().any(|h| h.impossible)
    }
}

#[cfg(test)]
mod tests;
