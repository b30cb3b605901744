//! Our plate reader (`models/plate_reader.onnx`, trained in `training/`) on the real models
//! and photos: the plates of the real sets it was never trained on, side by side with
//! PP-OCR in one run; crops with nothing to read; an altered model file.

mod common;

use matthan::eval;
use matthan::plate::{self, DecodeOptions, PlateLayout};
use matthan::recognize::reader::{PlateReader, ReaderInput, MODEL_FILE};
use matthan::recognize::{runtime, RecognizeError, Recognizer, RecognizerSettings, TextReader};

fn recognizer(reader: TextReader) -> Recognizer {
    Recognizer::load(RecognizerSettings {
        reader,
        ..RecognizerSettings::with_model_dir(common::model_dir())
    })
    .expect("models missing: run `make setup`")
}

#[test]
fn the_held_out_plates_read_at_least_as_well_with_our_reader() {
    let held = eval::read_plate_list(&common::model_dir().join("plate_reader.holdout.tsv"))
        .expect("the held-out list is committed beside the model");
    let mut readers = vec![
        recognizer(TextReader::PpOcr),
        recognizer(TextReader::Own),
        recognizer(TextReader::OwnFirst),
    ];
    // Floors: measured recall on the held-out plates (models/README.md), less a margin.
    let (mut pp_exact, mut own_first_exact) = (0, 0);
    for set in ["vn-motorbike", "vn-car"] {
        let dir = common::eval_dir().join(set);
        let labelled = eval::only_plates(eval::read_labels(&dir).unwrap(), &held);
        assert!(
            labelled.len() >= 40,
            "{set}: {} held-out images",
            labelled.len()
        );
        let r = eval::evaluate_side_by_side(&mut readers, &dir, &labelled, |_| {}).unwrap();
        let recall: Vec<f64> = r.iter().map(|r| r.recall).collect();
        eprintln!(
            "{set}: pp-ocr, own, own-first recall {recall:?} of {}",
            r[0].plates
        );
        assert!(recall[1] >= 0.92, "{set}: own reader {:.3}", recall[1]);
        assert!(recall[2] >= 0.95, "{set}: own-first {:.3}", recall[2]);
        pp_exact += r[0].exact;
        own_first_exact += r[2].exact;
    }
    assert!(
        own_first_exact >= pp_exact,
        "own-first read {own_first_exact} held-out plates, PP-OCR alone {pp_exact}"
    );
}

#[test]
fn a_one_pixel_or_all_black_crop_gives_no_read_and_no_panic() {
    let dir = common::model_dir();
    let env = runtime::environment(&dir).unwrap();
    let mut reader =
        PlateReader::new(runtime::session(env, &dir.join(MODEL_FILE), 1).unwrap()).unwrap();
    let crops = [
        image::RgbImage::new(1, 1),
        image::RgbImage::from_pixel(1, 1, image::Rgb([255, 255, 255])),
        image::RgbImage::new(300, 80),
        image::RgbImage::new(90, 70),
    ];
    for kind in [
        ReaderInput::Line,
        ReaderInput::OneLinePlate,
        ReaderInput::TwoLinePlate,
    ] {
        let reads = reader.read(&crops, kind).unwrap();
        assert_eq!(reads.len(), crops.len());
        for lines in reads {
            let rows = if kind == ReaderInput::TwoLinePlate {
                2
            } else {
                1
            };
            assert_eq!(lines.len(), rows);
            let positions: Vec<_> = lines.iter().map(|l| l.positions.clone()).collect();
            let layout = if rows == 2 {
                PlateLayout::TwoLine
            } else {
                PlateLayout::OneLine
            };
            let read = plate::decode(&positions, layout, &DecodeOptions::default());
            assert!(read.is_none(), "{kind:?}: read {read:?} in nothing");
        }
    }
    assert!(reader.read(&[], ReaderInput::Line).unwrap().is_empty());
    // The whole cascade with both readers on a black frame and a 1×1 frame.
    let mut r = recognizer(TextReader::Both);
    for frame in [image::RgbImage::new(640, 480), image::RgbImage::new(1, 1)] {
        assert!(r.recognize(&frame).unwrap().plates.is_empty());
    }
}

#[test]
fn a_missing_or_altered_plate_reader_is_refused_by_name() {
    let dir = common::temp_dir("reader-model");
    for entry in std::fs::read_dir(common::model_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() && path.file_name().unwrap() != MODEL_FILE {
            std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let load = || Recognizer::load(RecognizerSettings::with_model_dir(&dir));
    let err = load().err().expect("loaded without the plate reader");
    assert!(matches!(err, RecognizeError::ModelMissing { .. }), "{err}");
    assert!(err.to_string().contains(MODEL_FILE), "{err}");
    std::fs::write(dir.join(MODEL_FILE), b"another reader").unwrap();
    let err = load().err().expect("loaded an altered plate reader");
    let text = err.to_string();
    assert!(
        matches!(err, RecognizeError::ModelTampered { .. }),
        "{text}"
    );
    assert!(text.contains(MODEL_FILE), "{text}");
    assert!(text.contains("trained by training/train-ocr"), "{text}");
    assert!(text.contains("make setup"), "{text}");
    std::fs::remove_dir_all(&dir).ok();
}
