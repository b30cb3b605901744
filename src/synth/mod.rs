//! The traffic video maker: a road seen by a fixed roadside camera, with real vehicle photos
//! (and their real plates) driving through it, written as an H.264 MP4 with the truth file of
//! what passed (`matthan make-traffic`). [`make`] does it all.
//!
//! - `camera`: PURE. Where a point of the road shows in the picture, and how big.
//! - `model`: PURE. What the plan knows of a vehicle photo (class, plate, cut-out shape).
//! - `road`: PURE. Lanes, painted lines, stop lines, how far the road runs.
//! - `arrivals`: PURE. Who arrives when: cars, car platoons, motorbikes, motorbike groups.
//! - `drive`: PURE. One time step of traffic: entering, following, red lights, lane changes.
//! - `plan`: PURE. Every vehicle's pose at every frame.
//! - `truth`: PURE. The plan's truth file (visibility, counting line, readable plates) and
//!   counts of how dense the traffic is.
//! - `photos`: reads the labelled photo folders into soft-edged cut-outs.
//! - `render`: draws the frames (road, vehicles far to near, blur, noise, night).
//! - `encode`: pipes the frames to the `ffmpeg` command, which writes the MP4.
//!
//! Arrows between the files (no cycles): `road` → `camera`; `arrivals` → `model`, `road`;
//! `drive` → `arrivals`, `road`; `plan` → `camera`, `model`, `road`, `arrivals`, `drive`;
//! `truth` → `camera`, `model`, `road`, `plan`; `photos` → `model`; `render` → `camera`,
//! `model`, `road`, `plan`, `truth`, `photos`; `encode` → none; this file → all of them.

pub mod arrivals;
pub mod camera;
pub mod drive;
pub mod encode;
pub mod model;
pub mod photos;
pub mod plan;
pub mod render;
pub mod road;
pub mod truth;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use model::{Model, PlateSpot};
pub use plan::{make_plan, Plan, PlanParams};
pub use truth::PlanStats;

use crate::traffic::Truth;

/// Why a traffic video could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A parameter out of range.
    #[error("{0}")]
    Params(String),
    /// No usable photos.
    #[error("no usable vehicle photos: {0}")]
    NoPhotos(String),
    /// The ffmpeg command is not installed.
    #[error("the ffmpeg command was not found: install ffmpeg (with libx264) to make videos")]
    FfmpegMissing,
    /// ffmpeg failed.
    #[error("{0}")]
    Ffmpeg(String),
    /// The truth file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What [`make`] made.
pub struct Made {
    /// The truth file's content.
    pub truth: Truth,
    /// How dense and lively the traffic is.
    pub stats: PlanStats,
    /// Photos used to choose from.
    pub photos: usize,
    /// Photos or label rows skipped, with why.
    pub skipped: Vec<String>,
    /// Frames written.
    pub frames: usize,
    /// Time spent drawing frames (not encoding).
    pub render_time: Duration,
}

/// Makes the video `video` and its truth file `truth_path` from the photos under
/// `photos_dir`; `progress(done, total)` after each frame.
pub fn make(
    params: &PlanParams,
    photos_dir: &Path,
    video: &Path,
    truth_path: &Path,
    mut progress: impl FnMut(usize, usize),
) -> Result<Made, SynthError> {
    if params.width < 64 || params.height < 64 || params.width % 2 == 1 || params.height % 2 == 1 {
        return Err(SynthError::Params(format!(
            "the frame size must be even and at least 64x64, got {}x{}",
            params.width, params.height
        )));
    }
    let photos = photos::load(photos_dir)?;
    for s in &photos.skipped {
        tracing::warn!("skipped {s}");
    }
    let plan = make_plan(params, &photos.models)?;
    let truth = truth::truth(&plan, &photos.models);
    let stats = truth::stats(&plan, &truth);
    let mut encoder = encode::Encoder::start(video, params.width, params.height, params.fps)?;
    let mut renderer = render::Renderer::new(&plan, &photos.models, &photos.sprites);
    let mut frame = Vec::new();
    let mut render_time = Duration::ZERO;
    for k in 0..plan.frames {
        let started = Instant::now();
        renderer.frame(k, &mut frame);
        render_time += started.elapsed();
        encoder.write(&frame)?;
        progress(k + 1, plan.frames);
    }
    encoder.finish()?;
    let p = params;
    let comment =
        format!(
        "made by matthan make-traffic: seed={} duration_s={} rate_per_min={} motorbike_share={} \
         night={} size={}x{} fps={} photos={}",
        p.seed, p.duration_s, p.rate_per_min, p.motorbike_share, p.night, p.width, p.height,
        p.fps, photos.models.len()
    );
    std::fs::write(truth_path, truth.to_csv(&comment)).map_err(|source| SynthError::Write {
        path: truth_path.to_path_buf(),
        source,
    })?;
    Ok(Made {
        truth,
        stats,
        photos: photos.models.len(),
        skipped: photos.skipped,
        frames: plan.frames,
        render_time,
    })
}

#[cfg(test)]
mod tests;
