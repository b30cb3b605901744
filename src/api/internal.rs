//! The internal routes: how a node gives its own files to the other nodes, which relay them
//! to their users (see [`crate::peer`] and `files`).
//!
//! - `GET /internal/segments/{clip_id}`: the segment file of a clip of this node (ranges
//!   as `ServeFile` answers them).
//! - `GET /internal/snapshots/{passage_id}`: the snapshot of a passage of this node.
//!
//! Only with a node token (`Authorization: Node <token>`, see [`crate::node_token`]): a
//! missing, user (`Bearer`), malformed, altered, foreign or expired token is a 401 and a
//! warning in the log naming the caller's address and why, and no file. A node token opens
//! nothing under `/api` (the guard there takes only user tokens), and a user token nothing
//! here. Roles and audit rows belong to the node the user asked; this one serves only files
//! the log says are on its own disk, inside its folders.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path as UrlPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::files::{serve_own_segment, serve_own_snapshot};
use super::{parse_id, ApiError, AppState};
use crate::store::query;

/// The scheme of a node token in `Authorization`.
pub const SCHEME: &str = "Node";

/// The internal routes, behind the node-token check.
pub(super) fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/internal/segments/{id}", get(segment))
        .route("/internal/snapshots/{id}", get(snapshot))
        .route("/internal/{*rest}", get(unknown))
        .layer(axum::middleware::from_fn_with_state(state, node_guard))
}

/// Lets a request through only with a good node token.
async fn node_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let from = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "?".to_string(), |c| c.0.ip().to_string());
    let path = request.uri().path().to_string();
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let refused = |why: String| {
        tracing::warn!("{path} from {from} refused: {why}");
        ApiError::Unauthorized(why).into_response()
    };
    let token = match header.and_then(|h| h.split_once(' ')) {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case(SCHEME) => token.trim(),
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("Bearer") => {
            return refused("internal routes take a node token, not a user's".into())
        }
        _ => return refused("a node token is required (Authorization: Node …)".into()),
    };
    match state.peers.check(token).await {
        Ok(claims) => {
            tracing::debug!("{path} for node {} from {from}", claims.node);
            next.run(request).await
        }
        Err(crate::peer::PeerError::Token(e)) => refused(e.to_string()),
        Err(other) => ApiError::from(other).into_response(),
    }
}

/// This node's id, or a 404: a process that is not a node has no files for the others.
fn own_id(state: &AppState) -> Result<i64, ApiError> {
    state
        .peers
        .identity()
        .map(|me| me.id)
        .ok_or_else(|| ApiError::not_found("this server is not a registered node"))
}

async fn segment(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let me = own_id(&state)?;
    let client = state.store.client().await?;
    let clip = query::clip(&client, id)
        .await?
        .filter(|c| c.node_id == Some(me))
        .ok_or_else(|| ApiError::not_found(format!("no clip {id} on this node")))?;
    drop(client);
    serve_own_segment(&state, id, &clip.path, request).await
}

async fn snapshot(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let id = parse_id("id", &id)?;
    let me = own_id(&state)?;
    let client = state.store.client().await?;
    let path = query::snapshot_path(&client, id)
        .await?
        .filter(|s| s.node_id == Some(me))
        .and_then(|s| s.path)
        .ok_or_else(|| ApiError::not_found(format!("no snapshot of passage {id} on this node")))?;
    drop(client);
    serve_own_snapshot(&state, id, &path, request).await
}

async fn unknown() -> ApiError {
    ApiError::not_found("no such internal route")
}
