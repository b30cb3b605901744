//! Motion gating: whether a sampled frame is worth the detectors.
//!
//! Owns: the grey thumbnail of a frame (block means of the luma plane, ~160 px wide), the
//! comparison of consecutive thumbnails, the mask of areas that move without mattering
//! (trees, sky, a clock overlay), and the decision per frame. PURE: no I/O, plain data in and
//! out; the decoder feeds it and the pipeline obeys it.
//!
//! A rural road is empty most of the time. Decoding every frame is unavoidable (H.264 needs
//! them) and cheap; the detectors are not. The gate lets a frame through when:
//! - it is the first frame of a stream (the scene's first look);
//! - something moved within the last `hold_ms`;
//! - a track is still open and something moved within the last `still_track_ms` (a vehicle
//!   stopped at a booth or a light keeps being watched; a car parked for good does not keep
//!   the camera busy forever);
//! - no frame went through for `heartbeat_ms` (the low idle cadence: a safety net for motion
//!   too slow or too small to see).
//!
//! "Moved" means: at least `min_changed` of the unmasked thumbnail cells changed by more than
//! `pixel_threshold` grey levels since the previous sampled frame. Block means average the
//! sensor noise away (an 8×8 block divides it by about 8), so the threshold can stay low.

use serde::{Deserialize, Serialize};

/// A grey picture a few dozen cells wide, made of block means of the frame's brightness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GreyThumb {
    /// Cells per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Cell brightness, row after row.
    pub cells: Vec<u8>,
}

impl GreyThumb {
    /// Block means of an 8-bit luma plane (`stride` bytes per row), about `target_width`
    /// cells wide. Reads every second pixel of every second row: four times less memory
    /// traffic, and still 16 samples per 8×8 block.
    pub fn from_luma(
        plane: &[u8],
        stride: usize,
        width: u32,
        height: u32,
        target_width: u32,
    ) -> GreyThumb {
        let block = block_side(width, target_width);
        let (tw, th) = ((width / block).max(1), (height / block).max(1));
        let mut sums = vec![0u32; (tw * th) as usize];
        let mut counts = vec![0u32; (tw * th) as usize];
        let rows = (height as usize).min(plane.len().checked_div(stride).unwrap_or(0));
        for y in (0..rows).step_by(2) {
            let cy = (y as u32 / block).min(th - 1) as usize;
            let row = &plane[y * stride..(y * stride + width as usize).min(plane.len())];
            for (x, &v) in row.iter().enumerate().step_by(2) {
                let cx = (x as u32 / block).min(tw - 1) as usize;
                let i = cy * tw as usize + cx;
                sums[i] += u32::from(v);
                counts[i] += 1;
            }
        }
        GreyThumb {
            width: tw,
            height: th,
            cells: sums
                .iter()
                .zip(&counts)
                .map(|(s, c)| if *c == 0 { 0 } else { (s / c) as u8 })
                .collect(),
        }
    }

    /// The same from packed RGB pixels (for sources whose frames are not 8-bit YUV).
    pub fn from_rgb(pixels: &[u8], width: u32, height: u32, target_width: u32) -> GreyThumb {
        let luma: Vec<u8> = pixels
            .chunks_exact(3)
            .map(|p| {
                ((77 * u32::from(p[0]) + 150 * u32::from(p[1]) + 29 * u32::from(p[2])) >> 8) as u8
            })
            .collect();
        GreyThumb::from_luma(&luma, width as usize, width, height, target_width)
    }
}

/// Side of the square block that makes a `width`-pixel row about `target` cells wide.
fn block_side(width: u32, target: u32) -> u32 {
    width.div_ceil(target.max(1)).max(1)
}

/// A rectangle of the frame the gate ignores, in fractions of the frame (0..1), corners
/// `[x1, y1, x2, y2]`.
pub type MaskRect = [f32; 4];

/// Gate tuning, per camera (`[analysis.motion]` in the config, overridable per camera).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MotionSettings {
    /// Off: every sampled frame is analysed (the behaviour to compare against).
    pub enabled: bool,
    /// Thumbnail width in cells (default 160: a motorbike 40 px wide in 1280 px is 5 cells).
    pub thumb_width: u32,
    /// A cell changed when its brightness moved by more than this (default 12 of 255).
    pub pixel_threshold: u8,
    /// Fraction of unmasked cells that must change to call it motion (default 0.0005:
    /// 7 cells of a 160×90 thumbnail).
    pub min_changed: f32,
    /// Frames keep going to the detectors this long after the last motion (default 2000 ms).
    pub hold_ms: i64,
    /// While a track is open, frames keep going this long after the last motion
    /// (default 10 000 ms).
    pub still_track_ms: i64,
    /// With nothing moving, one frame goes through this often anyway; 0 never
    /// (default 30 000 ms).
    pub heartbeat_ms: i64,
    /// Areas to ignore: trees, sky, a clock overlay.
    pub mask: Vec<MaskRect>,
}

impl Default for MotionSettings {
    fn default() -> Self {
        MotionSettings {
            enabled: true,
            thumb_width: 160,
            pixel_threshold: 12,
            min_changed: 0.0005,
            hold_ms: 2000,
            still_track_ms: 10_000,
            heartbeat_ms: 30_000,
            mask: Vec::new(),
        }
    }
}

impl MotionSettings {
    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.thumb_width < 8 || self.thumb_width > 1024 {
            return Err(format!(
                "motion.thumb_width must be 8..=1024, got {}",
                self.thumb_width
            ));
        }
        if !(self.min_changed > 0.0 && self.min_changed < 1.0) {
            return Err(format!(
                "motion.min_changed must be in (0, 1), got {}",
                self.min_changed
            ));
        }
        for (name, v) in [
            ("hold_ms", self.hold_ms),
            ("still_track_ms", self.still_track_ms),
            ("heartbeat_ms", self.heartbeat_ms),
        ] {
            if v < 0 {
                return Err(format!("motion.{name} must not be negative, got {v}"));
            }
        }
        for m in &self.mask {
            let ok = m.iter().all(|v| (0.0..=1.0).contains(v)) && m[0] < m[2] && m[1] < m[3];
            if !ok {
                return Err(format!(
                    "motion.mask rectangle {m:?} must be [x1, y1, x2, y2] with 0 <= x1 < x2 <= 1 \
                     and 0 <= y1 < y2 <= 1"
                ));
            }
        }
        Ok(())
    }
}

/// Share of changed cells from which a change is a cut rather than motion.
pub const CUT_FRACTION: f32 = 0.4;

/// Why a frame goes to the detectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pass {
    /// Gating is off.
    Ungated,
    /// First frame of the stream.
    First,
    /// Something moved recently.
    Motion,
    /// A track is open and something moved not long ago.
    OpenTrack,
    /// Nothing went through for `heartbeat_ms`.
    Heartbeat,
    /// Most of the picture changed at once (a cut, the camera moved): what was known about
    /// the scene no longer holds.
    Cut,
}

/// The gate's word on one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateDecision {
    /// Analyse it.
    Analyse(Pass),
    /// Skip it: decoded, recorded, not analysed.
    Skip,
}

/// The gate of one camera.
#[derive(Debug, Clone)]
pub struct MotionGate {
    /// Tuning.
    settings: MotionSettings,
    /// Thumbnail of the previous sampled frame.
    previous: Option<GreyThumb>,
    /// Per cell: ignored by the mask (built for the thumbnail size in use).
    masked: Vec<bool>,
    /// Time of the last motion, ms.
    last_motion_ms: Option<i64>,
    /// Time of the last frame let through, ms.
    last_pass_ms: Option<i64>,
    /// Time of the last frame looked at, to notice time going backwards.
    last_seen_ms: Option<i64>,
}

impl MotionGate {
    /// A gate that has seen nothing yet.
    pub fn new(settings: MotionSettings) -> MotionGate {
        MotionGate {
            settings,
            previous: None,
            masked: Vec::new(),
            last_motion_ms: None,
            last_pass_ms: None,
            last_seen_ms: None,
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &MotionSettings {
        &self.settings
    }

    /// Whether the gate needs thumbnails at all.
    pub fn enabled(&self) -> bool {
        self.settings.enabled
    }

    /// Fraction of unmasked cells of `now` that differ from `before` by more than the
    /// threshold; 1 when the sizes differ (a new stream: everything changed).
    pub fn changed_fraction(&mut self, before: &GreyThumb, now: &GreyThumb) -> f32 {
        if before.width != now.width || before.height != now.height {
            return 1.0;
        }
        if self.masked.len() != now.cells.len() {
            self.masked = mask_cells(&self.settings.mask, now.width, now.height);
        }
        let threshold = self.settings.pixel_threshold;
        let mut considered = 0u32;
        let mut changed = 0u32;
        for ((a, b), masked) in before.cells.iter().zip(&now.cells).zip(&self.masked) {
            if *masked {
                continue;
            }
            considered += 1;
            if a.abs_diff(*b) > threshold {
                changed += 1;
            }
        }
        if considered == 0 {
            0.0
        } else {
            changed as f32 / considered as f32
        }
    }

    /// Looks at the sampled frame at `at_ms` (`thumb` may be `None` when gating is off) and
    /// says whether it goes to the detectors. `open_tracks`: tracks the camera's tracker
    /// still holds.
    pub fn decide(
        &mut self,
        thumb: Option<GreyThumb>,
        at_ms: i64,
        open_tracks: usize,
    ) -> GateDecision {
        if !self.settings.enabled {
            return GateDecision::Analyse(Pass::Ungated);
        }
        let Some(thumb) = thumb else {
            return GateDecision::Analyse(Pass::Ungated);
        };
        if self.last_seen_ms.is_some_and(|prev| at_ms < prev) {
            // Time went backwards (a new stream): start over.
            self.previous = None;
            self.last_motion_ms = None;
            self.last_pass_ms = None;
        }
        self.last_seen_ms = Some(at_ms);
        let decision = match self.previous.take() {
            None => GateDecision::Analyse(Pass::First),
            Some(before) => {
                let changed = self.changed_fraction(&before, &thumb);
                if changed >= self.settings.min_changed {
                    self.last_motion_ms = Some(at_ms);
                }
                let since_motion = self.last_motion_ms.map(|t| at_ms - t);
                let since_pass = self.last_pass_ms.map_or(i64::MAX, |t| at_ms - t);
                let s = &self.settings;
                if changed >= CUT_FRACTION {
                    GateDecision::Analyse(Pass::Cut)
                } else if since_motion.is_some_and(|d| d <= s.hold_ms) {
                    GateDecision::Analyse(Pass::Motion)
                } else if open_tracks > 0 && since_motion.is_some_and(|d| d <= s.still_track_ms) {
                    GateDecision::Analyse(Pass::OpenTrack)
                } else if s.heartbeat_ms > 0 && since_pass >= s.heartbeat_ms {
                    GateDecision::Analyse(Pass::Heartbeat)
                } else {
                    GateDecision::Skip
                }
            }
        };
        self.previous = Some(thumb);
        if matches!(decision, GateDecision::Analyse(_)) {
            self.last_pass_ms = Some(at_ms);
        }
        decision
    }
}

/// Per cell of a `width`×`height` thumbnail: whether its centre lies in a mask rectangle.
fn mask_cells(mask: &[MaskRect], width: u32, height: u32) -> Vec<bool> {
    let mut cells = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        let fy = (y as f32 + 0.5) / height as f32;
        for x in 0..width {
            let fx = (x as f32 + 0.5) / width as f32;
            cells.push(
                mask.iter()
                    .any(|m| fx >= m[0] && fx < m[2] && fy >= m[1] && fy < m[3]),
            );
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 320×180 luma plane of one grey level, with an optional bright square.
    fn plane(square: Option<(usize, usize, usize)>, noise_seed: u32) -> Vec<u8> {
        let (w, h) = (320usize, 180usize);
        let mut p = vec![100u8; w * h];
        // Deterministic ±4 noise, as a sensor gives.
        let mut s = noise_seed.wrapping_mul(2_654_435_761).max(1);
        for v in p.iter_mut() {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            *v = (100 + (s % 9) as i32 - 4) as u8;
        }
        if let Some((x0, y0, side)) = square {
            for y in y0..(y0 + side).min(h) {
                for x in x0..(x0 + side).min(w) {
                    p[y * w + x] = 220;
                }
            }
        }
        p
    }

    fn thumb(square: Option<(usize, usize, usize)>, seed: u32) -> GreyThumb {
        GreyThumb::from_luma(&plane(square, seed), 320, 320, 180, 80)
    }

    #[test]
    fn thumbnails_are_block_means() {
        let t = thumb(None, 1);
        assert_eq!((t.width, t.height), (80, 45));
        assert!(
            t.cells.iter().all(|&c| (95..=105).contains(&c)),
            "{:?}",
            &t.cells[..8]
        );
        let rgb: Vec<u8> = std::iter::repeat_n([200u8, 200, 200], 64 * 32)
            .flatten()
            .collect();
        let t = GreyThumb::from_rgb(&rgb, 64, 32, 16);
        assert_eq!((t.width, t.height), (16, 8));
        assert!(t.cells.iter().all(|&c| (198..=200).contains(&c)));
    }

    #[test]
    fn odd_strides_and_short_planes_do_not_panic() {
        let t = GreyThumb::from_luma(&[7u8; 10], 0, 5, 2, 160);
        assert_eq!(t.cells.len(), (t.width * t.height) as usize);
        let t = GreyThumb::from_luma(&[7u8; 10], 5, 5, 9, 2);
        assert_eq!(t.cells.len(), (t.width * t.height) as usize);
    }

    #[test]
    fn noise_alone_is_not_motion() {
        let mut gate = MotionGate::new(MotionSettings::default());
        assert_eq!(
            gate.decide(Some(thumb(None, 1)), 0, 0),
            GateDecision::Analyse(Pass::First)
        );
        for i in 1..50 {
            assert_eq!(
                gate.decide(Some(thumb(None, i + 1)), i as i64 * 200, 0),
                GateDecision::Skip
            );
        }
    }

    #[test]
    fn a_moving_square_passes_and_is_held_after_it_stops() {
        let mut gate = MotionGate::new(MotionSettings::default());
        gate.decide(Some(thumb(None, 1)), 0, 0);
        assert_eq!(
            gate.decide(Some(thumb(None, 2)), 200, 0),
            GateDecision::Skip
        );
        // A 24 px square (6×6 cells) appears, then moves.
        assert_eq!(
            gate.decide(Some(thumb(Some((100, 60, 24)), 3)), 400, 0),
            GateDecision::Analyse(Pass::Motion)
        );
        assert_eq!(
            gate.decide(Some(thumb(Some((116, 60, 24)), 4)), 600, 0),
            GateDecision::Analyse(Pass::Motion)
        );
        // It stops: held for hold_ms, then skipped.
        let still = |seed| Some(thumb(Some((116, 60, 24)), seed));
        assert_eq!(
            gate.decide(still(5), 2600, 0),
            GateDecision::Analyse(Pass::Motion)
        );
        assert_eq!(gate.decide(still(6), 2800, 0), GateDecision::Skip);
        // An open track keeps it watched until still_track_ms after the last motion.
        assert_eq!(
            gate.decide(still(7), 5000, 1),
            GateDecision::Analyse(Pass::OpenTrack)
        );
        assert_eq!(
            gate.decide(still(8), 10_600, 1),
            GateDecision::Analyse(Pass::OpenTrack)
        );
        assert_eq!(gate.decide(still(9), 10_800, 1), GateDecision::Skip);
    }

    #[test]
    fn the_heartbeat_lets_one_frame_through_now_and_then() {
        let settings = MotionSettings {
            heartbeat_ms: 5000,
            ..MotionSettings::default()
        };
        let mut gate = MotionGate::new(settings);
        let passed: Vec<i64> = (0..60)
            .map(|i| i * 200)
            .filter(|&t| gate.decide(Some(thumb(None, t as u32 + 1)), t, 0) != GateDecision::Skip)
            .collect();
        assert_eq!(passed, vec![0, 5000, 10_000]);
    }

    #[test]
    fn a_new_scene_is_a_cut() {
        let mut gate = MotionGate::new(MotionSettings::default());
        gate.decide(Some(thumb(None, 1)), 0, 0);
        let bright = GreyThumb::from_luma(&[200u8; 320 * 180], 320, 320, 180, 80);
        assert_eq!(
            gate.decide(Some(bright), 200, 0),
            GateDecision::Analyse(Pass::Cut)
        );
    }

    #[test]
    fn masked_motion_is_ignored() {
        let settings = MotionSettings {
            mask: vec![[0.0, 0.0, 0.5, 1.0]],
            ..MotionSettings::default()
        };
        let mut gate = MotionGate::new(settings);
        gate.decide(Some(thumb(None, 1)), 0, 0);
        // Motion in the left half only.
        assert_eq!(
            gate.decide(Some(thumb(Some((20, 60, 40)), 2)), 200, 0),
            GateDecision::Skip
        );
        // Motion in the right half.
        assert_eq!(
            gate.decide(Some(thumb(Some((220, 60, 40)), 3)), 400, 0),
            GateDecision::Analyse(Pass::Motion)
        );
    }

    #[test]
    fn time_going_back_starts_over_and_off_passes_everything() {
        let mut gate = MotionGate::new(MotionSettings::default());
        gate.decide(Some(thumb(None, 1)), 10_000, 0);
        assert_eq!(
            gate.decide(Some(thumb(None, 2)), 10_200, 0),
            GateDecision::Skip
        );
        assert_eq!(
            gate.decide(Some(thumb(None, 3)), 0, 0),
            GateDecision::Analyse(Pass::First)
        );
        let mut off = MotionGate::new(MotionSettings {
            enabled: false,
            ..MotionSettings::default()
        });
        assert_eq!(off.decide(None, 0, 0), GateDecision::Analyse(Pass::Ungated));
        assert_eq!(
            off.decide(None, 200, 0),
            GateDecision::Analyse(Pass::Ungated)
        );
    }

    #[test]
    fn settings_are_checked() {
        assert!(MotionSettings::default().validate().is_ok());
        let bad = MotionSettings {
            mask: vec![[0.5, 0.0, 0.2, 1.0]],
            ..MotionSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("mask"));
        let bad = MotionSettings {
            min_changed: 0.0,
            ..MotionSettings::default()
        };
        assert!(bad.validate().unwrap_err().contains("min_changed"));
    }
}
