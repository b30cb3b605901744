//! The `matthan` command line: read images, evaluate the recognizer, and (as the pipeline
//! grows) ingest video, serve the API and run the demo.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use matthan::api::{self, AppState};
use matthan::config::{CameraConfig, Config};
use matthan::eval;
use matthan::infer::{InferenceService, InferenceSettings};
use matthan::motion::MotionSettings;
use matthan::pipeline::{run_camera, write_item, CameraBoard, CameraSettings, IngestEvent};
use matthan::recognize::{runtime, Recognizer, RecognizerSettings};
use matthan::store::query;
use matthan::store::writer::{WriterCounters, WriterInput};
use matthan::store::{Database, WriteItem, Writer, WriterSettings, WriterStats};
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
    /// PostgreSQL to log into (URL or key=value string). Without it, matthan runs its own
    /// private cluster under the state directory.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

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
        /// Where the plate detector looks: `frame` (whole image) or `vehicles` (inside each
        /// vehicle found; implies --vehicles).
        #[arg(long, default_value = "frame")]
        plates_in: String,
    },
    /// Check the model files against models/MODELS.lock.
    Models,
    /// Measure throughput on real video.
    Bench {
        /// Which bench.
        #[command(subcommand)]
        what: BenchCommand,
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
        /// Only print events; do not write them to the database.
        #[arg(long)]
        no_store: bool,
    },
    /// Apply pending database migrations (they are also applied at every start).
    Migrate {
        /// TOML config (for the state directory of the private cluster).
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Serve the API and the web page, and record and analyse the config's live (rtsp://,
    /// http://...) cameras into the log. Files are ingested with `ingest`.
    Serve {
        /// TOML config with storage, junctions and cameras.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Folder of the web page (default: ./web).
        #[arg(long)]
        web: Option<PathBuf>,
        /// Do not run the config's live cameras (serve the log only).
        #[arg(long)]
        no_cameras: bool,
    },
    /// Manage the people who may use the API.
    User {
        #[command(subcommand)]
        action: UserAction,
        /// TOML config (for the state directory of the private cluster).
        #[arg(long, global = true)]
        config: Option<PathBuf>,
    },
    /// The demo: videos made from the eval photos are ingested as two cameras at two
    /// junctions into the log, then the page is served (`make demo` runs it).
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Folder with the eval photos (default: $MATTHAN_EVAL_DIR, else ../shared/eval).
        #[arg(long)]
        photos: Option<PathBuf>,
        /// Ingest only; do not serve afterwards.
        #[arg(long)]
        no_serve: bool,
    },
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
            plates_in,
        } => {
            let mut s = settings(&cli);
            s.plate_search = parse_plates_in(plates_in)?;
            s.find_vehicles =
                *vehicles || s.plate_search == matthan::recognize::PlateSearch::Vehicles;
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
            no_store,
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
            let mut settings =
                camera_settings(&cli, &cfg, &cam, SourceSpec::parse(&source), file_start);
            settings.reconnect = reconnect;
            if let Some(dir) = clips {
                settings.clips_dir = dir.clone();
            }
            if let Some(dir) = snapshots {
                settings.snapshots_dir = dir.clone();
            }
            if let Some(len) = segment_len {
                settings.segment_len_ms = i64::from((*len).max(2)) * 1000;
            }
            if let Some(fps) = fps {
                settings.analysis_fps = *fps;
            }
            let shutdown = Shutdown::new();
            {
                let shutdown = shutdown.clone();
                ctrlc::set_handler(move || shutdown.trigger())
                    .context("installing Ctrl-C handler")?;
            }
            let log = if *no_store {
                None
            } else {
                Some(LogConnection::open(&cfg, cli.database_url.as_deref())?)
            };
            let has_line = cam.counting_line.is_some();
            let (tx, rx) = crossbeam_channel::unbounded();
            let worker = std::thread::spawn(move || run_camera(settings, shutdown, tx));
            let stdout = std::io::stdout();
            let mut write_error = None;
            for event in rx {
                {
                    let mut out = stdout.lock();
                    match format {
                        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(&event)?)?,
                        OutputFormat::Text => writeln!(out, "{}", describe(&event))?,
                    }
                    out.flush()?;
                }
                if let Some(log) = &log {
                    if let Err(e) = log.send(write_item(&event, has_line)) {
                        write_error.get_or_insert(e);
                    }
                }
            }
            let report = worker
                .join()
                .map_err(|_| anyhow::anyhow!("ingest thread panicked"));
            let written = log.map(LogConnection::close);
            let report = report??;
            eprintln!("{}", serde_json::to_string(&report)?);
            if let Some(stats) = written {
                eprintln!("{}", serde_json::json!({ "database": stats }));
                if stats.in_spool > 0 {
                    eprintln!(
                        "matthan: the database did not come back: {} record(s) are safe in {} and \
                         are written by the next run (ingest or serve) with this state folder",
                        stats.in_spool,
                        cfg.storage.state_dir.join("spool").display()
                    );
                }
            }
            if let Some(e) = write_error {
                return Err(e);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what:
                BenchCommand::Streams {
                    cameras,
                    gating,
                    fps,
                    workers,
                    plates_in,
                    all,
                    videos,
                },
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
            bench::run(&bench::StreamsBench {
                videos: videos.clone(),
                cameras,
                gating: *gating,
                fps: *fps,
                workers: *workers,
                recognizer: RecognizerSettings {
                    plate_search: parse_plates_in(plates_in)?,
                    ..settings(&cli)
                },
                all: *all,
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench {
            what: BenchCommand::Ingest { video, fps },
        } => {
            let scratch =
                std::env::temp_dir().join(format!("matthan-bench-{}", std::process::id()));
            let mut results = Vec::new();
            for (label, rate) in [
                ("decode_and_record", 0.0),
                ("decode_record_and_analyse", *fps),
            ] {
                let mut settings = CameraSettings::new(
                    "bench",
                    SourceSpec::File(video.clone()),
                    &scratch,
                    settings(&cli),
                );
                settings.analysis_fps = rate;
                settings.motion.enabled = false;
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
        Command::Migrate { config } => {
            let cfg = load_config(config.as_deref())?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let db =
                    Database::open(cli.database_url.as_deref(), &cfg.storage.state_dir).await?;
                // `open` applied whatever was pending; report the state.
                let client = db.store.client().await?;
                let rows = client
                    .query(
                        "SELECT name, applied_at FROM schema_migrations ORDER BY name",
                        &[],
                    )
                    .await?;
                for r in rows {
                    let at: chrono::DateTime<chrono::Utc> = r.get(1);
                    println!("{}  applied {}", r.get::<_, String>(0), at.to_rfc3339());
                }
                drop(client);
                println!("database: {}", db.description);
                db.close().await;
                anyhow::Ok(())
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve {
            config,
            listen,
            web,
            no_cameras,
        } => {
            let cfg = load_config(config.as_deref())?;
            let rt = tokio::runtime::Runtime::new()?;
            rt.block_on(async {
                let db =
                    Database::open(cli.database_url.as_deref(), &cfg.storage.state_dir).await?;
                let client = db.store.client().await?;
                query::sync_config(&client, &cfg).await?;
                drop(client);
                // Live cameras of the config are recorded and analysed while serving.
                let writer = Writer::start(db.store.clone(), writer_settings(&cfg));
                let shutdown = Shutdown::new();
                let board = Arc::new(CameraBoard::default());
                let cameras = if *no_cameras {
                    Vec::new()
                } else {
                    run_live_cameras(&cli, &cfg, &writer.input(), &shutdown, &board)
                };
                let web = web.clone().unwrap_or_else(api::default_web_dir);
                let served = serve_until_ctrl_c(
                    &db,
                    &cfg,
                    listen,
                    &web,
                    Some(writer.counters()),
                    Some(board),
                )
                .await;
                shutdown.trigger();
                tokio::task::block_in_place(|| {
                    for c in cameras {
                        let _ = c.join();
                    }
                });
                let stats = writer.close().await;
                tracing::info!("log: {stats:?}");
                db.close().await;
                served
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { action, config } => {
            let cfg = load_config(config.as_deref())?;
            user_command(&cli, &cfg, action)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            listen,
            photos,
            no_serve,
        } => {
            demo::run(&cli, listen, photos.as_deref(), *no_serve)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[path = "cli/demo.rs"]
mod demo;

#[path = "cli/bench.rs"]
mod bench;
use bench::GatingChoice;

/// `frame` or `vehicles`.
fn parse_plates_in(s: &str) -> anyhow::Result<matthan::recognize::PlateSearch> {
    match s {
        "frame" => Ok(matthan::recognize::PlateSearch::Frame),
        "vehicles" => Ok(matthan::recognize::PlateSearch::Vehicles),
        other => anyhow::bail!("--plates-in must be `frame` or `vehicles`, got {other:?}"),
    }
}

fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

/// The log as the ingest side uses it: its own runtime, the database, and a batched writer.
struct LogConnection {
    /// Runs the writer task and the database calls.
    rt: tokio::runtime::Runtime,
    /// The database (and private cluster).
    db: Database,
    /// The writer task.
    writer: Writer,
    /// Where events go.
    input: WriterInput,
}

impl LogConnection {
    /// Opens the database, syncs the config's junctions and cameras, starts the writer.
    fn open(cfg: &Config, url: Option<&str>) -> anyhow::Result<LogConnection> {
        let rt = tokio::runtime::Runtime::new()?;
        let (db, writer) = rt.block_on(async {
            let db = Database::open(url, &cfg.storage.state_dir).await?;
            let client = db.store.client().await?;
            query::sync_config(&client, cfg).await?;
            drop(client);
            let writer = Writer::start(db.store.clone(), writer_settings(cfg));
            anyhow::Ok((db, writer))
        })?;
        let input = writer.input();
        Ok(LogConnection {
            rt,
            db,
            writer,
            input,
        })
    }

    /// Queues a record (waits while the writer is behind).
    fn send(&self, item: WriteItem) -> anyhow::Result<()> {
        Ok(self.input.blocking_send(item)?)
    }

    /// Writes what is queued, stops the writer and the private cluster.
    fn close(self) -> WriterStats {
        let LogConnection {
            rt,
            db,
            writer,
            input,
        } = self;
        drop(input);
        rt.block_on(async {
            let stats = writer.close().await;
            db.close().await;
            stats
        })
    }
}

/// Settings for camera `cam` of `cfg` reading `source`, from the config's defaults.
/// Shared by `ingest`, `serve` and `demo`.
fn camera_settings(
    cli: &Cli,
    cfg: &Config,
    cam: &CameraConfig,
    source: SourceSpec,
    file_start: chrono::DateTime<chrono::Utc>,
) -> CameraSettings {
    CameraSettings {
        name: cam.name.clone(),
        source,
        file_start,
        clips_dir: cfg.storage.clips_dir(),
        snapshots_dir: cfg.storage.snapshots_dir(),
        segment_len_ms: i64::from(cfg.storage.segment_len_sec.max(2)) * 1000,
        analysis_fps: cfg.analysis.fps,
        queue_frames: cfg.analysis.queue_frames,
        decoder_threads: cfg.analysis.decoder_threads,
        geometry: CameraGeometry {
            road_direction: (cam.road_direction[0], cam.road_direction[1]),
            counting_line: cam.counting_line.map(|[a, b]| [(a[0], a[1]), (b[0], b[1])]),
        },
        tracker: TrackerSettings::default(),
        recognizer: RecognizerSettings {
            plate_search: cfg.analysis.plates_in,
            ..settings(cli)
        },
        reconnect: ReconnectPolicy::default(),
        motion: MotionSettings {
            mask: [cfg.analysis.motion.mask.clone(), cam.motion_mask.clone()].concat(),
            ..cfg.analysis.motion.clone()
        },
        inference: None,
        counters: None,
    }
}

/// Starts every enabled camera of `cfg` whose source is live; each feeds `input` until
/// `shutdown`. A camera that fails is logged; the others go on.
fn run_live_cameras(
    cli: &Cli,
    cfg: &Config,
    input: &WriterInput,
    shutdown: &Shutdown,
    board: &Arc<CameraBoard>,
) -> Vec<std::thread::JoinHandle<()>> {
    let mut handles = Vec::new();
    let live: Vec<&CameraConfig> = cfg
        .cameras
        .iter()
        .filter(|c| {
            c.enabled
                && c.source
                    .as_deref()
                    .is_some_and(|s| SourceSpec::parse(s).is_live())
        })
        .collect();
    // One set of models for all cameras, sized to the machine.
    let inference = if live.is_empty() {
        None
    } else {
        let service_settings = InferenceSettings::new(
            cfg.analysis.workers.unwrap_or(0).min(live.len()),
            RecognizerSettings {
                plate_search: cfg.analysis.plates_in,
                ..settings(cli)
            },
        );
        match InferenceService::start(service_settings) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("cameras not started: {e}");
                return handles;
            }
        }
    };
    for cam in cfg.cameras.iter().filter(|c| c.enabled) {
        let Some(source) = cam.source.as_deref() else {
            continue;
        };
        let spec = SourceSpec::parse(source);
        if !spec.is_live() {
            tracing::warn!(
                "camera {}: {source} is a file; serve runs live cameras only (use `matthan ingest`)",
                cam.name
            );
            continue;
        }
        let mut settings = camera_settings(cli, cfg, cam, spec, chrono::Utc::now());
        settings.inference = inference.clone();
        settings.counters = Some(board.register(&cam.name));
        let (input, shutdown) = (input.clone(), shutdown.clone());
        let (name, has_line) = (cam.name.clone(), cam.counting_line.is_some());
        let spawned = std::thread::Builder::new()
            .name(format!("camera-{name}"))
            .spawn(move || {
                let (tx, rx) = crossbeam_channel::unbounded();
                let worker = std::thread::spawn(move || run_camera(settings, shutdown, tx));
                for event in rx {
                    if let Err(e) = input.blocking_send(write_item(&event, has_line)) {
                        tracing::error!("camera {name}: {e}");
                        break;
                    }
                }
                match worker.join() {
                    Ok(Ok(report)) => tracing::info!("camera {name} stopped: {report:?}"),
                    Ok(Err(e)) => tracing::error!("camera {name} stopped: {e}"),
                    Err(_) => tracing::error!("camera {name}: worker panicked"),
                }
            });
        match spawned {
            Ok(h) => handles.push(h),
            Err(e) => tracing::error!("camera {}: cannot start: {e}", cam.name),
        }
    }
    handles
}

/// Serves the API on `listen` until Ctrl-C.
async fn serve_until_ctrl_c(
    db: &Database,
    cfg: &Config,
    listen: &str,
    web: &std::path::Path,
    writer: Option<std::sync::Arc<WriterCounters>>,
    cameras: Option<Arc<CameraBoard>>,
) -> anyhow::Result<()> {
    let state = AppState::new(
        db.store.clone(),
        &cfg.storage.clips_dir(),
        &cfg.storage.snapshots_dir(),
        &cfg.storage.state_dir.join("exports"),
        web,
        writer,
    )
    .context("preparing storage folders")?;
    if let Some(board) = cameras {
        state.metrics.set_cameras(board);
    }
    let mut background = tokio::task::JoinSet::new();
    background.spawn(state.alerts.clone().listen(db.store.clone()));
    if let Some(url) = &cfg.alerts.webhook_url {
        background.spawn(matthan::alerts::run_webhook(
            db.store.clone(),
            state.alerts.clone(),
            matthan::alerts::WebhookSettings::new(url),
        ));
    }
    background.spawn(run_retention(db.store.clone(), cfg.clone()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    println!(
        "matthan: serving http://{} (log: {}); Ctrl-C stops",
        listener.local_addr()?,
        db.description
    );
    api::serve(listener, state, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    background.abort_all();
    Ok(())
}

/// Applies the retention policy every `retention.interval_sec`, forever.
async fn run_retention(store: matthan::store::Store, cfg: Config) {
    use matthan::retention::{run_once, RetentionPolicy};
    let policy = RetentionPolicy::from_config(&cfg.retention);
    let (clips, snapshots) = (cfg.storage.clips_dir(), cfg.storage.snapshots_dir());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(
        cfg.retention.interval_sec.max(1),
    ));
    loop {
        tick.tick().await;
        match run_once(&store, &clips, &snapshots, &policy, chrono::Utc::now()).await {
            Ok(report) => tracing::debug!("retention: {report:?}"),
            Err(e) => tracing::warn!("retention run failed: {e}"),
        }
    }
}

/// `matthan user …`.
#[derive(Subcommand)]
enum UserAction {
    /// Add a user; prints their API token once (it is stored only as a hash).
    Add {
        /// 1 to 64 letters, digits, `.`, `_` or `-`.
        name: String,
        /// viewer (search, counts), investigator (+ clips and exports) or admin (+ users,
        /// watchlist, audit log).
        #[arg(long)]
        role: String,
        /// Read a password for the page's login from the first line of stdin (else the user
        /// has a token only).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a new API token for a user (older tokens stay valid).
    Token {
        /// The user.
        name: String,
    },
    /// Set a user's page password from the first line of stdin.
    Password {
        /// The user.
        name: String,
    },
    /// Disable a user and revoke all their tokens.
    Disable {
        /// The user.
        name: String,
    },
    /// List users.
    List,
}

/// Runs `matthan user …` against the log.
fn user_command(cli: &Cli, cfg: &Config, action: &UserAction) -> anyhow::Result<()> {
    use matthan::access::{self, Role};
    use matthan::store::trust;
    let read_password = || -> anyhow::Result<String> {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    };
    let password = match action {
        UserAction::Add {
            password_stdin: true,
            ..
        }
        | UserAction::Password { .. } => Some(access::hash_password(&read_password()?)?),
        _ => None,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let db = Database::open(cli.database_url.as_deref(), &cfg.storage.state_dir).await?;
        let result = async {
            let mut client = db.store.client().await?;
            match action {
                UserAction::Add { name, role, .. } => {
                    let role = Role::parse(role)?;
                    if !access::valid_name(name) {
                        anyhow::bail!(access::AccessError::BadName);
                    }
                    if trust::user_id(&client, name).await?.is_some() {
                        anyhow::bail!(
                            "a user named {name} exists (use `matthan user token {name}`)"
                        );
                    }
                    let id = trust::create_user(&client, name, role, password.as_deref()).await?;
                    let token = access::new_token()?;
                    trust::add_token(&client, id, &token.sha256, "matthan user add", None).await?;
                    eprintln!(
                        "user {name} ({}) added; their token, shown only now:",
                        role.as_str()
                    );
                    println!("{}", token.secret);
                }
                UserAction::Token { name } => {
                    let id = trust::user_id(&client, name)
                        .await?
                        .ok_or_else(|| anyhow::anyhow!("no user named {name}"))?;
                    let token = access::new_token()?;
                    trust::add_token(&client, id, &token.sha256, "matthan user token", None)
                        .await?;
                    eprintln!("new token for {name}, shown only now:");
                    println!("{}", token.secret);
                }
                UserAction::Password { name } => {
                    let hash = password.as_deref().unwrap_or_default();
                    if !trust::set_password(&client, name, hash).await? {
                        anyhow::bail!("no user named {name}");
                    }
                    eprintln!("password of {name} set");
                }
                UserAction::Disable { name } => {
                    if !trust::disable_user(&mut client, name).await? {
                        anyhow::bail!("no user named {name}");
                    }
                    eprintln!("{name} disabled; their tokens are revoked");
                }
                UserAction::List => {
                    for u in trust::users(&client).await? {
                        println!(
                            "{:<20} {:<13} {}{}",
                            u.name,
                            u.role,
                            if u.has_password {
                                "password+token"
                            } else {
                                "token"
                            },
                            if u.disabled_at.is_some() {
                                "  (disabled)"
                            } else {
                                ""
                            }
                        );
                    }
                }
            }
            anyhow::Ok(())
        }
        .await;
        db.close().await;
        result
    })
}

/// The writer's settings: batches the database cannot take are spooled under the state folder.
fn writer_settings(cfg: &Config) -> WriterSettings {
    WriterSettings {
        spool_dir: Some(cfg.storage.state_dir.join("spool")),
        ..WriterSettings::default()
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
