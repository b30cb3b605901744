//! Unit tests of the plate decoder: templates, look-alike characters, two-line splits, raw
//! reads and ranked candidates.

use super::*;

/// A confident read of every character of `s`.
fn read(s: &str) -> Vec<CharCandidates> {
    s.chars().map(|c| alts(&[(c, 0.95), ('K', 0.02)])).collect()
}

fn alts(a: &[(char, f32)]) -> CharCandidates {
    CharCandidates {
        alternatives: a.to_vec(),
    }
}

fn one(line: Vec<CharCandidates>) -> Option<PlateDecoding> {
    decode(&[line], PlateLayout::OneLine, &DecodeOptions::default())
}

fn two(top: Vec<CharCandidates>, bottom: Vec<CharCandidates>) -> Option<PlateDecoding> {
    decode(
        &[top, bottom],
        PlateLayout::TwoLine,
        &DecodeOptions::default(),
    )
}

#[test]
fn clean_read() {
    let d = one(read("30A33918")).unwrap();
    assert_eq!(d.key.as_str(), "30A33918");
    assert_eq!(d.display, "30A-339.18");
    assert!(d.key.is_vietnamese());
    assert_eq!(d.layout, PlateLayout::OneLine);
    assert_eq!(d.char_confidences, vec![0.95; 8]);
    assert!((d.confidence - 0.95f32.powi(8)).abs() < 1e-5);
    assert_eq!(d.candidates[0].0, d.key);
    assert!(d.candidates.len() <= 5);
    let d = one(read("30a1234")).unwrap();
    assert_eq!(
        (d.key.as_str(), d.display.as_str()),
        ("30A1234", "30A-1234")
    );
}

#[test]
fn letter_o_in_digit_slot_becomes_zero() {
    let mut line = read("30A33918");
    line[1] = alts(&[('O', 0.9)]);
    let d = one(line).unwrap();
    assert_eq!(d.key.as_str(), "30A33918");
    assert!((d.char_confidences[1] - 0.9 * CONFUSION_FACTOR).abs() < 1e-6);
}

#[test]
fn eight_in_series_slot_becomes_b() {
    let mut top = read("2981");
    top[2] = alts(&[('8', 0.9), ('3', 0.05)]);
    let d = two(top, read("25662")).unwrap();
    assert_eq!(d.key.as_str(), "29B125662");
    assert_eq!(d.display, "29-B1 256.62");
    assert_eq!(d.key.province().unwrap().name, "Hà Nội");
}

#[test]
fn grammar_picks_second_best_alternative() {
    let mut top = read("59U1");
    top[0] = alts(&[('S', 0.55), ('5', 0.4)]);
    top[2] = alts(&[('0', 0.6), ('U', 0.3)]);
    let d = two(top, read("39619")).unwrap();
    assert_eq!(d.key.as_str(), "59U139619");
    assert_eq!(d.char_confidences[0], 0.4);
    assert_eq!(d.char_confidences[2], 0.3);
    assert_eq!(d.display, "59-U1 396.19");
}

#[test]
fn two_line_split_follows_the_read() {
    let d = two(read("29U2"), read("7914")).unwrap();
    assert_eq!(
        (d.key.as_str(), d.display.as_str()),
        ("29U27914", "29-U2 7914")
    );
    let d = two(read("29AA"), read("12345")).unwrap();
    assert_eq!(d.display, "29-AA 123.45");
    let d = two(read("29-MĐ1"), read("123.45")).unwrap();
    assert_eq!(
        (d.key.as_str(), d.display.as_str()),
        ("29MD112345", "29-MĐ1 123.45")
    );
    // The same characters on one line split the other way.
    let d = one(read("29U27914")).unwrap();
    assert_eq!(d.display, "29U-279.14");
}

#[test]
fn spurious_edge_read_is_skipped() {
    let mut line = read("130A33918");
    line[0] = alts(&[('1', 0.9), ('I', 0.05)]);
    let d = one(line).unwrap();
    assert_eq!(d.key.as_str(), "30A33918");
    assert_eq!(d.char_confidences.len(), 8);
    // A border read as `I` at the start of the bottom line.
    let d = two(read("29B1"), read("I25662")).unwrap();
    assert_eq!(
        (d.key.as_str(), d.display.as_str()),
        ("29B125662", "29-B1 256.62")
    );
}

#[test]
fn separators_and_foreign_symbols_are_dropped() {
    let mut line = read("30A-339.18");
    line.insert(0, alts(&[(' ', 0.8), ('1', 0.1)]));
    line.insert(5, alts(&[('·', 0.7), (':', 0.2)]));
    line.push(alts(&[('€', 0.9)]));
    line[3] = alts(&[('Ä', 0.6), ('a', 0.3)]);
    let d = one(line).unwrap();
    assert_eq!(d.key.as_str(), "30A33918");
    assert_eq!(d.char_confidences[2], 0.3);
    assert_eq!(d.display, "30A-339.18");
}

#[test]
fn foreign_plate_kept_raw_unless_strict() {
    for raw in ["BL1234AB", "MH12AB1234", "ABC123"] {
        let d = one(read(raw)).unwrap();
        assert_eq!(d.key.as_str(), raw);
        assert!(!d.key.is_vietnamese(), "{raw}");
        assert_eq!(d.display, raw);
        assert_eq!(d.candidates[0].0.as_str(), raw);
        let strict = DecodeOptions {
            strict: true,
            ..DecodeOptions::default()
        };
        assert_eq!(decode(&[read(raw)], PlateLayout::OneLine, &strict), None);
    }
}

#[test]
fn two_unproposed_swaps_do_not_make_a_plate_vietnamese() {
    let d = one(read("1B80338")).unwrap();
    assert_eq!(d.key.as_str(), "1B80338");
    assert!(!d.key.is_vietnamese());
}

#[test]
fn a_digit_look_alike_in_the_series_prefers_the_digit() {
    let mut top = read("63H");
    top.push(alts(&[('Z', 0.9), ('2', 0.05)]));
    let d = decode(
        &[top, read("7326")],
        PlateLayout::TwoLine,
        &DecodeOptions::default(),
    )
    .unwrap();
    assert_eq!(d.key.as_str(), "63H27326");
    // A listed special series keeps its letters.
    assert_eq!(one(read("51LD12345")).unwrap().key.as_str(), "51LD12345");
}

#[test]
fn raw_reads_resolve_zero_and_o_by_neighbours() {
    assert_eq!(resolve_by_context(b"RK340A0"), "RK340AO");
    assert_eq!(resolve_by_context(b"RK776A1"), "RK776AI");
    assert_eq!(resolve_by_context(b"AB2O23"), "AB2023");
    // Mixed neighbours: kept as read.
    assert_eq!(resolve_by_context(b"RK026AJ"), "RK026AJ");
    assert_eq!(resolve_by_context(b"BZM2227"), "BZM2227");
    assert_eq!(resolve_by_context(b"W053011"), "W053011");
    // Next to the last character, mixed neighbours join the last character's group.
    assert_eq!(resolve_by_context(b"BA3020Z"), "BA302OZ");
    assert_eq!(resolve_by_context(b"BA2681M"), "BA268IM");
    assert_eq!(resolve_by_context(b"ABC2O5"), "ABC205");
}

#[test]
fn a_doubtful_character_backed_by_separators_is_a_separator() {
    let mut line = read("4B4");
    line.push(alts(&[('8', 0.39), ('：', 0.10), (':', 0.04)]));
    line.extend(read("0262"));
    assert_eq!(one(line).unwrap().key.as_str(), "4B40262");
    // A confident character stays, whatever follows it.
    let mut line = read("4B4");
    line.push(alts(&[('8', 0.9), (':', 0.05)]));
    line.extend(read("0262"));
    assert_eq!(one(line).unwrap().key.as_str(), "4B480262");
}

#[test]
fn symbols_of_other_scripts_are_dropped() {
    let mut line = vec![alts(&[('粤', 0.9), ('A', 0.04)])];
    line.extend(read("KMBORAK"));
    let d = one(line).unwrap();
    assert_eq!(d.key.as_str(), "KMBORAK");
}

#[test]
fn short_or_empty_reads_give_nothing() {
    assert_eq!(one(Vec::new()), None);
    assert_eq!(one(read("30A")), None);
    assert_eq!(one(read("-.-.-.")), None);
    assert_eq!(
        decode(&[], PlateLayout::TwoLine, &DecodeOptions::default()),
        None
    );
    assert_eq!(one(vec![alts(&[]); 9]), None);
}

#[test]
fn candidates_are_ranked_and_distinct() {
    let mut line = read("30A33918");
    line[7] = alts(&[('8', 0.6), ('3', 0.35), ('B', 0.05)]);
    let opts = DecodeOptions {
        strict: false,
        max_candidates: 3,
    };
    let d = decode(&[line], PlateLayout::OneLine, &opts).unwrap();
    let keys: Vec<&str> = d.candidates.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(&keys[..2], ["30A33918", "30A33913"]);
    assert_eq!(keys.len(), 3);
    assert!(d.candidates.windows(2).all(|w| w[0].1 >= w[1].1));
    assert!(d.candidates.iter().all(|c| (0.0..=1.0).contains(&c.1)));
    assert_eq!(keys.iter().collect::<HashSet<_>>().len(), keys.len());
}

#[test]
fn label_reads_decode_to_themselves() {
    for k in [
        "59U139619",
        "59F107509",
        "30E43502",
        "30F07227",
        "88A30598",
        "29S175902",
    ] {
        let d = one(read(k)).unwrap();
        assert_eq!(d.key.as_str(), k);
        assert!(d.key.is_vietnamese());
    }
    let d = decode(
        &[read("51LD12345")],
        PlateLayout::OneLine,
        &DecodeOptions::default(),
    );
    assert_eq!(d.unwrap().display, "51LD-123.45");
}

#[test]
fn a_doubted_end_of_a_raw_read_is_dropped() {
    // The shield before a Slovak plate, read as a letter nobody is sure of.
    let mut line = vec![alts(&[('W', 0.36), ('H', 0.30), ('M', 0.10)])];
    line.extend(read("RK161AG"));
    assert_eq!(one(line).unwrap().key.as_str(), "RK161AG");
    // An `I` half read as `1` is a sure character, not a doubted one.
    let mut line = read("RK776A");
    line.push(alts(&[('I', 0.55), ('1', 0.44)]));
    assert_eq!(one(line).unwrap().key.as_str(), "RK776AI");
    // A short read keeps its ends.
    let mut line = vec![alts(&[('W', 0.36), ('H', 0.30)])];
    line.extend(read("AB12"));
    assert_eq!(one(line).unwrap().key.as_str(), "WAB12");
}
