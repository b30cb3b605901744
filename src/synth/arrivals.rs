//! Who arrives on the road of a made traffic video, when, in which lane and with what driver:
//! single cars, car platoons (tailgaters right behind a leader), single motorbikes and groups
//! of 2 to 5 motorbikes riding close together.
//!
//! PURE: seeded randomness only. Units (a car platoon, a motorbike group, a single vehicle)
//! arrive as a Poisson process; the mix is set so that the expected share of motorbikes among
//! vehicles is the one asked for, and steered back toward it as it drifts. Photos are dealt from a shuffled deck of plates per class,
//! so a plate comes back only after every other plate of its class has been used.

use rand::rngs::ChaCha8Rng;
use rand::seq::SliceRandom;
use rand::RngExt;

use super::model::Model;
use super::road::{LaneUse, LANES};
use crate::plate::PlateKey;
use crate::scene::VehicleClass;
use crate::track::Direction;

/// How a driver drives (Intelligent Driver Model parameters).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Driver {
    /// Desired speed, m/s.
    pub v0: f32,
    /// Desired time gap to the vehicle ahead, s.
    pub gap_s: f32,
    /// Comfortable acceleration, m/s².
    pub accel: f32,
    /// Comfortable braking, m/s².
    pub brake: f32,
    /// Gap kept when standing, m.
    pub s0: f32,
}

/// One vehicle about to enter the road.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// When it wants to enter, seconds (negative: during the warm-up before the video).
    pub t: f64,
    /// Index of its photo among the models.
    pub model: usize,
    /// Its class (the model's).
    pub class: VehicleClass,
    /// Index of its lane in [`LANES`].
    pub lane: usize,
    /// How it drives.
    pub driver: Driver,
    /// Group number for motorbikes riding together (0: none).
    pub group: u32,
    /// Strength of its headlight glare if it comes toward the camera at night, 0.3 to 1
    /// (drawn by day too, so day and night plans of one seed have the same traffic).
    pub glare: f32,
}

/// Share of motorbike units that are groups (of 2 to 5), and mean motorbikes per unit.
const GROUPS: f64 = 0.6;
const BIKES_PER_UNIT: f64 = 1.0 - GROUPS + GROUPS * 3.5;
/// Share of car units that are platoons (of 2 or 3), and mean cars per unit.
const PLATOONS: f64 = 0.5;
const CARS_PER_UNIT: f64 = 1.0 - PLATOONS + PLATOONS * 2.5;
/// Share of cars coming toward the camera.
const CARS_ALONG: f64 = 0.6;

/// Photos of one class dealt by plate: every plate once per round, in a fresh order.
struct Deck {
    /// Model indices grouped by plate.
    by_plate: Vec<Vec<usize>>,
    order: Vec<usize>,
    next: usize,
}

impl Deck {
    fn new(models: &[Model], class: VehicleClass) -> Deck {
        let mut keys: Vec<(Option<&PlateKey>, Vec<usize>)> = Vec::new();
        for (i, m) in models.iter().enumerate().filter(|(_, m)| m.class == class) {
            match keys
                .iter_mut()
                .find(|(k, _)| m.plate.is_some() && *k == m.plate.as_ref())
            {
                Some((_, list)) => list.push(i),
                None => keys.push((m.plate.as_ref(), vec![i])),
            }
        }
        Deck {
            by_plate: keys.into_iter().map(|(_, l)| l).collect(),
            order: Vec::new(),
            next: 0,
        }
    }

    fn is_empty(&self) -> bool {
        self.by_plate.is_empty()
    }

    /// The next photo (None when the class has none).
    fn deal(&mut self, rng: &mut ChaCha8Rng) -> Option<usize> {
        if self.by_plate.is_empty() {
            return None;
        }
        if self.next >= self.order.len() {
            self.order = (0..self.by_plate.len()).collect();
            self.order.shuffle(rng);
            self.next = 0;
        }
        let photos = &self.by_plate[self.order[self.next]];
        self.next += 1;
        Some(photos[rng.random_range(0..photos.len())])
    }
}

/// Lanes of a direction and use, as indices into [`LANES`].
fn lanes_of(direction: Direction, use_for: LaneUse) -> Vec<usize> {
    (0..LANES.len())
        .filter(|&i| LANES[i].direction == direction && LANES[i].use_for == use_for)
        .collect()
}

/// One of `list` (indices into [`LANES`]), by the lanes' shares.
fn pick(rng: &mut ChaCha8Rng, list: &[usize]) -> usize {
    let total: f64 = list.iter().map(|&l| LANES[l].share).sum();
    let mut x = rng.random::<f64>() * total;
    for &l in list {
        x -= LANES[l].share;
        if x < 0.0 {
            return l;
        }
    }
    list[list.len() - 1]
}

/// Every arrival from `start_s` to `end_s`, in time order, at `rate_per_min` vehicles a minute
/// with `motorbike_share` of them motorbikes (when both classes have photos).
pub fn arrivals(
    rng: &mut ChaCha8Rng,
    models: &[Model],
    start_s: f64,
    end_s: f64,
    rate_per_min: f64,
    motorbike_share: f64,
) -> Vec<Arrival> {
    let mut bikes = Deck::new(models, VehicleClass::Motorbike);
    let mut cars = Deck::new(models, VehicleClass::Car);
    let share = match (bikes.is_empty(), cars.is_empty()) {
        (true, true) => return Vec::new(),
        (true, false) => 0.0,
        (false, true) => 1.0,
        (false, false) => motorbike_share.clamp(0.0, 1.0),
    };
    // Share of units that are cars, so that the share of vehicles that are bikes is `share`.
    let car_units =
        BIKES_PER_UNIT * (1.0 - share) / (BIKES_PER_UNIT * (1.0 - share) + CARS_PER_UNIT * share);
    let per_unit = car_units * CARS_PER_UNIT + (1.0 - car_units) * BIKES_PER_UNIT;
    let unit_rate = (rate_per_min / 60.0 / per_unit).max(1e-9);
    let car_lanes = [
        lanes_of(Direction::Along, LaneUse::Cars),
        lanes_of(Direction::Against, LaneUse::Cars),
    ];
    let tracks = lanes_of(Direction::Against, LaneUse::Motorbikes);
    let mut out: Vec<Arrival> = Vec::new();
    let mut groups = 0;
    let mut t = start_s;
    let (mut counted, mut bikes_seen) = (0, 0);
    loop {
        t += -(1.0 - rng.random::<f64>()).ln() / unit_rate;
        if t > end_s {
            break;
        }
        // Steer toward the share asked for: each motorbike missing makes a car unit 5 % less
        // likely (units are lumpy, and a short video should still be about half and half).
        bikes_seen += out[counted..]
            .iter()
            .filter(|a| a.class == VehicleClass::Motorbike)
            .count();
        counted = out.len();
        let missing = share * counted as f64 - bikes_seen as f64;
        let p_car = if share <= 0.0 || share >= 1.0 {
            car_units
        } else {
            (car_units - 0.05 * missing).clamp(0.02, 0.98)
        };
        if rng.random_bool(p_car) {
            let dir = usize::from(!rng.random_bool(CARS_ALONG));
            let lane = pick(rng, &car_lanes[dir]);
            let size = if rng.random_bool(PLATOONS) {
                rng.random_range(2..=3)
            } else {
                1
            };
            let mut lead = car_driver(rng, false);
            let mut at = t;
            for k in 0..size {
                let Some(model) = cars.deal(rng) else { break };
                if k > 0 {
                    at += rng.random_range(0.5..0.8);
                    let follower = car_driver(rng, true);
                    lead = Driver {
                        v0: follower.v0.max(lead.v0),
                        ..follower
                    };
                }
                out.push(Arrival {
                    t: at,
                    model,
                    class: VehicleClass::Car,
                    lane,
                    driver: lead,
                    group: 0,
                    glare: rng.random_range(0.3..1.0),
                });
            }
        } else if rng.random_bool(GROUPS) {
            groups += 1;
            let size = rng.random_range(2..=5);
            let base = rng.random_range(7.5..10.5f32);
            let mut lane = pick(rng, &tracks);
            let mut at = t;
            for k in 0..size {
                let Some(model) = bikes.deal(rng) else { break };
                if k > 0 {
                    at += rng.random_range(0.25..0.6);
                    if rng.random_bool(0.2) {
                        lane = pick(rng, &tracks);
                    }
                }
                out.push(Arrival {
                    t: at,
                    model,
                    class: VehicleClass::Motorbike,
                    lane,
                    driver: Driver {
                        v0: base + rng.random_range(-0.4..0.4f32),
                        gap_s: rng.random_range(0.4..0.7),
                        ..bike_driver(rng)
                    },
                    group: groups,
                    glare: rng.random_range(0.3..1.0),
                });
            }
        } else if let Some(model) = bikes.deal(rng) {
            out.push(Arrival {
                t,
                model,
                class: VehicleClass::Motorbike,
                lane: pick(rng, &tracks),
                driver: bike_driver(rng),
                group: 0,
                glare: rng.random_range(0.3..1.0),
            });
        }
    }
    out.sort_by(|a, b| a.t.total_cmp(&b.t));
    out
}

/// A car driver: some slow (to be overtaken), some tailgating.
fn car_driver(rng: &mut ChaCha8Rng, tailgater: bool) -> Driver {
    let v0 = if !tailgater && rng.random_bool(0.12) {
        rng.random_range(5.5..7.5)
    } else {
        rng.random_range(9.0..14.0)
    };
    let gap_s = if tailgater || rng.random_bool(0.45) {
        rng.random_range(0.25..0.5)
    } else {
        rng.random_range(0.9..1.5)
    };
    Driver {
        v0,
        gap_s,
        accel: rng.random_range(1.2..2.0),
        brake: 2.5,
        s0: 1.2,
    }
}

/// A motorbike rider.
fn bike_driver(rng: &mut ChaCha8Rng) -> Driver {
    let gap_s = if rng.random_bool(0.6) {
        rng.random_range(0.4..0.8)
    } else {
        rng.random_range(0.9..1.5)
    };
    Driver {
        v0: rng.random_range(7.0..11.0),
        gap_s,
        accel: rng.random_range(1.8..2.6),
        brake: 3.0,
        s0: 0.8,
    }
}
