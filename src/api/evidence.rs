//! Evidence packages over HTTP: `GET /api/passages/{id}/evidence?reason=` (investigators)
//! answers one signed ZIP of the passage (see [`crate::evidence`]), and `GET
//! /api/evidence/key` the station's public key, so the page can show whose packages these are.
//!
//! The export writes its own audit row (status 202, begun) before it builds, so the package
//! holds it; the guard's row for the request follows with the answer's status and the
//! package's SHA-256. Refusals (bad id, no reason, no such passage) write nothing but the
//! guard's row, and no file is left in the scratch folder.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path as UrlPath, RawQuery, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::params::{self, parse_query};
use super::{audited, parse_id, ApiError, AppState};
use crate::evidence::{self, EvidenceError, Folders, StationKey};
use crate::store::trust::{AuditEntry, Caller};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceParams {
    reason: Option<String>,
}

impl From<EvidenceError> for ApiError {
    fn from(e: EvidenceError) -> Self {
        match e {
            EvidenceError::Store(s) => ApiError::from(s),
            EvidenceError::Peer(p) => ApiError::from(p),
            other => ApiError::internal(other),
        }
    }
}

/// The station key, made on first use (file I/O off the async threads).
async fn station_key(state: &AppState) -> Result<Arc<StationKey>, ApiError> {
    let path = state.evidence_key.clone();
    let key = tokio::task::spawn_blocking(move || StationKey::load_or_create(&path))
        .await
        .map_err(ApiError::internal)??;
    Ok(Arc::new(key))
}

/// `GET /api/evidence/key`: the public key that signs this station's packages.
pub(super) async fn get_key(State(state): State<AppState>) -> Result<Response, ApiError> {
    let key = station_key(&state).await?;
    Ok(Json(json!({
        "algorithm": "ed25519",
        "public_key": key.public_hex(),
        "fingerprint": key.fingerprint(),
    }))
    .into_response())
}

/// `GET /api/passages/{id}/evidence?reason=`: the passage's evidence package.
pub(super) async fn export(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    RawQuery(raw): RawQuery,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let p: EvidenceParams = parse_query(raw.as_deref())?;
    let reason = params::require_reason(p.reason.as_deref())?;
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| ApiError::internal("no caller on an authenticated route"))?;
    // A key that cannot be read stops the export before anything is written.
    let key = station_key(&state).await?;
    let begun = AuditEntry {
        user_id: Some(caller.user_id),
        user_name: Some(caller.name.clone()),
        role: Some(caller.role.as_str().to_string()),
        method: request.method().as_str().to_string(),
        path: request.uri().path().to_string(),
        params: json!({ "id": id.to_string() }),
        reason: Some(reason),
        client: request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string()),
        ..AuditEntry::default()
    };
    let folders = Folders {
        clips: state.clips_dir.clone(),
        snapshots: state.snapshots_dir.clone(),
        work: state.export_dir.clone(),
        peers: state.peers.clone(),
    };
    let client = state.store.client().await?;
    let gathered = evidence::gather(&client, id, &folders, begun)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no passage {id}")))?;
    drop(client);
    let out = state.export_dir.join(format!(
        "evidence-{}-{}.zip",
        std::process::id(),
        state.metrics.next_export_id()
    ));
    let now = chrono::Utc::now();
    let (out_path, work) = (out.clone(), folders.work.clone());
    let built = tokio::task::spawn_blocking(move || {
        evidence::build(&gathered, &key, &work, &out_path, now)
    })
    .await
    .map_err(ApiError::internal)??;
    let file = tokio::fs::File::open(&out)
        .await
        .map_err(ApiError::internal);
    // The open file keeps its data; the name goes now so nothing is left behind.
    let _ = tokio::fs::remove_file(&out).await;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file?));
    let headers = [
        (header::CONTENT_TYPE, "application/zip".to_string()),
        (header::CONTENT_LENGTH, built.zip.bytes.to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{}\"", evidence::file_name(id, now)),
        ),
        (
            header::HeaderName::from_static("x-content-sha256"),
            built.zip.sha256.clone(),
        ),
        (
            header::HeaderName::from_static("x-evidence-key"),
            built.manifest.station_key.clone(),
        ),
    ];
    Ok(audited(
        (StatusCode::OK, headers, body).into_response(),
        format!("passage:{id} evidence sha256:{}", built.zip.sha256),
    ))
}
