//! Everything `matthan serve` runs, started and stopped together: the database and its
//! writer, this process as a node and the live cameras it holds leases on, the HTTP API with
//! the alert listener, the webhook and retention.
//!
//! Owns the order of start and stop, not what each part does. Serving with cameras registers
//! a node (refused while another process of the same name heartbeats); its loop (`node`)
//! takes, renews and loses camera leases and starts and stops the cameras (`live`) as it
//! goes. One stop signal (a future the caller gives, e.g. Ctrl-C) ends the API; then the node
//! loop stops its cameras and joins them, the writer writes what is queued, the node releases
//! its leases, and the private cluster stops. A camera that fails is logged and the others go
//! on; a part that cannot start (database, node, folders, listener) is an error, after
//! whatever had started is stopped again.
//!
//! Prints nothing: the caller hears where the API listens through a callback.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::alerts::{self, WebhookSettings};
use crate::api::{self, AppState};
use crate::config::Config;
use crate::lease::LeaseTimings;
use crate::peer::PeerSettings;
use crate::pipeline::CameraBoard;
use crate::recognize::RecognizerSettings;
use crate::retention::{self, RetentionPolicy};
use crate::store::writer::WriterCounters;
use crate::store::{query, Database, Store, StoreError, Writer, WriterSettings};

mod live;
mod node;

use live::LiveCameras;

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
    let synced = query::sync_config(&client, cfg).await;
    // Serving cameras makes this process a node; serving only the log does not.
    let registered = match (synced, settings.run_cameras) {
        (Err(e), _) => Err(e),
        (Ok(()), false) => Ok(None),
        (Ok(()), true) => {
            query::register_node(&client, &node::registration(cfg, &settings.api.listen))
                .await
                .map(Some)
        }
    };
    drop(client);
    let me = match registered {
        Ok(me) => me,
        Err(e) => {
            db.close().await;
            return Err(e.into());
        }
    };
    let writer = Writer::start(db.store.clone(), WriterSettings::from_config(cfg));
    let board = Arc::new(CameraBoard::default());
    // The node's loop runs the cameras it holds leases on while serving.
    let (stop_node, node_stopped) = tokio::sync::watch::channel(false);
    let node_loop = me.clone().map(|me| {
        let reg = node::registration(cfg, &settings.api.listen);
        let timings = LeaseTimings::from_lease_sec(cfg.node.lease_sec());
        tracing::info!(
            "node {} (id {}): capacity {}, leases of {} s renewed every {:.1} s",
            me.name,
            me.id,
            reg.capacity,
            timings.lease.as_secs(),
            timings.tick.as_secs_f64()
        );
        let cameras = LiveCameras::new(
            cfg,
            &settings.recognizer,
            writer.input(),
            board.clone(),
            me.id,
            reg.capacity,
        );
        tokio::spawn(node::run(
            db.store.clone(),
            me,
            timings,
            reg.capacity,
            LiveCameras::runnable(cfg),
            cameras,
            node_stopped,
        ))
    });
    let gauges = Gauges {
        writer: Some(writer.counters()),
        cameras: Some(board),
    };
    let served = serve_api(
        &db,
        cfg,
        &settings.api,
        me.as_ref(),
        gauges,
        on_listening,
        stop,
    )
    .await;
    let _ = stop_node.send(true);
    if let Some(task) = node_loop {
        // The cameras are stopped and joined; their writer inputs go with them.
        drop(task.await);
    }
    let stats = writer.close().await;
    tracing::info!("log: {stats:?}");
    if let Some(me) = &me {
        let released = match db.store.client().await {
            Ok(mut client) => query::release_node(&mut client, me).await,
            Err(e) => Err(e),
        };
        if let Err(e) = released {
            tracing::warn!("node {}: leases not released ({e}); they run out", me.name);
        }
    }
    db.close().await;
    served
}

/// Serves the API of `db` on `api.listen` until `stop` resolves, with the alert listener, the
/// webhook (when the config names one) and retention running beside it; they stop with it.
/// As registered node `node` (when it is one), the files whose rows name it are its own and
/// it serves them to the other nodes.
pub async fn serve_api(
    db: &Database,
    cfg: &Config,
    api: &ApiSettings,
    node: Option<&query::NodeIdentity>,
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
    let mut state = match node {
        Some(me) => state.with_node(crate::peer::NodeIdentity {
            id: me.id,
            name: me.name.clone(),
        }),
        None => state,
    };
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
    background.spawn(run_retention(
        db.store.clone(),
        cfg.clone(),
        node.map(|me| me.id),
    ));
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

/// Applies the retention policy every `retention.interval_sec`, forever, to the segments on
/// this node's disk.
async fn run_retention(store: Store, cfg: Config, node: Option<i64>) {
    let policy = RetentionPolicy {
        node,
        ..RetentionPolicy::from_config(&cfg.retention)
    };
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
