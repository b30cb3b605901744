//! Plate search queries: what a user typed, turned into something the log can look up.
//!
//! PURE: no I/O. Owns the three search modes and their rules:
//! - **exact**: the normalised key (`29-B1 256.62` → `29B125662`);
//! - **wildcard**: `*` for any run of characters, `?` for one, as a SQL `LIKE` pattern over
//!   keys that can only hold `A-Z0-9` (so nothing needs escaping);
//! - **fuzzy**: confusion-aware and one-edit tolerant. The query is folded by look-alike class
//!   ([`fold_confusions`]) and every folded key within one edit of it is listed (about 500 for
//!   a 9-character plate), so the database answers with plain index look-ups. Hits are ranked
//!   by [`fuzzy_cost`]: exact before look-alike swaps before a real edit, voted plates before
//!   runner-up candidates, confident reads first.

use thiserror::Error;

use super::{canonical_char, fold_confusions, CONFUSION_CLASSES, MAX_KEY_LEN, MIN_KEY_LEN};

/// How to match the plate text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// The key exactly.
    Exact,
    /// `*` and `?` wildcards.
    Wildcard,
    /// Look-alike characters and one edit tolerated, ranked by likelihood.
    Fuzzy,
}

impl SearchMode {
    /// Parses `exact`, `wildcard` or `fuzzy`.
    pub fn parse(s: &str) -> Result<SearchMode, QueryError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "exact" => Ok(SearchMode::Exact),
            "wildcard" => Ok(SearchMode::Wildcard),
            "fuzzy" => Ok(SearchMode::Fuzzy),
            other => Err(QueryError::UnknownMode(other.to_string())),
        }
    }

    /// The mode's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            SearchMode::Exact => "exact",
            SearchMode::Wildcard => "wildcard",
            SearchMode::Fuzzy => "fuzzy",
        }
    }
}

/// Why a plate query cannot be run.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// The mode is not one of the three.
    #[error("unknown search mode `{0}` (use exact, wildcard or fuzzy)")]
    UnknownMode(String),
    /// A character that no plate holds.
    #[error("unsupported character {0:?} in plate query")]
    UnsupportedChar(char),
    /// Too few letters and digits to search for.
    #[error("plate query needs at least {min} letters or digits", min = MIN_KEY_LEN)]
    TooShort,
    /// More characters than any plate has.
    #[error("plate query is longer than {max} characters", max = MAX_KEY_LEN)]
    TooLong,
    /// Wildcards where the mode takes none.
    #[error("`*` and `?` only work in wildcard mode")]
    WildcardInMode,
}

/// A validated plate query, ready for the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlateQuery {
    /// Match this key.
    Exact(String),
    /// Match keys `LIKE` this pattern (`%`, `_`).
    Wildcard {
        /// The pattern as typed, normalised (`29B1*`).
        pattern: String,
        /// The SQL `LIKE` form (`29B1%`).
        like: String,
    },
    /// Match keys whose folded form is one of `folded_keys`; rank with [`fuzzy_cost`].
    Fuzzy {
        /// The normalised query key.
        key: String,
        /// The folded query and every folded key one edit away, sorted, no duplicates.
        folded_keys: Vec<String>,
    },
}

impl PlateQuery {
    /// Parses what a user typed. `mode` defaults to wildcard when the text holds `*` or `?`,
    /// else fuzzy (a user typing a plate from memory or from a blurry picture wants near
    /// matches too).
    pub fn parse(text: &str, mode: Option<SearchMode>) -> Result<PlateQuery, QueryError> {
        let mut norm = String::with_capacity(text.len());
        for c in text.chars() {
            match c {
                '*' | '?' => norm.push(c),
                '%' => norm.push('*'),
                '_' => norm.push('?'),
                _ => match canonical_char(c) {
                    Some(b) => norm.push(b as char),
                    None if c.is_alphanumeric() => return Err(QueryError::UnsupportedChar(c)),
                    None => {}
                },
            }
        }
        let has_wildcard = norm.contains(['*', '?']);
        let literal = norm.chars().filter(|c| c.is_ascii_alphanumeric()).count();
        let mode = mode.unwrap_or(if has_wildcard {
            SearchMode::Wildcard
        } else {
            SearchMode::Fuzzy
        });
        if has_wildcard && mode != SearchMode::Wildcard {
            return Err(QueryError::WildcardInMode);
        }
        if literal < MIN_KEY_LEN {
            return Err(QueryError::TooShort);
        }
        // A `?` stands for one character of the plate, so it counts towards the length.
        if literal + norm.chars().filter(|&c| c == '?').count() > MAX_KEY_LEN {
            return Err(QueryError::TooLong);
        }
        Ok(match mode {
            SearchMode::Exact => PlateQuery::Exact(norm),
            SearchMode::Wildcard => {
                // Runs of `*` are one `*`.
                let mut pattern = String::with_capacity(norm.len());
                for c in norm.chars() {
                    if !(c == '*' && pattern.ends_with('*')) {
                        pattern.push(c);
                    }
                }
                let like = pattern.replace('*', "%").replace('?', "_");
                PlateQuery::Wildcard { pattern, like }
            }
            SearchMode::Fuzzy => PlateQuery::Fuzzy {
                folded_keys: one_edit_neighbourhood(&fold_confusions(&norm)),
                key: norm,
            },
        })
    }

    /// The mode this query runs in.
    pub fn mode(&self) -> SearchMode {
        match self {
            PlateQuery::Exact(_) => SearchMode::Exact,
            PlateQuery::Wildcard { .. } => SearchMode::Wildcard,
            PlateQuery::Fuzzy { .. } => SearchMode::Fuzzy,
        }
    }
}

/// Characters a folded key can hold: digits and the letters that are not folded into another.
fn folded_alphabet() -> Vec<char> {
    let folded_away: Vec<u8> = CONFUSION_CLASSES
        .iter()
        .flat_map(|class| class.as_bytes()[1..].iter().copied())
        .collect();
    ('0'..='9')
        .chain('A'..='Z')
        .filter(|c| !folded_away.contains(&(*c as u8)))
        .collect()
}

/// `folded` and every string one deletion, substitution or insertion away (over the folded
/// alphabet), sorted and without duplicates; keys shorter than [`MIN_KEY_LEN`] are left out.
pub fn one_edit_neighbourhood(folded: &str) -> Vec<String> {
    let alphabet = folded_alphabet();
    let chars: Vec<char> = folded.chars().collect();
    let mut out = vec![folded.to_string()];
    for i in 0..chars.len() {
        let mut deleted = chars.clone();
        deleted.remove(i);
        out.push(deleted.iter().collect());
        for &a in &alphabet {
            if a != chars[i] {
                let mut substituted = chars.clone();
                substituted[i] = a;
                out.push(substituted.iter().collect());
            }
        }
    }
    if chars.len() < MAX_KEY_LEN {
        for i in 0..=chars.len() {
            for &a in &alphabet {
                let mut inserted = chars.clone();
                inserted.insert(i, a);
                out.push(inserted.iter().collect());
            }
        }
    }
    out.retain(|k| k.len() >= MIN_KEY_LEN);
    out.sort();
    out.dedup();
    out
}

/// Likelihood cost of `candidate` (a stored key at vote `rank`, 1 = voted, with its
/// `confidence`) as an answer to the fuzzy query `query`; lower is better, `None` when it is
/// more than one edit away after folding look-alikes.
///
/// In thousandths: a real edit costs 1000, a look-alike swap 300, each rank below the vote
/// 100, and an unsure read up to 100 (`(1 - confidence) × 100`). So an exact hit on a voted
/// plate costs 0–100, `298I25662` → `29B125662` (two swaps) 600–700, one real edit 1000+.
pub fn fuzzy_cost(query: &str, candidate: &str, rank: i16, confidence: f32) -> Option<u32> {
    let folded = strsim::levenshtein(&fold_confusions(query), &fold_confusions(candidate));
    if folded > 1 {
        return None;
    }
    let raw = strsim::levenshtein(query, candidate);
    let swaps = raw.saturating_sub(folded);
    Some(
        folded as u32 * 1000
            + swaps as u32 * 300
            + (rank.max(1) as u32 - 1) * 100
            + unsure_cost(confidence),
    )
}

/// `(1 - confidence) × 100`, rounded half up, computed as the database computes it (the search
/// ranks there, in `store::query::fuzzy`): in double precision, the confidence clamped to
/// 0..1 with NaN above every number (so NaN and +∞ clamp to 1, −∞ to 0). Stored confidences
/// are always finite and in 0..1 (the vote makes them so); the rest only has to agree.
fn unsure_cost(confidence: f32) -> u32 {
    let confidence = if confidence.is_nan() {
        1.0
    } else {
        f64::from(confidence).clamp(0.0, 1.0)
    };
    ((1.0 - confidence) * 100.0 + 0.5).floor() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> PlateQuery {
        PlateQuery::parse(s, None).unwrap()
    }

    #[test]
    fn default_mode_is_wildcard_with_stars_else_fuzzy() {
        assert_eq!(parse("29B1*").mode(), SearchMode::Wildcard);
        assert_eq!(parse("29-B1 256.62").mode(), SearchMode::Fuzzy);
        assert_eq!(
            PlateQuery::parse("29-b1 256.62", Some(SearchMode::Exact)).unwrap(),
            PlateQuery::Exact("29B125662".into())
        );
    }

    #[test]
    fn wildcard_becomes_like() {
        assert_eq!(
            parse("29b1**.?6*"),
            PlateQuery::Wildcard {
                pattern: "29B1*?6*".into(),
                like: "29B1%_6%".into()
            }
        );
        // SQL wildcards typed by a user mean the same as ours.
        assert_eq!(
            parse("%5662"),
            PlateQuery::Wildcard {
                pattern: "*5662".into(),
                like: "%5662".into()
            }
        );
    }

    #[test]
    fn bad_queries_are_refused() {
        assert_eq!(PlateQuery::parse("*", None), Err(QueryError::TooShort));
        assert_eq!(PlateQuery::parse("2*", None), Err(QueryError::TooShort));
        assert_eq!(
            PlateQuery::parse("29B1*", Some(SearchMode::Exact)),
            Err(QueryError::WildcardInMode)
        );
        assert_eq!(
            PlateQuery::parse("29é", None),
            Err(QueryError::UnsupportedChar('é'))
        );
        assert_eq!(
            PlateQuery::parse("1234567890ABC", None),
            Err(QueryError::TooLong)
        );
        assert_eq!(
            PlateQuery::parse("12345678901??", None),
            Err(QueryError::TooLong)
        );
        assert!(PlateQuery::parse("'; DROP TABLE passages; --", None).is_err());
        assert_eq!(
            SearchMode::parse("regex"),
            Err(QueryError::UnknownMode("regex".into()))
        );
    }

    #[test]
    fn fuzzy_neighbourhood_holds_confusions_and_one_edit() {
        let PlateQuery::Fuzzy { key, folded_keys } = parse("298I25662") else {
            panic!("fuzzy expected")
        };
        assert_eq!(key, "298I25662");
        let has = |k: &str| folded_keys.binary_search(&fold_confusions(k)).is_ok();
        assert!(has("29B125662"), "look-alikes fold together");
        assert!(has("29B125663"), "one substitution");
        assert!(has("29B12566"), "one deletion");
        assert!(has("29B1256622"), "one insertion");
        assert!(!has("29B125773"), "two edits");
        assert!(folded_keys.windows(2).all(|w| w[0] < w[1]));
        // 9 deletions + 9 × 26 substitutions + 10 × 27 insertions + itself, minus duplicates.
        assert!(folded_keys.len() > 400 && folded_keys.len() < 520);
    }

    #[test]
    fn fuzzy_cost_ranks_by_likelihood() {
        let q = "298I25662";
        let exact = fuzzy_cost(q, q, 1, 0.9).unwrap();
        let swaps = fuzzy_cost(q, "29B125662", 1, 0.9).unwrap();
        let swaps_runner_up = fuzzy_cost(q, "29B125662", 2, 0.9).unwrap();
        let edit = fuzzy_cost(q, "29B125663", 1, 0.9).unwrap();
        assert!(exact < swaps && swaps < swaps_runner_up && swaps_runner_up < edit);
        assert_eq!(swaps, 610);
        assert_eq!(fuzzy_cost(q, "29B125773", 1, 0.9), None);
        assert!(fuzzy_cost(q, q, 1, f32::NAN).is_some());
    }
}
