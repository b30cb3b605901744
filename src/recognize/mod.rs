//! The recognizer: vehicles, plates and plate text from one RGB frame.
//!
//! Owns: the four ONNX Runtime sessions (created once, reused for every frame) and the
//! cascade that uses them:
//! 1. vehicle detection on the whole frame (by default YOLO11n-seg; [`VehicleModel`] picks
//!    another; classes from the model's metadata);
//! 2. plate detection on the whole frame, or on the part of it where vehicles need a read
//!    ([`PlateSearch`]; YOLOv8s-seg);
//! 3. per plate: crop with a margin, find and straighten its text lines (PP-OCR DB detector),
//!    which splits 2-line plates and removes small rotations;
//! 4. read the lines (PP-OCR's CTC recogniser, our plate reader, or both: [`TextReader`]),
//!    top-k per character;
//! 5. decode with the Vietnamese plate grammar ([`crate::plate::decode_box`]), and, with two
//!    readers, keep the better read.
//!
//! The detectors run the lean graphs derived at setup (no mask branch, rectangular input,
//! int8) unless [`ModelSet::Original`] asks for the exports as shipped; `graphs.rs` names them.
//!
//! Files: `types.rs` the values it returns and its settings; `detect.rs` stages 1-2 (the
//! detectors and the shared letterbox); `graphs.rs` which detector graphs load; `plates.rs` stages 3-5 and the text fallback (`cut_text.rs`: boxes that cut their plate's text);
//! `ocr.rs` (PP-OCR), `reader.rs` (our plate reader), `yolo.rs` and `memory.rs` the pieces they use; `vehicle_model.rs` which vehicle
//! detector runs and its classes; `runtime.rs` ONNX Runtime and the pinned model files; `fingerprint.rs` what decides the reads, as text. This file loads the sessions and runs the whole cascade.
//!
//! Sessions need `&mut self`, so a `Recognizer` belongs to one worker thread; make one per
//! thread that needs one. Never call it on an async runtime's worker thread.

mod cut_text;
mod detect;
mod fingerprint;
pub mod graphs;
pub mod memory;
pub mod ocr;
mod plates;
pub mod reader;
pub mod runtime;
mod types;
pub mod vehicle_model;
pub mod yolo;

use std::path::{Path, PathBuf};
use std::time::Instant;

pub use crate::scene::{BoxXyxy, VehicleClass};
pub use detect::PreparedFrame;
use detect::{Detector, DetectorInput};
pub use fingerprint::fingerprint;
pub use graphs::{Graph, ModelSet};
use image::RgbImage;
pub use memory::PlateMemory;
use ocr::{TextDetector, TextRecognizer};
pub use plates::{PlateCrop, SMALL_VEHICLE_GAIN};
use reader::PlateReader;
pub use types::{
    PlateRead, PlateSearch, Recognition, RecognizerSettings, StageTimings, TextFallback,
    TextReader, VehicleDetection,
};
pub use vehicle_model::VehicleModel;

/// Everything that can go wrong while loading models or recognising a frame.
#[derive(Debug, thiserror::Error)]
pub enum RecognizeError {
    /// A pinned model or runtime file is absent or unreadable.
    #[error("model file {path} is missing or unreadable ({reason}); run `make setup` to fetch the pinned models")]
    ModelMissing { path: PathBuf, reason: String },
    /// A pinned file does not have the SHA-256 from `models/MODELS.lock`.
    #[error("model file {path} has SHA-256 {got}, expected {expected} ({origin}); delete it and run `make setup`")]
    ModelTampered {
        path: PathBuf,
        origin: String,
        expected: String,
        got: String,
    },
    /// ONNX Runtime could not be loaded.
    #[error("cannot load ONNX Runtime from {path}: {reason}; run `make setup`")]
    Runtime { path: PathBuf, reason: String },
    /// A model could not be turned into a session.
    #[error("cannot load model {path}: {reason}")]
    Session { path: PathBuf, reason: String },
    /// ONNX Runtime failed while running a model.
    #[error("inference failed: {0}")]
    Inference(String),
    /// A model produced output of an unexpected shape.
    #[error("unexpected model output: {0}")]
    OutputShape(String),
    /// The image could not be read or decoded.
    #[error("cannot read image {path}: {reason}")]
    Image { path: PathBuf, reason: String },
}

impl RecognizeError {
    fn inference(e: ort::Error) -> RecognizeError {
        RecognizeError::Inference(e.to_string())
    }
}

/// Parses the Ultralytics `names` metadata, e.g. `{0: 'bike', 1: 'bus'}`, in index order.
pub fn parse_class_names(meta: &str) -> Vec<String> {
    let inner = meta.trim().trim_start_matches('{').trim_end_matches('}');
    let mut names: Vec<(usize, String)> = inner
        .split(',')
        .filter_map(|pair| {
            let (k, v) = pair.split_once(':')?;
            let idx = k.trim().parse().ok()?;
            let name = v.trim().trim_matches(|c| c == '\'' || c == '"').to_string();
            Some((idx, name))
        })
        .collect();
    names.sort_by_key(|(i, _)| *i);
    names.into_iter().map(|(_, n)| n).collect()
}

/// The loaded models and settings. One per worker thread.
pub struct Recognizer {
    /// Vehicle detector.
    vehicles: Detector,
    /// The vehicle detector's classes that are vehicles: `(class index, our class)`.
    vehicle_rows: Vec<(usize, VehicleClass)>,
    /// Number of classes the vehicle detector knows.
    vehicle_class_count: usize,
    /// Plate detector.
    plates: Detector,
    /// Text-line finder on plate crops.
    lines: TextDetector,
    /// Text reader.
    text: TextRecognizer,
    /// Our plate reader, loaded when the settings' reader uses it.
    own: Option<PlateReader>,
    /// Thresholds and options.
    settings: RecognizerSettings,
}

impl Recognizer {
    /// Checks the model files against the lock, loads ONNX Runtime and creates the sessions.
    pub fn load(settings: RecognizerSettings) -> Result<Recognizer, RecognizeError> {
        let dir = settings.model_dir.clone();
        runtime::verify_model_dir(&dir)?;
        let env = runtime::environment(&dir)?;
        let threads = settings.detector_threads;
        let model = settings.vehicle_model;
        let vehicle_graph = settings.models.vehicles(model);
        let vehicles = runtime::session(env, &dir.join(vehicle_graph.file), threads)?;
        let names = vehicles
            .metadata()
            .ok()
            .and_then(|m| m.custom("names"))
            .ok_or_else(|| {
                RecognizeError::OutputShape("vehicle model has no `names` metadata".into())
            })?;
        let names = parse_class_names(&names);
        let vehicle_rows = model.vehicle_rows(&names);
        let plate_graph = settings.models.plates();
        let plates = runtime::session(env, &dir.join(plate_graph.file), threads)?;
        let lines = TextDetector::new(
            runtime::session(env, &dir.join("text_det.onnx"), 1)?,
            settings.lines,
        );
        let text_rec = match &settings.text_rec_model {
            Some(path) => path.clone(),
            None => dir.join("text_rec.onnx"),
        };
        let text = TextRecognizer::new(runtime::session(env, &text_rec, 1)?)?;
        let own = match settings.reader {
            TextReader::PpOcr => None,
            _ => Some(PlateReader::new(runtime::session(
                env,
                &dir.join(reader::MODEL_FILE),
                1,
            )?)?),
        };
        Ok(Recognizer {
            vehicles: Detector::new(vehicles, vehicle_graph),
            vehicle_rows,
            vehicle_class_count: names.len(),
            plates: Detector::new(plates, plate_graph),
            lines,
            text,
            own,
            settings,
        })
    }

    /// Runs every model once on a blank frame, so that the first real frame does not pay for
    /// ONNX Runtime's first-run allocations (measured here: ~100 ms).
    pub fn warm_up(&mut self) -> Result<(), RecognizeError> {
        let blank = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        let prepared = DetectorInput::new(&blank, self.plates.graph().input);
        self.detect_vehicles_in(&blank, &prepared)?;
        self.detect_plates_in(&prepared)?;
        let plate = BoxXyxy {
            x1: 200.0,
            y1: 200.0,
            x2: 320.0,
            y2: 240.0,
        };
        let lines = self.plate_lines(&blank, &plate)?;
        self.read_lines(&lines)?;
        if let Some(own) = &mut self.own {
            own.read(&lines, reader::ReaderInput::Line)?;
        }
        Ok(())
    }

    /// The detector graphs loaded: `(vehicles, plates)`.
    pub fn graphs(&self) -> (Graph, Graph) {
        (*self.vehicles.graph(), *self.plates.graph())
    }

    /// The settings in use.
    pub fn settings(&self) -> &RecognizerSettings {
        &self.settings
    }

    /// Reads an image file and recognises it.
    pub fn recognize_file(&mut self, path: &Path) -> Result<Recognition, RecognizeError> {
        let img = load_image(path)?;
        self.recognize(&img)
    }

    /// Recognises one frame: every vehicle, every plate.
    pub fn recognize(&mut self, frame: &RgbImage) -> Result<Recognition, RecognizeError> {
        let start = Instant::now();
        let (vehicles, prepared, mut timings) = self.find_vehicles(frame)?;
        let wanted = vec![true; vehicles.len()];
        let mut memory = PlateMemory::default();
        let plates = self.read_plates(
            frame,
            Some(&prepared),
            &vehicles,
            &wanted,
            &mut memory,
            &mut timings,
        )?;
        timings.total_ms = ms_since(start);
        Ok(Recognition {
            width: frame.width(),
            height: frame.height(),
            vehicles,
            plates,
            timings,
        })
    }
}

fn ms_since(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Largest image side accepted, in pixels; bigger images are refused rather than decoded.
pub const MAX_IMAGE_SIDE: u32 = 16_384;

/// Reads and decodes an image file to RGB, with a clear error for missing, empty, corrupt or
/// oversized files.
pub fn load_image(path: &Path) -> Result<RgbImage, RecognizeError> {
    let fail = |reason: String| RecognizeError::Image {
        path: path.to_path_buf(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if meta.len() == 0 {
        return Err(fail("file is empty".into()));
    }
    let reader = image::ImageReader::open(path)
        .map_err(|e| fail(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    let (w, h) = reader.into_dimensions().map_err(|e| fail(e.to_string()))?;
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE {
        return Err(fail(format!(
            "image is {w}×{h}, larger than {MAX_IMAGE_SIDE} pixels on a side"
        )));
    }
    let reader = image::ImageReader::open(path)
        .map_err(|e| fail(e.to_string()))?
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    let img = reader.decode().map_err(|e| fail(e.to_string()))?;
    Ok(img.to_rgb8())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_parse_from_ultralytics_metadata() {
        let names =
            parse_class_names("{0: 'bick', 1: 'bus', 2: 'car', 3: 'lorry', 4: 'tuktuk', 5: 'van'}");
        assert_eq!(names, vec!["bick", "bus", "car", "lorry", "tuktuk", "van"]);
        assert_eq!(
            VehicleClass::from_model_name(&names[0]),
            VehicleClass::Motorbike
        );
        assert_eq!(
            VehicleClass::from_model_name(&names[3]),
            VehicleClass::Truck
        );
        assert_eq!(VehicleClass::from_model_name("tank"), VehicleClass::Other);
    }
}
