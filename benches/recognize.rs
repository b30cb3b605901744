//! Per-stage latency of the recognizer on real eval photos: vehicle detection, plate
//! detection, line finding, OCR of one plate, grammar decoding, and a whole image.
//! Needs the models (`make setup`) and `../shared/eval` (or `$MATTHAN_EVAL_DIR`).

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use matthan::plate::{self, DecodeOptions, PlateLayout};
use matthan::recognize::{load_image, Recognizer, RecognizerSettings};

fn eval_dir() -> PathBuf {
    std::env::var_os("MATTHAN_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"))
}

fn stages(c: &mut Criterion) {
    let models = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut r =
        Recognizer::load(RecognizerSettings::with_model_dir(models)).expect("run `make setup`");
    let frame = load_image(&eval_dir().join("vn-dev/119.jpg")).expect("eval photo");
    let eu = load_image(&eval_dir().join("eu/eu3.jpg")).expect("eval photo");

    let mut g = c.benchmark_group("recognize");
    g.sample_size(10);
    g.bench_function("vehicle_detection_1280x960", |b| {
        b.iter(|| r.detect_vehicles(&frame).unwrap())
    });
    g.bench_function("plate_detection_1280x960", |b| {
        b.iter(|| r.detect_plates(&frame).unwrap())
    });
    let plates = r.detect_plates(&frame).unwrap();
    let plate = plates.first().expect("a plate in 119.jpg").bbox;
    g.bench_function("line_split_one_plate", |b| {
        b.iter(|| r.plate_lines(&frame, &plate).unwrap())
    });
    let lines = r.plate_lines(&frame, &plate).unwrap();
    g.bench_function("ocr_one_plate", |b| {
        b.iter(|| r.read_lines(&lines).unwrap())
    });
    let reads = r.read_lines(&lines).unwrap();
    let positions: Vec<_> = reads.iter().map(|l| l.positions.clone()).collect();
    let layout = if positions.len() == 2 {
        PlateLayout::TwoLine
    } else {
        PlateLayout::OneLine
    };
    let opts = DecodeOptions::default();
    g.bench_function("grammar_decode_one_plate", |b| {
        b.iter(|| plate::decode(&positions, layout, &opts))
    });
    g.bench_function("whole_image_vn_4_plates_1280x960", |b| {
        b.iter(|| r.recognize(&frame).unwrap())
    });
    g.bench_function("whole_image_eu_1_plate", |b| {
        b.iter(|| r.recognize(&eu).unwrap())
    });
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
