//! Plate voting: the many reads of one track's plate folded into one [`VotedPlate`], or into
//! a [`PartialPlate`] when the track read only pieces of its plate.
//!
//! Whole plates first ([`PlateKey::is_whole`]): when any read of the track is a whole plate,
//! only the whole reads vote and fragment reads (`5919`, one line of a two-line plate) are
//! left out, however many there are; the voted plate's candidates are whole plates too. A
//! track whose reads are all fragments gets no plate: its fragments are voted the same way
//! into a [`PartialPlate`], which the log keeps apart from plate keys. Should the
//! per-position vote mix reads into a key of the other kind (rare: reads of one length that
//! disagree in letters and digits), the most confident read's key is taken instead.
//!
//! Reads are grouped by (key length, layout); the group with the largest summed read
//! confidence wins, and its reads vote per character position, each character weighted by its
//! own character confidence (or the read confidence when the lengths disagree).
//!
//! Confidence of the voted plate, all factors in 0..1:
//!
//! `confidence = group_share × agreement × support`
//!
//! - `group_share`: the winning group's summed confidence over all reads' summed confidence
//!   (reads of another length or layout are disagreement);
//! - `agreement`: the mean over positions of the winning character's weight share;
//! - `support`: `1 − Π (1 − cᵣ·mᵣ)` over the group's reads, `cᵣ` the read's confidence and
//!   `mᵣ` the fraction of its characters equal to the voted key's: a noisy-OR, so each
//!   further agreeing read raises it, and one read alone gives its own confidence.
//!
//! Invariants: all scores are finite and in 0..1; `char_confidences` has one entry per
//! character of `key`; `candidates` starts with `key` and holds distinct keys; a voted plate's
//! key and candidates are whole plates and a partial plate's text is a fragment; a track gets
//! at most one of the two. Keys arrive as [`PlateKey`]s and leave as one: nothing here parses
//! reader text.

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::PlateObservation;
use crate::plate::{self, PlateFragment, PlateKey, PlateLayout};

/// The track's plate, voted over all its reads.
///
/// Serializes with an `is_vietnamese` field (from the key) after `reads`, as the JSON of
/// ingest events has always had it.
#[derive(Debug, Clone, PartialEq)]
pub struct VotedPlate {
    /// Canonical key, e.g. `29B125662`; not Vietnamese when the reads were raw reads.
    pub key: PlateKey,
    /// National display form for `layout`, e.g. `29-B1 256.62`; the key when not Vietnamese.
    pub display: String,
    /// Layout of the winning group of reads.
    pub layout: PlateLayout,
    /// Overall confidence, 0..1 (formula in the module doc).
    pub confidence: f32,
    /// Per character of `key`: winning weight share × mean read confidence of the group.
    pub char_confidences: Vec<f32>,
    /// Distinct keys with scores 0..1, `key` first, then the rest by score.
    pub candidates: Vec<(PlateKey, f32)>,
    /// Number of plate reads in the track (all of them, including ones that lost the vote).
    pub reads: u32,
}

impl VotedPlate {
    /// Whether `key` fits the Vietnamese grammar.
    pub fn is_vietnamese(&self) -> bool {
        self.key.is_vietnamese()
    }
}

impl Serialize for VotedPlate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("VotedPlate", 8)?;
        s.serialize_field("key", &self.key)?;
        s.serialize_field("display", &self.display)?;
        s.serialize_field("layout", &self.layout)?;
        s.serialize_field("confidence", &self.confidence)?;
        s.serialize_field("char_confidences", &self.char_confidences)?;
        s.serialize_field("candidates", &self.candidates)?;
        s.serialize_field("reads", &self.reads)?;
        s.serialize_field("is_vietnamese", &self.is_vietnamese())?;
        s.end()
    }
}

/// What a track read of its plate when no read was a whole plate: the fragment its reads
/// agree on, e.g. `5919`. Never a plate key: the log keeps it apart, unsearched.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartialPlate {
    /// The voted fragment.
    pub text: PlateFragment,
    /// Vote confidence 0..1, by the same formula as a plate's.
    pub confidence: f32,
    /// Number of plate reads in the track.
    pub reads: u32,
}

/// A track's plate as voted: a whole plate, or else a fragment, or nothing (no read).
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct TrackVote {
    /// The plate, when some read was a whole plate.
    pub plate: Option<VotedPlate>,
    /// The fragment, when reads were fragments only.
    pub partial: Option<PartialPlate>,
}

/// One plate read kept by a track, with sanitised numbers.
#[derive(Debug, Clone)]
pub(super) struct PlateRead {
    /// The key read; its characters (ASCII `A-Z0-9`) vote position by position.
    pub key: PlateKey,
    /// Layout the reader saw.
    pub layout: PlateLayout,
    /// Read confidence, 0..1.
    pub confidence: f32,
    /// Per-character confidences, 0..1; used only when one per character.
    pub char_confidences: Vec<f32>,
    /// The reader's own alternatives with scores 0..1.
    pub candidates: Vec<(PlateKey, f32)>,
    /// The reader's display form.
    pub display: String,
}

/// A score clamped to 0..1, with NaN as 0.
pub(super) fn unit(score: f32) -> f32 {
    if score.is_nan() {
        0.0
    } else {
        score.clamp(0.0, 1.0)
    }
}

impl PlateRead {
    /// The read carried by a plate observation.
    pub fn from_observation(plate: &PlateObservation) -> PlateRead {
        PlateRead {
            key: plate.key.clone(),
            layout: plate.layout,
            display: plate.display.clone(),
            confidence: unit(plate.confidence),
            char_confidences: plate.char_confidences.iter().map(|&c| unit(c)).collect(),
            candidates: plate
                .candidates
                .iter()
                .map(|(k, s)| (k.clone(), unit(*s)))
                .collect(),
        }
    }

    /// Number of characters of the key.
    fn len(&self) -> usize {
        self.key.as_str().len()
    }

    /// The key's character at `pos` (< `len`).
    fn char_at(&self, pos: usize) -> char {
        char::from(self.key.as_str().as_bytes()[pos])
    }

    /// The vote weight of this read's character at `pos`.
    fn char_weight(&self, pos: usize) -> f32 {
        if self.char_confidences.len() == self.len() {
            self.char_confidences[pos]
        } else {
            self.confidence
        }
    }

    /// This read's score for `key`: its confidence when it read `key`, else the best score of
    /// `key` among its candidates, else 0.
    fn score_for(&self, key: &PlateKey) -> f32 {
        let own = if self.key == *key {
            self.confidence
        } else {
            0.0
        };
        self.candidates
            .iter()
            .filter(|(k, _)| k == key)
            .fold(own, |best, (_, s)| best.max(*s))
    }
}

/// The character with the most weight among `(char, weight)` votes, and its share of the total
/// weight; when every weight is zero each vote counts 1. Ties go to the first voted.
fn winning_char(votes: &[(char, f32)]) -> (char, f32) {
    let total: f32 = votes.iter().map(|v| v.1).sum();
    let by_count = total <= 0.0;
    let mut tally: Vec<(char, f32)> = Vec::new();
    for &(c, w) in votes {
        let w = if by_count { 1.0 } else { w };
        match tally.iter_mut().find(|t| t.0 == c) {
            Some(t) => t.1 += w,
            None => tally.push((c, w)),
        }
    }
    let total: f32 = tally.iter().map(|t| t.1).sum();
    let mut best = tally[0];
    for &t in &tally[1..] {
        if t.1 > best.1 {
            best = t;
        }
    }
    (best.0, if total > 0.0 { best.1 / total } else { 0.0 })
}

/// Reads of one key length and layout, with their summed confidence.
struct Group<'a> {
    len: usize,
    layout: PlateLayout,
    reads: Vec<&'a PlateRead>,
    weight: f32,
}

/// Groups reads by (length, layout), in order of first appearance; the heaviest group wins,
/// ties going to the first. `reads` must not be empty.
fn winning_group<'a>(reads: &[&'a PlateRead]) -> Group<'a> {
    let mut groups: Vec<Group<'a>> = Vec::new();
    for &read in reads {
        let len = read.len();
        match groups
            .iter_mut()
            .find(|g| g.len == len && g.layout == read.layout)
        {
            Some(group) => {
                group.reads.push(read);
                group.weight += read.confidence;
            }
            None => groups.push(Group {
                len,
                layout: read.layout,
                reads: vec![read],
                weight: read.confidence,
            }),
        }
    }
    let mut winner = 0;
    for (i, group) in groups.iter().enumerate() {
        if group.weight > groups[winner].weight {
            winner = i;
        }
    }
    groups.swap_remove(winner)
}

/// The group's key voted position by position, with each position's winning weight share.
fn vote_chars(group: &Group<'_>) -> (String, Vec<f32>) {
    let mut key = String::with_capacity(group.len);
    let mut shares = Vec::with_capacity(group.len);
    for pos in 0..group.len {
        let votes: Vec<(char, f32)> = group
            .reads
            .iter()
            .map(|r| (r.char_at(pos), r.char_weight(pos)))
            .collect();
        let (c, share) = winning_char(&votes);
        key.push(c);
        shares.push(share);
    }
    (key, shares)
}

/// Every key other than `key`, of its kind (whole plate or fragment), that any read saw (its
/// own key or a candidate), scored by its mean per-read score, best first (ties by key).
fn other_keys(reads: &[&PlateRead], key: &PlateKey) -> Vec<(PlateKey, f32)> {
    let mut others: Vec<(PlateKey, f32)> = Vec::new();
    let whole = key.is_whole();
    for read in reads {
        for k in std::iter::once(&read.key).chain(read.candidates.iter().map(|(k, _)| k)) {
            if k != key && k.is_whole() == whole && !others.iter().any(|(o, _)| o == k) {
                others.push((k.clone(), 0.0));
            }
        }
    }
    for (k, score) in &mut others {
        *score = unit(reads.iter().map(|r| r.score_for(k)).sum::<f32>() / reads.len() as f32);
    }
    others.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    others
}

/// Votes the plate of a track from its kept reads, whole plates first (see the module docs);
/// `total_reads` counts every read the track had.
pub(super) fn vote_track(
    reads: &[PlateRead],
    total_reads: u32,
    max_candidates: usize,
) -> TrackVote {
    let whole: Vec<&PlateRead> = reads.iter().filter(|r| r.key.is_whole()).collect();
    if !whole.is_empty() {
        return TrackVote {
            plate: vote_kind(&whole, true, total_reads, max_candidates),
            partial: None,
        };
    }
    let pieces: Vec<&PlateRead> = reads.iter().collect();
    let partial = vote_kind(&pieces, false, total_reads, 1).and_then(|v| {
        Some(PartialPlate {
            text: PlateFragment::of(v.key).ok()?,
            confidence: v.confidence,
            reads: v.reads,
        })
    });
    TrackVote {
        plate: None,
        partial,
    }
}

/// [`vote`] over reads that are all whole plates (`whole`) or all fragments, so that the voted
/// key is of the same kind: when the per-position vote crossed over, the reads of the most
/// confident read's key are voted instead, at their share of the confidence.
fn vote_kind(
    reads: &[&PlateRead],
    whole: bool,
    total_reads: u32,
    max_candidates: usize,
) -> Option<VotedPlate> {
    let voted = vote(reads, total_reads, max_candidates)?;
    if voted.key.is_whole() == whole {
        return Some(voted);
    }
    let best = reads
        .iter()
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))?;
    let same: Vec<&PlateRead> = reads
        .iter()
        .filter(|r| r.key == best.key)
        .copied()
        .collect();
    let mut voted = vote(&same, total_reads, 1)?;
    let weight = |rs: &[&PlateRead]| rs.iter().map(|r| r.confidence).sum::<f32>();
    let (same_weight, all_weight) = (weight(&same), weight(reads));
    if all_weight > 0.0 {
        voted.confidence = unit(voted.confidence * same_weight / all_weight);
    }
    voted.candidates = vec![(voted.key.clone(), voted.confidence)];
    voted.candidates.extend(other_keys(reads, &voted.key));
    voted.candidates.truncate(max_candidates);
    Some(voted)
}

/// Votes one key from reads; `total_reads` counts every read the track had. `None` when
/// there is no read.
fn vote(reads: &[&PlateRead], total_reads: u32, max_candidates: usize) -> Option<VotedPlate> {
    if reads.is_empty() {
        return None;
    }
    let group = winning_group(reads);
    let all_weight: f32 = reads.iter().map(|r| r.confidence).sum();
    let group_share = if all_weight > 0.0 {
        group.weight / all_weight
    } else {
        group.reads.len() as f32 / reads.len() as f32
    };
    let (voted, shares) = vote_chars(&group);
    // Every position voted an `A-Z0-9` character of keys of this length: a key again.
    let key = PlateKey::parse(&voted).ok()?;

    let mean_confidence =
        group.reads.iter().map(|r| r.confidence).sum::<f32>() / group.reads.len() as f32;
    let agreement = shares.iter().sum::<f32>() / shares.len() as f32;
    let doubt: f32 = group
        .reads
        .iter()
        .map(|r| {
            let matching = r
                .key
                .as_str()
                .bytes()
                .zip(voted.bytes())
                .filter(|(a, b)| a == b);
            1.0 - r.confidence * matching.count() as f32 / group.len as f32
        })
        .product();
    let confidence = unit(group_share * agreement * (1.0 - doubt));

    let mut candidates = vec![(key.clone(), confidence)];
    candidates.extend(other_keys(reads, &key));
    candidates.truncate(max_candidates);

    // The most confident read of exactly this key knows where the plate breaks its lines.
    let read_display = reads
        .iter()
        .filter(|r| !r.display.is_empty() && r.key == key)
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .map(|r| r.display.clone());
    Some(VotedPlate {
        display: read_display.unwrap_or_else(|| plate::display(&key, group.layout)),
        char_confidences: shares.iter().map(|s| unit(s * mean_confidence)).collect(),
        key,
        layout: group.layout,
        confidence,
        candidates,
        reads: total_reads,
    })
}

#[cfg(test)]
mod tests;

/// Whether two confusion-folded keys are clearly different plates: more than two edits apart
/// (an OCR slip changes one or two characters; another vehicle changes most of them).
pub(super) fn plates_conflict(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 {
        return true;
    }
    // Levenshtein distance, two rows.
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()] > 2
}

#[cfg(test)]
mod conflict_tests {
    use super::plates_conflict;

    #[test]
    fn one_or_two_slips_are_the_same_plate_more_is_another() {
        assert!(!plates_conflict("29812566", "29812566"));
        assert!(!plates_conflict("298125662", "29812566"));
        assert!(!plates_conflict("30F21717", "30621717"));
        assert!(plates_conflict("29V52108", "30F21717"));
        assert!(plates_conflict("30E99999", "51A99990"));
        assert!(plates_conflict("AB", "ABCDEFGH"));
    }
}
