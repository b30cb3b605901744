//! `matthan make-traffic`: makes a traffic video with real vehicle photos and its truth file
//! (the library's `synth`), with a progress bar on stderr and a summary at the end.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use matthan::synth::{self, PlanParams};

/// Flags of `matthan make-traffic`.
#[derive(clap::Args)]
pub struct MakeTrafficArgs {
    /// The MP4 to write (replaced if it exists).
    out: PathBuf,
    /// The truth file to write (default: the video's name with `.truth.csv`).
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Seed of every random choice: the same seed makes the same video.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Length of the video, seconds.
    #[arg(long, default_value_t = 60.0)]
    duration: f64,
    /// Vehicles arriving per minute, both directions together.
    #[arg(long, default_value_t = 60.0)]
    rate: f64,
    /// Share of the vehicles that are motorbikes (0 to 1).
    #[arg(long, default_value_t = 0.5)]
    motorbike_share: f64,
    /// Night: dim, bluish, headlight glare.
    #[arg(long)]
    night: bool,
    /// Folder holding vn-motorbike/ and vn-car/, each with photos and labels.csv.
    #[arg(long, default_value = "../shared/eval")]
    photos: PathBuf,
    /// Frame size, WIDTHxHEIGHT (even numbers).
    #[arg(long, default_value = "1280x720")]
    size: String,
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    fps: u32,
}

/// Makes the video and the truth file.
pub fn run(args: &MakeTrafficArgs) -> anyhow::Result<ExitCode> {
    let (width, height) = args
        .size
        .split_once('x')
        .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
        .with_context(|| format!("--size must be WIDTHxHEIGHT, got {:?}", args.size))?;
    let params = PlanParams {
        seed: args.seed,
        duration_s: args.duration,
        fps: args.fps,
        rate_per_min: args.rate,
        motorbike_share: args.motorbike_share,
        night: args.night,
        width,
        height,
    };
    let truth_path = args
        .truth
        .clone()
        .unwrap_or_else(|| args.out.with_extension("truth.csv"));
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} frame {pos}/{len} [{elapsed}] {wide_bar}")
            .context("progress style")?,
    );
    let made = synth::make(
        &params,
        &args.photos,
        &args.out,
        &truth_path,
        |done, total| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
        },
    )
    .with_context(|| format!("making {}", args.out.display()))?;
    bar.finish_and_clear();
    let s = &made.stats;
    let ms = made.render_time.as_secs_f64() * 1000.0 / made.frames.max(1) as f64;
    eprintln!(
        "wrote {} ({} frames, {:.1} ms a frame to draw) and {}",
        args.out.display(),
        made.frames,
        ms,
        truth_path.display()
    );
    eprintln!(
        "{} vehicles ({} motorbikes, {} cars; {} along, {} against), {} readable; \
         {} of {} passing within 1 s of the one ahead in their lane; {} changed lanes, \
         {} stopped, {} motorbike groups; {} photos ({} skipped)",
        s.vehicles,
        s.motorbikes,
        s.vehicles - s.motorbikes,
        s.along,
        s.vehicles - s.along,
        s.readable,
        s.close_followers,
        s.passing,
        s.lane_changers,
        s.stopped,
        s.groups,
        made.photos,
        made.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}
