//! The probes of `matthan check` that touch files, cameras and programs: model files against
//! the lock, one first frame from each camera, the clips disk's free space, and what
//! `timedatectl` says. Each returns a finding for [`super::report`]; none fails the run.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::recognize::{runtime, RecognizeError};
use crate::video::decode::{FrameDecoder, SampledFrame};
use crate::video::source::ReconnectPolicy;
use crate::video::{Opener, SourceSpec, VideoError};

use super::report::{CameraFinding, ModelFinding, NtpFinding};

/// Each file of `MODELS.lock` checked in `dir`: its name and finding.
pub fn models(dir: &Path) -> Vec<(String, ModelFinding)> {
    runtime::locked_files()
        .iter()
        .map(|file| {
            let finding = match runtime::verify_model_file(dir, file) {
                Ok(()) => ModelFinding::Matches,
                Err(RecognizeError::ModelTampered { origin, .. }) => {
                    ModelFinding::Differs { origin }
                }
                Err(RecognizeError::ModelMissing { reason, .. }) => {
                    ModelFinding::Missing { reason }
                }
                Err(e) => ModelFinding::Missing {
                    reason: e.to_string(),
                },
            };
            (file.dest.to_string(), finding)
        })
        .collect()
}

/// The folder whose disk `dir` is on: `dir`, or its nearest parent that exists (a clips
/// folder not made yet).
pub fn existing_ancestor(dir: &Path) -> PathBuf {
    let absolute = std::env::current_dir()
        .map(|cwd| cwd.join(dir))
        .unwrap_or_else(|_| dir.to_path_buf());
    absolute
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"))
        .to_path_buf()
}

/// Why a video error happened, without its source's name.
fn reason(e: VideoError) -> String {
    match e {
        VideoError::Open { reason, .. } | VideoError::Read { reason, .. } => reason,
        VideoError::NoVideoStream(_) => "no video stream".into(),
        other => other.to_string(),
    }
}

/// Opens `source` with the video module's opener and decodes until the first frame.
fn first_frame(source: &str, timeout: Duration, started: Instant) -> CameraFinding {
    let spec = SourceSpec::parse(source);
    let policy = ReconnectPolicy {
        io_timeout: timeout,
        ..ReconnectPolicy::default()
    };
    let mut stream = match spec.opener(policy).open() {
        Ok(s) => s,
        Err(e) => return CameraFinding::OpenFailed { reason: reason(e) },
    };
    let info = stream.info().clone();
    let mut decoder = match FrameDecoder::new(&info, info.clock(chrono::Utc::now()), 1.0, 1) {
        Ok(d) => d,
        Err(e) => return CameraFinding::NoFrame { reason: reason(e) },
    };
    let mut size: Option<(u32, u32)> = None;
    let ended = loop {
        let mut keep = |f: SampledFrame<'_>| {
            let frame = f.into_analysis_frame()?;
            size.get_or_insert((frame.image.width(), frame.image.height()));
            Ok(())
        };
        match stream.next_packet() {
            // A corrupt packet before the first keyframe is normal for a live stream.
            Ok(Some(packet)) => {
                let _ = decoder.push(&packet, &mut keep);
            }
            Ok(None) => {
                let _ = decoder.finish(&mut keep);
                break "the stream ended".to_string();
            }
            Err(e) => break reason(e),
        }
        if size.is_some() || started.elapsed() > timeout {
            break String::new();
        }
    };
    match size {
        Some((width, height)) => CameraFinding::Frame {
            width,
            height,
            after_s: started.elapsed().as_secs_f64(),
        },
        None if ended.is_empty() => CameraFinding::TimedOut {
            after_s: timeout.as_secs_f64(),
        },
        None => CameraFinding::NoFrame { reason: ended },
    }
}

/// Probes every source at once, each on its own thread, waiting at most `timeout` for each
/// first frame. A probe still blocked in FFmpeg past it is left to its I/O timeout.
pub fn cameras(sources: &[String], timeout: Duration) -> Vec<CameraFinding> {
    let started = Instant::now();
    let receivers: Vec<mpsc::Receiver<CameraFinding>> = sources
        .iter()
        .map(|source| {
            let (tx, rx) = mpsc::channel();
            let source = source.clone();
            let spawned = std::thread::Builder::new()
                .name("check-camera".into())
                .spawn(move || {
                    let _ = tx.send(first_frame(&source, timeout, started));
                });
            if let Err(e) = spawned {
                let (tx, rx) = mpsc::channel();
                let _ = tx.send(CameraFinding::NoFrame {
                    reason: format!("cannot start a thread: {e}"),
                });
                return rx;
            }
            rx
        })
        .collect();
    receivers
        .into_iter()
        .map(|rx| {
            let left = timeout.saturating_sub(started.elapsed()) + Duration::from_millis(500);
            rx.recv_timeout(left).unwrap_or(CameraFinding::TimedOut {
                after_s: timeout.as_secs_f64(),
            })
        })
        .collect()
}

/// `program` on `PATH`.
fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// What `timedatectl` says of NTP; `None` when it is not installed.
pub fn ntp() -> Option<NtpFinding> {
    let program = on_path("timedatectl")?;
    let out = std::process::Command::new(program)
        .args(["show", "--property=NTPSynchronized", "--value"])
        .output();
    Some(match out {
        Err(e) => NtpFinding::Unknown {
            reason: e.to_string(),
        },
        Ok(o) => match String::from_utf8_lossy(&o.stdout).trim() {
            "yes" if o.status.success() => NtpFinding::Synchronised,
            "no" if o.status.success() => NtpFinding::NotSynchronised,
            _ => NtpFinding::Unknown {
                reason: String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .next()
                    .unwrap_or("no answer")
                    .trim()
                    .to_string(),
            },
        },
    })
}
