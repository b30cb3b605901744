//! The inference service: one set of model sessions shared by every camera.
//!
//! Owns: the worker threads (each owns one [`Recognizer`], i.e. its own ONNX Runtime
//! sessions, loaded once), one bounded queue per camera (a [`Lane`]), and the scheduler that
//! serves the lanes round-robin, so a busy camera cannot starve a quiet one.
//!
//! Thirty cameras with a recognizer each would load the models thirty times and run thirty
//! detectors against two cores; here there are as many sessions as workers (one per core by
//! default, one intra-op thread each), whatever the number of cameras.
//!
//! Batching across cameras: both detectors are exported with a fixed batch of 1
//! (`images: [1, 3, 640, 640]`), so a detector pass serves one frame whatever the queue holds;
//! only the text reader takes a batch, and it already reads all lines of a plate in one call.
//!
//! A camera's analysis thread submits one task at a time and waits for it, so its lane holds
//! at most `capacity` tasks; frames it cannot take in time are dropped upstream, in the
//! camera's bounded frame queue, and counted there (`frames_dropped`, exposed in /metrics).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use crossbeam_channel::{bounded, Sender};
use image::RgbImage;
use serde::Serialize;

use crate::recognize::{
    PlateMemory, PlateRead, PreparedFrame, RecognizeError, Recognizer, RecognizerSettings,
    StageTimings, VehicleDetection,
};

/// Why a task did not run.
#[derive(Debug, thiserror::Error)]
pub enum InferError {
    /// The models failed on this task.
    #[error(transparent)]
    Recognize(#[from] RecognizeError),
    /// The service stopped (shutdown) or a worker died.
    #[error("the inference service has stopped")]
    Stopped,
}

/// Size of the service.
#[derive(Debug, Clone)]
pub struct InferenceSettings {
    /// Worker threads, each with its own sessions. Default: one per core.
    pub workers: usize,
    /// Models and thresholds; `detector_threads` is the intra-op threads of each worker.
    pub recognizer: RecognizerSettings,
    /// Tasks a camera may have queued at once.
    pub lane_capacity: usize,
}

impl InferenceSettings {
    /// `workers` workers (0: one per core) sharing the cores: each gets
    /// `cores / workers` intra-op threads (at least one).
    pub fn new(workers: usize, mut recognizer: RecognizerSettings) -> InferenceSettings {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let workers = if workers == 0 { cores } else { workers };
        recognizer.detector_threads = (cores / workers).max(1);
        if recognizer.text_fallback == crate::recognize::TextFallback::Always {
            // Cameras: an empty road must not pay for a whole-frame text search.
            recognizer.text_fallback = crate::recognize::TextFallback::WithVehicles;
        }
        // Cameras: a vehicle box of the whole frame is the scene, not a vehicle passing.
        recognizer.drop_scene_boxes = true;
        InferenceSettings {
            workers,
            recognizer,
            lane_capacity: 2,
        }
    }
}

/// Work for the models.
pub enum Task {
    /// Vehicles in a frame (the cascade's first step).
    Vehicles {
        /// The frame.
        frame: Arc<RgbImage>,
    },
    /// Plates of the vehicles that still need a read.
    Plates {
        /// The frame.
        frame: Arc<RgbImage>,
        /// Its letterbox from the vehicle step.
        prepared: Option<PreparedFrame>,
        /// The vehicles found.
        vehicles: Vec<VehicleDetection>,
        /// Per vehicle: whether its plate still needs reading.
        wanted: Vec<bool>,
        /// The camera's previous plate crops (moved in and back out).
        memory: PlateMemory,
    },
}

/// What a task gave.
pub enum Done {
    /// Vehicles, and the letterbox for the plate step.
    Vehicles {
        /// Vehicles found, best first.
        vehicles: Vec<VehicleDetection>,
        /// The frame's letterbox.
        prepared: PreparedFrame,
        /// Stage times.
        timings: StageTimings,
        /// CPU time the worker spent, ms.
        cpu_ms: f64,
    },
    /// Plates read.
    Plates {
        /// Reads, best first.
        plates: Vec<PlateRead>,
        /// The camera's plate memory, updated.
        memory: PlateMemory,
        /// Stage times.
        timings: StageTimings,
        /// CPU time the worker spent, ms.
        cpu_ms: f64,
    },
}

/// A queued task and where its answer goes.
struct Job {
    /// The work.
    task: Task,
    /// The camera's answer channel.
    reply: Sender<Result<Done, RecognizeError>>,
}

/// One camera's queue (emptied when the camera's [`Lane`] is dropped).
struct LaneQueue {
    /// Tasks waiting, oldest first.
    jobs: VecDeque<Job>,
}

/// The scheduler's state.
struct Queues {
    /// One queue per lane ever opened.
    lanes: Vec<LaneQueue>,
    /// Lane to look at first next time (round-robin).
    cursor: usize,
    /// Set on shutdown: workers finish and leave.
    closed: bool,
}

impl Queues {
    /// The next task, round-robin over lanes with work.
    fn pick(&mut self) -> Option<Job> {
        let n = self.lanes.len();
        for k in 0..n {
            let i = (self.cursor + k) % n;
            if let Some(job) = self.lanes[i].jobs.pop_front() {
                self.cursor = (i + 1) % n;
                return Some(job);
            }
        }
        None
    }
}

/// State shared by the service, its workers and its lanes.
struct Shared {
    /// The queues.
    queues: Mutex<Queues>,
    /// Signalled when a task is queued or the service closes.
    work: Condvar,
    /// Signalled when a task leaves a queue (a full lane may submit again).
    space: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queues> {
        // A worker that panicked while holding the lock left consistent queues (they are
        // only pushed and popped): carry on.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The shared models. Cheap to share (`Arc`); stops its workers when dropped.
pub struct InferenceService {
    /// Queues and signals.
    shared: Arc<Shared>,
    /// Worker threads, joined on drop.
    workers: Mutex<Vec<JoinHandle<()>>>,
    /// How it was sized.
    settings: InferenceSettings,
}

impl std::fmt::Debug for InferenceService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferenceService")
            .field("workers", &self.settings.workers)
            .finish()
    }
}

impl InferenceService {
    /// Loads the models once per worker (a missing model fails here) and starts the workers.
    pub fn start(settings: InferenceSettings) -> Result<Arc<InferenceService>, RecognizeError> {
        let mut recognizers = Vec::new();
        for _ in 0..settings.workers.max(1) {
            let mut r = Recognizer::load(settings.recognizer.clone())?;
            r.warm_up()?;
            recognizers.push(r);
        }
        let shared = Arc::new(Shared {
            queues: Mutex::new(Queues {
                lanes: Vec::new(),
                cursor: 0,
                closed: false,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
        });
        let mut workers = Vec::new();
        for (i, recognizer) in recognizers.into_iter().enumerate() {
            let shared = shared.clone();
            let handle = std::thread::Builder::new()
                .name(format!("infer-{i}"))
                .spawn(move || worker(shared, recognizer))
                .map_err(|e| RecognizeError::Inference(format!("cannot start a worker: {e}")))?;
            workers.push(handle);
        }
        Ok(Arc::new(InferenceService {
            shared,
            workers: Mutex::new(workers),
            settings,
        }))
    }

    /// Opens a queue for one camera.
    pub fn lane(self: &Arc<Self>) -> Lane {
        let mut q = self.shared.lock();
        q.lanes.push(LaneQueue {
            jobs: VecDeque::new(),
        });
        Lane {
            shared: self.shared.clone(),
            id: q.lanes.len() - 1,
            capacity: self.settings.lane_capacity.max(1),
            _service: self.clone(),
        }
    }

    /// Number of workers.
    pub fn workers(&self) -> usize {
        self.settings.workers
    }
}

impl Drop for InferenceService {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        let workers = std::mem::take(&mut *self.workers.lock().unwrap_or_else(|e| e.into_inner()));
        for w in workers {
            let _ = w.join();
        }
    }
}

/// One camera's way in. Dropping it closes its queue.
pub struct Lane {
    /// The service's state.
    shared: Arc<Shared>,
    /// Index of this lane's queue.
    id: usize,
    /// Most tasks queued at once.
    capacity: usize,
    /// Keeps the workers alive while a camera uses them.
    _service: Arc<InferenceService>,
}

impl Lane {
    /// Queues `task` (waiting while this lane's queue is full) and waits for its result.
    pub fn run(&self, task: Task) -> Result<Done, InferError> {
        let (tx, rx) = bounded(1);
        {
            let mut q = self.shared.lock();
            loop {
                if q.closed {
                    return Err(InferError::Stopped);
                }
                if q.lanes[self.id].jobs.len() < self.capacity {
                    break;
                }
                q = self.shared.space.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            q.lanes[self.id].jobs.push_back(Job { task, reply: tx });
        }
        self.shared.work.notify_one();
        match rx.recv() {
            Ok(result) => Ok(result?),
            Err(_) => Err(InferError::Stopped),
        }
    }
}

impl Drop for Lane {
    fn drop(&mut self) {
        self.shared.lock().lanes[self.id].jobs.clear();
    }
}

/// A worker: takes tasks round-robin until the service closes.
fn worker(shared: Arc<Shared>, mut recognizer: Recognizer) {
    loop {
        let job = {
            let mut q = shared.lock();
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.pick() {
                    break job;
                }
                q = shared.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        shared.space.notify_all();
        let result = run_task(&mut recognizer, job.task);
        let _ = job.reply.send(result);
    }
}

fn run_task(recognizer: &mut Recognizer, task: Task) -> Result<Done, RecognizeError> {
    let cpu = crate::cpu::thread_time();
    let wall = Instant::now();
    match task {
        Task::Vehicles { frame } => {
            let (vehicles, prepared, mut timings) = recognizer.find_vehicles(&frame)?;
            timings.total_ms = wall.elapsed().as_secs_f64() * 1000.0;
            Ok(Done::Vehicles {
                vehicles,
                prepared,
                timings,
                cpu_ms: crate::cpu::ms_between(cpu, crate::cpu::thread_time()),
            })
        }
        Task::Plates {
            frame,
            prepared,
            vehicles,
            wanted,
            mut memory,
        } => {
            let mut timings = StageTimings::default();
            let plates = recognizer.read_plates(
                &frame,
                prepared.as_ref(),
                &vehicles,
                &wanted,
                &mut memory,
                &mut timings,
            )?;
            timings.total_ms = wall.elapsed().as_secs_f64() * 1000.0;
            Ok(Done::Plates {
                plates,
                memory,
                timings,
                cpu_ms: crate::cpu::ms_between(cpu, crate::cpu::thread_time()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A job whose frame width names it.
    fn job(id: u32) -> Job {
        let (reply, _) = bounded(1);
        Job {
            task: Task::Vehicles {
                frame: Arc::new(RgbImage::new(id, 1)),
            },
            reply,
        }
    }

    fn id(job: &Job) -> u32 {
        match &job.task {
            Task::Vehicles { frame } => frame.width(),
            Task::Plates { .. } => 0,
        }
    }

    #[test]
    fn lanes_are_served_round_robin() {
        let lane = |ids: &[u32]| LaneQueue {
            jobs: ids.iter().map(|&i| job(i)).collect(),
        };
        let mut q = Queues {
            lanes: vec![lane(&[10, 11, 12]), lane(&[20]), lane(&[30, 31])],
            cursor: 0,
            closed: false,
        };
        let order: Vec<u32> = std::iter::from_fn(|| q.pick()).map(|j| id(&j)).collect();
        // A busy camera (lane 0) does not starve the others.
        assert_eq!(order, vec![10, 20, 30, 11, 31, 12]);
        assert!(q.pick().is_none());
    }
}

/// Per-camera figures of the analysis, for reports and `bench streams`.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct AnalysisTally {
    /// Frames the vehicle detector ran on.
    pub vehicle_passes: u64,
    /// Frames the plate step ran on (some vehicle still needed a read).
    pub plate_passes: u64,
    /// Frames with vehicles whose plates were all settled: no plate step.
    pub plate_passes_saved: u64,
    /// Plate crops not read again because they had not changed.
    pub reads_recalled: u64,
    /// Frames let through by the gate but skipped because every vehicle in view was quiet.
    pub quiet_skipped: u64,
    /// Stage times, summed (wall time inside the workers).
    pub stages: StageTimings,
    /// CPU time of the vehicle step, ms.
    pub vehicles_cpu_ms: f64,
    /// CPU time of the plate step, ms.
    pub plates_cpu_ms: f64,
}
