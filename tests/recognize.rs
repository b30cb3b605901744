//! The recognizer on real models and real photos: accuracy floors on the shipped eval sets,
//! the shape of a read, and bad input (corrupt, empty, tiny, huge images; missing or altered
//! models) giving clear errors, never a panic.

mod common;

use std::path::PathBuf;

use matthan::eval;
use matthan::plate::{self, DecodeOptions, PlateLayout};
use matthan::recognize::{
    load_image, BoxXyxy, ModelSet, PlateSearch, RecognizeError, Recognizer, RecognizerSettings,
    TextFallback, VehicleClass, VehicleModel,
};

#[test]
fn vn_dev_reads_at_least_ten_of_eleven_plates() {
    let mut r = common::recognizer();
    let report = eval::evaluate(&mut r, &common::eval_dir().join("vn-dev"), |_| {}).unwrap();
    for o in &report.per_image {
        eprintln!("{}: labels {:?} reads {:?}", o.file, o.labels, o.reads);
    }
    assert_eq!(report.plates, 11);
    assert_eq!(report.unreadable_images, 0);
    assert!(report.exact >= 10, "exact {} of 11", report.exact);
}

#[test]
fn eu_recall_is_at_least_088() {
    // 98 of 108 when this floor was set; 6 of the misses are labels that write a letter O
    // where the plate's format has a digit (`RKO99AN`).
    let mut r = common::recognizer();
    let report = eval::evaluate(&mut r, &common::eval_dir().join("eu"), |_| {}).unwrap();
    assert_eq!(report.plates, 108);
    assert!(report.recall >= 0.88, "recall {:.3}", report.recall);
}

#[test]
fn vn_parking_gate_sets_hold_up() {
    // Real Vietnamese sets beyond the development images: car plates at gates (many close-ups
    // the plate detector misses, found by the text fallback) and motorbike plates.
    let mut r = common::recognizer();
    // vn-car: 221/232 with the exports as shipped, 215/232 with the lean int8 graphs (the
    // default; the plate boxes move by under 1 % of their size, and the line finder splits a
    // few two-line plates differently).
    for (set, floor) in [("vn-car", 0.92), ("vn-motorbike", 0.90)] {
        let report = eval::evaluate(&mut r, &common::eval_dir().join(set), |_| {}).unwrap();
        eprintln!(
            "{set}: {}/{} recall {:.3}",
            report.exact, report.plates, report.recall
        );
        assert!(report.recall >= floor, "{set}: recall {:.3}", report.recall);
    }
}

#[test]
fn a_close_up_plate_missed_by_the_detector_is_found_in_the_text() {
    let photo = common::eval_dir().join("vn-car/AQUA2_08929_checkin_2020-10-29-9-90TML5E2G7K.jpg");
    let mut r = common::recognizer();
    assert!(r
        .detect_plates(&load_image(&photo).unwrap())
        .unwrap()
        .is_empty());
    let rec = r.recognize_file(&photo).unwrap();
    let plate = rec
        .plates
        .iter()
        .find(|p| p.key == "99A08929")
        .expect("99A08929 read");
    assert_eq!(plate.layout, PlateLayout::TwoLine);
    assert_eq!(plate.raw_lines.len(), 2);

    let mut settings = RecognizerSettings::with_model_dir(common::model_dir());
    settings.text_fallback = TextFallback::Never;
    let mut without = Recognizer::load(settings).unwrap();
    assert!(without.recognize_file(&photo).unwrap().plates.is_empty());
}

#[test]
fn a_two_line_motorbike_plate_reads_with_its_display_form() {
    let mut r = common::recognizer();
    let rec = r
        .recognize_file(&common::eval_dir().join("vn-dev/119.jpg"))
        .unwrap();
    let plate = rec
        .plates
        .iter()
        .find(|p| p.key == "29S175902")
        .expect("29S175902 read");
    assert_eq!(plate.layout, PlateLayout::TwoLine);
    assert_eq!(plate.display, "29-S1 759.02");
    assert!(plate.is_vietnamese());
    assert_eq!(plate.province.as_deref(), Some("Hà Nội"));
    assert_eq!(plate.char_confidences.len(), plate.key.as_str().len());
    assert!(plate.confidence > 0.0 && plate.confidence <= 1.0);
    assert_eq!(plate.candidates[0].0, plate.key);
    // The leftmost motorbike is detected on its own and holds its plate.
    let left = rec
        .plates
        .iter()
        .find(|p| p.key == "29U27914")
        .expect("29U27914 read");
    let v = left.vehicle.expect("plate linked to a vehicle");
    assert_eq!(rec.vehicles[v].class.as_str(), "motorbike");
}

#[test]
fn a_one_line_car_plate_reads_with_its_display_form() {
    let mut r = common::recognizer();
    let rec = r
        .recognize_file(&common::eval_dir().join("vn-dev/bien_so.jpg"))
        .unwrap();
    let plate = rec
        .plates
        .iter()
        .find(|p| p.key == "30E99999")
        .expect("30E99999 read");
    assert_eq!(plate.layout, PlateLayout::OneLine);
    assert_eq!(plate.display, "30E-999.99");
    assert!(rec.vehicles.iter().any(|v| v.class.as_str() == "car"));
}

#[test]
fn plates_with_a_text_strip_are_read_and_foreign_ones_flagged() {
    // One-line plates with a city name, a dealer's name, a web address or a phone number just
    // above or below them, boxed together with the plate: the strip is dropped and the plate
    // read, raw and flagged not-Vietnamese unless it fits the grammar (`51A12345`).
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/strip-plates");
    // Every plate is read (the strip never is), at most one character off: PP-OCRv6 reads
    // the Slovenian `SI-819AK` as `S819AK` (PP-OCRv4 read it whole), a miss of the reader,
    // not of the strip.
    let mut r = common::recognizer();
    let labelled = eval::read_labels(&dir).unwrap();
    assert!(labelled.len() >= 6);
    for item in &labelled {
        let rec = r.recognize_file(&dir.join(&item.file)).unwrap();
        let want = &item.plates[0];
        let plate = rec
            .plates
            .iter()
            .find(|p| one_edit_at_most(p.key.as_str(), want))
            .unwrap_or_else(|| panic!("{}: {want} not read: {:?}", item.file, rec.plates));
        assert_eq!(plate.is_vietnamese(), want == "51A12345", "{}", item.file);
        assert_eq!(plate.layout, PlateLayout::OneLine, "{}", item.file);
        // Read from the plate detector's box, not found again in the frame's text.
        assert!(plate.detector_score > 0.0, "{}", item.file);
    }
    let report = eval::evaluate(&mut r, &dir, |_| {}).unwrap();
    assert!(
        report.exact + 1 >= report.plates,
        "{} of {}",
        report.exact,
        report.plates
    );
    assert_eq!(report.exact + report.unmatched_reads, report.plates);
}

/// Whether `a` becomes `b` by one insertion, deletion or substitution, or none.
fn one_edit_at_most(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if long.len() - short.len() > 1 {
        return false;
    }
    let head = short.iter().zip(long).take_while(|(x, y)| x == y).count();
    if short.len() == long.len() {
        short[head..].iter().skip(1).eq(long[head..].iter().skip(1))
    } else {
        short[head..] == long[head + 1..]
    }
}

#[test]
fn a_tiny_or_black_plate_crop_gives_no_read_and_no_panic() {
    let mut r = common::recognizer();
    let none = |r: &mut Recognizer, frame: &image::RgbImage, bbox: &BoxXyxy| {
        let lines = r.plate_lines(frame, bbox).unwrap();
        let reads = r.read_lines(&lines).unwrap();
        let positions: Vec<_> = reads.iter().map(|l| l.positions.clone()).collect();
        plate::decode_box(&positions, &DecodeOptions::default(), 0.2)
    };
    let b = |x1, y1, x2, y2| BoxXyxy { x1, y1, x2, y2 };
    let tiny = image::RgbImage::new(1, 1);
    let black = image::RgbImage::new(320, 240);
    for (frame, bbox) in [
        (&tiny, b(0., 0., 1., 1.)),
        (&tiny, b(5., 5., 3., 3.)),
        (&black, b(100., 100., 101., 101.)),
        (&black, b(100., 100., 100., 100.)),
        (&black, b(60., 100., 260., 150.)),
        (&black, b(-50., -50., 900., 900.)),
        (&black, b(f32::NAN, 0., f32::INFINITY, 10.)),
    ] {
        assert_eq!(none(&mut r, frame, &bbox), None, "{bbox:?}");
    }
    let lines = [image::RgbImage::new(1, 1), image::RgbImage::new(200, 40)];
    let reads = r.read_lines(&lines).unwrap();
    assert_eq!(reads.len(), 2);
    assert!(r.recognize(&black).unwrap().plates.is_empty());
}

#[test]
fn bad_images_give_clear_errors_or_empty_results() {
    let dir = common::temp_dir("bad-images");
    let mut r = common::recognizer();

    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let err = r.recognize_file(&empty).unwrap_err();
    assert!(matches!(err, RecognizeError::Image { .. }), "{err}");
    assert!(err.to_string().contains("empty"));

    let corrupt = dir.join("corrupt.jpg");
    let mut bytes = std::fs::read(common::eval_dir().join("vn-dev/4.jpg")).unwrap();
    bytes.truncate(600);
    std::fs::write(&corrupt, &bytes).unwrap();
    assert!(matches!(
        r.recognize_file(&corrupt),
        Err(RecognizeError::Image { .. })
    ));

    let text = dir.join("notes.jpg");
    std::fs::write(&text, b"this is not an image").unwrap();
    assert!(matches!(
        r.recognize_file(&text),
        Err(RecognizeError::Image { .. })
    ));

    let missing = dir.join("missing.jpg");
    let err = r.recognize_file(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.jpg"));

    // 1×1 and blank images: a result with nothing in it.
    let tiny = image::RgbImage::new(1, 1);
    let rec = r.recognize(&tiny).unwrap();
    assert!(rec.plates.is_empty());
    let blank = image::RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
    assert!(r.recognize(&blank).unwrap().plates.is_empty());

    // A huge image is refused from its header, before any pixel is decoded.
    let huge = dir.join("huge.png");
    let img = image::GrayImage::new(20_000, 1);
    img.save(&huge).unwrap();
    let err = load_image(&huge).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    // A large but allowed image still works (downscaled by the letterbox).
    let big = image::RgbImage::from_pixel(6000, 4000, image::Rgb([30, 30, 30]));
    assert!(r.recognize(&big).unwrap().plates.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn missing_or_altered_models_name_the_file_and_the_fix() {
    let dir = common::temp_dir("models");
    let err = match Recognizer::load(RecognizerSettings::with_model_dir(&dir)) {
        Err(e) => e,
        Ok(_) => panic!("loaded models from an empty folder"),
    };
    assert!(matches!(err, RecognizeError::ModelMissing { .. }), "{err}");
    assert!(err.to_string().contains("vehicles.onnx") && err.to_string().contains("make setup"));

    std::fs::write(dir.join("vehicles.onnx"), b"not the model").unwrap();
    let err = match Recognizer::load(RecognizerSettings::with_model_dir(&dir)) {
        Err(e) => e,
        Ok(_) => panic!("loaded an altered model"),
    };
    assert!(matches!(err, RecognizeError::ModelTampered { .. }), "{err}");
    assert!(err.to_string().contains("SHA-256"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_coco_model_calls_a_gate_photo_of_a_car_a_car() {
    // The default model (trained on Sri Lankan roads) calls this rear view a truck.
    let photo = common::eval_dir().join("vn-car/AQUA5_4253_checkin_2020-10-19-10-15xqmboLUNp4.jpg");
    let mut r = Recognizer::load(RecognizerSettings {
        vehicle_model: VehicleModel::CocoTiny,
        ..RecognizerSettings::with_model_dir(common::model_dir())
    })
    .unwrap();
    let img = load_image(&photo).unwrap();
    let vehicles = r.detect_vehicles(&img).unwrap();
    let largest = vehicles
        .iter()
        .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        .expect("a vehicle");
    assert_eq!(largest.class, VehicleClass::Car, "{vehicles:?}");
    assert!(largest.score >= 0.5, "{vehicles:?}");
    // Boxes are in the photo's pixels although the model saw it at 416×416.
    assert!(largest.bbox.x2 <= img.width() as f32 && largest.bbox.y2 <= img.height() as f32);
    assert!(
        largest.bbox.width() > img.width() as f32 / 2.0,
        "{:?}",
        largest.bbox
    );
}

#[test]
fn the_lean_graphs_find_the_plates_the_exports_find() {
    // The int8, boxes-only, rectangular-input graphs derived at setup against the exports as
    // shipped, detectors alone, on every development photo: each plate the export is sure of
    // is found by the lean graph in nearly the same place.
    let load = |models| {
        Recognizer::load(RecognizerSettings {
            models,
            ..RecognizerSettings::with_model_dir(common::model_dir())
        })
        .unwrap()
    };
    let (mut lean, mut original) = (load(ModelSet::Lean), load(ModelSet::Original));
    assert_eq!(lean.graphs().1.file, "plates_int8.onnx");
    assert_eq!(original.graphs().1.file, "plates.onnx");
    let mut sure = 0;
    for name in ["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"] {
        let img = load_image(&common::eval_dir().join("vn-dev").join(name)).unwrap();
        let found = lean.detect_plates(&img).unwrap();
        for want in original.detect_plates(&img).unwrap() {
            if want.score < 0.5 {
                continue;
            }
            sure += 1;
            let best = found
                .iter()
                .map(|d| d.bbox.iou(&want.bbox))
                .fold(0.0, f32::max);
            assert!(
                best >= 0.8,
                "{name}: {want:?} best IoU {best}, lean {found:?}"
            );
        }
        for d in &found {
            assert!(d.bbox.x2 <= img.width() as f32 && d.bbox.y2 <= img.height() as f32);
        }
    }
    assert!(sure >= 4, "only {sure} sure plates");
}

#[test]
fn the_plate_search_in_a_region_reads_the_plates_of_the_vehicles_found() {
    // Two cars, both plates labelled: searched in the box around the two vehicles at its own
    // resolution, as in the whole frame, both are read.
    let img = load_image(&common::eval_dir().join("vn-dev/101.jpg")).unwrap();
    for search in [PlateSearch::Frame, PlateSearch::Region] {
        let mut r = Recognizer::load(RecognizerSettings {
            plate_search: search,
            ..RecognizerSettings::with_model_dir(common::model_dir())
        })
        .unwrap();
        let rec = r.recognize(&img).unwrap();
        assert!(!rec.vehicles.is_empty(), "{search:?}: no vehicle");
        let keys: Vec<String> = rec.plates.iter().map(|p| p.key.to_string()).collect();
        for want in ["29B125662", "30L90860"] {
            assert!(keys.iter().any(|k| k == want), "{search:?}: {keys:?}");
        }
    }
}

#[test]
fn a_small_plate_the_frame_misses_is_read_inside_its_vehicle() {
    // bien_so.jpg: four plates; 30A99999 is too few pixels in the frame's letterbox for the
    // plate detector, and is found when its vehicle is letterboxed on its own. The other
    // three stay read.
    let img = load_image(&common::eval_dir().join("vn-dev/bien_so.jpg")).unwrap();
    let keys = |search| {
        let mut r = Recognizer::load(RecognizerSettings {
            plate_search: search,
            ..RecognizerSettings::with_model_dir(common::model_dir())
        })
        .unwrap();
        let rec = r.recognize(&img).unwrap();
        rec.plates
            .iter()
            .map(|p| p.key.to_string())
            .collect::<Vec<String>>()
    };
    let frame = keys(PlateSearch::Frame);
    let then_vehicles = keys(PlateSearch::FrameThenVehicles);
    assert!(!frame.contains(&"30A99999".to_string()), "{frame:?}");
    for want in ["51A99999", "30A99999", "30E99999", "51F99999"] {
        assert!(then_vehicles.iter().any(|k| k == want), "{then_vehicles:?}");
    }
}

#[test]
fn a_derived_graph_that_differs_is_refused_by_name() {
    // Every pinned file as setup left it, but the lean plate graph replaced.
    let dir = common::temp_dir("derived");
    for entry in std::fs::read_dir(common::model_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    std::fs::remove_file(dir.join("plates_int8.onnx")).unwrap();
    std::fs::write(dir.join("plates_int8.onnx"), b"a slower model").unwrap();
    let err = match Recognizer::load(RecognizerSettings::with_model_dir(&dir)) {
        Err(e) => e,
        Ok(_) => panic!("loaded an altered derived graph"),
    };
    let text = err.to_string();
    assert!(
        matches!(err, RecognizeError::ModelTampered { .. }),
        "{text}"
    );
    assert!(text.contains("plates_int8.onnx"), "{text}");
    assert!(
        text.contains("derived from plates.onnx by scripts/lean-models"),
        "{text}"
    );
    assert!(text.contains("make setup"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
