//! Watchlist alerts after they are raised: to the page over SSE, and to a webhook.
//!
//! Owns the fan-out and the delivery. Alerts are raised by the writer in the transaction that
//! logs the passage (see `store::writer`), which announces them with `NOTIFY` on commit, so an
//! alert raised by any process writing to the log (`serve`, `ingest`) reaches every page.
//!
//! - [`AlertHub`]: one `LISTEN` connection per server, re-opened when the database returns
//!   (catching up on what was raised meanwhile), fanned out to subscribers (a bounded
//!   broadcast: a subscriber too slow to keep up is told how many it missed).
//! - [`run_webhook`]: the outbox in `alerts` posted to a URL as JSON, each alert until it is
//!   accepted (2xx), with exponential backoff between attempts, across restarts.

use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;

use crate::store::trust::{self, AlertView};
use crate::store::writer::ALERT_CHANNEL;
use crate::store::Store;

/// Alerts kept for a slow subscriber before it starts missing some.
const FANOUT_CAPACITY: usize = 1024;

/// Fans alerts out to the page's live streams.
#[derive(Clone)]
pub struct AlertHub {
    /// The fan-out.
    tx: broadcast::Sender<AlertView>,
    /// Set when the server shuts down: live streams end, so a graceful shutdown does not wait
    /// forever for a page left open.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for AlertHub {
    fn default() -> Self {
        AlertHub::new()
    }
}

impl AlertHub {
    /// A hub with no listener yet (see [`AlertHub::listen`]).
    pub fn new() -> AlertHub {
        let (tx, _) = broadcast::channel(FANOUT_CAPACITY);
        let (closing, _) = tokio::sync::watch::channel(false);
        AlertHub { tx, closing }
    }

    /// Ends every live stream (the server is shutting down).
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Resolves once [`AlertHub::close`] was called.
    pub fn closed(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.closing.subscribe();
        async move {
            let _ = rx.wait_for(|closing| *closing).await;
        }
    }

    /// A new subscriber; it sees alerts raised from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AlertView> {
        self.tx.subscribe()
    }

    /// Listens for alerts on the database until the task is dropped or aborted, reconnecting
    /// with backoff when the database goes away.
    pub async fn listen(self, store: Store) {
        let mut last_id: Option<i64> = None;
        let mut delay = Duration::from_millis(500);
        loop {
            match self.listen_once(&store, &mut last_id).await {
                Ok(()) => {
                    // It was connected: the next host (a promoted standby) is tried after the
                    // shortest wait, not the longest back-off of earlier failures.
                    tracing::warn!("alert listener: connection closed; reconnecting");
                    delay = Duration::from_millis(500);
                }
                Err(e) => tracing::debug!("alert listener: {e}"),
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(10));
        }
    }

    async fn listen_once(
        &self,
        store: &Store,
        last_id: &mut Option<i64>,
    ) -> Result<(), crate::store::StoreError> {
        let (client, mut connection) = store.connect_unpooled().await?;
        let (note_tx, mut note_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        let pump = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        if note_tx.send(n.payload().to_string()).is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client
            .batch_execute(&format!("LISTEN {ALERT_CHANNEL}"))
            .await?;
        // What was raised while no one listened.
        let pool = store.client().await?;
        match *last_id {
            Some(after) => {
                for alert in trust::alerts_after(&pool, after, 10_000).await? {
                    self.publish(alert, last_id);
                }
            }
            None => {
                *last_id = trust::recent_alerts(&pool, 1)
                    .await?
                    .first()
                    .map(|a| a.id)
                    .or(Some(0));
            }
        }
        drop(pool);
        tracing::info!("alert listener: listening");
        while let Some(payload) = note_rx.recv().await {
            let ids: Vec<i64> = payload
                .split(',')
                .filter_map(|s| s.trim().parse().ok())
                .collect();
            if ids.is_empty() {
                continue;
            }
            let pool = store.client().await?;
            for alert in trust::alerts_by_ids(&pool, &ids).await? {
                self.publish(alert, last_id);
            }
        }
        pump.abort();
        Ok(())
    }

    fn publish(&self, alert: AlertView, last_id: &mut Option<i64>) {
        *last_id = Some(last_id.unwrap_or(0).max(alert.id));
        // No subscriber is not an error.
        let _ = self.tx.send(alert);
    }
}

/// How a webhook is delivered.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Where alerts are POSTed (JSON).
    pub url: String,
    /// Attempts per alert before it is given up (it stays in `alerts` with its last error).
    pub max_attempts: i32,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Time allowed for one POST.
    pub timeout: Duration,
}

impl WebhookSettings {
    /// Defaults for `url`: 12 attempts, backoff from 2 s doubling to at most 10 minutes.
    pub fn new(url: &str) -> WebhookSettings {
        WebhookSettings {
            url: url.to_string(),
            max_attempts: 12,
            max_delay: Duration::from_secs(600),
            timeout: Duration::from_secs(10),
        }
    }

    /// The wait after the `attempt`-th failure (1-based): 2 s, 4 s, 8 s, … up to `max_delay`.
    pub fn delay_after(&self, attempt: i32) -> Duration {
        let secs = 2u64.saturating_pow(attempt.clamp(1, 30) as u32);
        Duration::from_secs(secs).min(self.max_delay)
    }
}

/// Posts due alerts to the webhook, forever: woken by new alerts from `hub`, and every few
/// seconds for retries. Each alert is sent until a 2xx answer (at least once; the receiver
/// can tell repeats by the alert's `id`).
pub async fn run_webhook(store: Store, hub: AlertHub, settings: WebhookSettings) {
    let http = match reqwest::Client::builder().timeout(settings.timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("webhook disabled: {e}");
            return;
        }
    };
    let mut wake = hub.subscribe();
    loop {
        if let Err(e) = deliver_due(&store, &http, &settings).await {
            tracing::debug!("webhook: {e}");
        }
        // A new alert, or the next retry.
        let _ = tokio::time::timeout(Duration::from_secs(2), wake.recv()).await;
    }
}

async fn deliver_due(
    store: &Store,
    http: &reqwest::Client,
    settings: &WebhookSettings,
) -> Result<(), crate::store::StoreError> {
    let client = store.client().await?;
    let due = trust::alerts_due_for_webhook(&client, settings.max_attempts, 100).await?;
    for (alert, attempts_before) in due {
        let result = match http.post(&settings.url).json(&alert).send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("HTTP {}", r.status())),
            Err(e) => Err(e.to_string()),
        };
        let attempts = attempts_before + 1;
        let delay = settings.delay_after(attempts);
        match &result {
            Ok(()) => tracing::info!("webhook: alert {} delivered", alert.id),
            Err(e) => tracing::warn!(
                "webhook: alert {} attempt {attempts} failed: {e}; next in {} s",
                alert.id,
                delay.as_secs()
            ),
        }
        trust::webhook_attempted(&client, alert.id, result, delay.as_secs_f64()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_backoff_doubles_up_to_the_cap() {
        let s = WebhookSettings::new("http://x");
        assert_eq!(s.delay_after(1), Duration::from_secs(2));
        assert_eq!(s.delay_after(2), Duration::from_secs(4));
        assert_eq!(s.delay_after(5), Duration::from_secs(32));
        assert_eq!(s.delay_after(20), Duration::from_secs(600));
        assert_eq!(s.delay_after(1000), Duration::from_secs(600));
    }
}

#[cfg(test)]
mod closing_tests {
    use super::*;

    #[tokio::test]
    async fn closed_resolves_after_close() {
        let hub = AlertHub::new();
        let clone = hub.clone();
        let closed = clone.closed();
        let waiter = tokio::spawn(closed);
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        hub.close();
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("closed() resolves")
            .unwrap();
    }
}
