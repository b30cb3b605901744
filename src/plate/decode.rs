//! Grammar-guided decoding: per-position OCR alternatives in, the most likely plate key out.
//!
//! 1. Positions whose best alternative is not a letter or digit (separators, noise) are
//!    dropped; alternatives are normalised like keys (uppercase, Đ as `D`), non-ASCII ones are
//!    ignored.
//! 2. Every Vietnamese template (province `DD`; series `L`, `LL`, `LD` or `LLD`; serial of 4 or
//!    5 digits) of the read's length, or one shorter with one position skipped, is filled per
//!    slot from the alternatives that fit the slot's class, or from look-alikes mapped into the
//!    class at [`CONFUSION_FACTOR`] times their probability. The best combinations come from an
//!    exact k-best beam; keys that break the grammar (province < 11, bad series) are dropped.
//! 3. Score = sum of ln(char probability) + penalties (all <= 0): skipped position, unknown
//!    province, 4-digit serial, and, for 2-line reads, a template whose series does not end
//!    where the top line ends.
//! 4. When the best template scores much worse than the raw top-1 read (by more than
//!    [`MAX_GRAMMAR_GAP`], about one unsupported look-alike swap and a little), the raw read
//!    wins and is flagged not-Vietnamese, or nothing is returned in strict mode. A raw read
//!    resolves the glyph-identical pairs `0`/`O` and `1`/`I` by their neighbours: letters
//!    cluster with letters and digits with digits on plates everywhere.
//!
//! [`decode_box`] (`decode/lines.rs`) decodes all the lines read in one plate box: extra text
//! around the plate (city names, dealer frames, web addresses) stripped, the plate's lines
//! chosen, a Vietnamese read first, else the best raw read.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::grammar::{self, VnParts};
use super::{canonical_char, display, PlateKey, PlateLayout};

mod lines;
pub use lines::{decode_box, line_kind, strip_extra_words, LineKind};

/// Probability kept by an alternative read as a look-alike of another class (`O` as `0`).
pub const CONFUSION_FACTOR: f32 = 0.3;
/// Largest log-probability gap by which a template may trail the raw read. One look-alike
/// swap that the OCR did not propose costs ln(0.3) ≈ 1.2; two such swaps turn a foreign plate
/// into a Vietnamese-looking one too easily (`1B80338` → `18B0338`).
pub const MAX_GRAMMAR_GAP: f32 = 2.0;
/// Glyph-identical pairs resolved by context in raw reads: (digit, letter).
const CONTEXT_PAIRS: &[(u8, u8)] = &[(b'0', b'O'), (b'1', b'I')];
/// Top probability below which a character is doubtful.
const DOUBTFUL_CHAR: f32 = 0.75;
/// Separator probability that turns a doubtful character into a separator.
const SEPARATOR_EVIDENCE: f32 = 0.05;
/// Probability (look-alikes of the top character summed) under which the first or last
/// character of a raw read is dropped.
const DOUBTFUL_END: f32 = 0.5;
/// Fewest characters a raw read keeps when it drops a doubtful end.
const MIN_KEPT_AFTER_ENDS: usize = 5;
/// Fewest letters and digits in a read worth decoding.
const MIN_READ_LEN: usize = 4;
/// Skipping the first or last position of a line (border, screw, rivet).
const SKIP_EDGE_PENALTY: f32 = -1.0;
/// Extra cost when the skipped edge was not read as a stroke-like character (`1`, `I`, ...).
const SKIP_NOT_STROKE_PENALTY: f32 = -1.5;
/// Skipping a position inside a line.
const SKIP_INTERIOR_PENALTY: f32 = -4.0;
/// Characters that borders and screws are typically read as.
const STROKE_LIKE: &[u8] = b"1IJLT";
/// A 2-line read whose top line is not exactly province + series.
const LINE_BREAK_PENALTY: f32 = -2.0;
/// Province code not in the table.
const UNKNOWN_PROVINCE_PENALTY: f32 = -1.0;
/// A two-letter series that is not a listed special series (`LD`, `NG`, `MĐ`, ...): ordinary
/// plates carry one letter, optionally followed by a digit, so `HZ` is more likely `H2`.
const PLAIN_TWO_LETTER_SERIES_PENALTY: f32 = -1.5;
/// 4-digit serials are older and rarer than 5-digit ones.
const FOUR_DIGIT_SERIAL_PENALTY: f32 = -0.2;
/// Combinations kept per template (exact top-k, since slots score independently); more than
/// the candidates a passage keeps, so keys the grammar refuses can drop out.
const BEAM_WIDTH: usize = 8;
/// Options kept per slot.
const OPTIONS_PER_SLOT: usize = 4;
/// Floor for probabilities before taking logs.
const P_FLOOR: f32 = 1e-6;

/// Letter read where a digit belongs, paired with the digit it most resembles.
const TO_DIGIT: &[&[u8; 2]] = &[
    b"O0", b"D0", b"Q0", b"U0", b"B8", b"I1", b"J1", b"L1", b"T1", b"S5", b"Z2", b"G6",
];
/// Character read where a series letter belongs, paired with the series letter it resembles
/// (`I` is not a series letter, so `1` and `I` become `T`).
const TO_LETTER: &[&[u8; 2]] = &[
    b"0D", b"OD", b"8B", b"1T", b"IT", b"7T", b"5S", b"2Z", b"6G",
];

/// One character position read by the OCR: its alternatives with probabilities, best first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CharCandidates {
    /// Raw OCR characters (any case, punctuation, Đ, other symbols) with softmax probabilities.
    pub alternatives: Vec<(char, f32)>,
}

/// Result of decoding an OCR read with the grammar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlateDecoding {
    /// The chosen canonical key: Vietnamese when a template won (template keys always fit the
    /// grammar), else the raw top-1 read, which may or may not fit it.
    pub key: PlateKey,
    /// Display form for `layout`; for a 2-line read whose top line ends where the series ends,
    /// the split follows the read rather than the layout rule.
    pub display: String,
    /// The layout the caller gave, echoed so the decoding stands alone.
    pub layout: PlateLayout,
    /// Product of `char_confidences`, in 0..=1 (grammar penalties are not included).
    pub confidence: f32,
    /// Probability of each character of `key`; look-alikes count at [`CONFUSION_FACTOR`] times
    /// the probability of what was read.
    pub char_confidences: Vec<f32>,
    /// Distinct keys, best first, the chosen key first: exp(template score), i.e. the product
    /// of char probabilities times the grammar penalties, in 0..=1. In raw mode the raw read
    /// comes first with its confidence, then the template keys.
    pub candidates: Vec<(PlateKey, f32)>,
}

/// Decoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeOptions {
    /// Return `None` instead of a raw read when no Vietnamese template fits.
    pub strict: bool,
    /// How many keys `candidates` holds at most (at least 1).
    pub max_candidates: usize,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            strict: false,
            max_candidates: 5,
        }
    }
}

/// One kept position: canonical alternatives, best first.
struct Pos {
    alts: Vec<(u8, f32)>,
    /// First or last position of its line, where spurious reads are likely.
    edge: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit,
    Letter,
}

impl Class {
    /// The character itself if it fits, else its look-alike in this class.
    fn map(self, c: u8) -> Option<(u8, bool)> {
        let (fits, table) = match self {
            Class::Digit => (c.is_ascii_digit(), TO_DIGIT),
            Class::Letter => (grammar::is_series_letter(c), TO_LETTER),
        };
        if fits {
            return Some((c, false));
        }
        table
            .iter()
            .find(|pair| pair[0] == c)
            .map(|pair| (pair[1], true))
    }
}

/// Series shapes after the province.
const SERIES_SHAPES: [&[Class]; 4] = {
    use Class::*;
    [
        &[Letter],
        &[Letter, Letter],
        &[Letter, Digit],
        &[Letter, Letter, Digit],
    ]
};

/// A template filled in.
struct Candidate {
    key: String,
    score: f32,
    probs: Vec<f32>,
    /// Where the series ends in `key`.
    series_end: usize,
    /// Whether a 2-line read's top line is exactly province + series.
    break_matched: bool,
}

/// Decodes OCR lines (top to bottom) into a plate key; see the module docs.
pub fn decode(
    lines: &[Vec<CharCandidates>],
    layout: PlateLayout,
    opts: &DecodeOptions,
) -> Option<PlateDecoding> {
    let cleaned: Vec<Vec<Pos>> = lines.iter().map(|l| clean_line(l)).collect();
    let positions: Vec<&Pos> = cleaned.iter().flatten().collect();
    let n = positions.len();
    if n < MIN_READ_LEN {
        return None;
    }
    let top_len = (cleaned.len() == 2).then(|| cleaned[0].len());
    let found = template_candidates(&positions, top_len);
    let max_candidates = opts.max_candidates.max(1);
    let scored = |c: &Candidate| (PlateKey(c.key.clone()), c.score.exp().clamp(0.0, 1.0));

    let raw_score: f32 = positions.iter().map(|p| ln(p.alts[0].1)).sum();
    if let Some(best) = found
        .first()
        .filter(|b| raw_score - b.score <= MAX_GRAMMAR_GAP)
    {
        let key = PlateKey(best.key.clone());
        let display = if best.break_matched {
            let b = best.key.as_bytes();
            let parts = VnParts {
                province: (b[0] - b'0') * 10 + (b[1] - b'0'),
                series: &best.key[2..best.series_end],
                serial: &best.key[best.series_end..],
            };
            grammar::format(&parts, layout)
        } else {
            display(&key, layout)
        };
        return Some(PlateDecoding {
            key,
            display,
            layout,
            confidence: best.probs.iter().product(),
            char_confidences: best.probs.clone(),
            candidates: found.iter().take(max_candidates).map(scored).collect(),
        });
    }
    if opts.strict {
        return None;
    }
    let positions = without_doubtful_ends(&positions);
    let raw = resolve_by_context(&positions.iter().map(|p| p.alts[0].0).collect::<Vec<u8>>());
    let key = PlateKey::parse(&raw).ok()?;
    let probs: Vec<f32> = positions.iter().map(|p| p.alts[0].1).collect();
    let confidence = probs.iter().product();
    let mut candidates = vec![(key.clone(), confidence)];
    candidates.extend(found.iter().filter(|c| c.key != raw).map(scored));
    candidates.truncate(max_candidates);
    Some(PlateDecoding {
        display: display(&key, layout),
        key,
        layout,
        confidence,
        char_confidences: probs,
        candidates,
    })
}

/// The positions of a raw read without a first or last character that the OCR doubts (under
/// [`DOUBTFUL_END`], counting look-alikes of the top character together, so that an `I` read
/// half as `1` is not doubted): an emblem, a sticker or the edge of the frame read as a
/// letter (`W` for the shield before `RK 161 AG`). At least [`MIN_KEPT_AFTER_ENDS`]
/// characters stay.
fn without_doubtful_ends<'a>(positions: &[&'a Pos]) -> Vec<&'a Pos> {
    let sure = |p: &Pos| -> f32 {
        let top = super::fold_confusion(p.alts[0].0);
        p.alts
            .iter()
            .filter(|a| super::fold_confusion(a.0) == top)
            .map(|a| a.1)
            .sum()
    };
    let mut kept: Vec<&Pos> = positions.to_vec();
    if kept.len() > MIN_KEPT_AFTER_ENDS && sure(kept[0]) < DOUBTFUL_END {
        kept.remove(0);
    }
    if kept.len() > MIN_KEPT_AFTER_ENDS && kept.last().is_some_and(|p| sure(p) < DOUBTFUL_END) {
        kept.pop();
    }
    kept
}

/// Replaces `0`/`O` and `1`/`I` by the class their neighbours agree on (both neighbours
/// letters → letter, both digits → digit). The last character follows its left neighbour;
/// the first is left as read, since many plates open with a region number (`1B8 0338`).
/// Next to the last character, mixed neighbours resolve to the last character's class: plates
/// end in a group of two or more (`BA 302 OZ`, `RK 268 IM`), seldom in one character alone.
/// Other mixed or ambiguous neighbours leave the character as read.
fn resolve_by_context(raw: &[u8]) -> String {
    let class = |c: u8| -> Option<bool> {
        if CONTEXT_PAIRS.iter().any(|&(d, l)| c == d || c == l) {
            None
        } else {
            Some(c.is_ascii_alphabetic())
        }
    };
    let mut out = raw.to_vec();
    for i in 0..raw.len() {
        let Some(&(digit, letter)) = CONTEXT_PAIRS
            .iter()
            .find(|&&(d, l)| raw[i] == d || raw[i] == l)
        else {
            continue;
        };
        let left = i.checked_sub(1).map(|j| class(raw[j]));
        let right = raw.get(i + 1).map(|&c| class(c));
        let next_to_last = i + 2 == raw.len();
        let agreed = match (left, right) {
            (Some(Some(a)), Some(Some(b))) if a == b => Some(a),
            (Some(Some(_)), Some(Some(b))) if next_to_last => Some(b),
            (Some(Some(a)), None) => Some(a),
            _ => None,
        };
        if let Some(is_letter) = agreed {
            out[i] = if is_letter { letter } else { digit };
        }
    }
    String::from_utf8(out).unwrap_or_default()
}

fn ln(p: f32) -> f32 {
    p.max(P_FLOOR).ln()
}

/// Keeps positions whose best alternative is a letter or digit, with canonical alternatives.
fn clean_line(line: &[CharCandidates]) -> Vec<Pos> {
    let sane = |p: f32| {
        if p.is_finite() {
            p.clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    let mut kept: Vec<Pos> = line
        .iter()
        .filter_map(|cc| {
            let top = cc
                .alternatives
                .iter()
                .max_by(|a, b| sane(a.1).total_cmp(&sane(b.1)))?;
            // Separators, punctuation and symbols of other scripts are not plate characters,
            // unless the plate-character alternatives carry at least half the top's weight
            // (an accented `Ä` over `A`).
            // A doubtful character whose alternatives include separators is a separator
            // itself: the round inspection sticker between the groups of a Czech plate reads
            // as `8` at 0.3-0.7 with `:` behind it.
            let separator_mass: f32 = cc
                .alternatives
                .iter()
                .filter(|a| canonical_char(a.0).is_none() && !a.0.is_alphanumeric())
                .map(|a| sane(a.1))
                .sum();
            if sane(top.1) < DOUBTFUL_CHAR && separator_mass >= SEPARATOR_EVIDENCE {
                return None;
            }
            if canonical_char(top.0).is_none() {
                let plate_like: f32 = cc
                    .alternatives
                    .iter()
                    .filter(|a| canonical_char(a.0).is_some())
                    .map(|a| sane(a.1))
                    .sum();
                if !top.0.is_alphanumeric() || plate_like < 0.5 * sane(top.1) {
                    return None;
                }
            }
            let mut alts: Vec<(u8, f32)> = Vec::new();
            for &(c, p) in &cc.alternatives {
                let (Some(c), p) = (canonical_char(c), sane(p)) else {
                    continue;
                };
                match alts.iter_mut().find(|a| a.0 == c) {
                    Some(a) => a.1 = a.1.max(p),
                    None => alts.push((c, p)),
                }
            }
            alts.sort_by(|a, b| b.1.total_cmp(&a.1));
            (!alts.is_empty()).then_some(Pos { alts, edge: false })
        })
        .collect();
    let last = kept.len().saturating_sub(1);
    for (i, p) in kept.iter_mut().enumerate() {
        p.edge = i == 0 || i == last;
    }
    kept
}

/// All valid template fillings, best first, one per key.
fn template_candidates(positions: &[&Pos], top_len: Option<usize>) -> Vec<Candidate> {
    let n = positions.len();
    let mut out = Vec::new();
    for shape in SERIES_SHAPES {
        for serial_len in [4, 5] {
            let series_end = 2 + shape.len();
            let m = series_end + serial_len;
            let skips: Vec<Option<usize>> = match n.checked_sub(m) {
                Some(0) => vec![None],
                Some(1) => (0..n).map(Some).collect(),
                _ => continue,
            };
            let classes: Vec<Class> = [Class::Digit; 2]
                .iter()
                .chain(shape)
                .copied()
                .chain(std::iter::repeat_n(Class::Digit, serial_len))
                .collect();
            for skip in skips {
                let mut penalty = skip.map_or(0.0, |s| skip_penalty(positions[s]));
                if serial_len == 4 {
                    penalty += FOUR_DIGIT_SERIAL_PENALTY;
                }
                let break_matched = top_len
                    .is_some_and(|t| t - usize::from(skip.is_some_and(|s| s < t)) == series_end);
                if top_len.is_some() && !break_matched {
                    penalty += LINE_BREAK_PENALTY;
                }
                let used = positions
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| Some(*i) != skip);
                let slots: Vec<Vec<(u8, f32)>> = used
                    .zip(&classes)
                    .enumerate()
                    .map(|(i, ((_, pos), class))| slot_options(pos, *class, i == 0))
                    .collect();
                for (chars, probs) in k_best(&slots, BEAM_WIDTH) {
                    let key = String::from_utf8(chars).unwrap_or_default();
                    let Some(parts) = grammar::split(&key, None) else {
                        continue;
                    };
                    let mut prior = match grammar::province_name(parts.province) {
                        Some(_) => 0.0,
                        None => UNKNOWN_PROVINCE_PENALTY,
                    };
                    let letters =
                        &key[2..2 + shape.iter().filter(|c| **c == Class::Letter).count()];
                    if letters.len() == 2 && grammar::special_series(letters).is_none() {
                        prior += PLAIN_TWO_LETTER_SERIES_PENALTY;
                    }
                    out.push(Candidate {
                        score: probs.iter().map(|&p| ln(p)).sum::<f32>() + penalty + prior,
                        key,
                        probs,
                        series_end,
                        break_matched,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut seen = HashSet::new();
    out.retain(|c| seen.insert(c.key.clone()));
    out
}

fn skip_penalty(pos: &Pos) -> f32 {
    if !pos.edge {
        SKIP_INTERIOR_PENALTY
    } else if STROKE_LIKE.contains(&pos.alts[0].0) {
        SKIP_EDGE_PENALTY
    } else {
        SKIP_EDGE_PENALTY + SKIP_NOT_STROKE_PENALTY
    }
}

/// What a position can be in a slot: fitting alternatives at their probability, look-alikes at
/// [`CONFUSION_FACTOR`] times theirs; best first. The first province digit is never `0`.
fn slot_options(pos: &Pos, class: Class, first: bool) -> Vec<(u8, f32)> {
    let mut out: Vec<(u8, f32)> = Vec::new();
    for &(c, p) in &pos.alts {
        let Some((c, confused)) = class.map(c) else {
            continue;
        };
        let p = if confused { p * CONFUSION_FACTOR } else { p };
        if p <= 0.0 || (first && c == b'0') {
            continue;
        }
        match out.iter_mut().find(|o| o.0 == c) {
            Some(o) => o.1 = o.1.max(p),
            None => out.push((c, p)),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.truncate(OPTIONS_PER_SLOT);
    out
}

/// The `k` best combinations of one option per slot (exact, since slots add independently).
fn k_best(slots: &[Vec<(u8, f32)>], k: usize) -> Vec<(Vec<u8>, Vec<f32>)> {
    let mut beam: Vec<(Vec<u8>, Vec<f32>, f32)> = vec![(Vec::new(), Vec::new(), 0.0)];
    for options in slots {
        let mut next = Vec::with_capacity(beam.len() * options.len());
        for (chars, probs, score) in &beam {
            for &(c, p) in options {
                let mut chars = chars.clone();
                let mut probs = probs.clone();
                chars.push(c);
                probs.push(p);
                next.push((chars, probs, score + ln(p)));
            }
        }
        next.sort_by(|a, b| b.2.total_cmp(&a.2));
        next.truncate(k);
        beam = next;
    }
    beam.into_iter().map(|(c, p, _)| (c, p)).collect()
}

#[cfg(test)]
mod tests;
