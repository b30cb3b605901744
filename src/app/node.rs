//! This `matthan serve` as a node: who it says it is (name, address, cores, capacity), and its
//! loop, one tick every [`LeaseTimings::tick`]: heartbeat and renew its leases, stop the
//! cameras another node holds now, take free cameras and start them ([`super::live`]).
//!
//! The first look for free cameras waits one tick, so nodes started together all count each
//! other before taking their share. When the database cannot be reached the cameras go on
//! recording (their rows wait in the spool and are fenced when written); only the database
//! saying another node holds a camera stops it. On stop every camera is stopped and joined;
//! the caller then drains the writer and releases the leases.

use std::time::Duration;

use tokio::sync::watch;

use super::live::LiveCameras;
use crate::config::Config;
use crate::lease::{self, LeaseTimings};
use crate::store::query::{self, NodeIdentity, NodeRegistration, TickAnswer, TickRequest};
use crate::store::Store;

/// What this node registers as, from the config's `[node]` and the API's address.
pub(super) fn registration(cfg: &Config, listen: &str) -> NodeRegistration {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let node = &cfg.node;
    NodeRegistration {
        name: node.name.clone().unwrap_or_else(host_name),
        api_url: node
            .advertise_url
            .clone()
            .unwrap_or_else(|| format!("http://{listen}")),
        cores,
        capacity: node
            .capacity
            .map_or_else(|| lease::default_capacity(cores), |c| c as usize),
        version: env!("CARGO_PKG_VERSION").to_string(),
        lease: LeaseTimings::from_lease_sec(node.lease_sec()).lease,
    }
}

/// The machine's host name (the kernel's, else `$HOSTNAME`, else `matthan`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "matthan".to_string())
}

/// Runs the node's ticks until `stop` turns true (or another process takes its name), then
/// stops its cameras. Returns them stopped (the caller drops them before closing the writer).
pub(super) async fn run(
    store: Store,
    node: NodeIdentity,
    timings: LeaseTimings,
    capacity: usize,
    runnable: Vec<String>,
    mut cameras: LiveCameras,
    mut stop: watch::Receiver<bool>,
) -> LiveCameras {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(timings.tick) => {}
            _ = stop.changed() => break,
        }
        if *stop.borrow() {
            break;
        }
        tokio::task::block_in_place(|| cameras.restart_ended());
        let running = cameras.running();
        let req = TickRequest {
            node: &node,
            lease: timings.lease,
            running: &running,
            runnable: &runnable,
            capacity,
            take: true,
        };
        match tick(&store, req, timings.tick).await {
            Ok(TickAnswer::Leases { renewed, won }) => tokio::task::block_in_place(|| {
                for gone in lease::lost(&running, &renewed) {
                    tracing::warn!(
                        "camera {}: lease epoch {} is held by another node now; stopping it",
                        gone.camera,
                        gone.epoch
                    );
                    cameras.stop(&gone.camera);
                }
                for held in &won {
                    cameras.start(held);
                }
            }),
            Ok(TickAnswer::Superseded) => {
                tracing::error!(
                    "node {}: another process registered under this name (this one was \
                     taken for dead); stopping every camera",
                    node.name
                );
                break;
            }
            Err(e) => tracing::warn!(
                "node {}: heartbeat failed ({e}); the cameras go on recording into the spool",
                node.name
            ),
        }
    }
    tokio::task::block_in_place(|| cameras.stop_all());
    cameras
}

/// One tick against the database, given at most `within` (a hung connection counts as down).
async fn tick(store: &Store, req: TickRequest<'_>, within: Duration) -> Result<TickAnswer, String> {
    let work = async {
        let mut client = store.client().await.map_err(|e| e.to_string())?;
        query::lease_tick(&mut client, req)
            .await
            .map_err(|e| e.to_string())
    };
    match tokio::time::timeout(within.max(Duration::from_secs(1)), work).await {
        Ok(answer) => answer,
        Err(_) => Err("the database did not answer in time".into()),
    }
}
