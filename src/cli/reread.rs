//! `matthan reread`: one camera's recorded segments of a time window read again by the
//! current recognizer, logged as a new analysis run (the live passages stay). Refusals (a
//! bad window, an unknown camera, no readable recordings) write nothing; a segment that cannot
//! be read is reported and skipped, and the run stays open for the next try. Progress goes to
//! stderr, one JSON summary to stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use matthan::config::{CameraConfig, Config};
use matthan::infer::{InferenceService, InferenceSettings};
use matthan::pipeline::CameraSettings;
use matthan::recognize::{fingerprint, runtime, RecognizerSettings};
use matthan::reread::{model_version, Rereader, Segment, Window};
use matthan::store::query::{self, runs, AnalysisRun};
use matthan::store::writer::write_batch;
use matthan::store::{Database, Store};
use matthan::video::{Shutdown, SourceSpec};

use super::common::{load_config, Globals};

/// Flags of `matthan reread`.
#[derive(clap::Args)]
pub struct RereadArgs {
    /// Camera name, as the log knows it.
    #[arg(long)]
    camera: String,
    /// Start of the window, RFC 3339 (included).
    #[arg(long)]
    from: String,
    /// End of the window, RFC 3339 (excluded); at most 24 h after --from.
    #[arg(long)]
    to: String,
    /// TOML config with storage, analysis and cameras (the camera's counting line, the
    /// reader, the folders).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Folder the segments were recorded under (overrides the config).
    #[arg(long)]
    clips: Option<PathBuf>,
    /// Folder for snapshots (overrides the config); each run gets its own `reread-<run>`.
    #[arg(long)]
    snapshots: Option<PathBuf>,
    /// Frames analysed per second (overrides the config; part of the run's model version).
    #[arg(long)]
    fps: Option<f64>,
}

/// What one reread did, printed as JSON on stdout.
#[derive(serde::Serialize)]
struct Summary {
    run: i64,
    camera: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    model_version: String,
    analysis: String,
    /// The run was finished before: nothing was read.
    already_done: bool,
    /// Segments in the window.
    segments: usize,
    /// Segments read now.
    read: usize,
    /// Segments that could not be read, and why.
    skipped: Vec<String>,
    /// Passages added now.
    passages_added: u64,
    /// Passages of the run in all.
    passages: i64,
    /// Whether the run is finished (every segment read).
    finished: bool,
}

/// Runs the reread; exit code 1 when a segment could not be read (the run stays open).
pub fn run(globals: &Globals, args: &RereadArgs) -> anyhow::Result<ExitCode> {
    let from = parse_time("--from", &args.from)?;
    let to = parse_time("--to", &args.to)?;
    let window = Window::new(from, to).context("refused")?;
    let cfg = load_config(args.config.as_deref())?;
    let camera = camera_settings(globals, args, &cfg, window.from)?;
    let rt = tokio::runtime::Runtime::new()?;
    let db = rt.block_on(Database::open(
        globals.database_url.as_deref(),
        &cfg.storage.state_dir,
    ))?;
    let result = Reread {
        rt: &rt,
        store: &db.store,
        window,
        camera,
    }
    .run();
    rt.block_on(db.close());
    let summary = result?;
    println!("{}", serde_json::to_string(&summary)?);
    if !summary.skipped.is_empty() {
        eprintln!(
            "matthan: {} of {} segment(s) could not be read; run {} stays open: run the same \
             command again to read them (what is logged is kept, nothing is doubled)",
            summary.skipped.len(),
            summary.segments,
            summary.run
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_time(flag: &str, s: &str) -> anyhow::Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(s)
        .with_context(|| format!("{flag} {s:?} is not an RFC 3339 time"))?
        .to_utc())
}

/// The camera's settings from the config with the command line's folders and rate; the
/// source and start are each segment's.
fn camera_settings(
    globals: &Globals,
    args: &RereadArgs,
    cfg: &Config,
    start: DateTime<Utc>,
) -> anyhow::Result<CameraSettings> {
    let cam = cfg
        .camera(&args.camera)
        .cloned()
        .unwrap_or_else(|| CameraConfig::named(&args.camera));
    let mut s = CameraSettings::from_config(
        cfg,
        &cam,
        SourceSpec::File(PathBuf::new()),
        start,
        globals.recognizer(),
    );
    if let Some(dir) = &args.clips {
        s.clips_dir = dir.clone();
    }
    if let Some(dir) = &args.snapshots {
        s.snapshots_dir = dir.clone();
    }
    if let Some(fps) = args.fps {
        s.analysis_fps = fps;
    }
    if s.analysis_fps.is_nan() || s.analysis_fps <= 0.0 {
        bail!("refused: the analysis rate must be above 0 fps to read anything");
    }
    s.record = false;
    Ok(s)
}

/// What names a run: the camera, the window, the model version.
struct RunKey<'a> {
    camera_id: i64,
    window: Window,
    version: &'a str,
}

/// One reread under way.
struct Reread<'a> {
    rt: &'a tokio::runtime::Runtime,
    store: &'a Store,
    window: Window,
    camera: CameraSettings,
}

impl Reread<'_> {
    fn run(self) -> anyhow::Result<Summary> {
        let name = self.camera.name.clone();
        let (camera_id, segments) = self.rt.block_on(self.recordings(&name))?;
        let recognizer = InferenceSettings::new(1, self.camera.recognizer.clone()).recognizer;
        let (version, analysis) = self.version(&recognizer)?;
        let mut summary = Summary {
            run: 0,
            camera: name.clone(),
            from: self.window.from,
            to: self.window.to,
            model_version: version.clone(),
            analysis: analysis.clone(),
            already_done: false,
            segments: segments.len(),
            read: 0,
            skipped: Vec::new(),
            passages_added: 0,
            passages: 0,
            finished: false,
        };
        let key = RunKey {
            camera_id,
            window: self.window,
            version: &version,
        };
        if let Some(done) = self.rt.block_on(self.finished_run(&key))? {
            return Ok(already_done(summary, &done));
        }
        let shutdown = Shutdown::new();
        self.check_files(&segments, &shutdown)?;
        // The models load before the run is opened: a model that does not load writes nothing.
        let service = InferenceService::start(InferenceSettings::new(1, recognizer))?;
        let (run, lock) = self.rt.block_on(self.open_run(&key, &analysis))?;
        summary.run = run.id;
        if run.finished_at.is_some() {
            return Ok(already_done(summary, &run));
        }
        eprintln!(
            "matthan: run {} ({analysis}; version {version}): {} segment(s) of {name}",
            run.id,
            segments.len()
        );
        {
            let shutdown = shutdown.clone();
            ctrlc::set_handler(move || shutdown.trigger()).context("installing Ctrl-C handler")?;
        }
        let mut camera = self.camera.clone();
        camera.inference = Some(service);
        camera.snapshots_dir = camera.snapshots_dir.join(format!("reread-{}", run.id));
        let rereader = Rereader::new(camera, self.window, shutdown.clone())?;
        for segment in &segments {
            match rereader.read(segment, run.id) {
                Ok(rows) => {
                    if !rows.is_empty() {
                        let stats = self.rt.block_on(write_batch(self.store, &rows))?;
                        summary.passages_added += stats.passages;
                    }
                    summary.read += 1;
                }
                Err(e) => {
                    eprintln!("matthan: skipped {e}");
                    summary.skipped.push(e.to_string());
                }
            }
        }
        self.rt.block_on(async {
            if summary.skipped.is_empty() {
                let run = runs::finish_run(&lock, run.id).await?;
                summary.finished = true;
                summary.passages = run.passages.unwrap_or(0);
            } else {
                summary.passages = runs::run_passages(&lock, run.id).await?;
            }
            anyhow::Ok(())
        })?;
        Ok(summary)
    }

    /// The finished run of `key`, if there is one.
    async fn finished_run(&self, key: &RunKey<'_>) -> anyhow::Result<Option<AnalysisRun>> {
        let client = self.store.client().await?;
        let run = runs::find_run(
            &client,
            key.camera_id,
            key.window.from,
            key.window.to,
            key.version,
        )
        .await?;
        Ok(run.filter(|r| r.finished_at.is_some()))
    }

    /// Refuses when no segment's file can be found inside the clips folder.
    fn check_files(&self, segments: &[Segment], shutdown: &Shutdown) -> anyhow::Result<()> {
        let name = &self.camera.name;
        let rereader = Rereader::new(self.camera.clone(), self.window, shutdown.clone())
            .with_context(|| format!("refused: the clips folder of camera {name:?}"))?;
        let unreadable: Vec<String> = segments
            .iter()
            .filter_map(|s| rereader.locate(s).err().map(|e| e.to_string()))
            .collect();
        if unreadable.len() == segments.len() {
            bail!(
                "refused: none of the {} recording(s) of camera {name:?} in the window can be \
                 read:\n  {}",
                segments.len(),
                unreadable.join("\n  ")
            );
        }
        Ok(())
    }

    /// Opens (or takes up) the run of `key` and takes its lock, held by the connection
    /// returned until the reread ends.
    async fn open_run(
        &self,
        key: &RunKey<'_>,
        analysis: &str,
    ) -> anyhow::Result<(AnalysisRun, deadpool_postgres::Object)> {
        let client = self.store.client().await?;
        let (from, to) = (key.window.from, key.window.to);
        let run = runs::open_run(&client, key.camera_id, from, to, key.version, analysis).await?;
        if !runs::lock_run(&client, run.id).await? {
            bail!(
                "refused: run {} of this window is being read by another process",
                run.id
            );
        }
        // Finished by another process before the lock was ours?
        let run = runs::find_run(&client, key.camera_id, from, to, key.version)
            .await?
            .unwrap_or(run);
        Ok((run, client))
    }

    /// The camera's id and its segments overlapping the window; refuses an unknown camera and
    /// a window without recordings.
    async fn recordings(&self, name: &str) -> anyhow::Result<(i64, Vec<Segment>)> {
        let client = self.store.client().await?;
        let Some(camera_id) = query::camera_id(&client, name).await? else {
            let known: Vec<String> = query::cameras(&client)
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect();
            bail!(
                "refused: unknown camera {name:?} (the log knows: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        };
        let clips = query::clips(&client, camera_id, self.window.from, self.window.to).await?;
        if clips.is_empty() {
            bail!(
                "refused: camera {name:?} has no recordings between {} and {}",
                self.window.from.to_rfc3339(),
                self.window.to.to_rfc3339()
            );
        }
        let segments = clips
            .into_iter()
            .map(|c| Segment {
                started_at: c.started_at,
                path: PathBuf::from(c.path),
                sha256: c.sha256,
            })
            .collect();
        Ok((camera_id, segments))
    }

    /// The run's model version and its description, for the models as checked on disk.
    fn version(&self, recognizer: &RecognizerSettings) -> anyhow::Result<(String, String)> {
        runtime::verify_model_dir(&recognizer.model_dir)
            .context("the re-read needs the models: run `make setup`")?;
        let fps = self.camera.analysis_fps;
        let version = model_version(&fingerprint(recognizer)?, fps);
        let analysis = format!(
            "{} vehicles ({}), {} reader, plates in {:?}, {fps} fps",
            recognizer.vehicle_model, recognizer.models, recognizer.reader, recognizer.plate_search
        )
        .to_lowercase();
        Ok((version, analysis))
    }
}

/// The summary of a run that was finished before.
fn already_done(mut summary: Summary, run: &AnalysisRun) -> Summary {
    eprintln!(
        "matthan: already read: run {} finished {} with {} passage(s); nothing to do",
        run.id,
        run.finished_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        run.passages.unwrap_or(0)
    );
    summary.run = run.id;
    summary.already_done = true;
    summary.finished = true;
    summary.passages = run.passages.unwrap_or(0);
    summary
}
