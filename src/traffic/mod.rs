//! Traffic video evaluation: what really passed a camera (the truth file) and how the
//! logged passages score against it.
//!
//! - `truth`: PURE. The truth file: parse (errors name the line), check against the video's
//!   length, write.
//! - `logged`: PURE. A logged passage in video seconds and normalised positions.
//! - `matching`: PURE. Which truth vehicle each passage belongs to (time, place, plate), and
//!   which vehicles were swallowed by another's passage.
//! - `score`: PURE. Recall, merges, duplicates, plates, fragments, classes, counts and
//!   crossings; `failures`: PURE. The list of what went wrong, with times and snapshots.
//!
//! Arrows within: `score` → `failures` → `matching` → `logged` → `truth`.

pub mod failures;
pub mod logged;
pub mod matching;
pub mod score;
pub mod truth;

pub use logged::LoggedPassage;
pub use score::{score, Score};
pub use truth::{Truth, TruthError, TruthVehicle};
