//! Reading one recorded segment again: the file is checked (inside the clips folder, there,
//! with the SHA-256 recorded when it closed), run through the camera's pipeline without
//! recording (its wall-clock time 0 is the segment's start), and its passages whose best frame
//! is inside the window become rows of the run. A segment that cannot be read gives no rows,
//! and the snapshots its reading saved are removed again.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::plan::Window;
use crate::pipeline::{run_camera, write_item, CameraSettings, IngestEvent, PipelineError};
use crate::store::WriteItem;
use crate::video::{Shutdown, SourceSpec};

/// A recorded segment, as its clip row has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Wall-clock time of the file's time 0.
    pub started_at: DateTime<Utc>,
    /// The file.
    pub path: PathBuf,
    /// SHA-256 recorded when it closed, lowercase hex.
    pub sha256: String,
}

/// Why a segment was not read.
#[derive(Debug, thiserror::Error)]
pub enum SegmentError {
    /// The file is not there.
    #[error("{path}: the file is missing")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The file lies outside the clips folder (a row this build did not write).
    #[error("{path}: not inside the clips folder {root}")]
    Outside {
        /// The file.
        path: PathBuf,
        /// The clips folder.
        root: PathBuf,
    },
    /// The file could not be read to check it.
    #[error("{path}: cannot be read: {reason}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What the system said.
        reason: String,
    },
    /// The file is not what was recorded.
    #[error("{path}: damaged or altered (its SHA-256 is not the one recorded)")]
    Altered {
        /// The file.
        path: PathBuf,
    },
    /// The video could not be decoded.
    #[error("{path}: {source}")]
    Video {
        /// The file.
        path: PathBuf,
        /// What the pipeline said.
        source: PipelineError,
    },
    /// Stopped (Ctrl-C) while this segment was read: what it gave is dropped.
    #[error("{path}: stopped before the end")]
    Stopped {
        /// The file.
        path: PathBuf,
    },
}

/// Reads a camera's segments again for one run.
pub struct Rereader {
    /// The camera's settings (models shared, no recording); source and start are each
    /// segment's.
    camera: CameraSettings,
    /// Whether the camera has a counting line (else `crossed_line` is unknown).
    counting_line: bool,
    /// The clips folder, resolved.
    clips_root: PathBuf,
    /// Passages outside it are not the run's.
    window: Window,
    /// Stops the reading.
    shutdown: Shutdown,
}

impl Rereader {
    /// A reader of `camera`'s segments (under its `clips_dir`) for a run of `window`;
    /// snapshots go to its `snapshots_dir`. Errs when the clips folder cannot be resolved.
    pub fn new(
        mut camera: CameraSettings,
        window: Window,
        shutdown: Shutdown,
    ) -> Result<Rereader, SegmentError> {
        let clips_root = camera
            .clips_dir
            .canonicalize()
            .map_err(|e| SegmentError::Unreadable {
                path: camera.clips_dir.clone(),
                reason: e.to_string(),
            })?;
        camera.record = false;
        Ok(Rereader {
            counting_line: camera.geometry.counting_line.is_some(),
            camera,
            clips_root,
            window,
            shutdown,
        })
    }

    /// The file of `segment`, resolved, when it is there inside the clips folder.
    pub fn locate(&self, segment: &Segment) -> Result<PathBuf, SegmentError> {
        let path = segment.path.clone();
        let resolved = match path.canonicalize() {
            Ok(p) => p,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(SegmentError::Missing { path })
            }
            Err(e) => {
                return Err(SegmentError::Unreadable {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        if !resolved.starts_with(&self.clips_root) {
            return Err(SegmentError::Outside {
                path,
                root: self.clips_root.clone(),
            });
        }
        if !resolved.is_file() {
            return Err(SegmentError::Missing { path });
        }
        Ok(resolved)
    }

    /// Points the snapshots of what is read next at `dir` (a run's own folder).
    pub fn snapshots_to(&mut self, dir: PathBuf) {
        self.camera.snapshots_dir = dir;
    }

    /// The rows of run `run_id` from `segment`: its passages inside the window.
    pub fn read(&self, segment: &Segment, run_id: i64) -> Result<Vec<WriteItem>, SegmentError> {
        if self.shutdown.is_triggered() {
            return Err(SegmentError::Stopped {
                path: segment.path.clone(),
            });
        }
        let path = self.locate(segment)?;
        let (_, sha256) =
            crate::digest::sha256_file(&path).map_err(|e| SegmentError::Unreadable {
                path: segment.path.clone(),
                reason: e.to_string(),
            })?;
        if sha256 != segment.sha256 {
            return Err(SegmentError::Altered {
                path: segment.path.clone(),
            });
        }
        let mut settings = self.camera.clone();
        settings.source = SourceSpec::File(path);
        settings.file_start = segment.started_at;
        let (tx, rx) = crossbeam_channel::unbounded();
        let result = run_camera(settings, self.shutdown.clone(), tx);
        let events: Vec<IngestEvent> = rx.try_iter().collect();
        let failure = match result {
            Err(source) => Some(SegmentError::Video {
                path: segment.path.clone(),
                source,
            }),
            Ok(_) if self.shutdown.is_triggered() => Some(SegmentError::Stopped {
                path: segment.path.clone(),
            }),
            Ok(_) => None,
        };
        let mut rows = Vec::new();
        for event in &events {
            let IngestEvent::Passage(p) = event else {
                continue;
            };
            if failure.is_none() && self.window.contains(p.best_at) {
                if let WriteItem::Passage(mut row) = write_item(event, self.counting_line) {
                    row.run_id = Some(run_id);
                    rows.push(WriteItem::Passage(row));
                }
            } else if let Some(snapshot) = &p.snapshot_path {
                remove_snapshot(snapshot);
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }
}

/// Removes a snapshot saved for a passage that is not logged.
fn remove_snapshot(path: &Path) {
    if let Err(e) = std::fs::remove_file(path) {
        tracing::warn!("cannot remove snapshot {}: {e}", path.display());
    }
}
