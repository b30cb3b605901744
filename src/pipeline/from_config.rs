//! Camera settings from the configuration file: one camera of the config, reading a given
//! source, with the config's storage, analysis and motion defaults.
//!
//! Owns only the mapping `config` → [`CameraSettings`]; the caller overrides what its
//! command line says (segment length, rate, folders, reconnect policy).

use chrono::{DateTime, Utc};

use super::CameraSettings;
use crate::config::{CameraConfig, Config};
use crate::motion::MotionSettings;
use crate::recognize::RecognizerSettings;
use crate::track::{CameraGeometry, TrackerSettings};
use crate::video::source::ReconnectPolicy;
use crate::video::SourceSpec;

impl CameraSettings {
    /// Settings for camera `cam` of `cfg` reading `source`, whose first frame (of a file) is
    /// at `file_start`. The models and thresholds come from `recognizer`, except where the
    /// plate detector looks, which the config decides. Shared by `ingest`, `serve` and
    /// `demo`.
    pub fn from_config(
        cfg: &Config,
        cam: &CameraConfig,
        source: SourceSpec,
        file_start: DateTime<Utc>,
        recognizer: RecognizerSettings,
    ) -> CameraSettings {
        CameraSettings {
            name: cam.name.clone(),
            source,
            file_start,
            clips_dir: cfg.storage.clips_dir(),
            record: true,
            snapshots_dir: cfg.storage.snapshots_dir(),
            segment_len_ms: i64::from(cfg.storage.segment_len_sec.max(2)) * 1000,
            analysis_fps: cfg.analysis.fps,
            queue_frames: cfg.analysis.queue_frames,
            decoder_threads: cfg.analysis.decoder_threads,
            geometry: CameraGeometry {
                road_direction: (cam.road_direction[0], cam.road_direction[1]),
                counting_line: cam.counting_line.map(|[a, b]| [(a[0], a[1]), (b[0], b[1])]),
            },
            tracker: TrackerSettings::default(),
            recognizer: RecognizerSettings {
                plate_search: cfg.analysis.plates_in,
                reader: cfg.analysis.reader.unwrap_or(recognizer.reader),
                vehicle_model: cfg
                    .analysis
                    .vehicle_model
                    .unwrap_or(recognizer.vehicle_model),
                ..recognizer
            },
            reconnect: ReconnectPolicy::default(),
            motion: MotionSettings {
                mask: [cfg.analysis.motion.mask.clone(), cam.motion_mask.clone()].concat(),
                ..cfg.analysis.motion.clone()
            },
            inference: None,
            counters: None,
        }
    }
}
