//! The reader: a camera's demux / reconnect / record loop, on the caller's thread.
//!
//! Owns: opening the source through its [`Opener`] (again after a live source drops, with the
//! reconnect policy's backoff, until it gives up), recording every packet into segments
//! (unless the camera's settings say not to: a recorded segment read again),
//! announcing each connection's stream to the decoder and forwarding packets to it, and
//! counting media time.
//!
//! Invariants: recording never waits for the decoder on a live source (packets the decoder
//! has no room for are counted and dropped, decoding resumes at the next keyframe); the open
//! segment is closed whatever ends a connection, since it is evidence.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::Utc;
use crossbeam_channel::{Sender, TrySendError};

use super::decoder::DecoderMsg;
use super::{CameraSettings, IngestEvent, PipelineError};
use crate::counters::StreamCounters;
use crate::video::recorder::SegmentIndex;
use crate::video::{Opener, PacketStream, SegmentRecorder, Shutdown, VideoError};

/// What the reader hands back when the camera stops.
#[derive(Debug)]
pub(super) struct ReaderOutcome {
    /// Segments closed.
    pub clips: u64,
    /// Media time read over every connection, ms.
    pub media_ms: i64,
    /// Why it stopped: `Ok` at the end of a file or on shutdown.
    pub result: Result<(), PipelineError>,
}

/// The reader of one camera.
pub(super) struct Reader<'a> {
    /// The camera.
    settings: &'a CameraSettings,
    /// Stops the loop.
    shutdown: &'a Shutdown,
    /// Packets read, dropped; reconnects.
    counters: &'a StreamCounters,
    /// Segments opened, for clip linkage of passages.
    index: SegmentIndex,
    /// To the decoder thread; dropped when the reader ends, which ends the decoder.
    packets: Sender<DecoderMsg>,
    /// Closed segments go out here.
    events: &'a Sender<IngestEvent>,
    /// A live source: reconnect, never wait for the decoder.
    live: bool,
    /// The source's name for messages.
    name: String,
    /// Segments closed so far.
    clips: u64,
    /// Media time of finished connections, ms.
    media_ms: i64,
}

/// What one attempt to connect gave.
enum Connect {
    /// A stream to read.
    Opened(Box<dyn PacketStream>),
    /// A live source failed to open; try again (the wait is done).
    Retry,
    /// Stop reading, with this result.
    Stop(Result<(), PipelineError>),
}

/// How one connection ended.
enum Ended {
    /// The stream ended, the decoder went away, or shutdown.
    Done,
    /// Reading or recording failed.
    Failed(VideoError),
}

impl<'a> Reader<'a> {
    /// A reader for `settings`'s camera, forwarding packets to `packets`.
    pub fn new(
        settings: &'a CameraSettings,
        shutdown: &'a Shutdown,
        counters: &'a StreamCounters,
        index: SegmentIndex,
        packets: Sender<DecoderMsg>,
        events: &'a Sender<IngestEvent>,
    ) -> Reader<'a> {
        Reader {
            settings,
            shutdown,
            counters,
            index,
            packets,
            events,
            live: settings.source.is_live(),
            name: settings.source.display_name(),
            clips: 0,
            media_ms: 0,
        }
    }

    /// Reads until the file ends, the live source is given up on, or shutdown.
    pub fn run(mut self, opener: &mut dyn Opener) -> ReaderOutcome {
        let result = self.connections(opener);
        ReaderOutcome {
            clips: self.clips,
            media_ms: self.media_ms,
            result,
        }
    }

    /// One connection after another.
    fn connections(&mut self, opener: &mut dyn Opener) -> Result<(), PipelineError> {
        let mut attempt = 0u32;
        loop {
            if self.shutdown.is_triggered() {
                return Ok(());
            }
            let stream = match self.connect(opener, &mut attempt) {
                Connect::Opened(s) => s,
                Connect::Retry => continue,
                Connect::Stop(result) => return result,
            };
            match self.read_connection(stream)? {
                Ended::Done if !self.live || self.shutdown.is_triggered() => return Ok(()),
                Ended::Done => tracing::warn!("{} ended; reconnecting", self.name),
                Ended::Failed(e) if self.live => tracing::warn!("{e}; reconnecting"),
                Ended::Failed(e) => return Err(e.into()),
            }
            self.counters.reconnects.fetch_add(1, Ordering::Relaxed);
            attempt += 1;
            sleep_unless(self.shutdown, self.settings.reconnect.backoff(attempt));
        }
    }

    /// Opens the source once; a live source that fails is retried after a backoff until the
    /// policy's attempts run out.
    fn connect(&self, opener: &mut dyn Opener, attempt: &mut u32) -> Connect {
        let e = match opener.open() {
            Ok(s) => {
                *attempt = 0;
                return Connect::Opened(s);
            }
            Err(e) if self.live => e,
            Err(e) => return Connect::Stop(Err(e.into())),
        };
        *attempt += 1;
        let policy = &self.settings.reconnect;
        if policy.max_attempts.is_some_and(|m| *attempt >= m) {
            return Connect::Stop(Err(VideoError::GaveUp {
                source_name: self.name.clone(),
                attempts: *attempt,
                reason: e.to_string(),
            }
            .into()));
        }
        let wait = policy.backoff(*attempt);
        tracing::warn!(
            "{e}; retrying in {:.1} s (attempt {attempt})",
            wait.as_secs_f64()
        );
        sleep_unless(self.shutdown, wait);
        Connect::Retry
    }

    /// Records (when the camera records) and forwards one connection's packets; its open
    /// segment is closed at the end. Errs only when no recorder can be made.
    fn read_connection(&mut self, mut stream: Box<dyn PacketStream>) -> Result<Ended, VideoError> {
        let origin = if self.live {
            Utc::now()
        } else {
            self.settings.file_start
        };
        let mut clock = stream.info().clock(origin);
        if !self.settings.record {
            // A recorded segment read again: its time 0 is its start (the recorder wrote its
            // first decode timestamp as 0), not its first packet's presentation time.
            clock.first_ts = Some(0);
        }
        let mut recorder = if self.settings.record {
            Some(SegmentRecorder::new(
                &self.settings.name,
                &self.settings.clips_dir,
                self.settings.segment_len_ms,
                stream.info(),
                self.index.clone(),
            )?)
        } else {
            None
        };
        let mut connection_ms = 0i64;
        let mut stream_announced = false;
        let ended = loop {
            if self.shutdown.is_triggered() {
                break Ended::Done;
            }
            let packet = match stream.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break Ended::Done,
                Err(e) => break Ended::Failed(e),
            };
            self.counters.packets.fetch_add(1, Ordering::Relaxed);
            if let Some(ts) = packet.timestamp() {
                // Fix the clock's origin on the first packet, before anyone else reads it.
                connection_ms = connection_ms.max(clock.offset_ms(ts));
            }
            if !stream_announced {
                let msg = DecoderMsg::Stream {
                    info: stream.info().clone(),
                    clock,
                };
                if self.packets.send(msg).is_err() {
                    break Ended::Done;
                }
                stream_announced = true;
            }
            match recorder.as_mut().map(|r| r.write(&packet, &mut clock)) {
                Some(Ok(Some(clip))) => self.clip(clip),
                Some(Ok(None)) | None => {}
                Some(Err(e)) => break Ended::Failed(e),
            }
            if !self.forward(DecoderMsg::Packet(packet)) {
                break Ended::Done;
            }
        };
        self.media_ms += connection_ms;
        if let Some(recorder) = recorder.as_mut() {
            self.close_segment(recorder);
        }
        Ok(ended)
    }

    /// Hands a packet to the decoder: waits for room from a file, drops it (counted) when a
    /// live source's decoder is behind. False when the decoder is gone.
    fn forward(&self, msg: DecoderMsg) -> bool {
        if !self.live {
            return self.packets.send(msg).is_ok();
        }
        match self.packets.try_send(msg) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                // The decoder is behind: recording goes on, decoding resumes cleanly at the
                // next keyframe.
                self.counters
                    .packets_dropped
                    .fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Closes the open segment whatever happened: it is evidence.
    fn close_segment(&mut self, recorder: &mut SegmentRecorder) {
        match recorder.close() {
            Ok(Some(clip)) => self.clip(clip),
            Ok(None) => {}
            Err(e) => tracing::error!("{e}"),
        }
    }

    /// A segment was closed.
    fn clip(&mut self, clip: crate::video::ClipSegment) {
        self.clips += 1;
        let _ = self.events.send(IngestEvent::Clip(clip));
    }
}

/// Sleeps for `total`, or until `shutdown` triggers.
fn sleep_unless(shutdown: &Shutdown, total: Duration) {
    let end = Instant::now() + total;
    while Instant::now() < end && !shutdown.is_triggered() {
        std::thread::sleep(Duration::from_millis(50).min(end - Instant::now()));
    }
}
