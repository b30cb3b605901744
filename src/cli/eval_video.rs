//! `matthan eval-video`: runs the camera pipeline on a video file, as `ingest` does but
//! without the log, and scores its passages against the video's truth file
//! ([`matthan::traffic`]); prints a table, or one JSON object with `--json`.
//!
//! The truth's header sets the camera geometry (road direction, counting line); the video's
//! first frame is at a fixed time, so passage times map back to video seconds. With
//! `--gating both` the video runs twice, motion gate on then off, side by side.

mod table;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use matthan::config::{CameraConfig, Config};
use matthan::infer::{InferenceService, InferenceSettings};
use matthan::pipeline::{run_camera, CameraSettings, IngestEvent, IngestReport};
use matthan::traffic::{score, LoggedPassage, Score, Truth};
use matthan::video::{probe_file, Shutdown, SourceSpec};
use serde::Serialize;

use super::common::{parse_plates_in, Globals};

/// The first frame's time: passage times minus this are video seconds.
const VIDEO_START: &str = "2026-01-01T00:00:00Z";

/// Flags of `matthan eval-video`.
#[derive(clap::Args)]
pub struct EvalVideoArgs {
    /// The video file.
    video: PathBuf,
    /// What really passed in the video: the truth file (CSV with `#` header lines).
    #[arg(long)]
    truth: PathBuf,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Motion gate: on (as cameras run), off (every sampled frame analysed), or both (two
    /// runs, side by side).
    #[arg(long, value_enum, default_value_t = Gating::On)]
    gating: Gating,
    /// Folder for the passages' snapshots (default: a new folder under the system temp
    /// folder).
    #[arg(long)]
    snapshots: Option<PathBuf>,
    /// Folder for the recorded MP4 segments (default: beside the default snapshots).
    #[arg(long)]
    clips: Option<PathBuf>,
    /// Where the plate detector looks (default: as cameras run, the config's
    /// `analysis.plates_in`): `frame`, `vehicles` or `region`.
    #[arg(long)]
    plates_in: Option<String>,
}

/// Which runs `--gating` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Gating {
    /// Motion gate on.
    On,
    /// Motion gate off.
    Off,
    /// One run with the gate on, one with it off.
    Both,
}

/// What the whole command found (the `--json` object).
#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// The video file.
    pub video: PathBuf,
    /// Its length (header), seconds.
    pub video_s: Option<f64>,
    /// Its frame size, pixels.
    pub frame: (u32, u32),
    /// The truth file.
    pub truth: PathBuf,
    /// Vehicles in the truth.
    pub truth_vehicles: usize,
    /// Remarks about the input ("no vehicles in the truth: recall undefined").
    pub notes: Vec<String>,
    /// One per gating setting run.
    pub runs: Vec<Run>,
}

/// One run of the pipeline and its score.
#[derive(Debug, Serialize)]
pub struct Run {
    /// `on` or `off`.
    pub gating: &'static str,
    /// Where the snapshots went.
    pub snapshots_dir: PathBuf,
    /// Where the segments went.
    pub clips_dir: PathBuf,
    /// Time and work.
    pub performance: Performance,
    /// Passages against the truth.
    pub score: Score,
}

/// What the run cost, and what the cascade ran and saved.
#[derive(Debug, Serialize)]
pub struct Performance {
    /// Seconds of video the pipeline read.
    pub video_s: f64,
    /// Wall seconds of the run (models loaded before).
    pub wall_s: f64,
    /// Real-time factor, `wall_s / video_s`: below 1 keeps up with a live camera.
    pub realtime_factor: Option<f64>,
    /// CPU time of the whole process over the run, ms.
    pub cpu_ms: f64,
    /// `cpu_ms / video_s`: CPU ms per camera-second.
    pub cpu_ms_per_video_s: Option<f64>,
    /// Frames decoded.
    pub frames_decoded: u64,
    /// Sampled frames that went to the detectors.
    pub frames_analysed: u64,
    /// Sampled frames the motion gate held back.
    pub frames_gated: u64,
    /// Frames the vehicle detector ran on.
    pub vehicle_passes: u64,
    /// Frames the plate step ran on.
    pub plate_passes: u64,
    /// Frames whose vehicles' plates were all settled: no plate step.
    pub plate_passes_saved: u64,
    /// Plate crops not read again because unchanged.
    pub reads_recalled: u64,
    /// Frames skipped because every vehicle in view was quiet.
    pub quiet_skipped: u64,
}

impl Performance {
    fn of(report: &IngestReport, wall_s: f64, cpu_ms: f64) -> Performance {
        let video_s = report.media_seconds;
        let per_video_s = |x: f64| (video_s > 0.0).then(|| x / video_s);
        let (s, a) = (&report.stats, &report.analysis);
        Performance {
            video_s,
            wall_s,
            realtime_factor: per_video_s(wall_s),
            cpu_ms,
            cpu_ms_per_video_s: per_video_s(cpu_ms),
            frames_decoded: s.frames_decoded,
            frames_analysed: s.frames_analysed,
            frames_gated: s.frames_gated,
            vehicle_passes: a.vehicle_passes,
            plate_passes: a.plate_passes,
            plate_passes_saved: a.plate_passes_saved,
            reads_recalled: a.reads_recalled,
            quiet_skipped: a.quiet_skipped,
        }
    }
}

/// Checks the truth against the video, runs the pipeline once or twice, prints the score.
pub fn run(globals: &Globals, args: &EvalVideoArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.truth)
        .with_context(|| format!("cannot read truth file {}", args.truth.display()))?;
    let truth =
        Truth::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", args.truth.display()))?;
    let probe = probe_file(&args.video)?;
    match probe.duration_s {
        Some(s) => truth
            .check_times(s)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.truth.display()))?,
        None => eprintln!(
            "matthan: {} does not say how long it is; truth times are checked after the run",
            args.video.display()
        ),
    }
    if let Some(f) = truth.frame.filter(|&f| f != probe.frame) {
        eprintln!(
            "matthan: the truth says the frame is {}x{}, the video's is {}x{}; positions are \
             normalised, so they are compared as they are",
            f.0, f.1, probe.frame.0, probe.frame.1
        );
    }
    let mut notes = Vec::new();
    if truth.vehicles.is_empty() {
        notes.push("no vehicles in the truth: recall undefined".to_string());
    }
    let base = std::env::temp_dir().join(format!("matthan-eval-video-{}", std::process::id()));
    let modes: &[bool] = match args.gating {
        Gating::On => &[true],
        Gating::Off => &[false],
        Gating::Both => &[true, false],
    };
    let mut runs = Vec::new();
    for &gating in modes {
        let name = if gating { "on" } else { "off" };
        let folder = |given: &Option<PathBuf>, what: &str| {
            let dir = given.clone().unwrap_or_else(|| base.join(what));
            if modes.len() > 1 {
                dir.join(format!("gating-{name}"))
            } else {
                dir
            }
        };
        let (snapshots_dir, clips_dir) = (
            folder(&args.snapshots, "snapshots"),
            folder(&args.clips, "clips"),
        );
        let settings = camera_settings(globals, args, &truth, gating, &snapshots_dir, &clips_dir)?;
        let (passages, performance) = run_once(settings, probe.frame)?;
        if probe.duration_s.is_none() {
            truth
                .check_times(performance.video_s)
                .map_err(|e| anyhow::anyhow!("{}: {e}", args.truth.display()))?;
        }
        runs.push(Run {
            gating: name,
            snapshots_dir,
            clips_dir,
            performance,
            score: score(&truth, &passages),
        });
    }
    let evaluation = Evaluation {
        video: args.video.clone(),
        video_s: probe.duration_s,
        frame: probe.frame,
        truth: args.truth.clone(),
        truth_vehicles: truth.vehicles.len(),
        notes,
        runs,
    };
    if args.json {
        println!("{}", serde_json::to_string(&evaluation)?);
    } else {
        print!("{}", table::render(&evaluation));
    }
    Ok(ExitCode::SUCCESS)
}

/// The settings `ingest` would use for this file without a config, with the truth's
/// geometry, the fixed start time, the gate as asked and the given folders.
fn camera_settings(
    globals: &Globals,
    args: &EvalVideoArgs,
    truth: &Truth,
    gating: bool,
    snapshots_dir: &Path,
    clips_dir: &Path,
) -> anyhow::Result<CameraSettings> {
    let start = DateTime::parse_from_rfc3339(VIDEO_START)?.to_utc();
    let mut cam = CameraConfig::named("eval");
    if let Some((x, y)) = truth.road_direction {
        cam.road_direction = [x, y];
    }
    cam.counting_line = truth.counting_line.map(|[a, b]| [[a.0, a.1], [b.0, b.1]]);
    let mut settings = CameraSettings::from_config(
        &Config::default(),
        &cam,
        SourceSpec::File(args.video.clone()),
        start,
        globals.recognizer(),
    );
    settings.motion.enabled = gating;
    if let Some(p) = &args.plates_in {
        settings.recognizer.plate_search = parse_plates_in(p)?;
    }
    settings.snapshots_dir = snapshots_dir.to_path_buf();
    settings.clips_dir = clips_dir.to_path_buf();
    Ok(settings)
}

/// Runs the pipeline over the whole file: its passages (in video seconds) and what the run
/// cost. The models are loaded first, so the figures cover the video work only.
fn run_once(
    mut settings: CameraSettings,
    frame: (u32, u32),
) -> anyhow::Result<(Vec<LoggedPassage>, Performance)> {
    let service = InferenceService::start(InferenceSettings::new(1, settings.recognizer.clone()))?;
    settings.inference = Some(service);
    let origin: DateTime<Utc> = settings.file_start;
    let origin_ms = origin.timestamp_millis();
    let (tx, rx) = crossbeam_channel::unbounded();
    let cpu_before = matthan::cpu::process_time();
    let started = Instant::now();
    let worker = std::thread::spawn(move || run_camera(settings, Shutdown::new(), tx));
    let mut passages = Vec::new();
    for event in rx {
        if let IngestEvent::Passage(p) = event {
            passages.push(LoggedPassage::from_passage(
                &p.passage,
                origin_ms,
                frame,
                p.snapshot_path.clone(),
            ));
        }
    }
    let report = worker
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))??;
    let wall_s = started.elapsed().as_secs_f64();
    let cpu_ms = matthan::cpu::ms_between(cpu_before, matthan::cpu::process_time());
    Ok((passages, Performance::of(&report, wall_s, cpu_ms)))
}
