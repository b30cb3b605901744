//! # matthan — road cameras to a searchable vehicle and licence-plate log
//!
//! # Layout
//!
//! - [`plate`]: PURE. Vietnamese plate grammar: canonical key, display form, province table,
//!   position-wise decoding of OCR candidates, confusion-folded keys for fuzzy search.
//! - [`recognize`]: ONNX Runtime sessions and their pre/post-processing: vehicle detection,
//!   plate detection, line splitting and OCR. `fn(&RgbImage) -> Recognition`.
//! - [`eval`]: scores the recognizer against a labelled folder (`labels.csv`).
//!
//! Arrows point one way: `recognize` → `plate`. `plate` does no I/O.

pub mod eval;
pub mod plate;
pub mod recognize;
