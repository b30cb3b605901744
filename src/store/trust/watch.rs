//! The watchlist and its alerts: adding, removing and listing watches (with the keys the
//! writer matches new reads against), the alerts raised, and the webhook's outbox bookkeeping.
//! Statements on `watchlist`, `watch_keys` and `alerts`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row};

use crate::plate::search::PlateQuery;
use crate::store::StoreError;

/// A watchlist entry.
#[derive(Debug, Clone, Serialize)]
pub struct WatchView {
    /// Id.
    pub id: i64,
    /// The pattern as normalised.
    pub pattern: String,
    /// exact, wildcard or fuzzy.
    pub mode: String,
    /// Why it is watched.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Alerts raised so far.
    pub alerts: i64,
}

/// What a watch stores for `query`: pattern, mode, match key, and (fuzzy) the folded keys it
/// matches.
pub fn watch_columns(query: &PlateQuery) -> (String, &'static str, String, Option<Vec<String>>) {
    match query {
        PlateQuery::Exact(key) => (key.clone(), "exact", key.clone(), None),
        PlateQuery::Wildcard { pattern, like } => (pattern.clone(), "wildcard", like.clone(), None),
        PlateQuery::Fuzzy { key, folded_keys } => {
            (key.clone(), "fuzzy", key.clone(), Some(folded_keys.clone()))
        }
    }
}

/// Adds a watch with its match keys, in one transaction; returns its id.
pub async fn add_watch(
    client: &mut Client,
    query: &PlateQuery,
    reason: &str,
    created_by: &str,
) -> Result<i64, StoreError> {
    let (pattern, mode, match_key, folded) = watch_columns(query);
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO watchlist (pattern, mode, match_key, reason, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&pattern, &mode, &match_key, &reason, &created_by],
        )
        .await?;
    let id: i64 = row.get(0);
    let (kind, keys) = match (mode, folded) {
        ("exact", _) => ("key", vec![match_key.clone()]),
        (_, Some(folded)) => ("folded", folded),
        _ => ("key", Vec::new()),
    };
    tx.execute(
        "INSERT INTO watch_keys (watch_id, kind, key)
         SELECT $1, $2, k FROM unnest($3::text[]) AS k ON CONFLICT DO NOTHING",
        &[&id, &kind, &keys],
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Ends a watch (kept, with who removed it). False when no live watch has that id.
pub async fn remove_watch(client: &Client, id: i64, removed_by: &str) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE watchlist SET removed_at = now(), removed_by = $2
             WHERE id = $1 AND removed_at IS NULL",
            &[&id, &removed_by],
        )
        .await?;
    Ok(n == 1)
}

/// The live watches.
pub async fn watchlist(client: &Client) -> Result<Vec<WatchView>, StoreError> {
    let rows = client
        .query(
            "SELECT w.id, w.pattern, w.mode, w.reason, w.created_by, w.created_at,
                    (SELECT count(*) FROM alerts a WHERE a.watch_id = w.id)
             FROM watchlist w WHERE w.removed_at IS NULL ORDER BY w.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| WatchView {
            id: r.get(0),
            pattern: r.get(1),
            mode: r.get(2),
            reason: r.get(3),
            created_by: r.get(4),
            created_at: r.get(5),
            alerts: r.get(6),
        })
        .collect())
}

/// An alert as shown and pushed.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AlertView {
    /// Id; also the SSE event id.
    pub id: i64,
    /// The watch it matched.
    pub watch_id: i64,
    /// The watch's pattern.
    pub pattern: String,
    /// Its mode.
    pub mode: String,
    /// Why the plate is watched.
    pub reason: String,
    /// The passage.
    pub passage_id: i64,
    /// When the vehicle passed.
    pub best_at: DateTime<Utc>,
    /// Where.
    pub camera: String,
    /// The candidate that matched.
    pub plate_key: String,
    /// Its rank among the passage's candidates (1 = the voted plate).
    pub rank: i16,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
}

/// The columns [`alert_view`] reads, in its order.
const ALERT_COLUMNS: &str = "a.id, a.watch_id, w.pattern, w.mode, w.reason, a.passage_id,
       a.best_at, c.name, a.plate_key, a.rank, a.raised_at";

/// Alerts with their watch and camera.
const ALERT_FROM: &str =
    "FROM alerts a JOIN watchlist w ON w.id = a.watch_id JOIN cameras c ON c.id = a.camera_id";

fn alert_view(r: &Row) -> AlertView {
    AlertView {
        id: r.get(0),
        watch_id: r.get(1),
        pattern: r.get(2),
        mode: r.get(3),
        reason: r.get(4),
        passage_id: r.get(5),
        best_at: r.get(6),
        camera: r.get(7),
        plate_key: r.get(8),
        rank: r.get(9),
        raised_at: r.get(10),
    }
}

/// Alerts with id above `after_id`, oldest first (what an SSE client missed), at most `limit`.
pub async fn alerts_after(
    client: &Client,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.id > $1 ORDER BY a.id LIMIT $2");
    let rows = client.query(&sql, &[&after_id, &limit]).await?;
    Ok(rows.iter().map(alert_view).collect())
}

/// The newest alerts, newest first.
pub async fn recent_alerts(client: &Client, limit: i64) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} ORDER BY a.id DESC LIMIT $1");
    let rows = client.query(&sql, &[&limit]).await?;
    Ok(rows.iter().map(alert_view).collect())
}

/// Alerts whose webhook delivery is due, oldest first, each with the attempts made so far.
pub async fn alerts_due_for_webhook(
    client: &Client,
    max_attempts: i32,
    limit: i64,
) -> Result<Vec<(AlertView, i32)>, StoreError> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS}, a.webhook_attempts {ALERT_FROM}
         WHERE a.webhook_done_at IS NULL AND a.webhook_next_at <= now()
           AND a.webhook_attempts < $1 ORDER BY a.id LIMIT $2"
    );
    let rows = client.query(&sql, &[&max_attempts, &limit]).await?;
    Ok(rows.iter().map(|r| (alert_view(r), r.get(11))).collect())
}

/// Records a webhook attempt: delivered, or failed with the next try after `retry_in_s`.
pub async fn webhook_attempted(
    client: &Client,
    alert_id: i64,
    result: Result<(), String>,
    retry_in_s: f64,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => {
            client
                .execute(
                    "UPDATE alerts SET webhook_attempts = webhook_attempts + 1,
                         webhook_done_at = now(), webhook_error = NULL WHERE id = $1",
                    &[&alert_id],
                )
                .await?
        }
        Err(e) => {
            client
                .execute(
                    "UPDATE alerts SET webhook_attempts = webhook_attempts + 1, webhook_error = $2,
                         webhook_next_at = now() + make_interval(secs => $3) WHERE id = $1",
                    &[&alert_id, &e, &retry_in_s],
                )
                .await?
        }
    };
    Ok(())
}

/// The alerts with these ids, oldest first.
pub async fn alerts_by_ids(client: &Client, ids: &[i64]) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.id = ANY($1) ORDER BY a.id");
    let rows = client.query(&sql, &[&ids]).await?;
    Ok(rows.iter().map(alert_view).collect())
}

/// Whether a live watch has this pattern and mode.
pub async fn has_watch(client: &Client, query: &PlateQuery) -> Result<bool, StoreError> {
    let (pattern, mode, _, _) = watch_columns(query);
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM watchlist
                            WHERE pattern = $1 AND mode = $2 AND removed_at IS NULL)",
            &[&pattern, &mode],
        )
        .await?;
    Ok(row.get(0))
}
