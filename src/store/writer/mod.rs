//! The batched writer: passages and clip segments from the cameras into the log.
//!
//! Owns: batching (up to `max_batch` records, committed at least every `flush_interval`), the
//! binary `COPY` into per-connection staging tables and the one statement that moves a batch
//! into `passages` and `plate_reads`, idempotently (a passage already in the log, by its natural
//! key, is skipped with its reads), raising watchlist alerts in the same transaction, and never
//! losing a batch: rows a node made are fenced (`connection`; a row made under a lease its node
//! had lost is refused, counted and logged), and when the database is down, batches go to the on-disk spool
//! ([`super::spool`]) and are replayed in order when it returns.
//!
//! Back-pressure: the queue in front of the writer is bounded; when the database is slow (or
//! down with no spool), senders wait instead of records being dropped.
//!
//! - this module: the settings, the handles ([`Writer`], [`WriterInput`]) and the counters;
//! - `task`: the task's loop (batch, write, spool, replay) and its back-off;
//! - `connection`: one batch into the database in one transaction ([`write_batch`] without a
//!   task);
//! - `sql`: the staging tables, the statement that moves a batch into the log, the clip upsert.

mod connection;
mod from_config;
mod sql;
mod task;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use super::rows::{NewClip, NewPassage, NewPlateRead, WriteItem};
use super::{Store, StoreError};
pub use connection::write_batch;
pub use sql::ALERT_CHANNEL;

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
    /// Rows the fence refused: made under a lease its node had lost (see [`crate::lease`]).
    pub refused: AtomicU64,
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
    /// Rows the fence refused.
    pub refused: u64,
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
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    /// Counts a committed batch in.
    fn committed(&self, written: &Written) {
        self.passages.fetch_add(written.passages, Ordering::Relaxed);
        self.duplicates
            .fetch_add(written.duplicates, Ordering::Relaxed);
        self.clips.fetch_add(written.clips, Ordering::Relaxed);
        self.alerts
            .fetch_add(written.alerts.len() as u64, Ordering::Relaxed);
        self.refused.fetch_add(written.refused, Ordering::Relaxed);
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
    /// Rows the fence refused.
    pub refused: u64,
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
        let task = tokio::spawn(task::run(store, settings, rx, counters.clone()));
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
