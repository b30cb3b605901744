//! The live cameras this node runs, started and stopped one by one as their leases are won
//! and lost (`super::node` decides which). Each camera has its own [`Shutdown`], its own
//! thread forwarding its events to the writer, each row fenced with the node and the epoch of
//! the lease it runs under, and keeps its counters on the board across restarts.
//!
//! Blocking: starting the first camera loads the models, stopping one joins its threads; call
//! these off the async workers (`block_in_place`).

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::config::Config;
use crate::counters::StreamCounters;
use crate::infer::{InferenceService, InferenceSettings};
use crate::lease::{Fence, Held};
use crate::pipeline::{run_camera, write_item, CameraBoard, CameraSettings};
use crate::recognize::RecognizerSettings;
use crate::store::writer::WriterInput;
use crate::video::{Shutdown, SourceSpec};

/// A camera running now.
struct Running {
    /// The epoch of the lease it runs under (every row it makes carries it).
    epoch: i64,
    /// Stops this camera only.
    shutdown: Shutdown,
    /// Its forwarding thread, which joins the pipeline.
    thread: JoinHandle<()>,
}

/// The cameras of the config this node can run, and those it runs.
pub(super) struct LiveCameras {
    /// The shared config (sources come from it: the log keeps them without passwords).
    cfg: Config,
    /// Models and thresholds from the command line.
    recognizer: RecognizerSettings,
    /// Where rows go.
    input: WriterInput,
    /// `/metrics`' per-camera counters.
    board: Arc<CameraBoard>,
    /// This node (`nodes.id`), stamped on every row.
    node_id: i64,
    /// Most cameras this node runs (sizes the inference service).
    capacity: usize,
    /// The models, loaded when the first camera starts.
    inference: Option<Arc<InferenceService>>,
    /// Each camera's counters, registered once and reused when it starts again.
    counters: HashMap<String, Arc<StreamCounters>>,
    /// The cameras running, by name.
    running: HashMap<String, Running>,
}

impl LiveCameras {
    pub(super) fn new(
        cfg: &Config,
        recognizer: &RecognizerSettings,
        input: WriterInput,
        board: Arc<CameraBoard>,
        node_id: i64,
        capacity: usize,
    ) -> LiveCameras {
        LiveCameras {
            cfg: cfg.clone(),
            recognizer: recognizer.clone(),
            input,
            board,
            node_id,
            capacity,
            inference: None,
            counters: HashMap::new(),
            running: HashMap::new(),
        }
    }

    /// The cameras of `cfg` a node can run: enabled, with a live source. A file source is
    /// logged and left to `matthan ingest`.
    pub(super) fn runnable(cfg: &Config) -> Vec<String> {
        let mut names = Vec::new();
        for cam in cfg.cameras.iter().filter(|c| c.enabled) {
            let Some(source) = cam.source.as_deref() else {
                continue;
            };
            if SourceSpec::parse(source).is_live() {
                names.push(cam.name.clone());
            } else {
                tracing::warn!(
                    "camera {}: {source} is a file; serve runs live cameras only (use `matthan ingest`)",
                    cam.name
                );
            }
        }
        names
    }

    /// The cameras running, each with its epoch, by name.
    pub(super) fn running(&self) -> Vec<Held> {
        let mut held: Vec<Held> = self
            .running
            .iter()
            .map(|(name, r)| Held {
                camera: name.clone(),
                epoch: r.epoch,
            })
            .collect();
        held.sort();
        held
    }

    /// Starts `held.camera` under `held.epoch` (stopping it first if it runs under another
    /// epoch). A camera that cannot start is logged.
    pub(super) fn start(&mut self, held: &Held) {
        if self.running.get(&held.camera).map(|r| r.epoch) == Some(held.epoch) {
            return;
        }
        self.stop(&held.camera);
        match self.spawn(held) {
            Ok(r) => {
                tracing::info!(
                    "camera {}: started under lease epoch {}",
                    held.camera,
                    held.epoch
                );
                self.running.insert(held.camera.clone(), r);
            }
            Err(e) => tracing::error!("camera {}: cannot start: {e}", held.camera),
        }
    }

    /// Stops `camera` and waits for its threads (its last rows are queued to the writer).
    pub(super) fn stop(&mut self, camera: &str) {
        if let Some(r) = self.running.remove(camera) {
            r.shutdown.trigger();
            if r.thread.join().is_err() {
                tracing::error!("camera {camera}: its thread panicked");
            }
        }
    }

    /// Stops every camera.
    pub(super) fn stop_all(&mut self) {
        for r in self.running.values() {
            r.shutdown.trigger();
        }
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            self.stop(&name);
        }
    }

    /// Starts again, under the same lease, every camera whose pipeline ended by itself (its
    /// source gave up reconnecting).
    pub(super) fn restart_ended(&mut self) {
        let ended: Vec<Held> = self
            .running
            .iter()
            .filter(|(_, r)| r.thread.is_finished())
            .map(|(name, r)| Held {
                camera: name.clone(),
                epoch: r.epoch,
            })
            .collect();
        for held in ended {
            self.stop(&held.camera);
            self.start(&held);
        }
    }

    /// The models, loaded once.
    fn inference(&mut self) -> Result<Arc<InferenceService>, String> {
        if let Some(s) = &self.inference {
            return Ok(s.clone());
        }
        let recognizer = &self.recognizer;
        let analysis = &self.cfg.analysis;
        let settings = InferenceSettings::new(
            analysis.workers.unwrap_or(0).min(self.capacity.max(1)),
            RecognizerSettings {
                plate_search: analysis.plates_in,
                reader: analysis.reader.unwrap_or(recognizer.reader),
                vehicle_model: analysis.vehicle_model.unwrap_or(recognizer.vehicle_model),
                ..recognizer.clone()
            },
        );
        let service = InferenceService::start(settings).map_err(|e| e.to_string())?;
        self.inference = Some(service.clone());
        Ok(service)
    }

    /// One camera on its own thread: its pipeline's events, fenced, go to the writer until
    /// its shutdown or the writer stops.
    fn spawn(&mut self, held: &Held) -> Result<Running, String> {
        let cam = self
            .cfg
            .camera(&held.camera)
            .cloned()
            .ok_or_else(|| "not in this node's config".to_string())?;
        let source = cam.source.as_deref().ok_or("no source")?;
        let spec = SourceSpec::parse(source);
        let inference = self.inference()?;
        let mut settings = CameraSettings::from_config(
            &self.cfg,
            &cam,
            spec,
            chrono::Utc::now(),
            self.recognizer.clone(),
        );
        settings.inference = Some(inference);
        let board = &self.board;
        let counters = self
            .counters
            .entry(cam.name.clone())
            .or_insert_with(|| board.register(&cam.name))
            .clone();
        settings.counters = Some(counters);
        let shutdown = Shutdown::new();
        let (name, has_line) = (cam.name.clone(), cam.counting_line.is_some());
        let (input, node_id, epoch) = (self.input.clone(), self.node_id, held.epoch);
        let camera_shutdown = shutdown.clone();
        let thread = std::thread::Builder::new()
            .name(format!("camera-{name}"))
            .spawn(move || {
                let (tx, rx) = crossbeam_channel::unbounded();
                let worker = std::thread::spawn(move || run_camera(settings, camera_shutdown, tx));
                for event in rx {
                    let fence = Fence {
                        node_id,
                        epoch,
                        made_at: chrono::Utc::now(),
                    };
                    if let Err(e) = input.blocking_send(write_item(&event, has_line).fenced(fence))
                    {
                        tracing::error!("camera {name}: {e}");
                        break;
                    }
                }
                match worker.join() {
                    Ok(Ok(report)) => tracing::info!("camera {name} stopped: {report:?}"),
                    Ok(Err(e)) => tracing::error!("camera {name} stopped: {e}"),
                    Err(_) => tracing::error!("camera {name}: worker panicked"),
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Running {
            epoch,
            shutdown,
            thread,
        })
    }
}
