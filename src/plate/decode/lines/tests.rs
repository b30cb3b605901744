//! Unit tests of the plate-box decoder: extra text stripped, the plate line chosen, 2-line
//! plates kept whole, Vietnamese reads first.

use super::*;

/// A confident read of every character of `s` (spaces and punctuation as read).
fn read(s: &str) -> Vec<CharCandidates> {
    s.chars()
        .map(|c| CharCandidates {
            alternatives: vec![(c, 0.95), ('K', 0.02)],
        })
        .collect()
}

fn boxed(lines: &[&str]) -> Option<PlateDecoding> {
    let lines: Vec<Vec<CharCandidates>> = lines.iter().map(|l| read(l)).collect();
    decode_box(&lines, &DecodeOptions::default(), 0.2)
}

fn key(lines: &[&str]) -> Option<String> {
    boxed(lines).map(|d| d.key.to_string())
}

fn text(line: &[CharCandidates]) -> String {
    line.iter().map(|c| c.alternatives[0].0).collect()
}

#[test]
fn a_city_name_above_a_foreign_plate_is_dropped() {
    let d = boxed(&["LJUBLJANA", "SI-819AK"]).unwrap();
    assert_eq!(d.key.as_str(), "SI819AK");
    assert!(!d.key.is_vietnamese());
    assert_eq!(d.layout, PlateLayout::OneLine);
    assert_eq!(key(&["MUENCHEN", "MAB4821"]).as_deref(), Some("MAB4821"));
    assert_eq!(key(&["KRANJ", "RK-828AG"]).as_deref(), Some("RK828AG"));
    assert_eq!(key(&["BIRMINGHAM", "OY09 FEU"]).as_deref(), Some("OY09FEU"));
}

#[test]
fn dealer_text_below_or_above_is_dropped() {
    assert_eq!(
        key(&["RK-776AI", "www.avto-centersi"]).as_deref(),
        Some("RK776AI")
    );
    assert_eq!(
        key(&["1B80338", "Tel.0602555210"]).as_deref(),
        Some("1B80338")
    );
    assert_eq!(
        key(&["AUTOHAUS MUSTERMANN", "BS47040"]).as_deref(),
        Some("BS47040")
    );
    assert_eq!(
        key(&["HHKL307", "AUTOHAUSNORD Tel.0405521"]).as_deref(),
        Some("HHKL307")
    );
}

#[test]
fn a_vietnamese_plate_under_a_dealer_name_reads_vietnamese() {
    let d = boxed(&["51A-123.45", "TOYOTALYTHUONGKIET"]).unwrap();
    assert_eq!(d.key.as_str(), "51A12345");
    assert!(d.key.is_vietnamese());
    assert_eq!(d.display, "51A-123.45");
    // A short line that alone reads Vietnamese-looking loses to the whole 2-line plate.
    assert_eq!(key(&["29B1", "256.62"]).as_deref(), Some("29B125662"));
}

#[test]
fn the_lines_of_a_two_line_plate_stay_together() {
    // Not Vietnamese (a foreign 2-line plate, or a misread): raw, both lines, never a piece.
    let d = boxed(&["AB1", "2345"]).unwrap();
    assert_eq!(d.key.as_str(), "AB12345");
    assert_eq!(d.layout, PlateLayout::TwoLine);
    assert_eq!(key(&["29X9", "ZZZZ"]).as_deref(), Some("29X9ZZZZ"));
    // Both lines unsure: nothing, rather than the surer line as a fragment.
    let mut unsure = read("25662");
    for c in &mut unsure {
        c.alternatives[0].1 = 0.3;
    }
    let lines = vec![read("QQ12"), unsure];
    assert_eq!(decode_box(&lines, &DecodeOptions::default(), 0.2), None);
}

#[test]
fn one_line_reads_are_as_before_unless_words_are_stripped() {
    for raw in ["BL1234AB", "KMBORAK", "GWAGEN", "30A33918", "ABCDEFGHJK12"] {
        let lines = vec![read(raw)];
        let opts = DecodeOptions::default();
        assert_eq!(
            decode_box(&lines, &opts, 0.2),
            decode(&lines, PlateLayout::OneLine, &opts),
            "{raw}"
        );
    }
    assert_eq!(key(&["Tel.0405521"]).as_deref(), Some("0405521"));
    assert_eq!(key(&["MUENCHEN MAB4821"]).as_deref(), Some("MAB4821"));
}

#[test]
fn strict_mode_keeps_only_vietnamese_reads() {
    let strict = DecodeOptions {
        strict: true,
        ..DecodeOptions::default()
    };
    let lines = vec![read("LJUBLJANA"), read("SI-819AK")];
    assert_eq!(decode_box(&lines, &strict, 0.2), None);
    let lines = vec![read("51A-123.45"), read("TOYOTA")];
    assert_eq!(
        decode_box(&lines, &strict, 0.2).map(|d| d.key.to_string()),
        Some("51A12345".into())
    );
}

#[test]
fn nothing_plate_like_gives_nothing() {
    assert_eq!(key(&[]), None);
    assert_eq!(key(&["www.example.com"]), None);
    assert_eq!(key(&["", ""]), None);
    assert_eq!(key(&["AB1", "www.avto.si"]), None);
    let lines = vec![Vec::new(), vec![CharCandidates::default(); 3]];
    assert_eq!(decode_box(&lines, &DecodeOptions::default(), 0.2), None);
}

#[test]
fn extra_words_are_stripped_and_plate_words_kept() {
    let strip = |s: &str| text(&strip_extra_words(&read(s)));
    assert_eq!(strip("www.avto-center.si"), ".-.");
    assert_eq!(strip("Tel. 040 55 21"), ". 040 55 21");
    assert_eq!(strip("MUENCHEN MAB4821"), " MAB4821");
    assert_eq!(strip("SI-819AK"), "SI-819AK");
    // A name stays when no word beside it is plate-like; one lowercase letter is a misread.
    assert_eq!(strip("KMBORAK"), "KMBORAK");
    assert_eq!(strip("RK-776Al"), "RK-776Al");
    assert_eq!(strip("30a-339.18"), "30a-339.18");
}

#[test]
fn lines_are_ranked_by_how_plate_like_they_are() {
    let kind = |s: &str| line_kind(&read(s));
    assert_eq!(kind("SI-819AK"), LineKind::Plate);
    assert_eq!(kind("0602555210"), LineKind::Word);
    assert_eq!(kind("ROMA"), LineKind::Word);
    assert_eq!(kind("LJUBLJANA"), LineKind::Name);
    assert_eq!(kind("AUTOHAUS MUSTERMANN"), LineKind::Extra);
    assert_eq!(kind("-.-"), LineKind::Extra);
    assert!(LineKind::Plate > LineKind::Word && LineKind::Word > LineKind::Name);
}
