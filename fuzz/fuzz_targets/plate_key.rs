//! `PlateKey::parse` on arbitrary text, then every accessor of a parsed key, its display
//! forms and confusion folding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use matthan::plate::{display, fold_confusions, PlateKey, PlateLayout, MAX_KEY_LEN, MIN_KEY_LEN};

fn is_key_char(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };

    // Folding takes any text: it keeps canonical characters only and is idempotent.
    let folded = fold_confusions(text);
    assert!(folded.bytes().all(is_key_char), "{folded:?}");
    assert_eq!(fold_confusions(&folded), folded);

    let Ok(key) = PlateKey::parse(text) else {
        return;
    };
    let s = key.as_str();
    assert!((MIN_KEY_LEN..=MAX_KEY_LEN).contains(&s.len()), "{s:?}");
    assert!(s.bytes().all(is_key_char), "{s:?}");
    assert_eq!(key.to_string(), s);
    // A key is its own canonical form.
    assert_eq!(PlateKey::parse(s).as_ref(), Ok(&key));
    // `parse` and `fold_confusions` normalise alike, so folding the text or the key agrees.
    assert_eq!(fold_confusions(s), folded);
    assert_eq!(folded.len(), s.len());

    let vietnamese = key.is_vietnamese();
    if let Some(province) = key.province() {
        assert!(vietnamese, "{s}: province without grammar");
        assert_eq!(s[..2].parse::<u8>().ok(), Some(province.code), "{s}");
        assert!(!province.name.is_empty());
    }
    if let Some(description) = key.series_description() {
        assert!(vietnamese, "{s}: series without grammar");
        assert!(!description.is_empty());
    }

    for layout in [PlateLayout::OneLine, PlateLayout::TwoLine] {
        let shown = display(&key, layout);
        if !vietnamese {
            assert_eq!(shown, s, "foreign keys display raw");
        }
        // Display only adds punctuation (and Đ for D), so it parses back to the same key.
        assert_eq!(
            PlateKey::parse(&shown).as_ref(),
            Ok(&key),
            "{s} shown as {shown:?} ({layout:?})"
        );
    }
});
