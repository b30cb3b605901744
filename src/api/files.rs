//! The endpoints that serve a file: a clip segment (`GET /api/clips/{id}/video`, with
//! ranges), a snapshot (`GET /api/passages/{id}/snapshot.jpg`) and a time window cut from
//! segments (`GET /api/clips/export`); the evidence package (`evidence`) gathers its files
//! the same way.
//!
//! A file whose node is this one (or none, or on a shared mount) is read from its folder;
//! one on another node is asked from that node (see [`crate::peer`]): a segment or snapshot
//! is relayed as the owner sends it (status, `Content-Range`, length; the body streamed,
//! and cut, not completed, if the owner stops mid-way; a whole segment is checked against
//! its logged SHA-256 as it passes and cut before its last piece if it differs), and the segments of an export are
//! copied here first, each checked against the SHA-256 the log holds, then cut as local ones
//! are. Roles and audit rows stay with the guard of this node.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::{audited, clip_window, inside, parse_id, ApiError, AppState, MAX_EXPORT};
use crate::peer::{Owner, RemoteFile, Scratch};
use crate::store::query::{self, ClipView, NodeRecord};
use crate::video::export::{export_window, SegmentSource};

/// The headers of an owner's answer that are passed back.
const RELAYED: [header::HeaderName; 6] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::ACCEPT_RANGES,
    header::LAST_MODIFIED,
    header::ETAG,
];

/// The file at `path` (inside its folder) as `ServeFile` answers `request`: ranges,
/// conditional requests.
pub(super) async fn serve_file(
    path: &Path,
    mime: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let mut response = ServeFile::new_with_mime(path, &mime.parse().map_err(ApiError::internal)?)
        .oneshot(request)
        .await
        .map_err(ApiError::internal)?
        .map(Body::new);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Ok(response)
}

/// Clip segment `id`, logged at `path`, from this node's clips folder.
pub(super) async fn serve_own_segment(
    state: &AppState,
    id: i64,
    path: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let path = inside(&state.clips_dir, Path::new(path))
        .ok_or_else(|| ApiError::not_found(format!("clip {id} is not on disk")))?;
    serve_file(&path, "video/mp4", request).await
}

/// The snapshot of passage `id`, logged at `path`, from this node's snapshots folder.
pub(super) async fn serve_own_snapshot(
    state: &AppState,
    id: i64,
    path: &str,
    request: Request,
) -> Result<Response, ApiError> {
    let path = inside(&state.snapshots_dir, Path::new(path)).ok_or_else(|| {
        ApiError::not_found(format!("the snapshot of passage {id} is not on disk"))
    })?;
    serve_file(&path, "image/jpeg", request).await
}

/// `file` from its owner `node`, answered to a request with headers `request` as the owner
/// answers it. A whole file with a logged SHA-256 (`expected_sha256`, a segment's) is checked
/// as it passes: one that differs is cut before its last piece.
async fn relay(
    state: &AppState,
    node: &NodeRecord,
    file: RemoteFile,
    request: &HeaderMap,
    expected_sha256: Option<&str>,
) -> Result<Response, ApiError> {
    let answer = state.peers.get(node, file, Some(request)).await?;
    let status = StatusCode::from_u16(answer.status().as_u16()).map_err(ApiError::internal)?;
    let mut headers = HeaderMap::new();
    for name in RELAYED {
        if let Some(v) = answer.headers().get(&name) {
            headers.insert(name, v.clone());
        }
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    let body = match expected_sha256.filter(|_| status == StatusCode::OK) {
        Some(sha) => Body::from_stream(state.peers.checked_body(node, file, answer, sha.into())),
        None => Body::from_stream(state.peers.body(node, file, answer)),
    };
    let mut response = (status, body).into_response();
    response.headers_mut().extend(headers);
    Ok(response)
}

/// `GET /api/passages/{id}/snapshot.jpg`.
pub(super) async fn get_snapshot(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let client = state.store.client().await?;
    let snapshot = query::snapshot_path(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no passage {id}")))?;
    drop(client);
    let no_snapshot = || ApiError::not_found(format!("passage {id} has no snapshot"));
    let path = snapshot.path.as_deref().ok_or_else(no_snapshot)?;
    let file = RemoteFile::Snapshot(id);
    let response = match state.peers.owner(file, snapshot.node_id).await? {
        Owner::Here => serve_own_snapshot(&state, id, path, request).await?,
        Owner::Node(node) => relay(&state, &node, file, request.headers(), None).await?,
    };
    Ok(audited(response, format!("passage:{id}")))
}

/// `GET /api/clips/{id}/video`.
pub(super) async fn clip_video(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let client = state.store.client().await?;
    let clip = query::clip(&client, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no clip {id}")))?;
    drop(client);
    let file = RemoteFile::Segment(id);
    let response = match state.peers.owner(file, clip.node_id).await? {
        Owner::Here => serve_own_segment(&state, id, &clip.path, request).await?,
        Owner::Node(node) => {
            relay(&state, &node, file, request.headers(), Some(&clip.sha256)).await?
        }
    };
    Ok(audited(response, format!("clip:{id}")))
}

/// The segment files of `clips` to cut from: this node's own that are on disk (one removed
/// by retention is left out), and copies of the others' in `scratch`, each checked against
/// its logged SHA-256 (a node that cannot give one, or gives one that differs, is an error).
pub(super) async fn segment_files(
    state: &AppState,
    clips: &[ClipView],
    scratch: &Scratch,
) -> Result<Vec<SegmentSource>, ApiError> {
    let mut segments = Vec::with_capacity(clips.len());
    for c in clips {
        let file = RemoteFile::Segment(c.id);
        let path = match state.peers.owner(file, c.node_id).await? {
            Owner::Here => match inside(&state.clips_dir, Path::new(&c.path)) {
                Some(path) => path,
                None => continue,
            },
            Owner::Node(node) => {
                let dest = scratch.file(&format!("clip-{}.mp4", c.id));
                state
                    .peers
                    .copy(&node, file, &dest, Some(&c.sha256))
                    .await?;
                dest
            }
        };
        segments.push(SegmentSource {
            path,
            started_at: c.started_at,
        });
    }
    Ok(segments)
}

/// `GET /api/clips/export`.
pub(super) async fn export_clip(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (camera_id, from, to, camera) = clip_window(&state, raw.as_deref(), true).await?;
    if to - from > MAX_EXPORT {
        return Err(ApiError::bad("to", "an export covers at most 1 hour"));
    }
    let client = state.store.client().await?;
    let clips = query::clips(&client, camera_id, from, to).await?;
    drop(client);
    let scratch = Scratch::new(&state.export_dir).map_err(ApiError::internal)?;
    let segments = segment_files(&state, &clips, &scratch).await?;
    if segments.is_empty() {
        return Err(ApiError::not_found(format!(
            "no recording of camera `{camera}` in that window"
        )));
    }
    let name = format!(
        "{}_{}_{}.mp4",
        crate::video::recorder::safe_name(&camera),
        from.format("%Y%m%dT%H%M%S"),
        to.format("%Y%m%dT%H%M%S")
    );
    let out = state.export_dir.join(format!(
        "{}-{}",
        std::process::id(),
        state.metrics.next_export_id()
    ));
    let out_path = out.clone();
    let exported =
        tokio::task::spawn_blocking(move || export_window(&segments, from, to, &out_path))
            .await
            .map_err(ApiError::internal)?
            .map_err(|e| {
                let _ = std::fs::remove_file(&out);
                match e {
                    crate::video::VideoError::NothingToExport { .. } => {
                        ApiError::not_found(e.to_string())
                    }
                    // A recorded segment that cannot be read is our problem, not the request's.
                    other => ApiError::internal(other),
                }
            })?;
    drop(scratch);
    let file = tokio::fs::File::open(&exported.path)
        .await
        .map_err(ApiError::internal)?;
    // The open file keeps its data; the name can go now so nothing is left behind.
    let _ = tokio::fs::remove_file(&exported.path).await;
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let headers = [
        (header::CONTENT_TYPE, "video/mp4".to_string()),
        (header::CONTENT_LENGTH, exported.bytes.to_string()),
        (
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ),
        (
            header::HeaderName::from_static("x-content-sha256"),
            exported.sha256.clone(),
        ),
        (
            header::HeaderName::from_static("x-clip-start"),
            exported.started_at.to_rfc3339(),
        ),
        (
            header::HeaderName::from_static("x-clip-end"),
            exported.ended_at.to_rfc3339(),
        ),
    ];
    state.metrics.exports.inc();
    Ok(audited(
        (StatusCode::OK, headers, body).into_response(),
        format!(
            "camera:{camera} {}..{} sha256:{}",
            exported.started_at.to_rfc3339(),
            exported.ended_at.to_rfc3339(),
            exported.sha256
        ),
    ))
}
