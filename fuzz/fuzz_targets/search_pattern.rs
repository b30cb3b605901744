//! `PlateQuery::parse` in every mode on arbitrary text, the parsed query's parts, the
//! one-edit neighbourhood and the fuzzy ranking cost.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matthan::plate::search::{fuzzy_cost, one_edit_neighbourhood, PlateQuery, SearchMode};
use matthan::plate::{fold_confusions, PlateKey, MAX_KEY_LEN, MIN_KEY_LEN};

fn is_key_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

fn strictly_sorted(keys: &[String]) -> bool {
    keys.windows(2).all(|w| w[0] < w[1])
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    if let Ok(mode) = SearchMode::parse(text) {
        assert_eq!(SearchMode::parse(mode.as_str()), Ok(mode));
    }

    // `%` and `_` are read as `*` and `?`.
    let typed_wildcard = text.contains(['*', '?', '%', '_']);
    let modes = [
        None,
        Some(SearchMode::Exact),
        Some(SearchMode::Wildcard),
        Some(SearchMode::Fuzzy),
    ];
    let default = if typed_wildcard {
        SearchMode::Wildcard
    } else {
        SearchMode::Fuzzy
    };
    let results = modes.map(|mode| PlateQuery::parse(text, mode));
    // No mode given means the default mode, with the same answer.
    let same_as_default = match default {
        SearchMode::Exact => &results[1],
        SearchMode::Wildcard => &results[2],
        SearchMode::Fuzzy => &results[3],
    };
    assert_eq!(&results[0], same_as_default, "{text:?}");
    for (mode, result) in modes.into_iter().zip(&results) {
        let Ok(query) = result else {
            continue;
        };
        assert_eq!(query.mode(), mode.unwrap_or(default), "{text:?}");
        match query {
            PlateQuery::Exact(key) => {
                assert!(!typed_wildcard);
                // Without wildcards a query normalises exactly like a plate key.
                let parsed = PlateKey::parse(text).expect("exact query is a plate key");
                assert_eq!(parsed.as_str(), key);
            }
            PlateQuery::Wildcard { pattern, like } => {
                assert!(pattern
                    .chars()
                    .all(|c| is_key_char(c) || c == '*' || c == '?'));
                assert!(!pattern.contains("**"), "{pattern:?}");
                assert_eq!(*like, pattern.replace('*', "%").replace('?', "_"));
                let literal = pattern.chars().filter(|&c| is_key_char(c)).count();
                let singles = pattern.chars().filter(|&c| c == '?').count();
                assert!(literal >= MIN_KEY_LEN && literal + singles <= MAX_KEY_LEN);
            }
            PlateQuery::Fuzzy { key, folded_keys } => {
                assert!(!typed_wildcard);
                let parsed = PlateKey::parse(text).expect("fuzzy query is a plate key");
                assert_eq!(parsed.as_str(), key);
                let folded = fold_confusions(key);
                assert!(strictly_sorted(folded_keys));
                assert!(folded_keys.binary_search(&folded).is_ok());
                assert_eq!(fuzzy_cost(key, key, 1, 1.0), Some(0));
                assert!(folded_keys
                    .iter()
                    .all(|k| (MIN_KEY_LEN..=MAX_KEY_LEN).contains(&k.len())));
                // The costs of every neighbour would cost ~500 Levenshtein runs per input;
                // a spread sample plus the query's own folding keeps the fuzzer fast.
                let sample = folded_keys
                    .iter()
                    .step_by(folded_keys.len() / 8 + 1)
                    .chain(std::iter::once(&folded));
                for k in sample {
                    assert_eq!(fold_confusions(k), *k, "neighbours are folded");
                    let cost = fuzzy_cost(key, k, 1, 1.0)
                        .unwrap_or_else(|| panic!("{k:?} is one edit from {key:?}"));
                    if *k != folded {
                        assert!(cost >= 1000, "{key:?} -> {k:?}: {cost}");
                    }
                    assert_eq!(fuzzy_cost(key, k, 2, 1.0), Some(cost + 100));
                    assert_eq!(fuzzy_cost(key, k, 1, 0.0), Some(cost + 100));
                }
            }
        }
    }

    // The neighbourhood and the cost on raw text (kept short: the neighbourhood grows with
    // the length).
    if text.chars().count() <= MAX_KEY_LEN {
        let neighbours = one_edit_neighbourhood(text);
        assert!(strictly_sorted(&neighbours));
        assert!(neighbours.iter().all(|k| k.len() >= MIN_KEY_LEN));
        if text.len() >= MIN_KEY_LEN {
            assert!(neighbours.binary_search(&text.to_string()).is_ok());
        }
    }
    let (query, candidate) = text.split_once('|').unwrap_or((text, text));
    let rank = (data.len() as i16).wrapping_mul(-997);
    for confidence in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -1.0, 0.5, 2.0] {
        let cost = fuzzy_cost(query, candidate, rank, confidence);
        assert_eq!(cost, fuzzy_cost(candidate, query, rank, confidence));
    }
    for rank in [i16::MIN, -1, 0, 1, i16::MAX] {
        let _ = fuzzy_cost(query, candidate, rank, 0.25);
    }
});
