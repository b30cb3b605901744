//! The HTTP API (axum) and the static page, served by `matthan serve`.
//!
//! Owns: routes, access control and the audit log (see [`guard`]), parameter parsing and validation (every bad parameter is a 400 with
//! `{"error","detail"}` before the database is asked anything), mapping store errors to HTTP
//! (database down → 503), the file edge (snapshots, clip segments and exports can only come
//! from inside their configured folders, or from the node holding them), `/metrics` and
//! `/healthz`.
//!
//! Clips on several nodes: every node serves every clip. A file whose row names this node
//! (or no node) is read from disk; one on another node is asked from that node's internal
//! route with a node token (HMAC-SHA256 of the issuer and a 60 s expiry under the cluster
//! secret, `Authorization: Node …`) and relayed: ranges pass through, the body is streamed,
//! an owner that does not answer in 5 s or whose heartbeat is stale is a 503 naming it, and
//! a segment copied for an export or evidence package must have the SHA-256 the log holds
//! (else a 502 naming the node and the clip). Users reach only `/api` (user tokens, roles and
//! audit rows here); nodes reach only `/internal` (node tokens).
//!
//! - [`guard`]: every `/api` request: token → user → role check → handler → audit row.
//! - `access`, `watch`: login, users, the audit log; the watchlist and alerts (SSE).
//! - `counts`: vehicle counts per junction as JSON or CSV, the bucket widened to fit the window.
//! - `evidence`: a passage's signed evidence package, and the station's public key.
//! - `files`: the endpoints that serve a file (segment, snapshot, export), from this node's
//!   disk or relayed from the node that holds it.
//! - [`internal`]: `/internal/segments/{clip_id}` and `/internal/snapshots/{passage_id}`,
//!   this node's own files for the other nodes, only with a node token.
//! - [`params`]: query-string parsing into typed values.
//! - `road`: a plate's corridor (trips, hops, flags) and the plates travelling with it.
//! - [`error`]: [`ApiError`] and its JSON body.
//! - [`metrics`]: Prometheus registry and the request-counting middleware.

mod access;
mod counts;
pub mod error;
mod evidence;
mod files;
pub mod guard;
pub mod internal;
pub mod metrics;
pub mod params;
mod road;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::TimeDelta;
use serde::Deserialize;
use serde_json::json;
use tower_http::services::ServeDir;

pub use error::ApiError;
use metrics::Metrics;
use params::{parse_query, parse_time, parse_time_opt};

use crate::alerts::AlertHub;
use crate::peer::{NodeIdentity, PeerSettings, Peers};
use crate::plate::search::PlateQuery;
use crate::road::RoadRules;
use crate::scene::VehicleClass;
use crate::store::query::{self, Cursor, SearchFilter};
use crate::store::writer::WriterCounters;
use crate::store::Store;

/// The OpenAPI document of this API.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

/// Longest window one clip export may cover.
pub const MAX_EXPORT: TimeDelta = TimeDelta::hours(1);

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The log.
    pub store: Store,
    /// Folder of clip segments (canonical); no file outside it is ever served.
    pub clips_dir: PathBuf,
    /// Folder of snapshots (canonical); no file outside it is ever served.
    pub snapshots_dir: PathBuf,
    /// Scratch folder for clip exports.
    pub export_dir: PathBuf,
    /// Folder of the static page.
    pub web_dir: PathBuf,
    /// Request and pipeline metrics.
    pub metrics: Arc<Metrics>,
    /// Watchlist alerts as they are raised (fed by [`AlertHub::listen`]).
    pub alerts: AlertHub,
    /// What the road allows (corridor trips and impossible hops); the config's `[road]`.
    pub road: RoadRules,
    /// The station's evidence key file (made on first use).
    pub evidence_key: PathBuf,
    /// The other nodes, asked for the files on their disks; which node this is.
    pub peers: Peers,
}

impl AppState {
    /// State for the given folders; folders are created if missing.
    pub fn new(
        store: Store,
        clips_dir: &Path,
        snapshots_dir: &Path,
        export_dir: &Path,
        web_dir: &Path,
        writer: Option<Arc<WriterCounters>>,
    ) -> std::io::Result<AppState> {
        for d in [clips_dir, snapshots_dir, export_dir] {
            std::fs::create_dir_all(d)?;
        }
        let export_dir = export_dir.canonicalize()?;
        // Beside the exports folder, as under a state directory (see `with_evidence_key`).
        let evidence_key = crate::evidence::key_path(export_dir.parent().unwrap_or(&export_dir));
        Ok(AppState {
            clips_dir: clips_dir.canonicalize()?,
            snapshots_dir: snapshots_dir.canonicalize()?,
            export_dir,
            web_dir: web_dir.to_path_buf(),
            metrics: Arc::new(Metrics::new(writer)),
            alerts: AlertHub::new(),
            road: RoadRules::default(),
            evidence_key,
            peers: Peers::new(store.clone(), PeerSettings::default())
                .map_err(std::io::Error::other)?,
            store,
        })
    }

    /// The state with its evidence key file at `path` (by default `keys/evidence.ed25519`
    /// beside the exports folder).
    pub fn with_evidence_key(mut self, path: &Path) -> AppState {
        self.evidence_key = path.to_path_buf();
        self
    }

    /// The state of node `node`: the files whose rows name it are its own, and it names
    /// itself in the tokens it asks other nodes with. Without it, only rows with no node are
    /// this process's files.
    pub fn with_node(mut self, node: NodeIdentity) -> AppState {
        self.peers = self.peers.with_identity(node);
        self
    }

    /// The node this process runs as, if it is one.
    pub fn node(&self) -> Option<&NodeIdentity> {
        self.peers.identity()
    }

    /// The state with other `settings` for asking the other nodes.
    pub fn with_peer_settings(mut self, settings: PeerSettings) -> std::io::Result<AppState> {
        self.peers = self
            .peers
            .with_settings(settings)
            .map_err(std::io::Error::other)?;
        Ok(self)
    }
}

/// The folder of the static page: `$MATTHAN_WEB`, else `./web`, else the source tree's.
pub fn default_web_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("MATTHAN_WEB") {
        return PathBuf::from(d);
    }
    let local = PathBuf::from("web");
    if local.join("index.html").exists() {
        return local;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let web = ServeDir::new(&state.web_dir);
    Router::new()
        .route("/api/passages", get(search_passages))
        .route("/api/passages/{id}", get(get_passage))
        .route("/api/passages/{id}/snapshot.jpg", get(files::get_snapshot))
        .route("/api/counts", get(counts::get_counts))
        .route("/api/corridor", get(road::corridor))
        .route("/api/companions", get(road::companions))
        .route("/api/passages/{id}/evidence", get(evidence::export))
        .route("/api/evidence/key", get(evidence::get_key))
        .route("/api/clips", get(list_clips))
        .route("/api/clips/export", get(files::export_clip))
        .route("/api/clips/{id}/video", get(files::clip_video))
        .route("/api/cameras", get(list_cameras))
        .route("/api/junctions", get(list_junctions))
        .route("/api/nodes", get(list_nodes))
        .route("/api/openapi.json", get(openapi))
        .route("/api/login", post(access::login))
        .route("/api/logout", post(access::logout))
        .route("/api/me", get(access::me))
        .route("/api/users", get(access::list_users).post(access::add_user))
        .route("/api/audit", get(access::audit))
        .route(
            "/api/watchlist",
            get(watch::list_watches).post(watch::add_watch),
        )
        .route("/api/watchlist/{id}", delete(watch::remove_watch))
        .route("/api/alerts", get(watch::list_alerts))
        .route("/api/alerts/stream", get(watch::alert_stream))
        .route("/api/{*rest}", get(unknown_api))
        .route("/healthz", get(healthz))
        .route("/metrics", get(get_metrics))
        .merge(internal::routes(state.clone()))
        .fallback_service(web)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track_requests,
        ))
        .with_state(state)
}

/// `path` resolved, if it lies inside `root` (which is canonical).
pub(super) fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let resolved = path.canonicalize().ok()?;
    resolved.starts_with(root).then_some(resolved)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchParams {
    plate: Option<String>,
    mode: Option<String>,
    from: Option<String>,
    to: Option<String>,
    camera: Option<String>,
    junction: Option<String>,
    class: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    reason: Option<String>,
}

async fn search_passages(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p: SearchParams = parse_query(raw.as_deref())?;
    let mode = params::parse_mode(p.mode.as_deref())?;
    let plate = p.plate.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let query = plate
        .map(|text| PlateQuery::parse(text, mode))
        .transpose()
        .map_err(|e| ApiError::bad("plate", e))?;
    // A plate search is a look at someone's movements: it needs a reason, kept in the audit log.
    if query.is_some() {
        params::require_reason(p.reason.as_deref())?;
    }
    let limit = params::parse_limit(p.limit.as_deref(), 50, 500)? as usize;
    let cursor = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => {
            let cursor = Cursor::decode(c)
                .ok_or_else(|| ApiError::bad("cursor", "not a cursor this API gave out"))?;
            let fuzzy = matches!(query, Some(PlateQuery::Fuzzy { .. }));
            if fuzzy != matches!(cursor, Cursor::Cost { .. }) {
                return Err(ApiError::bad(
                    "cursor",
                    "belongs to a search in another mode",
                ));
            }
            Some(cursor)
        }
    };
    let from = parse_time_opt("from", p.from.as_deref())?;
    let to = parse_time_opt("to", p.to.as_deref())?;
    if let (Some(f), Some(t)) = (from, to) {
        if t <= f {
            return Err(ApiError::bad("to", "must be after from"));
        }
    }
    let vehicle_class = p
        .class
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(str::parse::<VehicleClass>)
        .transpose()
        .map_err(|e| ApiError::bad("class", e.to_string()))?;
    let mut client = state.store.client().await?;
    let mut camera_ids: Option<Vec<i64>> = None;
    if let Some(name) = p.camera.as_deref().filter(|c| !c.is_empty()) {
        let id = query::camera_id(&client, name)
            .await?
            .ok_or_else(|| ApiError::bad("camera", format!("no camera named `{name}`")))?;
        camera_ids = Some(vec![id]);
    }
    if let Some(name) = p.junction.as_deref().filter(|c| !c.is_empty()) {
        let id = query::junction_id(&client, name)
            .await?
            .ok_or_else(|| ApiError::bad("junction", format!("no junction named `{name}`")))?;
        let at_junction = query::junction_camera_ids(&client, id).await?;
        camera_ids = Some(match camera_ids {
            Some(ids) => ids
                .into_iter()
                .filter(|i| at_junction.contains(i))
                .collect(),
            None => at_junction,
        });
    }
    let filter = SearchFilter {
        from,
        to,
        camera_ids,
        vehicle_class,
    };
    let started = Instant::now();
    let page = match &query {
        Some(q) => query::search_passages(&mut client, q, &filter, limit, cursor).await?,
        None => query::recent_passages(&client, &filter, limit, cursor).await?,
    };
    let mode_label = query.as_ref().map_or("list", |q| q.mode().as_str());
    state
        .metrics
        .search_seconds
        .with_label_values(&[mode_label])
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(page).into_response())
}

/// `response` with what it touched, for the audit row.
pub(super) fn audited(mut response: Response, target: String) -> Response {
    response.extensions_mut().insert(guard::AuditTarget(target));
    response
}

pub(super) fn parse_id(what: &str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad(what, "must be a positive integer"))
}

async fn get_passage(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let client = state.store.client().await?;
    let passage = query::passage(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no passage {id}")))?;
    Ok(audited(
        Json(passage).into_response(),
        format!("passage:{id}"),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClipParams {
    camera: Option<String>,
    from: Option<String>,
    to: Option<String>,
    reason: Option<String>,
}

/// Camera id and window of a clip request.
pub(super) async fn clip_window(
    state: &AppState,
    raw: Option<&str>,
    need_reason: bool,
) -> Result<
    (
        i64,
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
        String,
    ),
    ApiError,
> {
    let p: ClipParams = parse_query(raw)?;
    if need_reason {
        params::require_reason(p.reason.as_deref())?;
    }
    let name = p
        .camera
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad("camera", "is required"))?;
    let from = parse_time("from", p.from.as_deref())?;
    let to = parse_time("to", p.to.as_deref())?;
    if to <= from {
        return Err(ApiError::bad("to", "must be after from"));
    }
    let client = state.store.client().await?;
    let id = query::camera_id(&client, &name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no camera named `{name}`")))?;
    Ok((id, from, to, name))
}

async fn list_clips(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (camera_id, from, to, _) = clip_window(&state, raw.as_deref(), false).await?;
    let client = state.store.client().await?;
    let items = query::clips(&client, camera_id, from, to).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn list_cameras(State(state): State<AppState>) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    let items = query::cameras(&client).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn list_junctions(State(state): State<AppState>) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    let items = query::junctions(&client).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn list_nodes(State(state): State<AppState>) -> Result<Response, ApiError> {
    let client = state.store.client().await?;
    let items = query::nodes(&client).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

async fn unknown_api() -> ApiError {
    ApiError::not_found("no such API endpoint (see /api/openapi.json)")
}

async fn healthz(State(state): State<AppState>) -> Response {
    if state.store.ping().await {
        Json(json!({"status": "ok", "database": "ok"})).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "degraded", "database": "down"})),
        )
            .into_response()
    }
}

async fn get_metrics(State(state): State<AppState>) -> Response {
    let db_up = state.store.ping().await;
    match state.metrics.render(db_up) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.alerts.clone();
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Live alert streams never end by themselves.
        hub.close();
    })
    .await
}
