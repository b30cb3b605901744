//! The batched writer: passages and clip segments from the cameras into the log.
//!
//! Owns: batching (up to `max_batch` records, committed at least every `flush_interval`), the
//! binary `COPY` into per-connection staging tables and the one statement that moves a batch
//! into `passages` and `plate_reads`, idempotently (a passage already in the log, by its natural
//! key, is skipped with its reads), raising watchlist alerts in the same transaction, and never
//! losing a batch: when the database is down, batches go to the on-disk spool
//! ([`super::spool`]) and are replayed in order when it returns.
//!
//! Back-pressure: the queue in front of the writer is bounded; when the database is slow (or
//! down with no spool), senders wait instead of records being dropped.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Utc};
use futures_util::pin_mut;
use tokio::sync::mpsc;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};

pub use super::rows::{NewClip, NewPassage, NewPlateRead, WriteItem};
use super::spool::{Spool, SpoolError};
use super::{Store, StoreError};
use crate::plate::fold_confusions;

/// Batching, retry and spool settings.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Largest batch.
    pub max_batch: usize,
    /// Longest time a record waits before its batch commits.
    pub flush_interval: Duration,
    /// Queue length in front of the writer (records).
    pub queue: usize,
    /// Root of the on-disk spool for batches the database cannot take (see [`super::spool`]).
    /// `None`: a failed batch is retried in memory and senders wait.
    pub spool_dir: Option<PathBuf>,
    /// On close, how long to keep trying to replay the spool before leaving it for the next run.
    pub drain_timeout: Duration,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            max_batch: 5000,
            flush_interval: Duration::from_secs(1),
            queue: 20_000,
            spool_dir: None,
            drain_timeout: Duration::from_secs(120),
        }
    }
}

/// Counters of a writer, shared with `/metrics`.
#[derive(Debug, Default)]
pub struct WriterCounters {
    /// Passages newly written.
    pub passages: AtomicU64,
    /// Passages skipped because the log already held them.
    pub duplicates: AtomicU64,
    /// Clip rows written or refreshed.
    pub clips: AtomicU64,
    /// Batches committed.
    pub batches: AtomicU64,
    /// Failed batch attempts (each retried).
    pub errors: AtomicU64,
    /// Records waiting in the current batch or queue.
    pub pending: AtomicU64,
    /// Records that went through the spool (in total).
    pub spooled: AtomicU64,
    /// Records in the spool now.
    pub in_spool: AtomicU64,
    /// Watchlist alerts raised by the passages written.
    pub alerts: AtomicU64,
}

/// Totals of a finished writer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriterStats {
    /// Passages newly written.
    pub passages: u64,
    /// Passages already in the log.
    pub duplicates: u64,
    /// Clip rows written.
    pub clips: u64,
    /// Batches committed.
    pub batches: u64,
    /// Failed attempts.
    pub errors: u64,
    /// Records that went through the spool.
    pub spooled: u64,
    /// Records still in the spool (the database did not come back in time).
    pub in_spool: u64,
    /// Alerts raised.
    pub alerts: u64,
}

impl WriterCounters {
    /// A snapshot of the counters.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            passages: self.passages.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            clips: self.clips.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            spooled: self.spooled.load(Ordering::Relaxed),
            in_spool: self.in_spool.load(Ordering::Relaxed),
            alerts: self.alerts.load(Ordering::Relaxed),
        }
    }

    fn committed(&self, written: &Written) {
        self.passages.fetch_add(written.passages, Ordering::Relaxed);
        self.duplicates
            .fetch_add(written.duplicates, Ordering::Relaxed);
        self.clips.fetch_add(written.clips, Ordering::Relaxed);
        self.alerts
            .fetch_add(written.alerts.len() as u64, Ordering::Relaxed);
        self.batches.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one committed batch did.
#[derive(Debug, Clone, Default)]
pub struct Written {
    /// Passages new to the log.
    pub passages: u64,
    /// Passages the log already held.
    pub duplicates: u64,
    /// Clip rows written.
    pub clips: u64,
    /// Ids of the alerts raised.
    pub alerts: Vec<i64>,
}

/// Handle to a running writer task.
pub struct Writer {
    /// The bounded queue into the task.
    tx: mpsc::Sender<WriteItem>,
    /// The task; ends when every sender is gone and the last batch is written.
    task: tokio::task::JoinHandle<()>,
    /// Shared counters.
    counters: Arc<WriterCounters>,
}

/// A cloneable way to feed a writer, also from plain threads.
#[derive(Clone)]
pub struct WriterInput {
    /// The bounded queue.
    tx: mpsc::Sender<WriteItem>,
    /// Counts queued records.
    counters: Arc<WriterCounters>,
}

impl WriterInput {
    /// Queues a record, waiting while the queue is full.
    pub async fn send(&self, item: WriteItem) -> Result<(), StoreError> {
        self.counters.pending.fetch_add(1, Ordering::Relaxed);
        self.tx
            .send(item)
            .await
            .map_err(|_| StoreError::WriterClosed)
    }

    /// Queues a record from a thread outside the runtime, waiting while the queue is full.
    pub fn blocking_send(&self, item: WriteItem) -> Result<(), StoreError> {
        self.counters.pending.fetch_add(1, Ordering::Relaxed);
        self.tx
            .blocking_send(item)
            .map_err(|_| StoreError::WriterClosed)
    }
}

impl Writer {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Store, settings: WriterSettings) -> Writer {
        let (tx, rx) = mpsc::channel(settings.queue.max(1));
        let counters = Arc::new(WriterCounters::default());
        let task = tokio::spawn(run(store, settings, rx, counters.clone()));
        Writer { tx, task, counters }
    }

    /// A handle for senders.
    pub fn input(&self) -> WriterInput {
        WriterInput {
            tx: self.tx.clone(),
            counters: self.counters.clone(),
        }
    }

    /// The live counters.
    pub fn counters(&self) -> Arc<WriterCounters> {
        self.counters.clone()
    }

    /// Waits until every record sent (by this handle and every [`WriterInput`], which must be
    /// dropped first) is written (or, if the database stays down past the drain timeout,
    /// safely in the spool), and returns the totals.
    pub async fn close(self) -> WriterStats {
        drop(self.tx);
        let _ = self.task.await;
        self.counters.stats()
    }
}

/// When to try the database again after a failure.
struct Backoff {
    /// The next attempt is not before this.
    next_at: tokio::time::Instant,
    /// The wait after the next failure.
    delay: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(5);

    fn new() -> Backoff {
        Backoff {
            next_at: tokio::time::Instant::now(),
            delay: Self::FIRST,
        }
    }

    fn due(&self) -> bool {
        tokio::time::Instant::now() >= self.next_at
    }

    /// Schedules the next attempt; returns the wait until it.
    fn failed(&mut self) -> Duration {
        let wait = self.delay;
        self.next_at = tokio::time::Instant::now() + wait;
        self.delay = (self.delay * 2).min(Self::MAX);
        wait
    }

    fn succeeded(&mut self) {
        self.next_at = tokio::time::Instant::now();
        self.delay = Self::FIRST;
    }
}

async fn run(
    store: Store,
    settings: WriterSettings,
    mut rx: mpsc::Receiver<WriteItem>,
    counters: Arc<WriterCounters>,
) {
    let mut conn = WriterConnection::new(store);
    let mut spool = settings
        .spool_dir
        .as_deref()
        .and_then(|root| match Spool::open(root) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!("no spool ({e}): failed batches are retried in memory");
                None
            }
        });
    if let Some(s) = &spool {
        if !s.is_empty() {
            tracing::warn!(
                "{} spooled batch(es) from an earlier run to replay",
                s.len()
            );
        }
    }
    let mut backoff = Backoff::new();
    let mut batch: Vec<WriteItem> = Vec::with_capacity(settings.max_batch);
    let mut open = true;
    let mut closed_at: Option<tokio::time::Instant> = None;
    loop {
        // Replay the spool, oldest first, whenever the database may be back.
        if let Some(s) = spool.as_mut() {
            if !s.is_empty() && backoff.due() {
                replay(s, &mut conn, &counters, &mut backoff).await;
            }
        }
        let spooling = spool.as_ref().is_some_and(|s| !s.is_empty());
        if !open && batch.is_empty() {
            if !spooling {
                break;
            }
            let since = *closed_at.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= settings.drain_timeout {
                tracing::error!(
                    "the database did not come back within {:.0} s: {} record(s) stay in the \
                     spool at {} and are written by the next run",
                    settings.drain_timeout.as_secs_f64(),
                    counters.in_spool.load(Ordering::Relaxed),
                    spool
                        .as_ref()
                        .map(|s| s.dir().display().to_string())
                        .unwrap_or_default()
                );
                break;
            }
            tokio::time::sleep_until(
                backoff
                    .next_at
                    .max(tokio::time::Instant::now() + Duration::from_millis(50)),
            )
            .await;
            continue;
        }
        // Fill the batch until it is full, its oldest record is due, the queue closes, or (while
        // spooling) the next replay is due.
        if open {
            let mut deadline = tokio::time::Instant::now() + settings.flush_interval;
            if spooling {
                deadline = deadline.min(backoff.next_at.max(tokio::time::Instant::now()));
            }
            while batch.len() < settings.max_batch {
                let next = if batch.is_empty() && !spooling {
                    rx.recv().await
                } else {
                    match tokio::time::timeout_at(deadline, rx.recv()).await {
                        Ok(item) => item,
                        Err(_) => break,
                    }
                };
                match next {
                    Some(item) => batch.push(item),
                    None => {
                        open = false;
                        break;
                    }
                }
            }
        }
        if batch.is_empty() {
            continue;
        }
        if !spooling {
            match conn.write(&batch).await {
                Ok(written) => {
                    counters.committed(&written);
                    counters
                        .pending
                        .fetch_sub(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                    backoff.succeeded();
                    continue;
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    conn.reset();
                    let wait = backoff.failed();
                    if spool.is_none() {
                        tracing::error!(
                            "writing {} records failed: {e}; retrying in {:.1} s",
                            batch.len(),
                            wait.as_secs_f64()
                        );
                        tokio::time::sleep_until(backoff.next_at).await;
                        continue;
                    }
                    tracing::error!(
                        "writing {} records failed: {e}; spooling to disk until the database is back",
                        batch.len()
                    );
                }
            }
        }
        // The database is down (or older batches wait): keep the batch on disk, in order.
        if let Some(s) = spool.as_mut() {
            match s.push(&batch) {
                Ok(()) => {
                    let n = batch.len() as u64;
                    counters.spooled.fetch_add(n, Ordering::Relaxed);
                    counters.in_spool.fetch_add(n, Ordering::Relaxed);
                    counters.pending.fetch_sub(n, Ordering::Relaxed);
                    batch.clear();
                }
                Err(e) => {
                    // Nothing is dropped: the batch stays in memory and is tried again.
                    tracing::error!("spooling {} records failed: {e}", batch.len());
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Writes spooled batches in order until the spool is empty or the database fails again.
async fn replay(
    spool: &mut Spool,
    conn: &mut WriterConnection,
    counters: &WriterCounters,
    backoff: &mut Backoff,
) {
    loop {
        let batch = match spool.oldest() {
            Ok(Some(b)) => b,
            Ok(None) => {
                tracing::info!("spool replayed; writing directly again");
                backoff.succeeded();
                return;
            }
            Err(e @ SpoolError::Corrupt { .. }) => {
                tracing::error!("{e}");
                continue;
            }
            Err(e) => {
                tracing::error!("{e}");
                backoff.failed();
                return;
            }
        };
        match conn.write(&batch.items).await {
            Ok(written) => {
                counters.committed(&written);
                // Adopted batches were never counted in, so the gauge stops at zero.
                let n = batch.items.len() as u64;
                let _ = counters
                    .in_spool
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        Some(v.saturating_sub(n))
                    });
                tracing::info!(
                    "replayed {} spooled records ({} new passages)",
                    batch.items.len(),
                    written.passages
                );
                if let Err(e) = spool.remove_oldest() {
                    tracing::error!("{e}");
                    backoff.failed();
                    return;
                }
            }
            Err(e) => {
                counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("replay failed: {e}");
                conn.reset();
                backoff.failed();
                return;
            }
        }
    }
}

/// The writer's connection and what it has learnt about the database.
struct WriterConnection {
    /// Where connections come from.
    store: Store,
    /// The connection in use, with its staging tables; dropped after an error.
    client: Option<deadpool_postgres::Object>,
    /// Camera ids by name.
    cameras: HashMap<String, i64>,
    /// Months whose partitions exist (year × 12 + month).
    months: HashSet<i32>,
}

const STAGE_PASSAGE_TYPES: &[Type] = &[
    Type::INT4,        // seq
    Type::INT8,        // camera_id
    Type::INT8,        // track_no
    Type::TIMESTAMPTZ, // first_seen
    Type::TIMESTAMPTZ, // last_seen
    Type::TIMESTAMPTZ, // best_at
    Type::TEXT,        // vehicle_class
    Type::TEXT,        // plate_key
    Type::TEXT,        // plate_display
    Type::FLOAT4,      // plate_confidence
    Type::BOOL,        // is_vietnamese
    Type::TEXT,        // direction
    Type::BOOL,        // crossed_line
    Type::TIMESTAMPTZ, // clip_started_at
    Type::INT8,        // clip_offset_ms
    Type::TEXT,        // snapshot_path
    Type::FLOAT4_ARRAY,
    Type::INT4, // frames_seen
];

const STAGE_READ_TYPES: &[Type] = &[
    Type::INT4,   // seq
    Type::INT2,   // rank
    Type::TEXT,   // plate_key
    Type::TEXT,   // plate_folded
    Type::FLOAT4, // confidence
    Type::FLOAT4_ARRAY,
];

const CREATE_STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS stage_passages (
    seq int, camera_id bigint, track_no bigint, first_seen timestamptz, last_seen timestamptz,
    best_at timestamptz, vehicle_class text, plate_key text, plate_display text,
    plate_confidence real, is_vietnamese boolean, direction text, crossed_line boolean,
    clip_started_at timestamptz, clip_offset_ms bigint, snapshot_path text, bbox real[],
    frames_seen int) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_reads (
    seq int, rank smallint, plate_key text, plate_folded text, confidence real,
    char_confidences real[]) ON COMMIT DELETE ROWS;";

/// Moves the staged batch into the log; passages already there (natural key) are skipped
/// with their reads. Every candidate of a new passage is matched against the live watchlist
/// with the same rules as a search (exact key, `LIKE` pattern, folded key one edit away), and
/// one alert is raised per (watch, passage). Returns (passages inserted, reads inserted, the
/// new alerts' ids).
const MOVE_STAGED: &str = "
WITH ins AS (
    INSERT INTO passages (camera_id, track_no, first_seen, last_seen, best_at, vehicle_class,
        plate_key, plate_display, plate_confidence, is_vietnamese, direction, crossed_line,
        clip_started_at, clip_offset_ms, snapshot_path, bbox, frames_seen)
    SELECT camera_id, track_no, first_seen, last_seen, best_at, vehicle_class,
        plate_key, plate_display, plate_confidence, is_vietnamese, direction, crossed_line,
        clip_started_at, clip_offset_ms, snapshot_path, bbox, frames_seen
    FROM stage_passages ORDER BY seq
    ON CONFLICT DO NOTHING
    RETURNING id, best_at, camera_id, first_seen, track_no
), reads AS (
    INSERT INTO plate_reads (passage_id, best_at, camera_id, rank, plate_key, plate_folded,
        confidence, char_confidences)
    SELECT ins.id, ins.best_at, ins.camera_id, r.rank, r.plate_key, r.plate_folded,
        r.confidence, r.char_confidences
    FROM ins
    JOIN stage_passages s ON s.camera_id = ins.camera_id AND s.best_at = ins.best_at
        AND s.first_seen = ins.first_seen AND s.track_no = ins.track_no
    JOIN stage_reads r ON r.seq = s.seq
    RETURNING passage_id, best_at, camera_id, rank, plate_key, plate_folded
), matched AS (
    SELECT k.watch_id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM reads r JOIN watch_keys k ON k.kind = 'key' AND k.key = r.plate_key
    UNION ALL
    SELECT k.watch_id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM reads r JOIN watch_keys k ON k.kind = 'folded' AND k.key = r.plate_folded
    UNION ALL
    SELECT w.id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM reads r JOIN watchlist w ON w.mode = 'wildcard' AND w.removed_at IS NULL
        AND r.plate_key LIKE w.match_key
), hits AS (
    SELECT DISTINCT ON (m.watch_id, m.passage_id)
        m.watch_id, m.passage_id, m.best_at, m.camera_id, m.plate_key, m.rank
    FROM matched m JOIN watchlist w ON w.id = m.watch_id AND w.removed_at IS NULL
    ORDER BY m.watch_id, m.passage_id, m.rank
), alerted AS (
    INSERT INTO alerts (watch_id, passage_id, best_at, camera_id, plate_key, rank)
    SELECT watch_id, passage_id, best_at, camera_id, plate_key, rank FROM hits
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM reads),
    (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM alerted)";

/// The channel new alerts are announced on (payload: their ids, comma-separated).
pub const ALERT_CHANNEL: &str = "matthan_alerts";

const UPSERT_CLIP: &str = "
INSERT INTO clips (camera_id, started_at, ended_at, path, bytes, sha256)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (camera_id, started_at) DO UPDATE
SET ended_at = EXCLUDED.ended_at, path = EXCLUDED.path, bytes = EXCLUDED.bytes,
    sha256 = EXCLUDED.sha256, recorded_at = now()";

fn month_of(t: &DateTime<Utc>) -> i32 {
    t.year() * 12 + t.month0() as i32
}

impl WriterConnection {
    fn new(store: Store) -> WriterConnection {
        WriterConnection {
            store,
            client: None,
            cameras: HashMap::new(),
            months: HashSet::new(),
        }
    }

    fn reset(&mut self) {
        self.client = None;
        // Retention may have dropped a month meanwhile.
        self.months.clear();
    }

    async fn client(&mut self) -> Result<&mut deadpool_postgres::Object, StoreError> {
        if self.client.is_none() {
            let client = self.store.client().await?;
            client.batch_execute(CREATE_STAGING).await?;
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Pool("no connection".into()))
    }

    async fn camera_id(&mut self, name: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.cameras.get(name) {
            return Ok(*id);
        }
        let client = self.client().await?;
        let id = super::query::camera_id_or_create(client, name).await?;
        self.cameras.insert(name.to_string(), id);
        Ok(id)
    }

    async fn ensure_months(&mut self, times: &[DateTime<Utc>]) -> Result<(), StoreError> {
        let mut missing: Vec<&DateTime<Utc>> = times
            .iter()
            .filter(|t| !self.months.contains(&month_of(t)))
            .collect();
        missing.sort();
        if let (Some(first), Some(last)) = (missing.first().copied(), missing.last().copied()) {
            let (first, last) = (*first, *last);
            let client = self.client().await?;
            client
                .execute("SELECT matthan_ensure_months($1, $2)", &[&first, &last])
                .await?;
            let (a, b) = (month_of(&first), month_of(&last));
            self.months.extend(a..=b);
        }
        Ok(())
    }

    /// Writes one batch in one transaction, raising its watchlist alerts.
    async fn write(&mut self, batch: &[WriteItem]) -> Result<Written, StoreError> {
        // Resolve names and partitions first (each commits on its own and is idempotent).
        let mut camera_ids = Vec::with_capacity(batch.len());
        let mut best_times = Vec::new();
        for item in batch {
            let name = match item {
                WriteItem::Passage(p) => {
                    best_times.push(p.best_at);
                    &p.camera
                }
                WriteItem::Clip(c) => &c.camera,
            };
            camera_ids.push(self.camera_id(name).await?);
        }
        self.ensure_months(&best_times).await?;

        let client = self.client().await?;
        let tx = client.transaction().await?;
        let mut clips = 0u64;
        let mut staged = 0u64;
        let mut seen_keys = HashSet::new();
        {
            let sink = tx
                .copy_in("COPY stage_passages FROM STDIN (FORMAT binary)")
                .await?;
            let writer = BinaryCopyInWriter::new(sink, STAGE_PASSAGE_TYPES);
            pin_mut!(writer);
            for (seq, (item, camera_id)) in batch.iter().zip(&camera_ids).enumerate() {
                let WriteItem::Passage(p) = item else {
                    continue;
                };
                // The same passage twice in one batch would insert its reads twice.
                if !seen_keys.insert((*camera_id, p.best_at, p.first_seen, p.track_no)) {
                    continue;
                }
                let seq = seq as i32;
                let row: [&(dyn ToSql + Sync); 18] = [
                    &seq,
                    camera_id,
                    &p.track_no,
                    &p.first_seen,
                    &p.last_seen,
                    &p.best_at,
                    &p.vehicle_class,
                    &p.plate_key,
                    &p.plate_display,
                    &p.plate_confidence,
                    &p.is_vietnamese,
                    &p.direction,
                    &p.crossed_line,
                    &p.clip_started_at,
                    &p.clip_offset_ms,
                    &p.snapshot_path,
                    &p.bbox,
                    &p.frames_seen,
                ];
                writer.as_mut().write(&row).await?;
                staged += 1;
            }
            writer.finish().await?;
        }
        {
            let sink = tx
                .copy_in("COPY stage_reads FROM STDIN (FORMAT binary)")
                .await?;
            let writer = BinaryCopyInWriter::new(sink, STAGE_READ_TYPES);
            pin_mut!(writer);
            for (seq, item) in batch.iter().enumerate() {
                let WriteItem::Passage(p) = item else {
                    continue;
                };
                let seq = seq as i32;
                for r in &p.reads {
                    let folded = fold_confusions(&r.key);
                    let row: [&(dyn ToSql + Sync); 6] = [
                        &seq,
                        &r.rank,
                        &r.key,
                        &folded,
                        &r.confidence,
                        &r.char_confidences,
                    ];
                    writer.as_mut().write(&row).await?;
                }
            }
            writer.finish().await?;
        }
        let row = tx.query_one(MOVE_STAGED, &[]).await?;
        let inserted = row.get::<_, i64>(0) as u64;
        let alerts: Vec<i64> = row.get(2);
        if !alerts.is_empty() {
            let ids: Vec<String> = alerts.iter().map(i64::to_string).collect();
            // Delivered to listeners when (and only if) the batch commits.
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&ALERT_CHANNEL, &ids.join(",")],
            )
            .await?;
        }
        for (item, camera_id) in batch.iter().zip(&camera_ids) {
            if let WriteItem::Clip(c) = item {
                tx.execute(
                    UPSERT_CLIP,
                    &[
                        camera_id,
                        &c.started_at,
                        &c.ended_at,
                        &c.path,
                        &c.bytes,
                        &c.sha256,
                    ],
                )
                .await?;
                clips += 1;
            }
        }
        tx.commit().await?;
        let passages_in_batch = batch
            .iter()
            .filter(|i| matches!(i, WriteItem::Passage(_)))
            .count() as u64;
        let _ = staged;
        Ok(Written {
            passages: inserted,
            duplicates: passages_in_batch - inserted,
            clips,
            alerts,
        })
    }
}

/// Writes `items` now, in one batch, without a writer task (tests, tools).
pub async fn write_batch(store: &Store, items: &[WriteItem]) -> Result<WriterStats, StoreError> {
    let started = Instant::now();
    let mut conn = WriterConnection::new(store.clone());
    let written = conn.write(items).await?;
    tracing::debug!(
        "wrote {} records in {:.1} ms",
        items.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(WriterStats {
        passages: written.passages,
        duplicates: written.duplicates,
        clips: written.clips,
        batches: 1,
        alerts: written.alerts.len() as u64,
        ..WriterStats::default()
    })
}
