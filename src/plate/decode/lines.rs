//! Which of the lines read in one plate box are the plate: [`decode_box`] strips the extra
//! text around plates (a city name above, a dealer's slogan or web address below, a phone
//! number on the frame) and keeps the best read, so a read the Vietnamese grammar rejects is
//! still kept raw and flagged not-Vietnamese rather than lost.
//!
//! 1. All lines decoded together (one line, or a 2-line plate) as [`decode`] does: a
//!    Vietnamese key wins at once.
//! 2. Extra words are stripped from each line: mostly lowercase words (`www.avto-center.si`,
//!    `Tel.`: plates are upper case) always; long all-letter words (`MUENCHEN`) beside a word
//!    mixing letters and digits on the same line.
//! 3. Each stripped line alone as a one-line plate: a Vietnamese key wins (a car plate under a
//!    dealer's name).
//! 4. Otherwise the raw read: the lines together when every line is a short plate part (the
//!    lines of a 2-line plate, at most [`MAX_PART_LEN`] characters, none a long word; never a
//!    line alone then, which would be a piece of the plate); else the most plate-like line
//!    alone ([`LineKind`]: letters and digits mixed, then a short word or number, then a long
//!    word; more confident first); when no line is sure enough alone, what is left of the
//!    lines read together.
//!
//! Every read kept is at least [`MIN_READ_LEN`](super::MIN_READ_LEN) plate characters and
//! `min_confidence` sure.

use super::{clean_line, decode, CharCandidates, DecodeOptions, PlateDecoding};
use crate::plate::{canonical_char, PlateLayout};

/// Longest line of a 2-line plate (`29MD1`, `25662`; foreign square plates are shorter).
pub const MAX_PART_LEN: usize = 6;
/// Most characters of one plate line; longer lines are extra text (`AUTOHAUSMUSTERMANN`).
pub const MAX_LINE_LEN: usize = 10;
/// Fewest letters of a word taken for a name (`KRANJ`, `MUENCHEN`) rather than plate letters.
pub const MIN_NAME_LEN: usize = 5;

/// What a line read in a plate box looks like, from least to most plate-like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LineKind {
    /// Nothing plate-like: no plate characters, or more than [`MAX_LINE_LEN`].
    Extra,
    /// Letters only, at least [`MIN_NAME_LEN`]: a city or dealer name, or a vanity plate.
    Name,
    /// Letters only but short, or digits only.
    Word,
    /// Letters and digits mixed, as plates everywhere are.
    Plate,
}

/// The plate read of the lines (top to bottom) of one plate box; see the module docs. `None`
/// when no read of at least [`MIN_READ_LEN`](super::MIN_READ_LEN) characters is
/// `min_confidence` sure (or, with `opts.strict`, none is Vietnamese).
pub fn decode_box(
    lines: &[Vec<CharCandidates>],
    opts: &DecodeOptions,
    min_confidence: f32,
) -> Option<PlateDecoding> {
    let sure = |d: Option<PlateDecoding>| d.filter(|d| d.confidence >= min_confidence);
    let layout = if lines.len() >= 2 {
        PlateLayout::TwoLine
    } else {
        PlateLayout::OneLine
    };
    let whole = sure(decode(lines, layout, opts));
    if whole.as_ref().is_some_and(|d| d.key.is_vietnamese()) {
        return whole;
    }
    let stripped: Vec<Vec<CharCandidates>> = lines.iter().map(|l| strip_extra_words(l)).collect();
    if lines.len() == 1 && stripped[0].len() == lines[0].len() {
        return whole;
    }
    let singles: Vec<(LineKind, PlateDecoding)> = stripped
        .iter()
        .filter_map(|line| {
            let d = sure(decode(
                std::slice::from_ref(line),
                PlateLayout::OneLine,
                opts,
            ))?;
            Some((line_kind(line), d))
        })
        .collect();
    let most_sure = |a: &PlateDecoding, b: &PlateDecoding| a.confidence.total_cmp(&b.confidence);
    if let Some((_, vn)) = singles
        .iter()
        .filter(|(_, d)| d.key.is_vietnamese())
        .max_by(|a, b| most_sure(&a.1, &b.1))
    {
        return Some(vn.clone());
    }
    if opts.strict {
        return None;
    }
    if lines.len() >= 2 && stripped.iter().all(|l| is_plate_part(l)) {
        // The lines of one plate: a line alone would be a piece of it.
        return sure(decode(&stripped, PlateLayout::TwoLine, opts));
    }
    let best_line = singles
        .into_iter()
        .filter(|(kind, _)| *kind > LineKind::Extra)
        .max_by(|a, b| a.0.cmp(&b.0).then_with(|| most_sure(&a.1, &b.1)))
        .map(|(_, d)| d);
    best_line.or_else(|| {
        // No line is sure enough alone: all that is left of the lines, read together.
        let left: Vec<Vec<CharCandidates>> =
            stripped.into_iter().filter(|l| !l.is_empty()).collect();
        let layout = if left.len() >= 2 {
            PlateLayout::TwoLine
        } else {
            PlateLayout::OneLine
        };
        sure(decode(&left, layout, opts))
    })
}

/// How plate-like a (stripped) line is; see [`LineKind`].
pub fn line_kind(line: &[CharCandidates]) -> LineKind {
    let chars: Vec<u8> = clean_line(line).iter().map(|p| p.alts[0].0).collect();
    if chars.is_empty() || chars.len() > MAX_LINE_LEN {
        return LineKind::Extra;
    }
    let letters = chars.iter().filter(|c| c.is_ascii_uppercase()).count();
    match letters {
        0 => LineKind::Word,
        n if n == chars.len() && n >= MIN_NAME_LEN => LineKind::Name,
        n if n == chars.len() => LineKind::Word,
        _ => LineKind::Plate,
    }
}

/// Whether a line can be one line of a 2-line plate: some plate characters, at most
/// [`MAX_PART_LEN`], and not a name.
fn is_plate_part(line: &[CharCandidates]) -> bool {
    let n = clean_line(line).len();
    n > 0 && n <= MAX_PART_LEN && line_kind(line) != LineKind::Name
}

/// The line without its extra words (see the module docs); separators between the words
/// kept are kept too.
pub fn strip_extra_words(line: &[CharCandidates]) -> Vec<CharCandidates> {
    let words = words(line);
    let mixed = words.iter().any(|w| word_mixes(&line[w.clone()]));
    let mut keep = vec![true; line.len()];
    for w in &words {
        let word = &line[w.clone()];
        if mostly_lowercase(word) || (mixed && is_name(word)) {
            keep[w.clone()].iter_mut().for_each(|k| *k = false);
        }
    }
    line.iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(c, _)| c.clone())
        .collect()
}

/// The top-1 character of a position.
fn top(c: &CharCandidates) -> Option<char> {
    c.alternatives
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|a| a.0)
}

/// The runs of positions whose top-1 character is a letter or digit, as index ranges.
fn words(line: &[CharCandidates]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.iter().enumerate() {
        let in_word = top(c).is_some_and(char::is_alphanumeric);
        match (in_word, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(s..i);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(s..line.len());
    }
    out
}

/// At least two lowercase letters, and at least half of the word's letters.
fn mostly_lowercase(word: &[CharCandidates]) -> bool {
    let letters: Vec<char> = word
        .iter()
        .filter_map(top)
        .filter(|c| c.is_alphabetic())
        .collect();
    let lower = letters.iter().filter(|c| c.is_lowercase()).count();
    lower >= 2 && 2 * lower >= letters.len()
}

/// Plate letters only, at least [`MIN_NAME_LEN`] of them.
fn is_name(word: &[CharCandidates]) -> bool {
    let chars: Vec<Option<u8>> = word
        .iter()
        .map(|c| top(c).and_then(canonical_char))
        .collect();
    chars.len() >= MIN_NAME_LEN
        && chars
            .iter()
            .all(|c| c.is_some_and(|c| c.is_ascii_uppercase()))
}

/// Both plate letters and digits.
fn word_mixes(word: &[CharCandidates]) -> bool {
    let chars: Vec<u8> = word
        .iter()
        .filter_map(|c| top(c).and_then(canonical_char))
        .collect();
    chars.iter().any(u8::is_ascii_uppercase) && chars.iter().any(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests;
