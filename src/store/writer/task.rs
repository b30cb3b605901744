//! The writer task: fills a batch from the queue (until it is full or its oldest record is
//! due), writes it, and when the database fails keeps it in the spool and replays the spool,
//! oldest first, once the database is back; on close, drains until the queue and the spool are
//! empty or the drain timeout passes.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::connection::WriterConnection;
use super::{WriteItem, WriterCounters, WriterSettings};
use crate::store::spool::{Spool, SpoolError};
use crate::store::Store;

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

/// The task: runs until every sender is gone and the queue, the batch and (within the drain
/// timeout) the spool are empty.
pub(super) async fn run(
    store: Store,
    settings: WriterSettings,
    mut rx: mpsc::Receiver<WriteItem>,
    counters: Arc<WriterCounters>,
) {
    let mut task = WriterTask::new(store, settings, counters);
    loop {
        // Replay the spool, oldest first, whenever the database may be back.
        task.replay_if_due().await;
        let spooling = task.spooling();
        if !task.open && task.batch.is_empty() {
            if !spooling || task.drain_timed_out() {
                break;
            }
            task.wait_for_replay().await;
            continue;
        }
        if task.open {
            task.fill(&mut rx, spooling).await;
        }
        if task.batch.is_empty() {
            continue;
        }
        if !spooling && task.write_directly().await {
            continue;
        }
        // The database is down (or older batches wait): keep the batch on disk, in order.
        task.spool_batch().await;
    }
}

/// What the task holds between turns of its loop.
struct WriterTask {
    /// Batch size, flush interval, drain timeout.
    settings: WriterSettings,
    /// Shared with the handles and `/metrics`.
    counters: Arc<WriterCounters>,
    /// The database.
    conn: WriterConnection,
    /// `None` without a spool root or when it could not be opened: a failed batch is retried
    /// in memory and senders wait.
    spool: Option<Spool>,
    /// When to try the database again.
    backoff: Backoff,
    /// Records taken from the queue, not yet written or spooled.
    batch: Vec<WriteItem>,
    /// Whether the queue may still deliver (false once every sender is gone).
    open: bool,
    /// When the drain after close began waiting on the spool (the drain timeout counts from it).
    closed_at: Option<tokio::time::Instant>,
}

impl WriterTask {
    fn new(store: Store, settings: WriterSettings, counters: Arc<WriterCounters>) -> WriterTask {
        let spool = settings
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
        WriterTask {
            batch: Vec::with_capacity(settings.max_batch),
            settings,
            counters,
            conn: WriterConnection::new(store),
            spool,
            backoff: Backoff::new(),
            open: true,
            closed_at: None,
        }
    }

    /// Whether batches wait in the spool (new ones then go behind them, in order).
    fn spooling(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| !s.is_empty())
    }

    async fn replay_if_due(&mut self) {
        if let Some(s) = self.spool.as_mut() {
            if !s.is_empty() && self.backoff.due() {
                replay(s, &mut self.conn, &self.counters, &mut self.backoff).await;
            }
        }
    }

    /// After close, with batches still spooled: whether the drain timeout has passed (then
    /// they stay in the spool for the next run).
    fn drain_timed_out(&mut self) -> bool {
        let since = *self.closed_at.get_or_insert_with(tokio::time::Instant::now);
        if since.elapsed() < self.settings.drain_timeout {
            return false;
        }
        tracing::error!(
            "the database did not come back within {:.0} s: {} record(s) stay in the \
             spool at {} and are written by the next run",
            self.settings.drain_timeout.as_secs_f64(),
            self.counters.in_spool.load(Ordering::Relaxed),
            self.spool
                .as_ref()
                .map(|s| s.dir().display().to_string())
                .unwrap_or_default()
        );
        true
    }

    /// Sleeps until the next replay is due (at least 50 ms).
    async fn wait_for_replay(&self) {
        tokio::time::sleep_until(
            self.backoff
                .next_at
                .max(tokio::time::Instant::now() + Duration::from_millis(50)),
        )
        .await;
    }

    /// Fills the batch until it is full, its oldest record is due, the queue closes, or (while
    /// spooling) the next replay is due.
    async fn fill(&mut self, rx: &mut mpsc::Receiver<WriteItem>, spooling: bool) {
        let mut deadline = tokio::time::Instant::now() + self.settings.flush_interval;
        if spooling {
            deadline = deadline.min(self.backoff.next_at.max(tokio::time::Instant::now()));
        }
        while self.batch.len() < self.settings.max_batch {
            let next = if self.batch.is_empty() && !spooling {
                rx.recv().await
            } else {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(item) => item,
                    Err(_) => break,
                }
            };
            match next {
                Some(item) => self.batch.push(item),
                None => {
                    self.open = false;
                    break;
                }
            }
        }
    }

    /// Writes the batch to the database. `true` when that settled it for this turn (written,
    /// or failed with no spool: kept in memory after a back-off wait); `false` when it failed
    /// and should go to the spool.
    async fn write_directly(&mut self) -> bool {
        match self.conn.write(&self.batch).await {
            Ok(written) => {
                self.counters.committed(&written);
                self.counters
                    .pending
                    .fetch_sub(self.batch.len() as u64, Ordering::Relaxed);
                self.batch.clear();
                self.backoff.succeeded();
                true
            }
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.conn.reset();
                let wait = self.backoff.failed();
                if self.spool.is_none() {
                    tracing::error!(
                        "writing {} records failed: {e}; retrying in {:.1} s",
                        self.batch.len(),
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep_until(self.backoff.next_at).await;
                    return true;
                }
                tracing::error!(
                    "writing {} records failed: {e}; spooling to disk until the database is back",
                    self.batch.len()
                );
                false
            }
        }
    }

    /// Appends the batch to the spool (if there is one); on failure it stays in memory.
    async fn spool_batch(&mut self) {
        let Some(s) = self.spool.as_mut() else {
            return;
        };
        match s.push(&self.batch) {
            Ok(()) => {
                let n = self.batch.len() as u64;
                self.counters.spooled.fetch_add(n, Ordering::Relaxed);
                self.counters.in_spool.fetch_add(n, Ordering::Relaxed);
                self.counters.pending.fetch_sub(n, Ordering::Relaxed);
                self.batch.clear();
            }
            Err(e) => {
                // Nothing is dropped: the batch stays in memory and is tried again.
                tracing::error!("spooling {} records failed: {e}", self.batch.len());
                tokio::time::sleep(Duration::from_secs(1)).await;
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
                // The first failure after a success says why (e.g. no primary yet); the
                // retries that follow it every few seconds stay quiet.
                if backoff.delay == Backoff::FIRST {
                    tracing::warn!("spool replay failed, will retry: {e}");
                } else {
                    tracing::debug!("replay failed: {e}");
                }
                conn.reset();
                backoff.failed();
                return;
            }
        }
    }
}
