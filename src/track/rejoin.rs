//! Rejoining a broken track by its plate: one vehicle must be one passage even when its track
//! broke while it moved (the detector flickered, something passed in front of it).
//!
//! An ended track with a full plate is held for [`TrackerSettings::rejoin_ms`] after it was
//! last seen instead of being logged at once. A track whose reads agree on the same full plate
//! and that started within that time after it (or while it was still seen: the vehicle's box
//! and its plate tracked apart) continues it: the open track takes the ended one's start,
//! reads, class votes and best picture, and the time the vehicle went unseen between the two
//! is kept as a gap of the passage. Held tracks nobody continued become passages when their
//! wait is over.
//!
//! PURE, like the rest of the tracker.
//!
//! [`TrackerSettings::rejoin_ms`]: super::TrackerSettings::rejoin_ms

use super::{geometry, CameraGeometry, Rejoined, Track, MAX_KEPT_READS};

/// A plate must have at least this many characters to rejoin tracks by (a fragment such as
/// `5919` is shared by many vehicles).
const MIN_REJOIN_KEY_LEN: usize = 7;
/// ...and at least this much summed read confidence on it in each track (about one good read).
const MIN_REJOIN_WEIGHT: f32 = 0.5;

impl Track {
    /// The folded key this track's reads favour, when it is long and supported enough to
    /// rejoin tracks by.
    pub(super) fn rejoin_key(&self) -> Option<&str> {
        self.key_votes
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .filter(|k| k.1 >= MIN_REJOIN_WEIGHT && k.0.len() >= MIN_REJOIN_KEY_LEN)
            .map(|k| k.0.as_str())
    }

    /// Whether this (open) track may continue `earlier`, an ended one: both favour the same
    /// full plate, and this one started at most `rejoin_ms` after `earlier` was last seen, or
    /// while it was still seen (one plate is on one vehicle: two tracks reading it at the same
    /// time are one vehicle tracked twice, say by its box and by its plate apart).
    pub(super) fn continues(&self, earlier: &Track, rejoin_ms: i64) -> bool {
        let gap = self.first_seen_ms.saturating_sub(earlier.motion.last_ms);
        if rejoin_ms <= 0 || gap > rejoin_ms {
            return false;
        }
        matches!((self.rejoin_key(), earlier.rejoin_key()), (Some(a), Some(b)) if a == b)
    }

    /// Takes in `earlier`, which this track continues, and says so (with whether the best
    /// picture is now the earlier track's, whose crop the caller moves).
    pub(super) fn absorb(&mut self, earlier: Track, geometry: &CameraGeometry) -> Rejoined {
        let from = earlier.id;
        let gap = [earlier.motion.last_ms, self.first_seen_ms];
        let unseen = gap[1] > gap[0];
        // The vehicle moved unseen from where `earlier` lost it to where this track found it.
        if let Some([a, b]) = geometry.counting_line {
            if unseen && geometry::segments_intersect(earlier.last_centre, self.first_centre, a, b)
            {
                self.crossed_line = true;
            }
        }
        self.crossed_line |= earlier.crossed_line;
        if earlier.first_seen_ms <= self.first_seen_ms {
            self.first_seen_ms = earlier.first_seen_ms;
            self.first_centre = earlier.first_centre;
        }
        for (class, weight) in earlier.class_weights {
            match self.class_weights.iter_mut().find(|c| c.0 == class) {
                Some(c) => c.1 += weight,
                None => self.class_weights.push((class, weight)),
            }
        }
        for (key, weight) in earlier.key_votes {
            let room = self.key_votes.len() < MAX_KEPT_READS;
            match self.key_votes.iter_mut().find(|k| k.0 == key) {
                Some(k) => k.1 += weight,
                None if room => self.key_votes.push((key, weight)),
                None => {}
            }
        }
        self.reads.extend(earlier.reads);
        if self.reads.len() > MAX_KEPT_READS {
            self.reads
                .sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
            self.reads.truncate(MAX_KEPT_READS);
        }
        self.read_count = self.read_count.saturating_add(earlier.read_count);
        self.frames_seen = self.frames_seen.saturating_add(earlier.frames_seen);
        let mut gaps = earlier.gaps_ms;
        if unseen {
            gaps.push(gap);
        }
        gaps.append(&mut self.gaps_ms);
        gaps.sort_unstable();
        self.gaps_ms = gaps;
        let best_from_earlier = earlier.best.score > self.best.score;
        if best_from_earlier {
            self.best = earlier.best;
            self.best.boxes.track_id = self.id;
        }
        Rejoined {
            from,
            into: self.id,
            best_from_earlier,
        }
    }
}
