//! What retention deletes: the clip rows oldest first, and whole monthly partitions of
//! passages before a cut-off.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::store::StoreError;

/// A clip segment retention may delete.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredClip {
    /// Row id.
    pub id: i64,
    /// File.
    pub path: String,
    /// Size.
    pub bytes: i64,
    /// End of its recording.
    pub ended_at: DateTime<Utc>,
}

/// The clip segments on the disk of `node` (its rows and rows of no node), oldest end first.
pub async fn clips_oldest_first(
    client: &Client,
    node: Option<i64>,
) -> Result<Vec<StoredClip>, StoreError> {
    let rows = client
        .query(
            "SELECT id, path, bytes, ended_at FROM clips
             WHERE node_id IS NULL OR node_id = $1
             ORDER BY ended_at, id",
            &[&node],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredClip {
            id: r.get(0),
            path: r.get(1),
            bytes: r.get(2),
            ended_at: r.get(3),
        })
        .collect())
}

/// Forgets clip rows whose files retention deleted.
pub async fn delete_clip_rows(client: &Client, ids: &[i64]) -> Result<u64, StoreError> {
    Ok(client
        .execute("DELETE FROM clips WHERE id = ANY($1)", &[&ids])
        .await?)
}

/// Drops the passage months that end on or before `cutoff`; returns the tables dropped.
pub async fn drop_months_before(
    client: &Client,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query("SELECT matthan_drop_months_before($1)", &[&cutoff])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}
