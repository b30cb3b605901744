//! How the vehicles of a made traffic video drive, one time step at a time: entering the
//! road, following, stopping at red lights, changing lanes.
//!
//! PURE. Vehicles move in metres along their lane: each follows the one ahead with the
//! Intelligent Driver Model (IDM+; drivers with a short desired gap tailgate), stops at its
//! direction's stop line while the light is red and drives off when it turns green, and a
//! vehicle held up by a slower one overtakes through the next lane of its direction when the
//! gaps there allow (cars return to their lane afterwards). No vehicle ever runs into the one
//! ahead in its lane; a vehicle changing lanes counts as in both lanes while it moves across.

use super::arrivals::{Arrival, Driver};
use super::road::{LaneUse, Road, LANES};
use crate::scene::VehicleClass;
use crate::track::Direction;

/// Traffic light cycle, s, and each direction's red phase in it.
pub(super) const CYCLE_S: f64 = 60.0;
const RED: [(f64, f64); 2] = [(0.0, 12.0), (30.0, 40.0)];
/// Lane changes take this long, s: cars, motorbikes.
const CHANGE_S: [f32; 2] = [2.5, 1.6];
/// Length of a car and of a motorbike, m.
const LENGTH_M: [f32; 2] = [4.5, 1.9];

/// Where a vehicle is at one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Distance of its face toward the camera, m.
    pub z: f32,
    /// Its centre across the road, m.
    pub lateral: f32,
    /// Speed, m/s.
    pub speed: f32,
    /// Its lane (index into [`LANES`]); the lane it leaves while changing.
    pub lane: u8,
    /// Whether it is moving across to another lane.
    pub changing: bool,
}

/// A vehicle on the road during the simulation.
pub(super) struct Live {
    pub(super) arrival: Arrival,
    pub(super) dir: usize,
    /// Distance its front has travelled from where its direction enters, m.
    pub(super) s: f32,
    pub(super) v: f32,
    pub(super) lane: usize,
    /// Lane it is moving to, and how far (0 to 1).
    pub(super) change: Option<(usize, f32)>,
    pub(super) home: usize,
    pub(super) decide_at: f64,
    pub(super) length: f32,
    pub(super) first_frame: Option<usize>,
    pub(super) poses: Vec<Pose>,
}

impl Live {
    fn in_lane(&self, lane: usize) -> bool {
        self.lane == lane || self.change.map(|c| c.0) == Some(lane)
    }
    fn rear(&self) -> f32 {
        self.s - self.length
    }
    /// Distance of the face toward the camera.
    pub(super) fn z(&self, road: &Road) -> f32 {
        if self.dir == 0 {
            road.z_far - self.s
        } else {
            road.z_min + self.s - self.length
        }
    }
    pub(super) fn lateral(&self) -> f32 {
        let here = LANES[self.lane].lateral_m;
        match self.change {
            Some((to, k)) => {
                let k = k * k * (3.0 - 2.0 * k);
                here + (LANES[to].lateral_m - here) * k
            }
            None => here,
        }
    }
    pub(super) fn gone(&self, road: &Road) -> bool {
        if self.dir == 0 {
            self.z(road) < road.z_min
        } else {
            self.z(road) > road.z_far
        }
    }
}

/// Acceleration at speed `v` with `gap` m to something moving at `vl`: the Intelligent Driver
/// Model in its IDM+ form (free road and interaction terms take the minimum, not the sum, so
/// that a follower keeps its desired time gap even near its desired speed).
fn idm(d: &Driver, v: f32, gap: f32, vl: f32) -> f32 {
    let dyn_gap = v * d.gap_s + v * (v - vl) / (2.0 * (d.accel * d.brake).sqrt());
    let wanted = d.s0 + dyn_gap.max(0.0);
    let free = 1.0 - (v / d.v0).powi(4);
    d.accel * free.min(1.0 - (wanted / gap.max(0.1)).powi(2))
}

/// The nearest vehicle ahead of `i` in `lane`: its index, the gap to its rear, its speed.
fn leader(live: &[Live], i: usize, lane: usize) -> Option<(usize, f32, f32)> {
    let me = &live[i];
    live.iter()
        .enumerate()
        .filter(|(j, o)| {
            *j != i && o.dir == me.dir && o.in_lane(lane) && (o.s > me.s || (o.s == me.s && *j < i))
        })
        .min_by(|a, b| a.1.s.total_cmp(&b.1.s))
        .map(|(j, o)| (j, o.rear() - me.s, o.v))
}

/// The nearest vehicle behind `i` in `lane`: the gap from its front to `i`'s rear, its speed.
fn follower(live: &[Live], i: usize, lane: usize) -> Option<(f32, f32)> {
    let me = &live[i];
    live.iter()
        .enumerate()
        .filter(|(j, o)| *j != i && o.dir == me.dir && o.in_lane(lane) && o.s <= me.s)
        .max_by(|a, b| a.1.s.total_cmp(&b.1.s))
        .map(|(_, o)| (me.rear() - o.s, o.v))
}

/// Whether a direction's light is red at `t`, given the cycle's offset.
fn red(dir: usize, t: f64, offset: f64) -> bool {
    let phase = (t + offset).rem_euclid(CYCLE_S);
    phase >= RED[dir].0 && phase < RED[dir].1
}

/// Lets the first waiting vehicle of each lane onto the road when there is room.
pub(super) fn admit(waiting: &mut [Vec<Arrival>], live: &mut Vec<Live>) {
    for (lane, queue) in waiting.iter_mut().enumerate() {
        let Some(a) = queue.first() else { continue };
        let kind = usize::from(a.class == VehicleClass::Motorbike);
        let length = LENGTH_M[kind];
        let last = live
            .iter()
            .filter(|o| o.in_lane(lane))
            .min_by(|x, y| x.s.total_cmp(&y.s));
        let d = a.driver;
        let v = match last {
            Some(o) => {
                let gap = o.rear() - length;
                let v = if gap < 3.0 * d.v0 * d.gap_s + 10.0 {
                    o.v.min(d.v0)
                } else {
                    d.v0
                };
                if gap < d.s0 + 0.5 * v * d.gap_s + 0.5 {
                    continue;
                }
                v
            }
            None => d.v0,
        };
        let a = queue.remove(0);
        live.push(Live {
            dir: usize::from(LANES[lane].direction == Direction::Against),
            s: length,
            v,
            lane,
            change: None,
            home: lane,
            decide_at: a.t + 1.0,
            length,
            first_frame: None,
            poses: Vec::new(),
            arrival: a,
        });
    }
}

/// One time step: lane changes, accelerations, moves.
pub(super) fn advance(live: &mut [Live], road: &Road, t: f64, dt: f32, offset: f64) {
    for i in 0..live.len() {
        if t >= live[i].decide_at && live[i].change.is_none() {
            live[i].decide_at = t + 0.5;
            if let Some(to) = lane_change(live, i) {
                live[i].change = Some((to, 0.0));
            }
        }
    }
    let mut order: Vec<usize> = (0..live.len()).collect();
    order.sort_by(|&a, &b| live[b].s.total_cmp(&live[a].s));
    for &i in &order {
        let me = &live[i];
        let d = me.arrival.driver;
        let lanes = [Some(me.lane), me.change.map(|c| c.0)];
        let ahead = lanes
            .iter()
            .flatten()
            .filter_map(|&l| leader(live, i, l))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let mut acc = match ahead {
            Some((_, gap, vl)) => idm(&d, me.v, gap, vl),
            None => idm(&d, me.v, f32::INFINITY, me.v),
        };
        let stop_s = if me.dir == 0 {
            road.z_far - road.stop_z[0]
        } else {
            road.stop_z[1] - road.z_min
        };
        let to_line = stop_s - me.s;
        let stopping = red(me.dir, t, offset) && to_line > 0.0 && to_line > me.v * me.v / 8.0;
        if stopping {
            acc = acc.min(idm(&d, me.v, to_line, 0.0));
        }
        let v = (me.v + acc.max(-9.0) * dt).max(0.0);
        let mut s = me.s + (me.v + v) / 2.0 * dt;
        if stopping {
            s = s.min(stop_s).max(me.s);
        }
        if let Some((j, _, _)) = ahead {
            s = s.min(live[j].rear() - 0.3).max(me.s);
        }
        let kind = usize::from(me.arrival.class == VehicleClass::Motorbike);
        let me = &mut live[i];
        me.v = ((s - me.s) / dt).min(v);
        me.s = s;
        if let Some((to, k)) = me.change {
            let k = k + dt / CHANGE_S[kind];
            me.change = if k >= 1.0 {
                me.lane = to;
                None
            } else {
                Some((to, k))
            };
        }
    }
}

/// The lane `i` should move to now, if any: past a slower vehicle ahead, or back to its own
/// lane once clear, when the gaps in the other lane are safe.
fn lane_change(live: &[Live], i: usize) -> Option<usize> {
    let me = &live[i];
    let here = LANES[me.lane];
    let v0 = me.arrival.driver.v0;
    let (gap, vl) = leader(live, i, me.lane).map_or((f32::INFINITY, v0), |l| (l.1, l.2));
    let blocked = gap < 35.0 && vl < v0 - 1.5;
    for (to, lane) in LANES.iter().enumerate() {
        if to == me.lane || lane.direction != here.direction || lane.use_for != here.use_for {
            continue;
        }
        let going_home = to == me.home && !blocked && here.use_for == LaneUse::Cars;
        if !blocked && !going_home {
            continue;
        }
        let (g2, v2) = leader(live, i, to).map_or((f32::INFINITY, v0), |l| (l.1, l.2));
        let behind_ok = follower(live, i, to)
            .is_none_or(|(g, vf)| g >= (0.8 * vf).max(4.0) + 1.5 * (vf - me.v).max(0.0));
        let ahead_ok = g2 >= (0.8 * me.v).max(6.0);
        let better = if going_home {
            g2 > 30.0 || v2 >= v0 - 0.5
        } else {
            g2 > gap + 10.0 && (v2 > vl + 1.0 || g2 > 60.0)
        };
        if behind_ok && ahead_ok && better {
            return Some(to);
        }
    }
    None
}
