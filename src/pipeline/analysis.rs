//! The analysis stage: a camera's analysis thread, the cascade on each frame it is handed,
//! and the tracker.
//!
//! Owns: the tracker and the camera's plate memory, the choice of which frames get a plate
//! search (fixed analysis slots, [`PLATE_PASS_EVERY`] and [`PLATE_ONLY_EVERY`]; quiet tracks
//! skip it; a cut resets what is known of the scene), the best frame of each open track (for
//! its snapshot), and the open-track count the gate reads ([`OpenTracks`]). Passages go out
//! as [`IngestEvent::Passage`].
//!
//! Must not: decode or gate video (the decoder stage does), or write anything but snapshots.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossbeam_channel::{Receiver, Sender};
use image::RgbImage;

use super::decoder::{OpenTracks, Sample};
use super::events::{passage_record, snapshot_crop};
use super::{CameraSettings, IngestEvent};
use crate::infer::{AnalysisTally, Done, InferError, Lane, Task};
use crate::motion::Pass;
use crate::recognize::{
    PlateMemory, PlateRead, PreparedFrame, Recognition, StageTimings, VehicleDetection,
};
use crate::scene::BoxXyxy;
use crate::track::{
    FrameObservations, Passage, PlateObservation, Rejoined, Tracker, VehicleLook,
    VehicleObservation,
};
use crate::video::recorder::{safe_name, SegmentIndex};
use crate::video::AnalysisFrame;

/// What the analysis thread hands back.
#[derive(Debug, Default)]
pub(super) struct AnalysisOutcome {
    /// Passages emitted.
    pub passages: u64,
    /// Cascade figures.
    pub tally: AnalysisTally,
    /// CPU time of the analysis thread itself, ms.
    pub cpu_ms: f64,
}

/// A detected vehicle matches a quiet track's expected box when they overlap this much.
const QUIET_MATCH_IOU: f32 = 0.5;
/// A vehicle whose box is shorter than this on either side, in pixels, is too far away for
/// its plate to be read (a plate is about a quarter of a car's width and needs some 40 px to
/// read): it is tracked, but pays for no plate search until it comes closer.
const MIN_READABLE_VEHICLE_PX: f32 = 80.0;
/// On frames where the vehicle detector finds nothing, the plate detector stands in for it
/// (it finds vehicles the vehicle model misses, by their plates); while no unsettled
/// plate-only track is open it runs in one analysis slot in this many.
const PLATE_ONLY_EVERY: i64 = 3;
/// A camera's plate search runs in at most one analysis slot in this many (vehicles are
/// detected and tracked in every one): the plate detector costs three vehicle passes, and a
/// plate seen for a second still gets several reads to vote on.
///
/// Slots are the analysis intervals of media time (200 ms at 5 fps), so which frames get a
/// plate search does not depend on which frames came before: gated or not, a frame in the
/// middle of a passage is searched or not alike.
const PLATE_PASS_EVERY: i64 = 2;

/// The analysis thread of one camera, before it starts.
pub(super) struct AnalysisStage {
    /// The camera.
    pub settings: CameraSettings,
    /// To the models; `None` when the camera only records.
    pub lane: Option<Lane>,
    /// Passages go out here.
    pub events: Sender<IngestEvent>,
    /// The camera's segments, for clip linkage.
    pub index: SegmentIndex,
    /// Written after every tracker update, for the gate.
    pub open_tracks: OpenTracks,
}

impl AnalysisStage {
    /// Analyses `frames` until the decoder hangs up or the models stop.
    pub fn run(self, frames: Receiver<Sample>) -> AnalysisOutcome {
        let cpu = crate::cpu::thread_time();
        let Some(lane) = self.lane else {
            // Recording only: no models, nothing to analyse.
            for _ in frames {}
            return AnalysisOutcome::default();
        };
        let mut analysis = Analysis::new(
            self.settings,
            lane,
            self.events,
            self.index,
            self.open_tracks,
        );
        for sample in frames {
            let go_on = match sample {
                Sample::Skipped { at } => {
                    analysis.idle(at);
                    true
                }
                Sample::Frame(frame, pass) => analysis.frame(frame, pass),
            };
            if !go_on {
                break;
            }
        }
        let mut outcome = analysis.finish();
        outcome.cpu_ms = crate::cpu::ms_between(cpu, crate::cpu::thread_time());
        outcome
    }
}

/// A running analysis: the tracker and what the cascade remembers between frames.
struct Analysis {
    /// The camera.
    settings: CameraSettings,
    /// To the models.
    lane: Lane,
    /// Passages go out here.
    events: Sender<IngestEvent>,
    /// The camera's segments, for clip linkage.
    index: SegmentIndex,
    /// Written after every tracker update.
    open_tracks: OpenTracks,
    /// The tracker.
    tracker: Tracker,
    /// Best crop of each open track, for its snapshot.
    best: HashMap<u64, RgbImage>,
    /// This camera's snapshots folder.
    snap_dir: PathBuf,
    /// Passages and cascade figures so far.
    outcome: AnalysisOutcome,
    /// Previous plate crops and their reads.
    memory: PlateMemory,
    /// Size of the last analysed frame (held-back frames have none).
    frame_size: (u32, u32),
    /// Length of an analysis slot, ms.
    slot_ms: i64,
    /// Every vehicle of the last analysed frame was quiet.
    all_quiet: bool,
}

impl Analysis {
    fn new(
        settings: CameraSettings,
        lane: Lane,
        events: Sender<IngestEvent>,
        index: SegmentIndex,
        open_tracks: OpenTracks,
    ) -> Analysis {
        Analysis {
            tracker: Tracker::new(settings.tracker.clone(), settings.geometry.clone()),
            snap_dir: settings.snapshots_dir.join(safe_name(&settings.name)),
            slot_ms: (1000.0 / settings.analysis_fps.max(0.01)).round().max(1.0) as i64,
            settings,
            lane,
            events,
            index,
            open_tracks,
            best: HashMap::new(),
            outcome: AnalysisOutcome::default(),
            memory: PlateMemory::default(),
            frame_size: (0, 0),
            all_quiet: false,
        }
    }

    /// A frame the gate held back: nothing moved, no detection, but time goes on for the
    /// tracker.
    fn idle(&mut self, at: DateTime<Utc>) {
        let idle = FrameObservations {
            at_ms: at.timestamp_millis(),
            frame_index: 0,
            frame_size: self.frame_size,
            vehicles: Vec::new(),
            plates: Vec::new(),
        };
        for p in self.tracker.update(&idle).ended {
            self.emit(p);
        }
        self.open_tracks.set(self.tracker.open_tracks());
    }

    /// Runs the cascade on `frame` and tracks what it found; false when the models stopped.
    fn frame(&mut self, frame: AnalysisFrame, pass: Pass) -> bool {
        self.frame_size = frame.image.dimensions();
        let cut = pass == Pass::Cut;
        if self.all_quiet && !cut {
            // Every vehicle of the last analysed frame belonged to a track whose plate is
            // settled: this frame is skipped, halving the analysis rate while nothing needs
            // reading; a new vehicle or a cut brings it back at once.
            self.all_quiet = false;
            self.outcome.tally.quiet_skipped += 1;
            return true;
        }
        if cut {
            // A new scene: nothing known about the old one holds.
            self.memory.clear();
        }
        let slot = frame.at.timestamp_millis().div_euclid(self.slot_ms);
        let turn = PlateTurn {
            allowed: cut || slot % PLATE_PASS_EVERY == 0,
            plate_only: self.tracker.plate_only_unsettled() || slot % PLATE_ONLY_EVERY == 0,
            cut,
        };
        let cascade = Cascade {
            lane: &self.lane,
            tracker: &self.tracker,
            memory: &mut self.memory,
            tally: &mut self.outcome.tally,
            all_quiet: &mut self.all_quiet,
        };
        match cascade.run(frame, turn) {
            Ok((frame, recognition, searched)) => {
                self.track(&frame, &recognition, &searched);
                true
            }
            Err(InferError::Stopped) => false,
            Err(e) => {
                tracing::warn!("camera {}: frame skipped: {e}", self.settings.name);
                true
            }
        }
    }

    /// Feeds one recognition to the tracker; keeps best crops, emits ended passages.
    fn track(&mut self, frame: &ArcFrame, recognition: &Recognition, searched: &[bool]) {
        let mut observations = observations_at(frame.at, frame.frame_index, recognition, searched);
        let size = frame.image.dimensions();
        for v in &mut observations.vehicles {
            v.look = VehicleLook::of(&v.bbox, size, |x, y| frame.image.get_pixel(x, y).0);
        }
        let update = self.tracker.update(&observations);
        self.open_tracks.set(self.tracker.open_tracks());
        self.rejoined(&update.rejoined);
        for b in &update.new_best {
            self.best.insert(
                b.track_id,
                snapshot_crop(&frame.image, &b.vehicle_bbox, b.plate_bbox.as_ref()),
            );
        }
        for p in update.ended {
            self.emit(p);
        }
    }

    /// Crops of tracks that a later track continued move to it, or go.
    fn rejoined(&mut self, rejoined: &[Rejoined]) {
        for r in rejoined {
            if let Some(crop) = self.best.remove(&r.from) {
                if r.best_from_earlier {
                    self.best.insert(r.into, crop);
                }
            }
        }
    }

    /// Logs a passage with its snapshot.
    fn emit(&mut self, p: Passage) {
        let snapshot = self.best.remove(&p.track_id);
        let record = passage_record(
            &self.settings.name,
            p,
            snapshot,
            &self.snap_dir,
            &self.index,
        );
        self.outcome.passages += 1;
        let _ = self.events.send(IngestEvent::Passage(Box::new(record)));
    }

    /// Ends every open track at the end of the video.
    fn finish(mut self) -> AnalysisOutcome {
        let (passages, rejoined) = self.tracker.finish_rejoined();
        self.rejoined(&rejoined);
        for p in passages {
            self.emit(p);
        }
        self.open_tracks.set(0);
        self.outcome.tally.reads_recalled = self.memory.recalled;
        self.outcome
    }
}

/// What the analysis loop allows the plate step on one frame.
#[derive(Debug, Clone, Copy)]
struct PlateTurn {
    /// A frame with vehicles may have a plate search ([`PLATE_PASS_EVERY`]).
    allowed: bool,
    /// A frame without vehicles gets a plate search ([`PLATE_ONLY_EVERY`]).
    plate_only: bool,
    /// A new scene: every readable vehicle needs a read, quiet tracks or not.
    cut: bool,
}

/// The cascade on one frame, with what it reads and updates of the analysis.
struct Cascade<'a> {
    /// To the models.
    lane: &'a Lane,
    /// Which tracks are quiet.
    tracker: &'a Tracker,
    /// Previous plate crops, moved to the plate step and back.
    memory: &'a mut PlateMemory,
    /// Passes run and saved.
    tally: &'a mut AnalysisTally,
    /// Set when every vehicle found belongs to a settled quiet track.
    all_quiet: &'a mut bool,
}

/// Vehicles found on a frame, the letterbox the plate step reuses, and stage times.
type VehiclePass = (Vec<VehicleDetection>, PreparedFrame, StageTimings);

impl Cascade<'_> {
    /// Vehicles; then plates only if some vehicle still needs a read or none was found.
    fn run(
        mut self,
        frame: AnalysisFrame,
        turn: PlateTurn,
    ) -> Result<(ArcFrame, Recognition, Vec<bool>), InferError> {
        let image = Arc::new(frame.image);
        let (vehicles, prepared, mut timings) = self.vehicles(&image)?;
        let wanted = self.wanted(frame.at, &vehicles, turn);
        let search = if vehicles.is_empty() {
            turn.plate_only
        } else {
            turn.allowed && wanted.iter().any(|w| *w)
        };
        let searched = if search {
            wanted.clone()
        } else {
            vec![false; vehicles.len()]
        };
        let plates = if search {
            self.tally.plate_passes += 1;
            let plates = self.plates(&image, prepared, &vehicles, wanted)?;
            timings.plates_ms += plates.1.plates_ms;
            timings.lines_ms += plates.1.lines_ms;
            timings.ocr_ms += plates.1.ocr_ms;
            timings.total_ms += plates.1.total_ms;
            plates.0
        } else {
            self.tally.plate_passes_saved += 1;
            Vec::new()
        };
        self.tally.stages.add(&timings);
        let (width, height) = image.dimensions();
        let frame = ArcFrame {
            at: frame.at,
            frame_index: frame.frame_index,
            image,
        };
        let recognition = Recognition {
            width,
            height,
            vehicles,
            plates,
            timings,
        };
        Ok((frame, recognition, searched))
    }

    /// The vehicle pass.
    fn vehicles(&mut self, image: &Arc<RgbImage>) -> Result<VehiclePass, InferError> {
        let done = self.lane.run(Task::Vehicles {
            frame: image.clone(),
        })?;
        let Done::Vehicles {
            vehicles,
            prepared,
            timings,
            cpu_ms,
        } = done
        else {
            return Err(InferError::Stopped);
        };
        self.tally.vehicles_cpu_ms += cpu_ms;
        self.tally.vehicle_passes += 1;
        Ok((vehicles, prepared, timings))
    }

    /// Per vehicle, whether its plate is wanted: readable (close enough) and not in a quiet
    /// track (unless the scene was cut). Also notes whether every vehicle is in a settled
    /// quiet track.
    fn wanted(
        &mut self,
        at: DateTime<Utc>,
        vehicles: &[VehicleDetection],
        turn: PlateTurn,
    ) -> Vec<bool> {
        let quiet = if turn.cut {
            Vec::new()
        } else {
            self.tracker.quiet_boxes(at.timestamp_millis())
        };
        let readable = |b: &BoxXyxy| (b.x2 - b.x1).min(b.y2 - b.y1) >= MIN_READABLE_VEHICLE_PX;
        let wanted: Vec<bool> = vehicles
            .iter()
            .map(|v| {
                readable(&v.bbox) && !quiet.iter().any(|(q, _)| q.iou(&v.bbox) >= QUIET_MATCH_IOU)
            })
            .collect();
        tracing::debug!(
            "cascade: {} vehicles, {} want a plate search, {} quiet tracks; sizes {:?}",
            vehicles.len(),
            wanted.iter().filter(|w| **w).count(),
            quiet.len(),
            vehicles
                .iter()
                .map(|v| (
                    (v.bbox.x2 - v.bbox.x1) as i32,
                    (v.bbox.y2 - v.bbox.y1) as i32
                ))
                .collect::<Vec<_>>()
        );
        *self.all_quiet = !vehicles.is_empty()
            && vehicles.iter().all(|v| {
                quiet
                    .iter()
                    .any(|(q, settled)| *settled && q.iou(&v.bbox) >= QUIET_MATCH_IOU)
            });
        wanted
    }

    /// The plate pass over the `wanted` vehicles: reads and their stage times.
    fn plates(
        &mut self,
        image: &Arc<RgbImage>,
        prepared: PreparedFrame,
        vehicles: &[VehicleDetection],
        wanted: Vec<bool>,
    ) -> Result<(Vec<PlateRead>, StageTimings), InferError> {
        let task = Task::Plates {
            frame: image.clone(),
            prepared: Some(prepared),
            vehicles: vehicles.to_vec(),
            wanted,
            memory: std::mem::take(self.memory),
        };
        let Done::Plates {
            plates,
            memory,
            timings,
            cpu_ms,
        } = self.lane.run(task)?
        else {
            return Err(InferError::Stopped);
        };
        *self.memory = memory;
        self.tally.plates_cpu_ms += cpu_ms;
        Ok((plates, timings))
    }
}

/// An analysed frame whose picture is shared with the inference workers.
struct ArcFrame {
    /// Wall-clock time the frame shows.
    at: DateTime<Utc>,
    /// Decoded frames before this one.
    frame_index: u64,
    /// The picture.
    image: Arc<RgbImage>,
}

/// Turns one recognition of the frame at `at` (the `frame_index`-th decoded) into the
/// tracker's plain input; `searched[i]` says whether vehicle `i`'s plate was looked for
/// (missing entries: it was).
pub fn observations_at(
    at: DateTime<Utc>,
    frame_index: u64,
    r: &Recognition,
    searched: &[bool],
) -> FrameObservations {
    FrameObservations {
        at_ms: at.timestamp_millis(),
        frame_index,
        frame_size: (r.width, r.height),
        vehicles: r
            .vehicles
            .iter()
            .enumerate()
            .map(|(i, v)| VehicleObservation {
                bbox: v.bbox,
                class: v.class,
                score: v.score,
                plate_searched: searched.get(i).copied().unwrap_or(true),
                look: None,
            })
            .collect(),
        plates: r
            .plates
            .iter()
            .map(|p| PlateObservation {
                bbox: p.bbox,
                key: p.key.clone(),
                display: p.display.clone(),
                confidence: p.confidence,
                char_confidences: p.char_confidences.clone(),
                candidates: p.candidates.clone(),
                layout: p.layout,
                vehicle: p.vehicle,
            })
            .collect(),
    }
}
