//! Camera counters: what each running camera has read, decoded, analysed, gated and dropped,
//! and the board that lists every camera's counters for `/metrics`.
//!
//! Owns: [`StreamCounters`] (atomics, written by a camera's threads), [`StreamStats`] (a
//! plain snapshot for reports) and [`CameraBoard`]. Plain data: it imports nothing else of
//! the crate, so the API reads the counters without depending on the pipeline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Counters a running camera exposes; shared between its threads.
#[derive(Debug, Default)]
pub struct StreamCounters {
    /// Packets read from the source.
    pub packets: AtomicU64,
    /// Packets of a live source not decoded because the decoder was behind (still recorded).
    pub packets_dropped: AtomicU64,
    /// Frames decoded.
    pub frames_decoded: AtomicU64,
    /// Frames handed to analysis.
    pub frames_analysed: AtomicU64,
    /// Frames dropped because analysis was behind.
    pub frames_dropped: AtomicU64,
    /// Sampled frames the motion gate held back (nothing moved).
    pub frames_gated: AtomicU64,
    /// Reconnects of a live source.
    pub reconnects: AtomicU64,
}

/// A snapshot of [`StreamCounters`], for reports.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct StreamStats {
    /// Packets read from the source.
    pub packets: u64,
    /// Packets of a live source not decoded because the decoder was behind (still recorded).
    pub packets_dropped: u64,
    /// Frames decoded.
    pub frames_decoded: u64,
    /// Frames handed to analysis.
    pub frames_analysed: u64,
    /// Frames dropped because analysis was behind.
    pub frames_dropped: u64,
    /// Sampled frames the motion gate held back (nothing moved).
    pub frames_gated: u64,
    /// Reconnects of a live source.
    pub reconnects: u64,
}

impl StreamCounters {
    /// Reads all counters.
    pub fn snapshot(&self) -> StreamStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        StreamStats {
            packets: get(&self.packets),
            packets_dropped: get(&self.packets_dropped),
            frames_decoded: get(&self.frames_decoded),
            frames_analysed: get(&self.frames_analysed),
            frames_dropped: get(&self.frames_dropped),
            frames_gated: get(&self.frames_gated),
            reconnects: get(&self.reconnects),
        }
    }
}

/// The counters of every running camera, for /metrics.
#[derive(Debug, Default)]
pub struct CameraBoard {
    /// Camera name and its counters, in order of registration.
    cameras: Mutex<Vec<(String, Arc<StreamCounters>)>>,
}

impl CameraBoard {
    /// Counters for camera `name`, listed on the board.
    pub fn register(&self, name: &str) -> Arc<StreamCounters> {
        let counters = Arc::new(StreamCounters::default());
        self.cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name.to_string(), counters.clone()));
        counters
    }

    /// Every camera's counters now.
    pub fn snapshot(&self) -> Vec<(String, StreamStats)> {
        self.cameras
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, c)| (n.clone(), c.snapshot()))
            .collect()
    }
}
