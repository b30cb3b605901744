//! `matthan bench streams`: N camera pipelines at once on real videos, sharing one inference
//! service, with motion gating on and off side by side.
//!
//! Each run plays every camera's file as fast as the machine allows (nothing is dropped for a
//! file: stages wait for each other), so a camera's real-time factor (media seconds over wall
//! seconds) is the machine's capacity: N cameras keep real time when the slowest of them has
//! a factor of at least 1. A mode's runs stop at the first N that falls behind.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use matthan::cpu;
use matthan::infer::{InferenceService, InferenceSettings};
use matthan::pipeline::{run_camera, CameraSettings, IngestEvent, IngestReport, PipelineError};
use matthan::recognize::{RecognizerSettings, StageTimings};
use matthan::video::{Shutdown, SourceSpec};
use serde::Serialize;

/// Gating modes to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GatingChoice {
    /// Gating on.
    On,
    /// Every sampled frame analysed.
    Off,
    /// Both, side by side.
    Both,
}

/// What `bench streams` was asked.
pub struct StreamsBench {
    /// Videos, given to the cameras in turn.
    pub videos: Vec<PathBuf>,
    /// Camera counts to try, ascending.
    pub cameras: Vec<usize>,
    /// Modes.
    pub gating: GatingChoice,
    /// Analysis rate.
    pub fps: f64,
    /// Inference workers (0: one per core).
    pub workers: usize,
    /// Models and thresholds.
    pub recognizer: RecognizerSettings,
    /// Keep going after a run falls behind.
    pub all: bool,
}

/// One run's figures.
#[derive(Debug, Serialize)]
struct RunFigures {
    gating: bool,
    cameras: usize,
    /// Slowest camera's real-time factor.
    realtime_factor_min: f64,
    /// Mean of the cameras' real-time factors.
    realtime_factor_mean: f64,
    keeps_real_time: bool,
    media_seconds: f64,
    wall_seconds: f64,
    frames_decoded: u64,
    frames_analysed: u64,
    frames_gated: u64,
    frames_dropped: u64,
    passages: u64,
    plate_passes: u64,
    plate_passes_saved: u64,
    reads_recalled: u64,
    cpu_seconds: f64,
    /// CPU seconds per second of video per camera: 2.0 would fill both cores of this machine
    /// with one camera.
    cpu_per_camera_second: f64,
    peak_memory_mib: Option<f64>,
    /// Share of CPU time by stage, percent.
    cpu_share: CpuShare,
    /// Each recognizer stage's time per analysed frame, ms (wall time inside the workers,
    /// which run one intra-op thread each: their CPU time), so the plate detector is told
    /// apart from the line finding and OCR that share its CPU figure.
    stage_ms_per_frame: StageMs,
    /// Distinct plates logged, per video.
    plates: Vec<(String, Vec<String>)>,
}

/// Where the CPU time went, percent of the process's CPU time.
#[derive(Debug, Default, Serialize)]
struct CpuShare {
    /// Demuxing and recording segments.
    demux_record: f64,
    /// Decoding, motion gate, RGB conversion.
    decode_gate: f64,
    /// Vehicle detector (letterbox, model, decoding boxes).
    vehicle_detector: f64,
    /// Plate detector, line finding and OCR.
    plate_reading: f64,
    /// Tracking, snapshots, events.
    tracking: f64,
    /// Everything else: model warm-up, thread start, event handling, the kernel.
    other: f64,
}

/// Recognizer stage times per analysed frame, ms.
#[derive(Debug, Serialize)]
struct StageMs {
    /// Vehicle detector (letterbox, model, decoding boxes).
    vehicle_detector: f64,
    /// Plate detector (letterbox, model, decoding boxes), on the frames with a plate pass.
    plate_detector: f64,
    /// Text-line finding.
    lines: f64,
    /// Text reading and grammar.
    ocr: f64,
}

/// Runs the bench and prints a table (stderr) and the figures as JSON (stdout).
pub fn run(b: &StreamsBench) -> anyhow::Result<()> {
    for v in &b.videos {
        anyhow::ensure!(v.is_file(), "{} is not a file", v.display());
    }
    let modes: Vec<bool> = match b.gating {
        GatingChoice::On => vec![true],
        GatingChoice::Off => vec![false],
        GatingChoice::Both => vec![true, false],
    };
    let most = b.cameras.iter().copied().max().unwrap_or(1);
    let service = InferenceService::start(InferenceSettings::new(b.workers, b.recognizer.clone()))
        .context("loading the models")?;
    eprintln!(
        "bench streams: {} video(s), up to {most} camera(s), {} inference worker(s), {} fps",
        b.videos.len(),
        service.workers(),
        b.fps
    );
    let scratch = std::env::temp_dir().join(format!("matthan-streams-{}", std::process::id()));
    let mut all = Vec::new();
    for &gating in &modes {
        for &n in &b.cameras {
            let figures = one_run(b, &service, gating, n, &scratch)?;
            eprintln!("{}", table_row(&figures));
            let behind = !figures.keeps_real_time;
            all.push(figures);
            if behind && !b.all {
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    eprintln!();
    for &gating in &modes {
        let best = all
            .iter()
            .filter(|f| f.gating == gating && f.keeps_real_time)
            .map(|f| f.cameras)
            .max();
        eprintln!(
            "largest N in real time, gating {}: {}",
            if gating { "on " } else { "off" },
            best.map_or("none of those tried".to_string(), |n| n.to_string())
        );
    }
    println!("{}", serde_json::to_string_pretty(&all)?);
    Ok(())
}

fn table_row(f: &RunFigures) -> String {
    format!(
        "gating {:3} N={:<2} rtf min {:5.2} mean {:5.2} | frames decoded {:6} analysed {:5} gated \
         {:6} dropped {} | passages {:3} | cpu {:6.1} s ({:.3}/cam-s) | peak {:.0} MiB | cpu%: \
         demux {:.0} decode+gate {:.0} vehicles {:.0} plates {:.0} tracking {:.0} other {:.0} | \
         ms/analysed frame: vehicle det {:.1} plate det {:.1} lines {:.1} ocr {:.1}",
        if f.gating { "on" } else { "off" },
        f.cameras,
        f.realtime_factor_min,
        f.realtime_factor_mean,
        f.frames_decoded,
        f.frames_analysed,
        f.frames_gated,
        f.frames_dropped,
        f.passages,
        f.cpu_seconds,
        f.cpu_per_camera_second,
        f.peak_memory_mib.unwrap_or(0.0),
        f.cpu_share.demux_record,
        f.cpu_share.decode_gate,
        f.cpu_share.vehicle_detector,
        f.cpu_share.plate_reading,
        f.cpu_share.tracking,
        f.cpu_share.other,
        f.stage_ms_per_frame.vehicle_detector,
        f.stage_ms_per_frame.plate_detector,
        f.stage_ms_per_frame.lines,
        f.stage_ms_per_frame.ocr,
    )
}

/// A camera of a run: the video it plays, its pipeline thread, and the thread collecting the
/// plates it logs.
type RunningCamera = (
    PathBuf,
    std::thread::JoinHandle<Result<IngestReport, PipelineError>>,
    std::thread::JoinHandle<BTreeSet<String>>,
);

/// One run: `n` cameras at once on `service`, gating on or off; its figures.
fn one_run(
    b: &StreamsBench,
    service: &Arc<InferenceService>,
    gating: bool,
    n: usize,
    scratch: &Path,
) -> anyhow::Result<RunFigures> {
    let run_dir = scratch.join(format!("{}-{n}", if gating { "on" } else { "off" }));
    cpu::reset_peak_memory();
    let cpu_before = cpu::process_time();
    let started = Instant::now();
    let workers = start_cameras(b, service, gating, n, &run_dir);
    let (reports, plates) = join_cameras(workers)?;
    let wall = started.elapsed().as_secs_f64();
    let cpu_ms = cpu::ms_between(cpu_before, cpu::process_time());
    let _ = std::fs::remove_dir_all(&run_dir);
    Ok(figures(gating, &reports, plates, wall, cpu_ms))
}

/// Starts `n` cameras on the shared `service`, camera i playing video i mod their number.
fn start_cameras(
    b: &StreamsBench,
    service: &Arc<InferenceService>,
    gating: bool,
    n: usize,
    run_dir: &Path,
) -> Vec<RunningCamera> {
    let mut workers = Vec::new();
    for i in 0..n {
        let video = b.videos[i % b.videos.len()].clone();
        let mut settings = CameraSettings::new(
            &format!("cam{i:02}"),
            SourceSpec::File(video.clone()),
            run_dir,
            b.recognizer.clone(),
        );
        settings.analysis_fps = b.fps;
        settings.motion.enabled = gating;
        settings.inference = Some(service.clone());
        let (tx, rx) = crossbeam_channel::unbounded();
        let plates = std::thread::spawn(move || {
            let mut plates = BTreeSet::new();
            for e in rx {
                if let IngestEvent::Passage(p) = e {
                    if let Some(v) = &p.passage.plate {
                        plates.insert(v.key.to_string());
                    }
                }
            }
            plates
        });
        let camera = std::thread::spawn(move || run_camera(settings, Shutdown::new(), tx));
        workers.push((video, camera, plates));
    }
    workers
}

/// Distinct plate keys logged, per video file name.
type PlatesPerVideo = Vec<(String, BTreeSet<String>)>;

/// Waits for every camera; their reports, and the plates logged per video file.
fn join_cameras(
    workers: Vec<RunningCamera>,
) -> anyhow::Result<(Vec<IngestReport>, PlatesPerVideo)> {
    let mut reports: Vec<IngestReport> = Vec::new();
    let mut plates: PlatesPerVideo = Vec::new();
    for (video, camera, found) in workers {
        let report = camera
            .join()
            .map_err(|_| anyhow::anyhow!("a camera thread panicked"))??;
        let found = found.join().unwrap_or_default();
        let name = video
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        match plates.iter_mut().find(|(v, _)| *v == name) {
            Some((_, set)) => set.extend(found),
            None => plates.push((name, found)),
        }
        reports.push(report);
    }
    Ok((reports, plates))
}

/// A run's figures from its cameras' reports, its wall time and the process's CPU time.
fn figures(
    gating: bool,
    reports: &[IngestReport],
    plates: PlatesPerVideo,
    wall: f64,
    cpu_ms: f64,
) -> RunFigures {
    let sum = |f: &dyn Fn(&IngestReport) -> f64| reports.iter().map(f).sum::<f64>();
    let count = |f: &dyn Fn(&IngestReport) -> u64| reports.iter().map(f).sum::<u64>();
    let rtfs: Vec<f64> = reports.iter().map(|r| r.realtime_factor).collect();
    let rtf_min = rtfs.iter().copied().fold(f64::INFINITY, f64::min);
    let media = sum(&|r| r.media_seconds);
    let share = |ms: f64| {
        if cpu_ms > 0.0 {
            100.0 * ms / cpu_ms
        } else {
            0.0
        }
    };
    let demux = sum(&|r| r.cpu.reader_ms);
    let decode = sum(&|r| r.cpu.decoder_ms);
    let vehicles = sum(&|r| r.analysis.vehicles_cpu_ms);
    let plate_ms = sum(&|r| r.analysis.plates_cpu_ms);
    let tracking = sum(&|r| r.cpu.analysis_ms);
    let analysed = count(&|r| r.stats.frames_analysed).max(1) as f64;
    let per_frame =
        |stage: &dyn Fn(&StageTimings) -> f64| sum(&|r| stage(&r.analysis.stages)) / analysed;
    let other = (cpu_ms - demux - decode - vehicles - plate_ms - tracking).max(0.0);
    RunFigures {
        gating,
        cameras: reports.len(),
        realtime_factor_min: rtf_min,
        realtime_factor_mean: rtfs.iter().sum::<f64>() / rtfs.len().max(1) as f64,
        keeps_real_time: rtf_min >= 1.0,
        media_seconds: media,
        wall_seconds: wall,
        frames_decoded: count(&|r| r.stats.frames_decoded),
        frames_analysed: count(&|r| r.stats.frames_analysed),
        frames_gated: count(&|r| r.stats.frames_gated),
        frames_dropped: count(&|r| r.stats.frames_dropped),
        passages: count(&|r| r.passages),
        plate_passes: count(&|r| r.analysis.plate_passes),
        plate_passes_saved: count(&|r| r.analysis.plate_passes_saved),
        reads_recalled: count(&|r| r.analysis.reads_recalled),
        cpu_seconds: cpu_ms / 1000.0,
        cpu_per_camera_second: if media > 0.0 {
            cpu_ms / 1000.0 / media
        } else {
            0.0
        },
        peak_memory_mib: cpu::peak_memory_mib(),
        cpu_share: CpuShare {
            demux_record: share(demux),
            decode_gate: share(decode),
            vehicle_detector: share(vehicles),
            plate_reading: share(plate_ms),
            tracking: share(tracking),
            other: share(other),
        },
        stage_ms_per_frame: StageMs {
            vehicle_detector: per_frame(&|t| t.vehicles_ms),
            plate_detector: per_frame(&|t| t.plates_ms),
            lines: per_frame(&|t| t.lines_ms),
            ocr: per_frame(&|t| t.ocr_ms),
        },
        plates: plates
            .into_iter()
            .map(|(v, set)| (v, set.into_iter().collect()))
            .collect(),
    }
}
