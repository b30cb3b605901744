//! Analysis runs (`analysis_runs`): a camera's recorded window read again by `matthan reread`.
//!
//! A run is one (camera, window, model version). Opening a run finds the one of the same key
//! or makes it (two readers starting together get the same row); finishing it counts its
//! passages in the window and stamps it. While a reader works on a run it holds the run's
//! advisory lock on its own connection, so a second reader of the same run is told so instead
//! of reading the same segments twice; the lock goes with the connection, also when the reader
//! dies.

use chrono::{DateTime, Utc};
use tokio_postgres::Row;

use crate::store::StoreError;

/// One analysis run.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisRun {
    /// Id (what `passages.run_id` holds).
    pub id: i64,
    /// The camera.
    pub camera_id: i64,
    /// Start of the window read (included).
    pub window_from: DateTime<Utc>,
    /// End of the window read (excluded).
    pub window_to: DateTime<Utc>,
    /// Short hash of what decides the reads.
    pub model_version: String,
    /// The same in words.
    pub analysis: String,
    /// When the run was opened.
    pub started_at: DateTime<Utc>,
    /// When every segment of its window had been read; `None` while it is not done.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its passages, counted when it finished.
    pub passages: Option<i64>,
}

const RUN_COLUMNS: &str = "id, camera_id, window_from, window_to, model_version, analysis,
    started_at, finished_at, passages";

/// Advisory lock keys of runs: this tag in the high half, the run id in the low half.
const LOCK_TAG: i64 = 0x7265_7265_6164 << 16; // "reread"

fn run_from_row(r: &Row) -> AnalysisRun {
    AnalysisRun {
        id: r.get(0),
        camera_id: r.get(1),
        window_from: r.get(2),
        window_to: r.get(3),
        model_version: r.get(4),
        analysis: r.get(5),
        started_at: r.get(6),
        finished_at: r.get(7),
        passages: r.get(8),
    }
}

/// The run of (`camera_id`, [`from`, `to`), `model_version`), if there is one.
pub async fn find_run(
    client: &tokio_postgres::Client,
    camera_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    model_version: &str,
) -> Result<Option<AnalysisRun>, StoreError> {
    let sql = format!(
        "SELECT {RUN_COLUMNS} FROM analysis_runs
         WHERE camera_id = $1 AND window_from = $2 AND window_to = $3 AND model_version = $4"
    );
    Ok(client
        .query_opt(&sql, &[&camera_id, &from, &to, &model_version])
        .await?
        .as_ref()
        .map(run_from_row))
}

/// The run of (`camera_id`, [`from`, `to`), `model_version`): the one there is, or a new one
/// described as `analysis`.
pub async fn open_run(
    client: &tokio_postgres::Client,
    camera_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    model_version: &str,
    analysis: &str,
) -> Result<AnalysisRun, StoreError> {
    client
        .execute(
            "INSERT INTO analysis_runs (camera_id, window_from, window_to, model_version,
                 analysis)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (camera_id, window_from, window_to, model_version) DO NOTHING",
            &[&camera_id, &from, &to, &model_version, &analysis],
        )
        .await?;
    find_run(client, camera_id, from, to, model_version)
        .await?
        .ok_or_else(|| StoreError::Schema("an analysis run vanished as it was opened".into()))
}

/// Takes run `id`'s lock for this connection's life; false when another connection holds it.
pub async fn lock_run(client: &tokio_postgres::Client, id: i64) -> Result<bool, StoreError> {
    let key = LOCK_TAG | (id & 0xffff_ffff);
    Ok(client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await?
        .get(0))
}

/// Marks run `id` finished with the number of its passages in its window; returns the run.
pub async fn finish_run(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<AnalysisRun, StoreError> {
    let sql = format!(
        "UPDATE analysis_runs r SET finished_at = now(), passages = (
             SELECT count(*) FROM passages p
             WHERE p.run_id = r.id AND p.camera_id = r.camera_id
               AND p.best_at >= r.window_from AND p.best_at < r.window_to)
         WHERE r.id = $1
         RETURNING {RUN_COLUMNS}"
    );
    Ok(run_from_row(&client.query_one(&sql, &[&id]).await?))
}

/// Passages of run `id` so far.
pub async fn run_passages(client: &tokio_postgres::Client, id: i64) -> Result<i64, StoreError> {
    Ok(client
        .query_one(
            "SELECT count(*) FROM passages p JOIN analysis_runs r ON r.id = p.run_id
             WHERE r.id = $1 AND p.camera_id = r.camera_id
               AND p.best_at >= r.window_from AND p.best_at < r.window_to",
            &[&id],
        )
        .await?
        .get(0))
}
