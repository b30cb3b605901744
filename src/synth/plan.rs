//! The scenario of a made traffic video: where every vehicle is at every frame.
//!
//! PURE: seeded randomness and arithmetic, no I/O, no images; the same parameters and models
//! give the same plan. Arrivals (`arrivals`) enter the road (`road`) and drive (`drive`) for a
//! warm-up before the video starts, so it opens on traffic, then one step per frame.

use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

use super::arrivals::arrivals;
use super::camera::Camera;
use super::drive::{admit, advance, Live};
use super::model::Model;
use super::road::{Road, LANES};
use super::SynthError;
use crate::scene::{BoxXyxy, VehicleClass};
use crate::track::Direction;

pub use super::drive::Pose;

/// What a plan is made from.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanParams {
    /// Seed of every random choice.
    pub seed: u64,
    /// Length of the video, seconds.
    pub duration_s: f64,
    /// Frames per second.
    pub fps: u32,
    /// Vehicles arriving per minute, both directions together.
    pub rate_per_min: f64,
    /// Share of vehicles that are motorbikes.
    pub motorbike_share: f64,
    /// Night: headlight glare on vehicles coming toward the camera.
    pub night: bool,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
}

/// The road fills up for this long before the video starts.
const WARMUP_S: f64 = 30.0;

/// Width shown of a car and of a motorbike with its rider, m.
const WIDTH_M: [f32; 2] = [2.0, 1.1];

/// One vehicle of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedVehicle {
    /// Id, in order of appearance.
    pub id: u32,
    /// Index of its photo among the models.
    pub model: usize,
    /// What it is.
    pub class: VehicleClass,
    /// Which way it goes.
    pub direction: Direction,
    /// Its face's width and height, and its length, m.
    pub width_m: f32,
    /// Height of its face, m.
    pub height_m: f32,
    /// Length, m.
    pub length_m: f32,
    /// Strength of its headlight glare at night, 0 to 1 (0 by day or going away).
    pub glare: f32,
    /// Motorbike group number (0: none).
    pub group: u32,
    /// Frame of its first pose.
    pub first_frame: usize,
    /// One pose per frame from `first_frame`.
    pub poses: Vec<Pose>,
}

impl PlannedVehicle {
    /// Its pose at a frame.
    pub fn pose(&self, frame: usize) -> Option<&Pose> {
        self.poses.get(frame.checked_sub(self.first_frame)?)
    }

    /// Its box at a frame, when it is on the road.
    pub fn screen_box(&self, camera: &Camera, frame: usize) -> Option<BoxXyxy> {
        let p = self.pose(frame)?;
        (p.z > 0.0).then(|| camera.face_box(p.lateral, p.z, self.width_m, self.height_m))
    }

    /// How far (pixels) it moves in the picture while the shutter is open for `exposure` of a
    /// frame interval, at a frame.
    pub fn blur_px(&self, camera: &Camera, frame: usize, exposure: f32) -> f32 {
        let now = self.screen_box(camera, frame);
        let before = frame
            .checked_sub(1)
            .and_then(|f| self.screen_box(camera, f));
        let after = self.screen_box(camera, frame + 1);
        match (now, before.or(after)) {
            (Some(a), Some(b)) => {
                let d = (a.y1 - b.y1).abs().max((a.y2 - b.y2).abs());
                d.max((a.center().0 - b.center().0).abs()) * exposure
            }
            _ => 0.0,
        }
    }
}

/// The whole scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// What it was made from.
    pub params: PlanParams,
    /// The camera.
    pub camera: Camera,
    /// The road it sees.
    pub road: Road,
    /// Number of frames.
    pub frames: usize,
    /// Every vehicle with at least one pose in the video, by id.
    pub vehicles: Vec<PlannedVehicle>,
}

/// Makes the plan: arrivals, then the simulation, one step per frame.
pub fn make_plan(params: &PlanParams, models: &[Model]) -> Result<Plan, SynthError> {
    if !(params.duration_s > 0.0 && params.duration_s <= 24.0 * 3600.0) {
        return Err(SynthError::Params(format!(
            "duration must be above 0 s and at most a day, got {}",
            params.duration_s
        )));
    }
    if params.fps == 0 || params.fps > 240 {
        return Err(SynthError::Params(format!(
            "fps must be 1 to 240, got {}",
            params.fps
        )));
    }
    if !(params.rate_per_min > 0.0 && params.rate_per_min <= 600.0) {
        return Err(SynthError::Params(format!(
            "rate must be above 0 and at most 600 vehicles a minute, got {}",
            params.rate_per_min
        )));
    }
    if models.is_empty() {
        return Err(SynthError::NoPhotos(
            "no vehicle photos to plan with".into(),
        ));
    }
    let camera = Camera::for_frame(params.width, params.height);
    let road = Road::for_camera(&camera);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let offset = rand::RngExt::random_range(&mut rng, 0.0..super::drive::CYCLE_S);
    let mut pending = arrivals(
        &mut rng,
        models,
        -WARMUP_S,
        params.duration_s,
        params.rate_per_min,
        params.motorbike_share,
    )
    .into_iter()
    .peekable();
    let dt = 1.0 / params.fps as f32;
    let frames = (params.duration_s * params.fps as f64).round() as usize;
    let warmup = (WARMUP_S * params.fps as f64).round() as i64;
    let mut waiting: Vec<Vec<_>> = vec![Vec::new(); LANES.len()];
    let mut live: Vec<Live> = Vec::new();
    let mut done: Vec<Live> = Vec::new();
    for step in -warmup..frames as i64 {
        let t = step as f64 / params.fps as f64;
        while let Some(a) = pending.next_if(|a| a.t <= t) {
            waiting[a.lane].push(a);
        }
        admit(&mut waiting, &mut live);
        if step >= 0 {
            for v in &mut live {
                v.first_frame.get_or_insert(step as usize);
                v.poses.push(Pose {
                    z: v.z(&road),
                    lateral: v.lateral(),
                    speed: v.v,
                    lane: v.lane as u8,
                    changing: v.change.is_some(),
                });
            }
        }
        advance(&mut live, &road, t, dt, offset);
        let mut k = 0;
        while k < live.len() {
            if live[k].gone(&road) {
                done.push(live.swap_remove(k));
            } else {
                k += 1;
            }
        }
    }
    done.append(&mut live);
    let mut kept: Vec<Live> = done
        .into_iter()
        .filter(|v| v.first_frame.is_some())
        .collect();
    kept.sort_by_key(|v| (v.first_frame, v.arrival.t.to_bits()));
    let vehicles = kept
        .into_iter()
        .enumerate()
        .map(|(i, v)| planned(i, v, models, params.night))
        .collect();
    Ok(Plan {
        params: params.clone(),
        camera,
        road,
        frames,
        vehicles,
    })
}

/// The plan's record of a simulated vehicle.
fn planned(i: usize, v: Live, models: &[Model], night: bool) -> PlannedVehicle {
    let a = &v.arrival;
    let kind = usize::from(a.class == VehicleClass::Motorbike);
    let direction = LANES[v.home].direction;
    let glare = if night && direction == Direction::Along {
        a.glare
    } else {
        0.0
    };
    PlannedVehicle {
        id: i as u32 + 1,
        model: a.model,
        class: a.class,
        direction,
        width_m: WIDTH_M[kind],
        height_m: WIDTH_M[kind] * models.get(a.model).map_or(1.0, |m| m.aspect),
        length_m: v.length,
        glare,
        group: a.group,
        first_frame: v.first_frame.unwrap_or(0),
        poses: v.poses,
    }
}
