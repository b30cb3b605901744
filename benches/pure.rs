//! Pure-logic costs: plate parsing and display, grammar decoding of an OCR read, and the
//! tracker on a busy synthetic road (20 vehicles with plates in every frame).

use criterion::{criterion_group, criterion_main, Criterion};
use matthan::plate::{self, CharCandidates, DecodeOptions, PlateKey, PlateLayout};
use matthan::scene::{BoxXyxy, VehicleClass};
use matthan::track::{
    CameraGeometry, FrameObservations, PlateObservation, Tracker, TrackerSettings,
    VehicleObservation,
};

fn read(text: &str) -> Vec<CharCandidates> {
    text.chars()
        .map(|c| CharCandidates {
            alternatives: vec![(c, 0.9), ('8', 0.05), ('B', 0.03), ('0', 0.01), ('O', 0.01)],
        })
        .collect()
}

/// Frame `i` of 20 vehicles moving down the picture in 4 lanes, each with its plate read.
fn busy_frame(i: u64) -> FrameObservations {
    let mut vehicles = Vec::new();
    let mut plates = Vec::new();
    for v in 0..20u32 {
        let lane = (v % 4) as f32;
        let y = (v / 4) as f32 * 200.0 + i as f32 * 12.0;
        let bbox = BoxXyxy {
            x1: 100.0 + lane * 450.0,
            y1: y,
            x2: 400.0 + lane * 450.0,
            y2: y + 180.0,
        };
        vehicles.push(VehicleObservation {
            bbox,
            class: VehicleClass::Car,
            score: 0.8,
            plate_searched: true,
            look: None,
        });
        let key = PlateKey::parse(&format!("29A{:05}", 10_000 + v)).unwrap();
        plates.push(PlateObservation {
            bbox: BoxXyxy {
                x1: bbox.x1 + 100.0,
                y1: bbox.y2 - 40.0,
                x2: bbox.x1 + 200.0,
                y2: bbox.y2 - 10.0,
            },
            char_confidences: vec![0.9; key.as_str().len()],
            candidates: vec![(key.clone(), 0.9)],
            display: String::new(),
            key,
            confidence: 0.9,
            layout: PlateLayout::OneLine,
            vehicle: Some(v as usize),
        });
    }
    FrameObservations {
        at_ms: 1_700_000_000_000 + i as i64 * 200,
        frame_index: i,
        frame_size: (1920, 1080),
        vehicles,
        plates,
    }
}

fn pure(c: &mut Criterion) {
    c.bench_function("plate_parse_and_display", |b| {
        b.iter(|| {
            let key = PlateKey::parse("29-B1 256.62").unwrap();
            plate::display(&key, PlateLayout::TwoLine)
        })
    });
    let one = vec![read("30A-339.18")];
    let two = vec![read("29-B1"), read("256.62")];
    let opts = DecodeOptions::default();
    c.bench_function("grammar_decode_one_line", |b| {
        b.iter(|| plate::decode(&one, PlateLayout::OneLine, &opts))
    });
    c.bench_function("grammar_decode_two_lines", |b| {
        b.iter(|| plate::decode(&two, PlateLayout::TwoLine, &opts))
    });
    let frames: Vec<FrameObservations> = (0..50).map(busy_frame).collect();
    c.bench_function("tracker_50_frames_20_vehicles", |b| {
        b.iter(|| {
            let mut t = Tracker::new(TrackerSettings::default(), CameraGeometry::default());
            let mut n = 0;
            for f in &frames {
                n += t.update(f).ended.len();
            }
            n + t.finish().len()
        })
    });
}

criterion_group!(benches, pure);
criterion_main!(benches);
