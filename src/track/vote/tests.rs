//! Unit tests of the vote on plain reads: confidence, groups, whole plates before fragments.

use super::*;

fn read(key: &str, confidence: f32, char_confidences: Vec<f32>) -> PlateRead {
    let key = PlateKey::parse(key).unwrap();
    PlateRead {
        key: key.clone(),
        layout: PlateLayout::TwoLine,
        confidence,
        char_confidences,
        candidates: vec![(key, confidence)],
        display: String::new(),
    }
}

/// [`vote`] over owned reads.
fn vote(reads: &[PlateRead], total_reads: u32, max_candidates: usize) -> Option<VotedPlate> {
    let refs: Vec<&PlateRead> = reads.iter().collect();
    super::vote(&refs, total_reads, max_candidates)
}

#[test]
fn one_read_keeps_its_confidence() {
    let voted = vote(&[read("30A33918", 0.8, vec![])], 1, 5).unwrap();
    assert_eq!(voted.key, "30A33918");
    assert!((voted.confidence - 0.8).abs() < 1e-5);
    assert_eq!(voted.candidates.len(), 1);
}

#[test]
fn more_agreeing_reads_raise_confidence() {
    let one = vote(&[read("30A33918", 0.7, vec![])], 1, 5).unwrap();
    let reads = vec![read("30A33918", 0.7, vec![]); 3];
    let three = vote(&reads, 3, 5).unwrap();
    assert!(three.confidence > one.confidence);
    assert!(three.confidence <= 1.0);
}

#[test]
fn heavier_group_wins_and_no_or_zero_reads_do_not_panic() {
    // An empty read cannot reach the vote any more: an empty key is no `PlateKey`.
    assert_eq!(PlateKey::parse(""), Err(plate::PlateError::Empty));
    let reads = vec![
        read("30A33918", 0.9, vec![]),
        read("30A339189", 0.3, vec![]),
    ];
    let voted = vote(&reads, 3, 5).unwrap();
    assert_eq!(voted.key, "30A33918");
    assert!(voted.confidence < 0.9);
    assert!(vote(&[], 1, 5).is_none());
    let zero = vote(&[read("AB", 0.0, vec![0.0, 0.0])], 1, 5).unwrap();
    assert_eq!(zero.key, "AB");
    assert_eq!(zero.confidence, 0.0);
}

#[test]
fn one_whole_read_beats_many_confident_fragments() {
    let mut reads = vec![read("5919", 0.95, vec![]); 20];
    reads.push(read("25662", 0.9, vec![]));
    let mut weak = read("29B125662", 0.3, vec![]);
    // The reader's own alternatives may be fragments too: they are no candidates.
    weak.candidates
        .push((PlateKey::parse("B125662").unwrap(), 0.2));
    weak.candidates
        .push((PlateKey::parse("AB123CD").unwrap(), 0.1));
    reads.push(weak);
    let voted = vote_track(&reads, 30, 5);
    assert_eq!(voted.partial, None);
    let plate = voted.plate.unwrap();
    assert_eq!(plate.key, "29B125662");
    assert_eq!(plate.reads, 30);
    // Only whole reads vote: the one read is the whole group.
    assert!((plate.confidence - 0.3).abs() < 1e-5);
    let keys: Vec<&str> = plate.candidates.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(keys, ["29B125662", "AB123CD"]);
    assert!(plate.candidates.iter().all(|c| c.0.is_whole()));
}

#[test]
fn a_foreign_whole_plate_also_beats_fragments() {
    let mut reads = vec![read("N8100", 0.9, vec![]); 5];
    reads.push(read("AB123CD", 0.5, vec![]));
    let voted = vote_track(&reads, 6, 5);
    assert_eq!(voted.plate.unwrap().key, "AB123CD");
    assert_eq!(voted.partial, None);
}

#[test]
fn fragments_only_give_no_plate_but_a_partial_read() {
    let reads = vec![
        read("5919", 0.6, vec![]),
        read("5919", 0.7, vec![]),
        read("5918", 0.2, vec![]),
        read("29B1", 0.5, vec![]),
    ];
    let voted = vote_track(&reads, 4, 5);
    assert_eq!(voted.plate, None);
    let partial = voted.partial.unwrap();
    assert_eq!(partial.text, "5919");
    assert_eq!(partial.reads, 4);
    assert!(partial.confidence > 0.5 && partial.confidence < 0.9);
    assert_eq!(vote_track(&[], 0, 5), TrackVote::default());
}

#[test]
fn a_vote_that_mixes_reads_into_the_other_kind_takes_the_best_read() {
    // Whole reads of one length whose per-position vote makes `12345678`, a fragment.
    let reads = vec![
        read(
            "1234567A",
            0.5,
            vec![0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.1],
        ),
        read(
            "A2345678",
            0.6,
            vec![0.1, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9],
        ),
    ];
    assert_eq!(vote(&reads, 2, 5).unwrap().key, "12345678");
    let plate = vote_track(&reads, 2, 5).plate.unwrap();
    assert_eq!(plate.key, "A2345678");
    assert!(plate.confidence <= 0.6 * 0.6 / 1.1 + 1e-5);
    assert_eq!(plate.candidates[1].0, "1234567A");
    // Fragments of one length (digits only, letters only) whose vote makes `12C4567`,
    // letters and digits: a whole plate.
    let reads = vec![
        read("1234567", 0.5, vec![0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.9]),
        read("ABCDEFG", 0.4, vec![0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1]),
    ];
    assert_eq!(vote(&reads, 2, 5).unwrap().key, "12C4567");
    let voted = vote_track(&reads, 2, 5);
    assert_eq!(voted.plate, None);
    assert_eq!(voted.partial.unwrap().text, "1234567");
}
