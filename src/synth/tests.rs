//! The plan and its truth on plain data: made-up models, no photos.

use super::model::{Model, PlateSpot};
use super::plan::{make_plan, Plan, PlanParams};
use super::road::LANES;
use super::truth::{stats, truth, MAX_GLARE};
use super::SynthError;
use crate::plate::PlateKey;
use crate::scene::VehicleClass;
use crate::track::Direction;
use crate::traffic::Truth;

fn models() -> Vec<Model> {
    let bikes = (0..60).map(|i| Model {
        class: VehicleClass::Motorbike,
        plate: Some(PlateKey::parse(&format!("59X1{i:05}")).unwrap()),
        aspect: 1.25,
        plate_spot: PlateSpot {
            cx: 0.5,
            cy: 0.55,
            w: 0.33,
            h: 0.22,
        },
    });
    let cars = (0..40).map(|i| Model {
        class: VehicleClass::Car,
        plate: Some(PlateKey::parse(&format!("30A{i:05}")).unwrap()),
        aspect: 0.8,
        plate_spot: PlateSpot {
            cx: 0.5,
            cy: 0.45,
            w: 0.3,
            h: 0.12,
        },
    });
    bikes.chain(cars).collect()
}

fn params(seed: u64, duration_s: f64) -> PlanParams {
    PlanParams {
        seed,
        duration_s,
        fps: 25,
        rate_per_min: 60.0,
        motorbike_share: 0.5,
        night: false,
        width: 1280,
        height: 720,
    }
}

fn plan(p: &PlanParams) -> (Plan, Truth) {
    let m = models();
    let plan = make_plan(p, &m).unwrap();
    let t = truth(&plan, &m);
    (plan, t)
}

#[test]
fn same_seed_same_plan_other_seed_other_plan() {
    let (a, ta) = plan(&params(7, 40.0));
    let (b, tb) = plan(&params(7, 40.0));
    assert_eq!(a, b);
    assert_eq!(ta.to_csv("x"), tb.to_csv("x"));
    let (_, tc) = plan(&params(8, 40.0));
    assert_ne!(ta.to_csv("x"), tc.to_csv("x"));
}

#[test]
fn dense_both_ways_both_classes_with_close_followers() {
    let (mut close, mut passing) = (0, 0);
    for seed in 1..5 {
        let (p, t) = plan(&params(seed, 180.0));
        let s = stats(&p, &t);
        assert!(s.vehicles >= 120, "{s:?}");
        let bikes = s.motorbikes as f64 / s.vehicles as f64;
        assert!((0.4..=0.6).contains(&bikes), "{s:?}");
        assert!(s.along >= 20 && s.vehicles - s.along >= 20, "{s:?}");
        assert!(s.close_followers * 100 >= s.passing * 15, "{s:?}");
        assert!(s.lane_changers >= 3, "{s:?}");
        assert!(s.stopped >= 3, "{s:?}");
        assert!(s.groups >= 5, "{s:?}");
        assert!(s.readable * 2 >= s.vehicles, "{s:?}");
        close += s.close_followers;
        passing += s.passing;
    }
    assert!(
        close * 5 >= passing,
        "under 20 % close followers: {close} of {passing}"
    );
}

#[test]
fn truth_times_are_consistent() {
    let (p, t) = plan(&params(3, 90.0));
    let video_s = p.frames as f64 / 25.0;
    assert_eq!(t.video_s, Some(video_s));
    assert!(t.check_times(video_s).is_ok());
    let mut crossed = 0;
    for v in &t.vehicles {
        assert!(v.first_s <= v.last_s && v.last_s <= video_s, "{v:?}");
        if let Some(l) = v.line_s {
            crossed += 1;
            assert!(v.first_s <= l && l <= v.last_s, "{v:?}");
        }
        let [(_, y1), (_, y2)] = v.path.unwrap();
        // Along goes down the picture, against up (unless cut by the video's ends).
        if v.first_s > 0.0 && v.last_s < video_s && v.line_s.is_some() {
            match v.direction {
                Direction::Along => assert!(y2 > y1, "{v:?}"),
                _ => assert!(y2 < y1, "{v:?}"),
            }
        }
    }
    assert!(
        crossed * 2 >= t.vehicles.len(),
        "{crossed} of {}",
        t.vehicles.len()
    );
    // The file round-trips.
    let again = Truth::parse(&t.to_csv("seed 3")).unwrap();
    assert_eq!(again.vehicles.len(), t.vehicles.len());
}

#[test]
fn no_two_vehicles_share_road_in_a_lane_unless_changing() {
    let (p, _) = plan(&params(5, 120.0));
    for f in 0..p.frames {
        for lane in 0..LANES.len() as u8 {
            let mut spans: Vec<(f32, f32)> = p
                .vehicles
                .iter()
                .filter_map(|v| v.pose(f).map(|q| (v, q)))
                .filter(|(_, q)| q.lane == lane && !q.changing)
                .map(|(v, q)| (q.z, q.z + v.length_m))
                .collect();
            spans.sort_by(|a, b| a.0.total_cmp(&b.0));
            for w in spans.windows(2) {
                assert!(w[0].1 <= w[1].0 + 1e-3, "frame {f} lane {lane}: {w:?}");
            }
        }
    }
}

#[test]
fn night_has_the_same_traffic_and_glare_hides_plates() {
    let day = params(11, 60.0);
    let night = PlanParams {
        night: true,
        ..day.clone()
    };
    let (pd, _) = plan(&day);
    let (pn, tn) = plan(&night);
    assert_eq!(pd.vehicles.len(), pn.vehicles.len());
    for (a, b) in pd.vehicles.iter().zip(&pn.vehicles) {
        assert_eq!(a.poses, b.poses);
        assert_eq!(b.glare > 0.0, b.direction == Direction::Along);
    }
    for t in &tn.vehicles {
        let v = pn.vehicles.iter().find(|v| v.id == t.id).unwrap();
        if v.glare >= MAX_GLARE {
            assert!(!t.readable, "{t:?}");
        }
    }
}

#[test]
fn bad_parameters_are_refused() {
    let m = models();
    for p in [
        PlanParams {
            duration_s: 0.0,
            ..params(1, 1.0)
        },
        PlanParams {
            fps: 0,
            ..params(1, 1.0)
        },
        PlanParams {
            rate_per_min: -1.0,
            ..params(1, 1.0)
        },
    ] {
        assert!(matches!(make_plan(&p, &m), Err(SynthError::Params(_))));
    }
    assert!(matches!(
        make_plan(&params(1, 1.0), &[]),
        Err(SynthError::NoPhotos(_))
    ));
    // Only cars: no motorbikes, no error.
    let cars: Vec<Model> = m
        .into_iter()
        .filter(|m| m.class == VehicleClass::Car)
        .collect();
    let p = make_plan(&params(2, 30.0), &cars).unwrap();
    assert!(p.vehicles.iter().all(|v| v.class == VehicleClass::Car));
}
