//! Prometheus metrics: HTTP requests by route and status, search latency by mode, clip
//! exports, and the database writer's counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::proto::MetricFamily;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

use super::AppState;
use crate::counters::CameraBoard;
use crate::store::writer::WriterCounters;

/// The registry and its metrics.
pub struct Metrics {
    /// Everything registered here is rendered by `/metrics`.
    registry: Registry,
    /// Requests by route template, method and status.
    requests: IntCounterVec,
    /// Request latency by route template.
    request_seconds: HistogramVec,
    /// Plate search latency by mode.
    pub search_seconds: HistogramVec,
    /// Clip exports served.
    pub exports: IntCounter,
    /// 1 when the database answered the last scrape.
    database_up: IntGauge,
    /// The writer of this process, when it ingests.
    writer: Option<Arc<WriterCounters>>,
    /// Export scratch-file numbering.
    export_seq: AtomicU64,
    /// The cameras this process runs, when it runs any.
    cameras: std::sync::OnceLock<Arc<CameraBoard>>,
}

impl Metrics {
    /// A fresh registry.
    pub fn new(writer: Option<Arc<WriterCounters>>) -> Metrics {
        let registry = Registry::new_custom(Some("matthan".into()), None).unwrap_or_default();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests"),
            &["route", "method", "status"],
        )
        .expect("valid metric");
        let request_seconds = HistogramVec::new(
            HistogramOpts::new("http_request_seconds", "HTTP request latency"),
            &["route"],
        )
        .expect("valid metric");
        let search_seconds = HistogramVec::new(
            HistogramOpts::new("search_seconds", "Plate search latency").buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
            ]),
            &["mode"],
        )
        .expect("valid metric");
        let exports =
            IntCounter::new("clip_exports_total", "Clip exports served").expect("valid metric");
        let database_up =
            IntGauge::new("database_up", "1 when the database answers").expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(request_seconds.clone()),
            Box::new(search_seconds.clone()),
            Box::new(exports.clone()),
            Box::new(database_up.clone()),
        ] {
            let _ = registry.register(c);
        }
        Metrics {
            registry,
            requests,
            request_seconds,
            search_seconds,
            exports,
            database_up,
            writer,
            export_seq: AtomicU64::new(0),
            cameras: std::sync::OnceLock::new(),
        }
    }

    /// Lists the counters of the cameras this process runs (frames decoded, analysed, held
    /// back by the motion gate, dropped because analysis was behind).
    pub fn set_cameras(&self, board: Arc<CameraBoard>) {
        let _ = self.cameras.set(board);
    }

    /// A number for the next export's scratch file.
    pub fn next_export_id(&self) -> u64 {
        self.export_seq.fetch_add(1, Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, database_up: bool) -> Result<String, prometheus::Error> {
        self.database_up.set(database_up as i64);
        let mut families = self.registry.gather();
        if let Some(w) = &self.writer {
            families.extend(writer_families(w)?);
        }
        if let Some(board) = self.cameras.get() {
            families.extend(camera_families(board)?);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&families, &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// The database writer's counters and gauges, as metric families.
fn writer_families(w: &WriterCounters) -> Result<Vec<MetricFamily>, prometheus::Error> {
    let mut families = Vec::new();
    let s = w.stats();
    for (name, help, value) in [
        (
            "matthan_passages_written_total",
            "Passages written to the log",
            s.passages,
        ),
        (
            "matthan_passages_duplicate_total",
            "Passages already in the log",
            s.duplicates,
        ),
        (
            "matthan_clips_written_total",
            "Clip segments written to the log",
            s.clips,
        ),
        (
            "matthan_write_batches_total",
            "Batches committed",
            s.batches,
        ),
        (
            "matthan_write_errors_total",
            "Failed batch attempts (retried)",
            s.errors,
        ),
        (
            "matthan_spooled_records_total",
            "Records spooled to disk while the database was down",
            s.spooled,
        ),
        (
            "matthan_alerts_raised_total",
            "Watchlist alerts raised by passages this process wrote",
            s.alerts,
        ),
        (
            "matthan_rows_fenced_total",
            "Rows refused because their node had lost the camera's lease",
            s.refused,
        ),
    ] {
        let c = IntCounter::new(name, help)?;
        c.inc_by(value);
        families.extend(prometheus::core::Collector::collect(&c));
    }
    let pending = IntGauge::new("matthan_write_pending", "Records waiting to be written")?;
    pending.set(w.pending.load(Ordering::Relaxed) as i64);
    families.extend(prometheus::core::Collector::collect(&pending));
    let in_spool = IntGauge::new(
        "matthan_spool_records",
        "Records in the on-disk spool, waiting for the database",
    )?;
    in_spool.set(s.in_spool as i64);
    families.extend(prometheus::core::Collector::collect(&in_spool));
    Ok(families)
}

/// Frames, dropped packets and reconnects of each camera, as metric families.
fn camera_families(board: &CameraBoard) -> Result<Vec<MetricFamily>, prometheus::Error> {
    let mut families = Vec::new();
    let frames = IntCounterVec::new(
        Opts::new(
            "matthan_camera_frames_total",
            "Frames per camera: decoded, analysed, gated (held back by the motion \
                 gate: nothing moved) and dropped (analysis was behind)",
        ),
        &["camera", "kind"],
    )?;
    let packets = IntCounterVec::new(
        Opts::new(
            "matthan_camera_packets_dropped_total",
            "Packets recorded but not decoded because the decoder was behind",
        ),
        &["camera"],
    )?;
    let reconnects = IntCounterVec::new(
        Opts::new(
            "matthan_camera_reconnects_total",
            "Reconnects of a live camera",
        ),
        &["camera"],
    )?;
    for (camera, s) in board.snapshot() {
        for (kind, v) in [
            ("decoded", s.frames_decoded),
            ("analysed", s.frames_analysed),
            ("gated", s.frames_gated),
            ("dropped", s.frames_dropped),
        ] {
            frames.with_label_values(&[&camera, kind]).inc_by(v);
        }
        packets
            .with_label_values(&[&camera])
            .inc_by(s.packets_dropped);
        reconnects
            .with_label_values(&[&camera])
            .inc_by(s.reconnects);
    }
    for c in [&frames, &packets, &reconnects] {
        families.extend(prometheus::core::Collector::collect(c));
    }
    Ok(families)
}

/// Middleware: counts each request by its route template (never the raw path, so ids and
/// plates do not end up in metrics).
pub async fn track_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "static".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.requests
        .with_label_values(&[&route, &method, response.status().as_str()])
        .inc();
    m.request_seconds
        .with_label_values(&[&route])
        .observe(started.elapsed().as_secs_f64());
    response
}
