//! Re-reading recordings (`matthan reread`): the recorded segments of one camera's time window
//! run again through the current recognizer (after a model upgrade, or where the live analysis
//! fell behind), their passages logged as a new analysis run beside the live ones.
//!
//! Nothing is replaced: the live passages stay, searches see both, and each re-read passage
//! names its run (`passages.run_id`, `analysis_runs`). A run is one (camera, window, model
//! version), so a second re-read with the same models finds the finished run and adds nothing;
//! one that stopped half-way is taken up again and adds only what is missing (the passages'
//! natural key includes the run).
//!
//! - `plan`: PURE. The window (end after start, at most [`MAX_WINDOW`]), which passages are
//!   the window's, the model version of a run.
//! - `segment`: one segment read again (checked, decoded without recording, its passages of
//!   the window as rows of the run), or why it could not be.
//!
//! The command (`src/cli/reread.rs`) finds the camera and the segments, opens the run
//! ([`crate::store::query::runs`]), writes each segment's rows in one batch and finishes the
//! run when every segment was read.

mod plan;
mod segment;

pub use plan::{model_version, PlanError, Window, MAX_WINDOW};
pub use segment::{Rereader, Segment, SegmentError};
