//! Clip segments as the API shows them: a camera's segments over a time window, one by id,
//! each with the node whose disk holds its file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use crate::store::StoreError;

/// A clip segment as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipView {
    /// Id.
    pub id: i64,
    /// Camera name.
    pub camera: String,
    /// Segment start.
    pub started_at: DateTime<Utc>,
    /// Segment end.
    pub ended_at: DateTime<Utc>,
    /// File size.
    pub bytes: i64,
    /// SHA-256 recorded when the segment closed.
    pub sha256: String,
    /// Where to play it.
    pub url: String,
    /// File path (not shown to clients).
    #[serde(skip)]
    pub path: String,
    /// The node whose disk holds the file; `None`: the disk of whoever reads it (not shown
    /// to clients: any node serves any clip).
    #[serde(skip)]
    pub node_id: Option<i64>,
}

fn clip_from_row(r: &Row) -> ClipView {
    let id: i64 = r.get(0);
    ClipView {
        id,
        camera: r.get(1),
        started_at: r.get(2),
        ended_at: r.get(3),
        bytes: r.get(4),
        sha256: r.get(5),
        url: format!("/api/clips/{id}/video"),
        path: r.get(6),
        node_id: r.get(7),
    }
}

/// Segments of `camera_id` overlapping [from, to), in time order.
pub async fn clips(
    client: &tokio_postgres::Client,
    camera_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ClipView>, StoreError> {
    let rows = client
        .query(
            "SELECT cl.id, c.name, cl.started_at, cl.ended_at, cl.bytes, cl.sha256, cl.path, cl.node_id
             FROM clips cl JOIN cameras c ON c.id = cl.camera_id
             WHERE cl.camera_id = $1 AND cl.started_at < $3 AND cl.ended_at > $2
             ORDER BY cl.started_at",
            &[&camera_id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(clip_from_row).collect())
}

/// One segment by id.
pub async fn clip(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<ClipView>, StoreError> {
    let row = client
        .query_opt(
            "SELECT cl.id, c.name, cl.started_at, cl.ended_at, cl.bytes, cl.sha256, cl.path, cl.node_id
             FROM clips cl JOIN cameras c ON c.id = cl.camera_id WHERE cl.id = $1",
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(clip_from_row))
}
