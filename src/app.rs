//! Everything `matthan serve` runs, started and stopped together: the database and its
//! writer, the config's live cameras, the HTTP API with the alert listener, the webhook and
//! retention.
//!
//! Owns the order of start and stop, not what each part does. One stop signal (a future the
//! caller gives, e.g. Ctrl-C) ends the API; then the cameras are told to stop and joined, the
//! writer writes what is queued, and the private cluster stops. A camera that fails is
//! logged and the others go on; a part that cannot start (database, folders, listener) is an
//! error, after whatever had started is stopped again.
//!
//! Prints nothing: the caller hears where the API listens through a callback.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::alerts::{self, WebhookSettings};
use crate::api::{self, AppState};
use crate::config::{CameraConfig, Config};
use crate::infer::{InferenceService, InferenceSettings};
use crate::peer::PeerSettings;
use crate::pipeline::{run_camera, write_item, CameraBoard, CameraSettings};
use crate::recognize::RecognizerSettings;
use crate::retention::{self, RetentionPolicy};
use crate::store::writer::{WriterCounters, WriterInput};
use crate::store::{query, Database, Store, StoreError, Writer, WriterSettings};
use crate::video::{Shutdown, SourceSpec};

/// Why `serve` could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The database could not be opened or synced with the config.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The clips, snapshots or exports folder could not be made.
    #[error("preparing storage folders")]
    Folders(#[source] std::io::Error),
    /// The API's address could not be bound.
    #[error("cannot listen on {listen}")]
    Listen {
        /// The address asked for.
        listen: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server failed while serving.
    #[error(transparent)]
    Serve(std::io::Error),
}

/// What `serve` is asked to run.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// PostgreSQL to log into; `None` runs the private cluster under the state directory.
    pub database_url: Option<String>,
    /// Where the API listens and which page it serves.
    pub api: ApiSettings,
    /// Whether the config's live cameras are recorded and analysed (else the log is only
    /// served).
    pub run_cameras: bool,
    /// Models and thresholds of the cameras (where plates are searched comes from the
    /// config).
    pub recognizer: RecognizerSettings,
}

/// The HTTP side.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Address to listen on, e.g. `127.0.0.1:8080`.
    pub listen: String,
    /// Folder of the web page.
    pub web_dir: PathBuf,
}

/// Counters the API's `/metrics` shows besides the log's, when this process has them.
#[derive(Debug, Default)]
pub struct Gauges {
    /// The writer's counters.
    pub writer: Option<Arc<WriterCounters>>,
    /// The running cameras' counters.
    pub cameras: Option<Arc<CameraBoard>>,
}

/// Where the API listens, once it does.
#[derive(Debug, Clone, Copy)]
pub struct Listening<'a> {
    /// The bound address (the real port when port 0 was asked).
    pub addr: SocketAddr,
    /// Where the log lives (`DATABASE_URL` or the private cluster's folder).
    pub log: &'a str,
}

/// Runs everything `matthan serve` runs until `stop` resolves, then stops it all in order.
/// `on_listening` is called once the API's address is bound. Needs a multi-threaded tokio
/// runtime (cameras are joined with `block_in_place`).
pub async fn serve(
    cfg: &Config,
    settings: &ServeSettings,
    on_listening: impl FnOnce(Listening<'_>),
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let db = Database::open(settings.database_url.as_deref(), &cfg.storage.state_dir).await?;
    let client = db.store.client().await?;
    query::sync_config(&client, cfg).await?;
    drop(client);
    // Live cameras of the config are recorded and analysed while serving.
    let writer = Writer::start(db.store.clone(), WriterSettings::from_config(cfg));
    let shutdown = Shutdown::new();
    let board = Arc::new(CameraBoard::default());
    let cameras = if settings.run_cameras {
        start_live_cameras(
            cfg,
            &settings.recognizer,
            &writer.input(),
            &shutdown,
            &board,
        )
    } else {
        Vec::new()
    };
    let gauges = Gauges {
        writer: Some(writer.counters()),
        cameras: Some(board),
    };
    let served = serve_api(&db, cfg, &settings.api, gauges, on_listening, stop).await;
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
}

/// Serves the API of `db` on `api.listen` until `stop` resolves, with the alert listener, the
/// webhook (when the config names one) and retention running beside it; they stop with it.
pub async fn serve_api(
    db: &Database,
    cfg: &Config,
    api: &ApiSettings,
    gauges: Gauges,
    on_listening: impl FnOnce(Listening<'_>),
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<(), AppError> {
    let state = AppState::new(
        db.store.clone(),
        &cfg.storage.clips_dir(),
        &cfg.storage.snapshots_dir(),
        &cfg.storage.state_dir.join("exports"),
        &api.web_dir,
        gauges.writer,
    )
    .map_err(AppError::Folders)?
    .with_evidence_key(&crate::evidence::key_path(&cfg.storage.state_dir))
    .with_peer_settings(PeerSettings {
        shared_clips: cfg.storage.shared_clips,
        ..PeerSettings::default()
    })
    .map_err(AppError::Folders)?;
    let mut state = state;
    state.road = cfg.road;
    if let Some(board) = gauges.cameras {
        state.metrics.set_cameras(board);
    }
    let mut background = tokio::task::JoinSet::new();
    background.spawn(state.alerts.clone().listen(db.store.clone()));
    if let Some(url) = &cfg.alerts.webhook_url {
        background.spawn(alerts::run_webhook(
            db.store.clone(),
            state.alerts.clone(),
            WebhookSettings::new(url),
        ));
    }
    background.spawn(run_retention(db.store.clone(), cfg.clone()));
    let listener = tokio::net::TcpListener::bind(&api.listen)
        .await
        .map_err(|source| AppError::Listen {
            listen: api.listen.clone(),
            source,
        })?;
    on_listening(Listening {
        addr: listener.local_addr().map_err(AppError::Serve)?,
        log: &db.description,
    });
    api::serve(listener, state, stop)
        .await
        .map_err(AppError::Serve)?;
    background.abort_all();
    Ok(())
}

/// Applies the retention policy every `retention.interval_sec`, forever.
async fn run_retention(store: Store, cfg: Config) {
    let policy = RetentionPolicy::from_config(&cfg.retention);
    let (clips, snapshots) = (cfg.storage.clips_dir(), cfg.storage.snapshots_dir());
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(
        cfg.retention.interval_sec.max(1),
    ));
    loop {
        tick.tick().await;
        match retention::run_once(&store, &clips, &snapshots, &policy, chrono::Utc::now()).await {
            Ok(report) => tracing::debug!("retention: {report:?}"),
            Err(e) => tracing::warn!("retention run failed: {e}"),
        }
    }
}

/// Starts every enabled camera of `cfg` whose source is live, sharing one inference
/// service; each feeds `input` until `shutdown`. A camera that fails is logged; the others
/// go on.
fn start_live_cameras(
    cfg: &Config,
    recognizer: &RecognizerSettings,
    input: &WriterInput,
    shutdown: &Shutdown,
    board: &Arc<CameraBoard>,
) -> Vec<JoinHandle<()>> {
    let mut handles = Vec::new();
    let live = cfg
        .cameras
        .iter()
        .filter(|c| {
            c.enabled
                && c.source
                    .as_deref()
                    .is_some_and(|s| SourceSpec::parse(s).is_live())
        })
        .count();
    // One set of models for all cameras, sized to the machine.
    let inference = if live == 0 {
        None
    } else {
        let service_settings = InferenceSettings::new(
            cfg.analysis.workers.unwrap_or(0).min(live),
            RecognizerSettings {
                plate_search: cfg.analysis.plates_in,
                reader: cfg.analysis.reader.unwrap_or(recognizer.reader),
                vehicle_model: cfg
                    .analysis
                    .vehicle_model
                    .unwrap_or(recognizer.vehicle_model),
                ..recognizer.clone()
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
        let mut settings =
            CameraSettings::from_config(cfg, cam, spec, chrono::Utc::now(), recognizer.clone());
        settings.inference = inference.clone();
        settings.counters = Some(board.register(&cam.name));
        match spawn_camera(cam, settings, input.clone(), shutdown.clone()) {
            Ok(h) => handles.push(h),
            Err(e) => tracing::error!("camera {}: cannot start: {e}", cam.name),
        }
    }
    handles
}

/// One live camera on its own thread: its pipeline's events go to the writer until
/// `shutdown` or the writer stops.
fn spawn_camera(
    cam: &CameraConfig,
    settings: CameraSettings,
    input: WriterInput,
    shutdown: Shutdown,
) -> std::io::Result<JoinHandle<()>> {
    let (name, has_line) = (cam.name.clone(), cam.counting_line.is_some());
    std::thread::Builder::new()
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
        })
}
