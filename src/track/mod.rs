//! Multi-object tracking of vehicles and plates across frames, and assembly of each finished
//! track into a [`Passage`]: one vehicle going past the camera, with its voted plate, its best
//! picture, its direction and whether it crossed the counting line.
//!
//! PURE: no I/O, no clock; time comes in with each frame (`at_ms`, wall-clock ms).
//!
//! - [`Tracker::update`] associates a frame's objects with open tracks (see `assoc` for
//!   objects and matching), ends tracks not seen for `max_gap_ms`, and reports frames that
//!   became a track's best picture ([`BestFrame`]) so the caller can keep a crop.
//! - [`Tracker::finish`] ends every open track.
//! - Plates are voted when a track ends (see `vote`); direction and line crossing come from
//!   the box centres (see `geometry`); the vehicle class is the detector's vote, put right by
//!   the plate's series where it tells two wheels from four (see `class`).
//! - A settled track stops asking for plate searches ([`Tracker::quiet_boxes`]) until the
//!   vehicle in its box may have changed: its look (see `look`) or box size jumped since its
//!   plate was read, or a periodic re-check is due. A read of another plate there ends it.
//! - An ended track with a full plate waits a few seconds for a later track with the same
//!   plate to continue it (see `rejoin`): one vehicle, one passage, its gap stated.
//!
//! Invariants:
//! - A track ends exactly once: after a gap longer than `max_gap_ms`, when another vehicle
//!   showing another plate takes its place, when a frame's time goes backwards (a gap that
//!   ends everything open), or on `finish`; it is then logged, or held and logged (or
//!   continued) within `rejoin_ms` of when it was last seen.
//! - Ended tracks seen fewer than `min_hits` times without any plate read are dropped as noise;
//!   the passages of one call come in order of `first_seen_ms`, then track id.
//! - No input panics: non-finite boxes are skipped, non-finite scores count as 0.

mod assoc;
mod class;
mod geometry;
mod look;
mod rejoin;
mod vote;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

use crate::plate::{PlateKey, PlateLayout};
use crate::scene::{BoxXyxy, VehicleClass};
use assoc::{FrameObject, Motion};
use vote::{unit, PlateRead};

pub use geometry::{CameraGeometry, Direction, UnknownDirection, DIRECTION_THRESHOLD};
pub use look::VehicleLook;
pub use vote::{PartialPlate, VotedPlate};

/// Most plate reads a track keeps for voting; past it, a new read replaces the least
/// confident kept one (a vehicle parked in view would otherwise grow without bound).
pub const MAX_KEPT_READS: usize = 64;
/// Summed read confidence after which a track's plate is trusted enough to refuse matches
/// with a different plate (about two good reads).
const ESTABLISHED_KEY_WEIGHT: f32 = 1.0;
/// Summed read confidence on one key after which a track's plate is settled and the track
/// stops paying for plate reads (about four good reads)...
pub const SETTLED_KEY_WEIGHT: f32 = 3.0;
/// ...provided that key holds at least this share of all the track's read weight.
const SETTLED_KEY_SHARE: f32 = 0.8;
/// A track whose plate was searched this many times in a row without a read rests...
const READ_MISSES_BEFORE_REST: u32 = 4;
/// ...and is searched again only after this many frames without a search (a truck parked
/// with its plate hidden does not cost a plate search in every frame).
const REST_FRAMES: u32 = 4;
/// Reads below this confidence never veto a match.
const CONFLICT_MIN_CONFIDENCE: f32 = 0.3;
/// A settled track whose vehicle looks this different (mean colour difference of
/// [`VehicleLook`]s, grey levels) from when its plate was last read has perhaps another
/// vehicle in its box: its plate is searched again.
const CHANGED_LOOK: f32 = 28.0;
/// A settled track whose box grows or shrinks by more than this factor between two
/// observations has perhaps another vehicle in its box: its plate is searched again.
const CHANGED_AREA: f32 = 1.6;
/// A settled track's plate is searched again at least this often anyway (a car of the same
/// colour following in the same lane looks alike), ms.
const RECHECK_MS: i64 = 2000;

/// A vehicle the detector found in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VehicleObservation {
    /// Where, in frame pixels.
    pub bbox: BoxXyxy,
    /// Detected class; it may flip between frames and does not block matching.
    pub class: VehicleClass,
    /// Detector score, 0..1; decides the association stage.
    pub score: f32,
    /// Whether the plate step looked for this vehicle's plate in this frame (the cascade
    /// skips vehicles too far away, settled or resting); a search that finds nothing counts
    /// as a miss.
    pub plate_searched: bool,
    /// What the vehicle looks like, to notice another vehicle in a settled track's box.
    #[serde(default)]
    pub look: Option<VehicleLook>,
}

/// A plate found and read in a frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlateObservation {
    /// Where, in frame pixels.
    pub bbox: BoxXyxy,
    /// Key as read, e.g. `29B125662` (Vietnamese or a raw read).
    pub key: PlateKey,
    /// The reader's display form, which follows the plate's own line break (`30A-999.99` on
    /// two lines stays so); the passage shows the best read's form of the voted key.
    pub display: String,
    /// Read confidence, 0..1; weighs the read in voting and in the best-frame choice.
    pub confidence: f32,
    /// Confidence of each character of `key`, for per-position voting.
    pub char_confidences: Vec<f32>,
    /// The reader's alternative keys with scores, for the passage's candidates.
    pub candidates: Vec<(PlateKey, f32)>,
    /// One or two text lines; reads vote within one layout.
    pub layout: PlateLayout,
    /// Index into the same frame's `vehicles` of the vehicle that holds this plate.
    pub vehicle: Option<usize>,
}

/// Everything the recognizer saw in one frame.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameObservations {
    /// Wall-clock time of the frame, ms since the Unix epoch.
    pub at_ms: i64,
    /// Index of the frame in its source, to find the picture again.
    pub frame_index: u64,
    /// Frame width and height in pixels, to normalise positions.
    pub frame_size: (u32, u32),
    /// Vehicles found.
    pub vehicles: Vec<VehicleObservation>,
    /// Plates found and read.
    pub plates: Vec<PlateObservation>,
}

/// Tuning of the tracker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TrackerSettings {
    /// First association stage uses detections with at least this score (default 0.5).
    pub high_score: f32,
    /// Second stage (ByteTrack) uses the other detections with at least this score
    /// (default 0.2); lower ones are ignored.
    pub low_score: f32,
    /// Minimum IoU of a track's predicted box with a detection to associate them (default 0.2).
    pub match_iou: f32,
    /// A track not seen for longer than this ends (default 2000 ms).
    pub max_gap_ms: i64,
    /// Tracks seen fewer times than this and without any plate read are dropped as noise
    /// (default 2).
    pub min_hits: u32,
    /// Most candidate keys a voted plate lists (default 5).
    pub max_candidates: usize,
    /// An ended track with a plate waits this long after it was last seen for a track with
    /// the same plate to continue it (a track that broke while the vehicle moved, or a
    /// detector that flickered); 0 never rejoins (default 5000 ms).
    pub rejoin_ms: i64,
}

impl Default for TrackerSettings {
    fn default() -> Self {
        TrackerSettings {
            high_score: 0.5,
            low_score: 0.2,
            match_iou: 0.2,
            max_gap_ms: 2000,
            min_hits: 2,
            max_candidates: 5,
            rejoin_ms: 5000,
        }
    }
}

/// One vehicle's passage past the camera: a finished track.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Passage {
    /// Id of the track, unique within one tracker.
    pub track_id: u64,
    /// Time of the first observation, ms.
    pub first_seen_ms: i64,
    /// Time of the last observation, ms.
    pub last_seen_ms: i64,
    /// Time of the frame chosen as the passage's picture, ms.
    pub best_at_ms: i64,
    /// Index of the frame chosen as the passage's picture.
    pub best_frame_index: u64,
    /// Majority class, weighted by detector score; `Other` if only plates were seen.
    pub vehicle_class: VehicleClass,
    /// The plate voted over the reads that were whole plates, if any was.
    pub plate: Option<VotedPlate>,
    /// When every read was only a piece of a plate (`5919`): the fragment voted over them,
    /// kept apart from plate keys. At most one of `plate` and `partial_plate` is set.
    pub partial_plate: Option<PartialPlate>,
    /// Which way the vehicle moved along the road.
    pub direction: Direction,
    /// Whether the path of the box centre crossed the counting line.
    pub crossed_line: bool,
    /// Track box in the best frame (the grown plate box for a plate-anchored track).
    pub best_vehicle_bbox: BoxXyxy,
    /// Plate box in the best frame, if a plate was read there.
    pub best_plate_bbox: Option<BoxXyxy>,
    /// Number of frames the track was observed in.
    pub frames_seen: u32,
    /// Spans (first, last ms) in which the vehicle went unseen inside the passage: its track
    /// broke and a later track with the same plate continued it. Empty for most passages.
    pub gaps_ms: Vec<[i64; 2]>,
}

/// A frame that became the best picture of a track: the caller keeps a crop of this frame.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BestFrame {
    /// The track whose best picture this is.
    pub track_id: u64,
    /// Track box in this frame.
    pub vehicle_bbox: BoxXyxy,
    /// Plate box in this frame, if one was read.
    pub plate_bbox: Option<BoxXyxy>,
}

/// What one frame changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrackUpdate {
    /// Passages of tracks that ended, by `first_seen_ms`.
    pub ended: Vec<Passage>,
    /// Tracks whose best picture is this frame, by track id.
    pub new_best: Vec<BestFrame>,
    /// Ended tracks that a later track continued (their crops move to it or go).
    pub rejoined: Vec<Rejoined>,
}

/// An ended track continued by a later one with the same plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rejoined {
    /// The ended track, now gone.
    pub from: u64,
    /// The track that continues it.
    pub into: u64,
    /// Whether the ended track's best picture is now the continuing track's.
    pub best_from_earlier: bool,
}

/// How good a frame is as a track's picture: any frame with a plate read beats any without;
/// then plate area × read confidence, or vehicle area × detector score.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
struct PictureScore(bool, f32);

/// The chosen picture of a track.
#[derive(Debug, Clone, Copy)]
struct BestPicture {
    /// Its quality, to compare with later frames.
    score: PictureScore,
    /// Frame time, ms.
    at_ms: i64,
    /// Frame index.
    frame_index: u64,
    /// Track and boxes, as reported to the caller.
    boxes: BestFrame,
}

impl BestPicture {
    /// `object` in `frame` as the picture of track `track_id`.
    fn of(track_id: u64, object: &FrameObject, frame: &FrameObservations) -> BestPicture {
        let finite = |x: f32| if x.is_finite() { x.max(0.0) } else { 0.0 };
        let score = match object.plate {
            Some(p) => PictureScore(true, finite(p.bbox.area() * unit(p.confidence))),
            None => PictureScore(false, finite(object.bbox.area() * object.score.max(0.0))),
        };
        BestPicture {
            score,
            at_ms: frame.at_ms,
            frame_index: frame.frame_index,
            boxes: BestFrame {
                track_id,
                vehicle_bbox: object.bbox,
                plate_bbox: object.plate.map(|p| p.bbox),
            },
        }
    }
}

/// An open track.
#[derive(Debug, Clone)]
struct Track {
    /// Unique id, in order of creation.
    id: u64,
    /// Whether the last box is a grown plate box (association prefers like with like).
    plate_anchored: bool,
    /// Time of the first observation, ms.
    first_seen_ms: i64,
    /// Box, time and velocity, for prediction.
    motion: Motion,
    /// Normalised box centre at the first observation, for direction.
    first_centre: (f32, f32),
    /// Normalised box centre at the last observation, for direction and line crossing.
    last_centre: (f32, f32),
    /// Whether a step between consecutive centres touched the counting line.
    crossed_line: bool,
    /// Summed class votes.
    class_weights: Vec<(VehicleClass, f32)>,
    /// Plate reads kept for voting, at most [`MAX_KEPT_READS`].
    reads: Vec<PlateRead>,
    /// Number of plate reads seen, kept or not.
    read_count: u32,
    /// Summed read confidence per confusion-folded key: what the track's plate looks like so
    /// far, to refuse a match with a vehicle showing a clearly different plate.
    key_votes: Vec<(String, f32)>,
    /// The best picture so far.
    best: BestPicture,
    /// Number of frames observed in.
    frames_seen: u32,
    /// Plate searches in a row that found no plate for this track.
    read_misses: u32,
    /// Frames observed since the last plate search for this track.
    since_search: u32,
    /// When the plate was last searched for (or the track started), ms.
    last_search_ms: i64,
    /// The vehicle's look in the last frame its plate was read.
    read_look: Option<VehicleLook>,
    /// The vehicle in the box may have changed since the last read (its look or size jumped):
    /// the track is not quiet until its plate is read again.
    changed: bool,
    /// Spans in which the vehicle went unseen, from tracks this one continued.
    gaps_ms: Vec<[i64; 2]>,
}

impl Track {
    /// A new track from its first object; `observe` must follow.
    fn start(id: u64, object: &FrameObject, frame: &FrameObservations) -> Track {
        let centre = geometry::normalise_point(object.bbox.center(), frame.frame_size);
        Track {
            id,
            plate_anchored: object.plate_anchored,
            first_seen_ms: frame.at_ms,
            motion: Motion {
                last_box: object.bbox,
                last_ms: frame.at_ms,
                velocity: None,
                last_plate: None,
            },
            first_centre: centre,
            last_centre: centre,
            crossed_line: false,
            class_weights: Vec::new(),
            reads: Vec::new(),
            read_count: 0,
            key_votes: Vec::new(),
            best: BestPicture::of(id, object, frame),
            frames_seen: 0,
            read_misses: 0,
            since_search: 0,
            last_search_ms: frame.at_ms,
            read_look: None,
            changed: false,
            gaps_ms: Vec::new(),
        }
    }

    /// Adds an observation; returns the frame as a [`BestFrame`] when it is the new best.
    fn observe(
        &mut self,
        object: &FrameObject,
        frame: &FrameObservations,
        geometry: &CameraGeometry,
    ) -> Option<BestFrame> {
        let at_ms = frame.at_ms;
        if self.frames_seen > 0 {
            if object.plate_anchored != self.plate_anchored {
                self.motion.velocity = None; // boxes of different kinds do not make a velocity
            } else if let Some(v) = self.motion.velocity_to(&object.bbox, at_ms) {
                self.motion.velocity = Some(v);
            }
        }
        self.note_change(object);
        self.plate_anchored = object.plate_anchored;
        self.motion.last_box = object.bbox;
        self.motion.last_ms = at_ms;

        let centre = geometry::normalise_point(object.bbox.center(), frame.frame_size);
        if let Some([a, b]) = geometry.counting_line {
            if self.frames_seen > 0 && geometry::segments_intersect(self.last_centre, centre, a, b)
            {
                self.crossed_line = true;
            }
        }
        self.last_centre = centre;

        if let Some((class, weight)) = object.class_vote {
            // A small floor so zero-score detections still count as a vote.
            let weight = weight.max(0.0) + 1e-3;
            match self.class_weights.iter_mut().find(|c| c.0 == class) {
                Some(c) => c.1 += weight,
                None => self.class_weights.push((class, weight)),
            }
        }
        if object.plate.is_some() {
            (self.read_misses, self.since_search) = (0, 0);
            self.last_search_ms = at_ms;
            self.changed = false;
            if object.look.is_some() {
                self.read_look = object.look;
            }
        } else if object.plate_searched {
            self.read_misses = self.read_misses.saturating_add(1);
            self.since_search = 0;
            self.last_search_ms = at_ms;
        } else {
            self.since_search = self.since_search.saturating_add(1);
        }
        if let Some(plate) = object.plate {
            self.motion.last_plate = Some((plate.bbox, at_ms));
            self.read_count = self.read_count.saturating_add(1);
            // Only whole plates count toward what the track's plate is: a fragment must
            // neither settle the track (it would stop reading before the whole plate shows)
            // nor establish a key.
            let folded = crate::plate::fold_confusions(plate.key.as_str());
            let weight = if plate.confidence.is_finite() {
                plate.confidence.clamp(0.0, 1.0)
            } else {
                0.0
            };
            let room = self.key_votes.len() < MAX_KEPT_READS;
            match self.key_votes.iter_mut().find(|k| k.0 == folded) {
                _ if !plate.key.is_whole() => {}
                Some(k) => k.1 += weight,
                None if room => self.key_votes.push((folded, weight)),
                None => {}
            }
            let read = PlateRead::from_observation(plate);
            if self.reads.len() < MAX_KEPT_READS {
                self.reads.push(read);
            } else if let Some(weakest) = self
                .reads
                .iter_mut()
                .min_by(|a, b| a.confidence.total_cmp(&b.confidence))
                .filter(|w| w.confidence < read.confidence)
            {
                *weakest = read;
            }
        }

        let first = self.frames_seen == 0;
        self.frames_seen = self.frames_seen.saturating_add(1);
        let picture = BestPicture::of(self.id, object, frame);
        if !(first || picture.score > self.best.score) {
            return None;
        }
        self.best = picture;
        Some(picture.boxes)
    }

    /// Notes whether the vehicle in the box may have changed since the plate was last read:
    /// its look differs clearly from the look at that read, or its box size jumped.
    fn note_change(&mut self, object: &FrameObject) {
        if self.frames_seen == 0 || object.plate.is_some() || object.plate_anchored {
            return;
        }
        let looks_else = match (self.read_look, object.look) {
            (Some(then), Some(now)) => then.distance(&now) > CHANGED_LOOK,
            _ => false,
        };
        let (before, after) = (self.motion.last_box.area(), object.bbox.area());
        let jumped = !self.plate_anchored
            && before > 0.0
            && after > 0.0
            && (after / before).max(before / after) > CHANGED_AREA;
        if looks_else || jumped {
            self.changed = true;
        }
    }

    /// Whether the track may skip plate searches now: settled or resting, unless the vehicle
    /// in its box may have changed, or a settled plate is due its periodic re-check.
    fn quiet(&self, at_ms: i64) -> bool {
        if self.plate_anchored {
            return false;
        }
        if self.resting() {
            return true;
        }
        !self.changed && self.settled() && at_ms.saturating_sub(self.last_search_ms) < RECHECK_MS
    }

    /// The folded key this track's reads agree on, once they carry enough weight to trust.
    fn established_key(&self) -> Option<&str> {
        self.key_votes
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|k| k.1 >= ESTABLISHED_KEY_WEIGHT)
            .map(|k| k.0.as_str())
    }

    /// Whether recent plate searches all failed and the track waits before the next one.
    fn resting(&self) -> bool {
        self.read_misses >= READ_MISSES_BEFORE_REST && self.since_search < REST_FRAMES
    }

    /// Whether the reads agree enough that more of them would not change the vote.
    fn settled(&self) -> bool {
        let total: f32 = self.key_votes.iter().map(|k| k.1).sum();
        self.key_votes
            .iter()
            .map(|k| k.1)
            .fold(0.0f32, f32::max)
            .ge(&SETTLED_KEY_WEIGHT.max(SETTLED_KEY_SHARE * total))
    }

    /// The passage of this ended track, or `None` when it is dropped as noise.
    fn into_passage(
        self,
        settings: &TrackerSettings,
        geometry: &CameraGeometry,
    ) -> Option<Passage> {
        if self.frames_seen < settings.min_hits && self.read_count == 0 {
            return None;
        }
        let mut vehicle_class = VehicleClass::Other;
        let mut class_weight = f32::NEG_INFINITY;
        for &(class, weight) in &self.class_weights {
            if weight > class_weight {
                (vehicle_class, class_weight) = (class, weight);
            }
        }
        let voted = vote::vote_track(&self.reads, self.read_count, settings.max_candidates);
        let vehicle_class =
            class::class_with_plate(vehicle_class, voted.plate.as_ref().map(|p| &p.key));
        Some(Passage {
            track_id: self.id,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.motion.last_ms,
            best_at_ms: self.best.at_ms,
            best_frame_index: self.best.frame_index,
            vehicle_class,
            plate: voted.plate,
            partial_plate: voted.partial,
            direction: geometry::direction(
                self.first_centre,
                self.last_centre,
                geometry.road_direction,
            ),
            crossed_line: self.crossed_line,
            best_vehicle_bbox: self.best.boxes.vehicle_bbox,
            best_plate_bbox: self.best.boxes.plate_bbox,
            frames_seen: self.frames_seen,
            gaps_ms: self.gaps_ms,
        })
    }
}

/// The multi-object tracker of one camera.
#[derive(Debug, Clone)]
pub struct Tracker {
    /// Tuning.
    settings: TrackerSettings,
    /// Road direction and counting line.
    geometry: CameraGeometry,
    /// Tracks not ended yet, in order of creation.
    open: Vec<Track>,
    /// Ended tracks with a plate, waiting `rejoin_ms` for a later track to continue them.
    held: Vec<Track>,
    /// Id of the next track.
    next_id: u64,
    /// Time of the latest frame, to notice time going backwards.
    last_frame_ms: Option<i64>,
}

impl Tracker {
    /// A tracker with no open track.
    pub fn new(settings: TrackerSettings, geometry: CameraGeometry) -> Tracker {
        Tracker {
            settings,
            geometry,
            open: Vec::new(),
            held: Vec::new(),
            next_id: 1,
            last_frame_ms: None,
        }
    }

    /// Number of tracks not ended yet.
    pub fn open_tracks(&self) -> usize {
        self.open.len()
    }

    /// Where the open tracks that need no plate search now are expected at `at_ms`: their
    /// plate is settled (the cascade's "confident tracks stop paying"), or it was searched
    /// for in vain several frames in a row and is resting. A settled track is not quiet when
    /// the vehicle in its box may have changed since its plate was read (its look or box size
    /// jumped), nor once every [`RECHECK_MS`] (a look-alike may have taken its place). A
    /// vehicle detected there gets no plate search in this frame. The flag says whether the
    /// plate is settled (rather than resting).
    pub fn quiet_boxes(&self, at_ms: i64) -> Vec<(BoxXyxy, bool)> {
        let cap = self.settings.max_gap_ms.max(0);
        self.open
            .iter()
            .filter(|t| t.quiet(at_ms))
            .map(|t| {
                let settled = t.settled() && !t.changed;
                (t.motion.predict(at_ms, cap, false).bbox, settled)
            })
            .collect()
    }

    /// Whether some open track seen only by its plate (no vehicle detected) still needs
    /// reads.
    pub fn plate_only_unsettled(&self) -> bool {
        self.open.iter().any(|t| t.plate_anchored && !t.settled())
    }

    /// Passages of `tracks`, noise dropped, by `first_seen_ms` then track id.
    fn passages(&self, tracks: Vec<Track>) -> Vec<Passage> {
        let mut passages: Vec<Passage> = tracks
            .into_iter()
            .filter_map(|t| t.into_passage(&self.settings, &self.geometry))
            .collect();
        passages.sort_by_key(|p| (p.first_seen_ms, p.track_id));
        passages
    }

    /// Takes in one frame: ends tracks not seen for longer than `max_gap_ms` before `at_ms`
    /// (all of them when time went backwards), then associates the frame's objects. A track
    /// whose box now holds a vehicle showing a clearly different plate ends at once. Ended
    /// tracks with a full plate wait `rejoin_ms` for a later track to continue them (see
    /// `rejoin`).
    pub fn update(&mut self, frame: &FrameObservations) -> TrackUpdate {
        let at_ms = frame.at_ms;
        let max_gap_ms = self.settings.max_gap_ms.max(0);
        let went_back = self.last_frame_ms.is_some_and(|prev| at_ms < prev);
        self.last_frame_ms = Some(at_ms);
        let mut ended = Vec::new();
        if went_back {
            // A new timeline: nothing held can be continued.
            let held = std::mem::take(&mut self.held);
            ended.extend(held);
        }
        let oldest_alive = at_ms.saturating_sub(max_gap_ms);
        let (gone, open): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.open)
            .into_iter()
            .partition(|t| went_back || t.motion.last_ms < oldest_alive);
        self.open = open;
        if went_back {
            ended.extend(gone);
        } else {
            self.hold(gone, &mut ended);
        }

        let objects = assoc::frame_objects(frame);
        let is_high = |o: &FrameObject| o.always_high || o.score >= self.settings.high_score;
        let high: Vec<usize> = (0..objects.len())
            .filter(|&i| is_high(&objects[i]))
            .collect();
        let low: Vec<usize> = (0..objects.len())
            .filter(|&i| !is_high(&objects[i]) && objects[i].score >= self.settings.low_score)
            .collect();
        let predictions: Vec<assoc::Prediction> = self
            .open
            .iter()
            .map(|t| t.motion.predict(at_ms, max_gap_ms, t.plate_anchored))
            .collect();
        let established: Vec<Option<&str>> = self.open.iter().map(Track::established_key).collect();
        // A clearly different plate is a different vehicle, however well the boxes overlap
        // (the next car stopping where the last one stood).
        let conflicts = |t: usize, o: usize| match (established[t], objects[o].plate) {
            (Some(key), Some(plate)) => {
                plate.confidence >= CONFLICT_MIN_CONFIDENCE
                    && plate.key.is_whole()
                    && vote::plates_conflict(
                        key,
                        &crate::plate::fold_confusions(plate.key.as_str()),
                    )
            }
            _ => false,
        };
        let fit = |t: usize, o: usize| {
            if conflicts(t, o) {
                return 0.0;
            }
            assoc::affinity(&predictions[t], &objects[o])
        };
        let all_tracks: Vec<usize> = (0..self.open.len()).collect();
        let mut matches = assoc::match_greedy(&all_tracks, &high, self.settings.match_iou, fit);
        let free_tracks: Vec<usize> = all_tracks
            .into_iter()
            .filter(|t| !matches.iter().any(|m| m.0 == *t))
            .collect();
        matches.extend(assoc::match_greedy(
            &free_tracks,
            &low,
            self.settings.match_iou,
            fit,
        ));
        // Unmatched tracks whose best-fitting object shows another plate: that vehicle has
        // taken the track's place, so the track's own vehicle is gone from it.
        let displaced: Vec<usize> = (0..self.open.len())
            .filter(|&t| !matches.iter().any(|m| m.0 == t))
            .filter(|&t| {
                (0..objects.len())
                    .map(|o| (assoc::affinity(&predictions[t], &objects[o]), o))
                    .filter(|(a, _)| *a >= self.settings.match_iou)
                    .max_by(|a, b| a.0.total_cmp(&b.0))
                    .is_some_and(|(_, o)| conflicts(t, o))
            })
            .collect();

        let mut new_best = Vec::new();
        for &(t, o) in &matches {
            new_best.extend(self.open[t].observe(&objects[o], frame, &self.geometry));
        }
        for &o in high.iter().filter(|&&o| !matches.iter().any(|m| m.1 == o)) {
            let mut track = Track::start(self.next_id, &objects[o], frame);
            self.next_id += 1;
            new_best.extend(track.observe(&objects[o], frame, &self.geometry));
            self.open.push(track);
        }
        // `displaced` is ascending: removing from the back keeps the other indices valid.
        let gone: Vec<Track> = displaced
            .iter()
            .rev()
            .map(|&t| self.open.remove(t))
            .collect();
        self.hold(gone, &mut ended);
        let rejoined = self.rejoin();
        for r in &rejoined {
            new_best
                .retain(|b| b.track_id != r.from && !(r.best_from_earlier && b.track_id == r.into));
        }
        let (due, held): (Vec<Track>, Vec<Track>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|t| at_ms.saturating_sub(t.motion.last_ms) > self.settings.rejoin_ms);
        self.held = held;
        ended.extend(due);
        new_best.sort_by_key(|b| b.track_id);
        TrackUpdate {
            ended: self.passages(ended),
            new_best,
            rejoined,
        }
    }

    /// Ended tracks: those with a plate to rejoin by wait in `held`, the rest go to `ended`.
    fn hold(&mut self, tracks: Vec<Track>, ended: &mut Vec<Track>) {
        for t in tracks {
            if self.settings.rejoin_ms > 0 && t.rejoin_key().is_some() {
                self.held.push(t);
            } else {
                ended.push(t);
            }
        }
    }

    /// Open tracks continue the held tracks they are the continuation of.
    fn rejoin(&mut self) -> Vec<Rejoined> {
        let mut rejoined = Vec::new();
        let mut i = 0;
        while i < self.held.len() {
            let window = self.settings.rejoin_ms;
            let Some(t) = self
                .open
                .iter()
                .position(|t| t.continues(&self.held[i], window))
            else {
                i += 1;
                continue;
            };
            let earlier = self.held.remove(i);
            rejoined.push(self.open[t].absorb(earlier, &self.geometry));
        }
        rejoined
    }

    /// Ends every open track (end of file, shutdown) and returns their passages, and those
    /// of the tracks held for rejoining (after a last chance to be continued).
    pub fn finish(&mut self) -> Vec<Passage> {
        self.finish_rejoined().0
    }

    /// [`Tracker::finish`], also telling which held tracks were continued at the end.
    pub fn finish_rejoined(&mut self) -> (Vec<Passage>, Vec<Rejoined>) {
        let mut rejoined = self.rejoin();
        // Open tracks end now: those that continue one another are joined too.
        let mut open = std::mem::take(&mut self.open);
        let window = self.settings.rejoin_ms;
        let mut i = 0;
        while i < open.len() {
            let Some(j) = (0..open.len()).find(|&j| j != i && open[j].continues(&open[i], window))
            else {
                i += 1;
                continue;
            };
            let earlier = open.remove(i);
            let into = if j > i { j - 1 } else { j };
            rejoined.push(open[into].absorb(earlier, &self.geometry));
            i = 0;
        }
        open.append(&mut self.held);
        (self.passages(open), rejoined)
    }
}
