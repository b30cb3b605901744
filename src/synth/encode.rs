//! Writes frames to an H.264 MP4 through the `ffmpeg` command: raw RGB frames go to its
//! standard input, x264 compresses them (`veryfast`, CRF 23, a keyframe every 50 frames,
//! yuv420p).
//!
//! Errors say what went wrong: ffmpeg missing, or ffmpeg failing (with the end of what it
//! printed).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::JoinHandle;

use super::SynthError;

/// An ffmpeg process writing one MP4.
pub struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    frame_bytes: usize,
}

impl Encoder {
    /// Starts ffmpeg writing `out` (replaced if it exists) from `width` x `height` frames at
    /// `fps`.
    pub fn start(out: &Path, width: u32, height: u32, fps: u32) -> Result<Encoder, SynthError> {
        let mut child = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-y"])
            .args(["-f", "rawvideo", "-pix_fmt", "rgb24"])
            .args(["-s", &format!("{width}x{height}"), "-r", &fps.to_string()])
            .args(["-i", "-", "-an", "-c:v", "libx264", "-preset", "veryfast"])
            .args(["-crf", "23", "-g", "50", "-pix_fmt", "yuv420p"])
            .args(["-movflags", "+faststart"])
            .arg(out)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    SynthError::FfmpegMissing
                } else {
                    SynthError::Ffmpeg(format!("could not start ffmpeg: {e}"))
                }
            })?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = e.read_to_string(&mut text);
                text
            })
        });
        Ok(Encoder {
            child,
            stdin,
            stderr,
            frame_bytes: (width * height * 3) as usize,
        })
    }

    /// Sends one frame (packed RGB rows).
    pub fn write(&mut self, frame: &[u8]) -> Result<(), SynthError> {
        if frame.len() != self.frame_bytes {
            return Err(SynthError::Ffmpeg(format!(
                "a frame of {} bytes where {} were expected",
                frame.len(),
                self.frame_bytes
            )));
        }
        let sent = match self.stdin.as_mut() {
            Some(stdin) => stdin.write_all(frame),
            None => Err(std::io::Error::other("ffmpeg's input is closed")),
        };
        match sent {
            Ok(()) => Ok(()),
            Err(e) => Err(self.failure(&format!("ffmpeg stopped taking frames ({e})"))),
        }
    }

    /// Closes the input and waits for ffmpeg to finish the file.
    pub fn finish(mut self) -> Result<(), SynthError> {
        drop(self.stdin.take());
        let status = self
            .child
            .wait()
            .map_err(|e| SynthError::Ffmpeg(format!("waiting for ffmpeg: {e}")))?;
        let said = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if status.success() {
            Ok(())
        } else {
            Err(SynthError::Ffmpeg(format!(
                "ffmpeg failed ({status}): {}",
                tail(&said)
            )))
        }
    }

    /// The error for a broken pipe: ffmpeg's own words when it has exited.
    fn failure(&mut self, what: &str) -> SynthError {
        drop(self.stdin.take());
        let _ = self.child.wait();
        let said = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        SynthError::Ffmpeg(format!("{what}: {}", tail(&said)))
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.wait();
    }
}

/// The last lines of ffmpeg's messages.
fn tail(said: &str) -> String {
    let lines: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => "it printed nothing".to_string(),
        n => lines[n.saturating_sub(3)..].join(" / "),
    }
}
