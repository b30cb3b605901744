//! The `matthan` command line: read images, evaluate the recognizer, and (as the pipeline
//! grows) ingest video, serve the API and run the demo.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use matthan::config::{CameraConfig, Config};
use matthan::eval;
use matthan::pipeline::{run_camera, CameraSettings, IngestEvent};
use matthan::recognize::{runtime, Recognizer, RecognizerSettings};
use matthan::track::{CameraGeometry, TrackerSettings};
use matthan::video::source::ReconnectPolicy;
use matthan::video::{Shutdown, SourceSpec};

#[derive(Parser)]
#[command(
    name = "matthan",
    version,
    about = "Road cameras to a searchable vehicle and licence-plate log"
)]
struct Cli {
    /// Directory with the pinned models (default: $MATTHAN_MODELS, else ./models).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// Intra-op threads for the detectors (default: number of cores, at most 4).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read vehicles and plates in images; prints one JSON object per image.
    Read {
        /// Image files (JPEG, PNG, BMP).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Only plates that fit the Vietnamese grammar.
        #[arg(long)]
        strict: bool,
    },
    /// Score the recognizer on a folder with labels.csv.
    Eval {
        /// Folder with images and labels.csv (file,plate,x,y,w,h).
        dir: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Include per-image detail in the JSON.
        #[arg(long)]
        detail: bool,
        /// Also run the vehicle detector on every image (it is not scored; by default eval
        /// times the plate reader alone, like for like with a plate-only pipeline).
        #[arg(long)]
        vehicles: bool,
    },
    /// Check the model files against models/MODELS.lock.
    Models,
    /// Measure ingest throughput on a video file: once recording and decoding only (no
    /// analysis), once with analysis at --fps. Prints frames/s and real-time factors as JSON.
    Bench {
        /// A video file, e.g. 1080p25 H.264.
        video: PathBuf,
        /// Analysis rate for the second run.
        #[arg(long, default_value_t = 5.0)]
        fps: f64,
    },
    /// Ingest one camera (file or rtsp:// URL): record MP4 segments, track vehicles, print
    /// clip segments and passages as JSON lines on stdout; a summary goes to stderr.
    Ingest {
        /// Camera name (its settings come from --config when listed there).
        #[arg(long)]
        camera: String,
        /// TOML config with storage, analysis, junctions and cameras.
        #[arg(long)]
        config: Option<PathBuf>,
        /// File path or stream URL (default: the camera's `source` in the config).
        source: Option<String>,
        /// Wall-clock time of a file's first frame, RFC 3339 (default: now).
        #[arg(long)]
        start: Option<String>,
        /// Segment length in seconds (overrides the config).
        #[arg(long)]
        segment_len: Option<u32>,
        /// Frames analysed per second (overrides the config).
        #[arg(long)]
        fps: Option<f64>,
        /// Folder for MP4 segments (overrides the config).
        #[arg(long)]
        clips: Option<PathBuf>,
        /// Folder for snapshots (overrides the config).
        #[arg(long)]
        snapshots: Option<PathBuf>,
        /// Give up on a live source after this many failed connection attempts in a row.
        #[arg(long)]
        max_retries: Option<u32>,
        /// Output: JSON lines (default) or one readable line per event.
        #[arg(long, value_enum, default_value_t = OutputFormat::Json)]
        format: OutputFormat,
    },
    /// What the demo does (`make demo` runs it).
    Demo,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("matthan: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> RecognizerSettings {
    let dir = cli
        .models
        .clone()
        .unwrap_or_else(runtime::default_model_dir);
    let mut s = RecognizerSettings::with_model_dir(dir);
    if let Some(t) = cli.threads {
        s.detector_threads = t.max(1);
    }
    s
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Read { images, strict } => {
            let mut s = settings(&cli);
            s.decode.strict = *strict;
            let mut recognizer = Recognizer::load(s)?;
            let mut failed = 0;
            let stdout = std::io::stdout();
            for path in images {
                let line = match recognizer.recognize_file(path) {
                    Ok(r) => serde_json::json!({ "image": path, "result": r }),
                    Err(e) => {
                        failed += 1;
                        eprintln!("matthan: {e}");
                        serde_json::json!({ "image": path, "error": e.to_string() })
                    }
                };
                writeln!(stdout.lock(), "{line}")?;
            }
            Ok(if failed > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Eval {
            dir,
            json,
            detail,
            vehicles,
        } => {
            let mut s = settings(&cli);
            s.find_vehicles = *vehicles;
            let mut recognizer = Recognizer::load(s)?;
            let total = eval::read_labels(dir)?.len();
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} images [{elapsed}] {wide_bar}")
                    .context("progress style")?,
            );
            let mut report = eval::evaluate(&mut recognizer, dir, |n| bar.set_position(n as u64))?;
            bar.finish_and_clear();
            if *json {
                if !*detail {
                    report.per_image.clear();
                }
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_table(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Ingest {
            camera,
            config,
            source,
            start,
            segment_len,
            fps,
            clips,
            snapshots,
            max_retries,
            format,
        } => {
            let cfg = match config {
                Some(path) => Config::load(path)?,
                None => Config::default(),
            };
            let cam = cfg
                .camera(camera)
                .cloned()
                .unwrap_or_else(|| CameraConfig::named(camera));
            let source = source.clone().or(cam.source.clone()).context(
                "no source: give a file or URL, or set `source` for the camera in the config",
            )?;
            let file_start = match start {
                Some(s) => chrono::DateTime::parse_from_rfc3339(s)
                    .with_context(|| format!("--start {s:?} is not an RFC 3339 time"))?
                    .to_utc(),
                None => chrono::Utc::now(),
            };
            let reconnect = ReconnectPolicy {
                max_attempts: *max_retries,
                ..Default::default()
            };
            let settings = CameraSettings {
                name: cam.name.clone(),
                source: SourceSpec::parse(&source),
                file_start,
                clips_dir: clips.clone().unwrap_or_else(|| cfg.storage.clips_dir()),
                snapshots_dir: snapshots
                    .clone()
                    .unwrap_or_else(|| cfg.storage.snapshots_dir()),
                segment_len_ms: i64::from(
                    segment_len.unwrap_or(cfg.storage.segment_len_sec).max(2),
                ) * 1000,
                analysis_fps: fps.unwrap_or(cfg.analysis.fps),
                queue_frames: cfg.analysis.queue_frames,
                decoder_threads: cfg.analysis.decoder_threads,
                geometry: CameraGeometry {
                    road_direction: (cam.road_direction[0], cam.road_direction[1]),
                    counting_line: cam.counting_line.map(|[a, b]| [(a[0], a[1]), (b[0], b[1])]),
                },
                tracker: TrackerSettings::default(),
                recognizer: settings(&cli),
                reconnect,
            };
            let shutdown = Shutdown::new();
            {
                let shutdown = shutdown.clone();
                ctrlc::set_handler(move || shutdown.trigger())
                    .context("installing Ctrl-C handler")?;
            }
            let (tx, rx) = crossbeam_channel::unbounded();
            let worker = std::thread::spawn(move || run_camera(settings, shutdown, tx));
            let stdout = std::io::stdout();
            for event in rx {
                let mut out = stdout.lock();
                match format {
                    OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&event)?)?,
                    OutputFormat::Text => writeln!(out, "{}", describe(&event))?,
                }
                out.flush()?;
            }
            let report = worker
                .join()
                .map_err(|_| anyhow::anyhow!("ingest thread panicked"))??;
            eprintln!("{}", serde_json::to_string(&report)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { video, fps } => {
            let scratch =
                std::env::temp_dir().join(format!("matthan-bench-{}", std::process::id()));
            let mut results = Vec::new();
            for (label, rate) in [
                ("decode_and_record", 0.0),
                ("decode_record_and_analyse", *fps),
            ] {
                let settings = CameraSettings {
                    name: "bench".into(),
                    source: SourceSpec::File(video.clone()),
                    file_start: chrono::Utc::now(),
                    clips_dir: scratch.join("clips"),
                    snapshots_dir: scratch.join("snapshots"),
                    segment_len_ms: 60_000,
                    analysis_fps: rate,
                    queue_frames: 4,
                    decoder_threads: 1,
                    geometry: CameraGeometry {
                        road_direction: (0.0, 1.0),
                        counting_line: None,
                    },
                    tracker: TrackerSettings::default(),
                    recognizer: settings(&cli),
                    reconnect: ReconnectPolicy::default(),
                };
                let (tx, rx) = crossbeam_channel::unbounded();
                let drain = std::thread::spawn(move || rx.iter().count());
                let report = run_camera(settings, Shutdown::new(), tx)?;
                let _ = drain.join();
                let decoded_fps =
                    report.stats.frames_decoded as f64 / report.wall_seconds.max(1e-9);
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Models => {
            let dir = settings(&cli).model_dir;
            runtime::verify_model_dir(&dir)?;
            println!("models in {} match MODELS.lock", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            println!(
                "`make demo` makes a video from the Vietnamese eval photos (scripts/make-test-video), \
                 ingests it as camera `demo` (MP4 segments under var/clips, snapshots under var/snapshots) \
                 and prints each passage.\nThe PostgreSQL log, search API and web page come next."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// How `ingest` prints events.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum OutputFormat {
    /// One JSON object per line.
    Json,
    /// One readable line per event, times in Asia/Ho_Chi_Minh (UTC+7).
    Text,
}

/// A readable line for an event.
fn describe(event: &IngestEvent) -> String {
    let local = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    match event {
        IngestEvent::Clip(c) => format!(
            "clip     {} → {}  {}  {} bytes  sha256 {}",
            c.started_at
                .with_timezone(&local)
                .format("%Y-%m-%d %H:%M:%S%.3f"),
            c.ended_at.with_timezone(&local).format("%H:%M:%S%.3f"),
            c.path.display(),
            c.bytes,
            &c.sha256[..16.min(c.sha256.len())]
        ),
        IngestEvent::Passage(p) => {
            let plate = p
                .passage
                .plate
                .as_ref()
                .map(|v| format!("{:<14} ({:.2}, {} reads)", v.display, v.confidence, v.reads))
                .unwrap_or_else(|| "no plate read".into());
            format!(
                "passage  {}  {:<9}  {}  {:?}{}  clip {} +{} ms  snapshot {}",
                p.best_at
                    .with_timezone(&local)
                    .format("%Y-%m-%d %H:%M:%S%.3f"),
                p.passage.vehicle_class.as_str(),
                plate,
                p.passage.direction,
                if p.passage.crossed_line {
                    ", crossed line"
                } else {
                    ""
                },
                p.clip_path
                    .as_ref()
                    .map_or("-".into(), |c| c.display().to_string()),
                p.clip_offset_ms.unwrap_or(0),
                p.snapshot_path
                    .as_ref()
                    .map_or("-".into(), |c| c.display().to_string()),
            )
        }
    }
}

fn print_table(r: &eval::EvalReport) {
    for o in &r.per_image {
        if let Some(e) = &o.error {
            println!("  ERROR {}: {e}", o.file);
        } else if o.exact < o.labels.len() {
            println!(
                "  miss  {}: labels {:?} read {:?}",
                o.file, o.labels, o.reads
            );
        }
    }
    println!(
        "vehicle detector  {}",
        if r.vehicles {
            "on"
        } else {
            "off (plates only)"
        }
    );
    println!("images            {}", r.images);
    println!("labelled plates   {}", r.plates);
    println!("exact             {}", r.exact);
    println!("recall            {:.3}", r.recall);
    println!("unmatched reads   {}", r.unmatched_reads);
    println!("unreadable images {}", r.unreadable_images);
    println!("ms per image      {:.1}", r.ms_per_image);
    let s = &r.stages_ms;
    println!(
        "stages (ms)       decode {:.1}  vehicles {:.1}  plates {:.1}  lines {:.1}  ocr {:.1}  recognize {:.1}",
        s.image_decode_ms,
        s.recognizer.vehicles_ms,
        s.recognizer.plates_ms,
        s.recognizer.lines_ms,
        s.recognizer.ocr_ms,
        s.recognizer.total_ms
    );
}
