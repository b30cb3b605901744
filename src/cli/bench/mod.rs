//! `matthan bench …`: throughput on real video. `ingest` times one camera with and without
//! analysis; `streams` (in [`streams`]) runs N cameras at once sharing one inference service;
//! `classes` (in [`classes`]) compares vehicle detectors on photos of known class.

mod classes;
mod streams;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use matthan::pipeline::{run_camera, CameraSettings};
use matthan::recognize::{RecognizerSettings, VehicleClass, VehicleModel};
use matthan::video::{Shutdown, SourceSpec};

use super::common::{parse_plates_in, Globals};
use classes::ClassesBench;
use streams::{GatingChoice, StreamsBench};

/// Flags of `matthan bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which bench.
    #[command(subcommand)]
    what: BenchCommand,
}

/// The benches.
#[derive(Subcommand)]
enum BenchCommand {
    /// One camera: once recording and decoding only (no analysis), once with analysis at
    /// --fps. Prints frames/s and real-time factors as JSON.
    Ingest {
        /// A video file, e.g. 1080p25 H.264.
        video: PathBuf,
        /// Analysis rate for the second run.
        #[arg(long, default_value_t = 5.0)]
        fps: f64,
    },
    /// N cameras at once sharing one inference service, motion gating on and off side by
    /// side: real-time factor, frames decoded / analysed / gated / dropped, passages, CPU
    /// time and its share per stage, peak memory, plates logged. A table goes to stderr, JSON
    /// to stdout.
    Streams {
        /// Camera counts to try, ascending; a mode stops at the first that falls behind.
        #[arg(long, value_delimiter = ',', default_values_t = [1, 2, 4, 6, 8])]
        cameras: Vec<usize>,
        /// Gating on, off, or both side by side.
        #[arg(long, value_enum, default_value_t = GatingChoice::Both)]
        gating: GatingChoice,
        /// Frames analysed per second while something moves.
        #[arg(long, default_value_t = 5.0)]
        fps: f64,
        /// Inference workers (0: one per core).
        #[arg(long, default_value_t = 0)]
        workers: usize,
        /// Where the plate detector looks: frame or vehicles.
        #[arg(long, default_value = "frame")]
        plates_in: String,
        /// Run every count even after one falls behind.
        #[arg(long)]
        all: bool,
        /// Video files; camera i plays file i mod their number.
        #[arg(required = true)]
        videos: Vec<PathBuf>,
    },
    /// Vehicle detectors side by side on folders of photos of one known class each: photos
    /// with no vehicle, class of the largest vehicle, ms per photo. A table goes to stderr,
    /// JSON to stdout.
    Classes {
        /// Vehicle models to compare.
        #[arg(long, value_delimiter = ',', default_values_t = VehicleModel::ALL)]
        compare: Vec<VehicleModel>,
        /// `CLASS=DIR`: every photo in DIR shows a vehicle of CLASS, e.g. `car=eval/vn-car`.
        #[arg(required = true, value_parser = classes::parse_folder)]
        folders: Vec<(VehicleClass, PathBuf)>,
    },
}

/// Runs the bench asked for.
pub fn run(globals: &Globals, args: &BenchArgs) -> anyhow::Result<ExitCode> {
    match &args.what {
        BenchCommand::Ingest { video, fps } => ingest(globals, video, *fps)?,
        BenchCommand::Streams {
            cameras,
            gating,
            fps,
            workers,
            plates_in,
            all,
            videos,
        } => {
            let mut cameras = cameras.clone();
            cameras.sort_unstable();
            cameras.dedup();
            cameras.retain(|&n| n > 0);
            anyhow::ensure!(
                !cameras.is_empty(),
                "--cameras needs at least one count above 0"
            );
            anyhow::ensure!(*fps > 0.0 && *fps <= 60.0, "--fps must be in (0, 60]");
            streams::run(&StreamsBench {
                videos: videos.clone(),
                cameras,
                gating: *gating,
                fps: *fps,
                workers: *workers,
                recognizer: RecognizerSettings {
                    plate_search: parse_plates_in(plates_in)?,
                    ..globals.recognizer()
                },
                all: *all,
            })?;
        }
        BenchCommand::Classes { compare, folders } => classes::run(&ClassesBench {
            models: compare.clone(),
            folders: folders.clone(),
            recognizer: globals.recognizer(),
        })?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `bench ingest`: `video` once recorded and decoded only, once analysed at `fps`; prints
/// both runs' figures as JSON.
fn ingest(globals: &Globals, video: &std::path::Path, fps: f64) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("matthan-bench-{}", std::process::id()));
    let mut results = Vec::new();
    for (label, rate) in [
        ("decode_and_record", 0.0),
        ("decode_record_and_analyse", fps),
    ] {
        let mut settings = CameraSettings::new(
            "bench",
            SourceSpec::File(video.to_path_buf()),
            &scratch,
            globals.recognizer(),
        );
        settings.analysis_fps = rate;
        settings.motion.enabled = false;
        let (tx, rx) = crossbeam_channel::unbounded();
        let drain = std::thread::spawn(move || rx.iter().count());
        let report = run_camera(settings, Shutdown::new(), tx)?;
        let _ = drain.join();
        let decoded_fps = report.stats.frames_decoded as f64 / report.wall_seconds.max(1e-9);
        results.push(serde_json::json!({
            "run": label,
            "analysis_fps": rate,
            "frames_decoded": report.stats.frames_decoded,
            "frames_analysed": report.stats.frames_analysed,
            "decoded_frames_per_s": decoded_fps,
            "realtime_factor": report.realtime_factor,
            "recognize_ms_per_frame": report.recognize_ms_per_frame,
            "passages": report.passages,
            "wall_seconds": report.wall_seconds,
            "media_seconds": report.media_seconds,
        }));
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{}", serde_json::to_string_pretty(&results)?);
    Ok(())
}
