//! `matthan ingest`: one camera (file or live URL) through the pipeline; events go to stdout
//! (JSON lines or readable lines) and, unless `--no-store`, into the log; a summary goes to
//! stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use matthan::config::{CameraConfig, Config};
use matthan::pipeline::{run_camera, write_item, CameraSettings, IngestEvent};
use matthan::store::writer::WriterInput;
use matthan::store::{query, Database, WriteItem, Writer, WriterSettings, WriterStats};
use matthan::video::source::ReconnectPolicy;
use matthan::video::{Shutdown, SourceSpec};

use super::common::{describe, Globals};

/// Flags of `matthan ingest`.
#[derive(clap::Args)]
pub struct IngestArgs {
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
}

/// How `ingest` prints events.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum OutputFormat {
    /// One JSON object per line.
    Json,
    /// One readable line per event, times in Asia/Ho_Chi_Minh (UTC+7).
    Text,
}

/// Runs the camera until its source ends (or Ctrl-C), printing and logging every event.
pub fn run(globals: &Globals, args: &IngestArgs) -> anyhow::Result<ExitCode> {
    let cfg = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    let cam = cfg
        .camera(&args.camera)
        .cloned()
        .unwrap_or_else(|| CameraConfig::named(&args.camera));
    let settings = camera_settings(globals, args, &cfg, &cam)?;
    let shutdown = Shutdown::new();
    {
        let shutdown = shutdown.clone();
        ctrlc::set_handler(move || shutdown.trigger()).context("installing Ctrl-C handler")?;
    }
    let log = if args.no_store {
        None
    } else {
        Some(LogConnection::open(&cfg, globals.database_url.as_deref())?)
    };
    let has_line = cam.counting_line.is_some();
    let (tx, rx) = crossbeam_channel::unbounded();
    let worker = std::thread::spawn(move || run_camera(settings, shutdown, tx));
    let stdout = std::io::stdout();
    let mut write_error = None;
    for event in rx {
        print_event(&mut stdout.lock(), args.format, &event)?;
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
        report_log(&cfg, &stats);
    }
    if let Some(e) = write_error {
        return Err(e);
    }
    Ok(ExitCode::SUCCESS)
}

/// The camera's settings from the config, with the source, start time and overrides of the
/// command line.
fn camera_settings(
    globals: &Globals,
    args: &IngestArgs,
    cfg: &Config,
    cam: &CameraConfig,
) -> anyhow::Result<CameraSettings> {
    let source =
        args.source.clone().or(cam.source.clone()).context(
            "no source: give a file or URL, or set `source` for the camera in the config",
        )?;
    let file_start = match &args.start {
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .with_context(|| format!("--start {s:?} is not an RFC 3339 time"))?
            .to_utc(),
        None => chrono::Utc::now(),
    };
    let reconnect = ReconnectPolicy {
        max_attempts: args.max_retries,
        ..Default::default()
    };
    let mut settings = CameraSettings::from_config(
        cfg,
        cam,
        SourceSpec::parse(&source),
        file_start,
        globals.recognizer(),
    );
    settings.reconnect = reconnect;
    if let Some(dir) = &args.clips {
        settings.clips_dir = dir.clone();
    }
    if let Some(dir) = &args.snapshots {
        settings.snapshots_dir = dir.clone();
    }
    if let Some(len) = args.segment_len {
        settings.segment_len_ms = i64::from(len.max(2)) * 1000;
    }
    if let Some(fps) = args.fps {
        settings.analysis_fps = fps;
    }
    Ok(settings)
}

/// One event on stdout, flushed at once (a reader follows the stream live).
fn print_event(
    out: &mut impl Write,
    format: OutputFormat,
    event: &IngestEvent,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => writeln!(out, "{}", serde_json::to_string(event)?)?,
        OutputFormat::Text => writeln!(out, "{}", describe(event))?,
    }
    out.flush()?;
    Ok(())
}

/// What reached the log, on stderr, and where records wait when the database did not come
/// back.
fn report_log(cfg: &Config, stats: &WriterStats) {
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
            let writer = Writer::start(db.store.clone(), WriterSettings::from_config(cfg));
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
