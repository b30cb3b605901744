//! The fuzzy ranking rule is written twice: `plate::search::fuzzy_cost` in Rust (what the docs
//! and the unit tests describe) and its SQL form, which ranks hits inside PostgreSQL. This test
//! holds them equal: the same (query, candidate key, rank, confidence) cases go through both,
//! and every cost, and every "no match", must agree.

mod common;

use matthan::plate::search::{fuzzy_cost, PlateQuery, SearchMode};
use matthan::plate::CONFUSION_CLASSES;
use matthan::store::query::{fuzzy_costs, CandidateRead};

/// Queries: a Vietnamese car and motorbike plate, a short one, a foreign one.
const QUERIES: &[&str] = &["29B125662", "59X312345", "30A1234", "AB12CD"];

/// Ranks: the voted plate, runner-ups, and out-of-range ones clamped like the vote's.
const RANKS: &[i16] = &[1, 2, 4];

/// Confidences: the ends, the middle, values at and near the rounding boundaries, out of range
/// and not finite.
const CONFIDENCES: &[f32] = &[
    1.0,
    0.0,
    0.5,
    0.873,
    0.125,
    0.005,
    0.995,
    0.994_999,
    0.015,
    0.985,
    0.335,
    1.3,
    -0.2,
    f32::NAN,
    f32::INFINITY,
    f32::NEG_INFINITY,
];

/// Look-alike partner of `c` (another member of its confusion class), if any.
fn look_alike(c: char) -> Option<char> {
    CONFUSION_CLASSES.iter().find_map(|class| {
        let members: Vec<char> = class.chars().collect();
        let i = members.iter().position(|&m| m == c)?;
        Some(members[(i + 1) % members.len()])
    })
}

/// Candidate keys for `query`: itself, each look-alike swap, two swaps, each deletion, a
/// substitution and an insertion at each place, a swap plus an edit, two edits, another
/// length, and an unrelated key.
fn candidates(query: &str) -> Vec<String> {
    let chars: Vec<char> = query.chars().collect();
    let with = |i: usize, c: char| -> String {
        let mut v = chars.clone();
        v[i] = c;
        v.into_iter().collect()
    };
    let mut out = vec![query.to_string()];
    let swaps: Vec<(usize, char)> = (0..chars.len())
        .filter_map(|i| look_alike(chars[i]).map(|c| (i, c)))
        .collect();
    for &(i, c) in &swaps {
        out.push(with(i, c));
    }
    if let [(i, a), (j, b), ..] = swaps[..] {
        let mut v = chars.clone();
        v[i] = a;
        v[j] = b;
        out.push(v.into_iter().collect());
    }
    for i in 0..chars.len() {
        let mut deleted = chars.clone();
        deleted.remove(i);
        out.push(deleted.into_iter().collect());
        // A substitution by a character of another class (a real edit).
        let other = if chars[i].is_ascii_digit() { 'K' } else { '7' };
        out.push(with(i, other));
        let mut inserted = chars.clone();
        inserted.insert(i, 'M');
        out.push(inserted.into_iter().collect());
    }
    if let Some(&(i, c)) = swaps.first() {
        // A swap plus a real edit elsewhere.
        let mut v = chars.clone();
        v[i] = c;
        let j = (i + 3) % v.len();
        v[j] = if v[j].is_ascii_digit() { 'K' } else { '7' };
        out.push(v.into_iter().collect());
    }
    // Two real edits, a different length by two, and an unrelated key.
    out.push(with(0, 'K').chars().rev().collect());
    let mut two = chars.clone();
    two[0] = if two[0].is_ascii_digit() { 'K' } else { '7' };
    two[1] = if two[1].is_ascii_digit() { 'K' } else { '7' };
    out.push(two.into_iter().collect());
    out.push(format!("{query}MM"));
    out.push(query[..query.len() - 2].to_string());
    out.push("77K777777".to_string());
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_ranking_equals_fuzzy_cost() {
    let db = common::scratch("fuzzy_rank").await;
    let client = db.store.client().await.unwrap();
    let (mut cases, mut matched, mut unmatched) = (0, 0, 0);
    let mut mismatches = Vec::new();
    for &text in QUERIES {
        let query = PlateQuery::parse(text, Some(SearchMode::Fuzzy)).unwrap();
        let PlateQuery::Fuzzy { key, .. } = &query else {
            unreachable!("fuzzy mode gives a fuzzy query")
        };
        let mut reads = Vec::new();
        for candidate in candidates(key) {
            for &rank in RANKS {
                for &confidence in CONFIDENCES {
                    reads.push(CandidateRead {
                        key: candidate.clone(),
                        rank,
                        confidence,
                    });
                }
            }
        }
        let in_sql = fuzzy_costs(&client, &query, &reads).await.unwrap();
        assert_eq!(in_sql.len(), reads.len(), "one cost per candidate");
        for (read, sql) in reads.iter().zip(in_sql) {
            let rust = fuzzy_cost(key, &read.key, read.rank, read.confidence);
            cases += 1;
            match rust {
                Some(_) => matched += 1,
                None => unmatched += 1,
            }
            if sql != rust {
                mismatches.push(format!(
                    "query {key} candidate {} rank {} confidence {}: SQL {sql:?}, Rust {rust:?}",
                    read.key, read.rank, read.confidence
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {cases} cases differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // The table covers both sides of the match rule, not just one.
    assert!(
        matched > 500 && unmatched > 100,
        "{matched} matched, {unmatched} not"
    );
    drop(client);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn examples_from_the_rule_hold_in_sql() {
    let db = common::scratch("fuzzy_examples").await;
    let client = db.store.client().await.unwrap();
    let query = PlateQuery::parse("29B125662", None).unwrap();
    let read = |key: &str, rank: i16, confidence: f32| CandidateRead {
        key: key.into(),
        rank,
        confidence,
    };
    let reads = [
        // Exact, voted, sure: 0.
        read("29B125662", 1, 1.0),
        // Two look-alike swaps: 600, plus 10 for a 0.9 read.
        read("298I25662", 1, 0.9),
        // One real edit on a runner-up: 1000 + 100.
        read("29B125663", 2, 1.0),
        // Two real edits: no match.
        read("29B125699", 1, 1.0),
    ];
    let costs = fuzzy_costs(&client, &query, &reads).await.unwrap();
    assert_eq!(costs, vec![Some(0), Some(610), Some(1100), None]);
    // A query that is not fuzzy ranks nothing.
    let exact = PlateQuery::parse("29B125662", Some(SearchMode::Exact)).unwrap();
    assert_eq!(
        fuzzy_costs(&client, &exact, &reads).await.unwrap(),
        vec![None; 4]
    );
    drop(client);
    db.drop_database().await.unwrap();
}
