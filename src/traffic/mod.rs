//! Traffic video evaluation: what really passed a camera (the truth file) and how the
//! logged passages score against it.
//!
//! - `truth`: PURE. The truth file: parse (errors name the line), check against the video's
//!   length, write.

pub mod truth;

pub use truth::{Truth, TruthError, TruthVehicle};
