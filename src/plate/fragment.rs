//! Whole plates and fragments: which reads are a whole plate, and [`PlateFragment`], the text
//! of a read that is only a piece of one.
//!
//! A camera often reads a piece of a plate: one line of a two-line plate (`29B1` over
//! `25662`), the half of a plate left in view, a smudged end (`N8100`, `5919`). Such a read
//! is a valid [`PlateKey`] (2 to 12 characters) but not a plate: searching, watching or
//! counting it as one finds the wrong vehicles. The rule, [`PlateKey::is_whole`]:
//!
//! 1. a key that fits the Vietnamese grammar is whole (`30A99999`, `29B125662`, `30A1234`);
//! 2. a Vietnamese plate without its province code is a fragment (`B125662`: `29-B1 256.62`
//!    with the `29` cut off or missed);
//! 3. a key of at least [`MIN_FOREIGN_PLATE_LEN`] characters with both a letter and a digit
//!    is whole: a foreign plate (`AB123CD`, `MH12AB1234`), or a Vietnamese one misread in a
//!    character (`29B12S662`);
//! 4. a key that is Vietnamese once its series letter, read as a look-alike digit, is put
//!    back is whole (`298125662` is `29B125662`, `B` read as `8`);
//! 5. anything else is a fragment: shorter keys (`5919`, `N8100`, `29B1`, `25662`, `30A339`),
//!    and keys without a letter or without a digit (`12345678`, `HYUNDAI`).
//!
//! Why these: a whole Vietnamese plate has 7 to 10 characters, while each line of a two-line
//! plate has at most 5 (`29MD1`, `25662`) and a one-line plate cut in half about 5 or 6
//! (`30A339`); plates everywhere mix letters and digits, and the recognizer's grammar-guided
//! decoding already turns most look-alike misreads into Vietnamese keys. The price: a whole
//! foreign plate of 6 characters or fewer (`ABC123`), and Vietnamese military plates
//! (`TM1234`), which the grammar does not know, count as fragments.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{grammar, PlateError, PlateKey, CONFUSION_CLASSES};

/// Fewest characters of a whole plate that does not fit the Vietnamese grammar.
pub const MIN_FOREIGN_PLATE_LEN: usize = 7;

impl PlateKey {
    /// Whether the key is a whole plate rather than a piece of one (the rule is in
    /// [`crate::plate`]'s `fragment` docs: Vietnamese; or, unless it is a Vietnamese plate
    /// without its province, 7+ characters mixing letters and digits, or Vietnamese with its
    /// series letter read as a look-alike digit).
    pub fn is_whole(&self) -> bool {
        let key = self.as_str();
        if self.is_vietnamese() {
            return true;
        }
        if vietnamese_without_province(key) {
            return false;
        }
        let has_letter = key.bytes().any(|c| c.is_ascii_uppercase());
        let has_digit = key.bytes().any(|c| c.is_ascii_digit());
        (key.len() >= MIN_FOREIGN_PLATE_LEN && has_letter && has_digit)
            || series_letter_read_as_digit(key)
    }

    /// Whether the key is only a piece of a plate: not [`PlateKey::is_whole`].
    pub fn is_fragment(&self) -> bool {
        !self.is_whole()
    }
}

/// Whether `key` is the series and serial of a Vietnamese plate, its province code missing.
fn vietnamese_without_province(key: &str) -> bool {
    grammar::split(&format!("11{key}"), None).is_some()
}

/// Whether `key` fits the Vietnamese grammar once its third character, a digit, is replaced
/// by a letter of its look-alike class (`298125662` → `29B125662`).
fn series_letter_read_as_digit(key: &str) -> bool {
    let Some(c) = key.as_bytes().get(2).filter(|c| c.is_ascii_digit()) else {
        return false;
    };
    let Some(class) = CONFUSION_CLASSES
        .iter()
        .find(|class| class.as_bytes().contains(c))
    else {
        return false;
    };
    class.bytes().filter(u8::is_ascii_uppercase).any(|letter| {
        let mut fixed = key.as_bytes().to_vec();
        fixed[2] = letter;
        std::str::from_utf8(&fixed).is_ok_and(|k| grammar::split(k, None).is_some())
    })
}

/// The text of a read that is only a piece of a plate ([`PlateKey::is_fragment`]), e.g. `5919`:
/// what a passage keeps when no whole plate was read, shown as a partial read and never
/// searched, watched or counted as a plate.
///
/// New fragments are made only by [`PlateFragment::of`], which refuses whole plates. Text read
/// back from the log ([`FromStr`](std::str::FromStr), serde) only has to be a canonical key: it
/// is taken as it was logged, even if a later rule would call it whole. Serializes as the plain
/// text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlateFragment(PlateKey);

impl PlateFragment {
    /// `key` as a fragment; the key back when it is a whole plate.
    pub fn of(key: PlateKey) -> Result<PlateFragment, PlateKey> {
        if key.is_fragment() {
            Ok(PlateFragment(key))
        } else {
            Err(key)
        }
    }

    /// The text, canonical like a key, e.g. `5919`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for PlateFragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PlateFragment {
    type Err = PlateError;

    /// Logged fragment text: any canonical key (see the type's docs).
    fn from_str(s: &str) -> Result<PlateFragment, PlateError> {
        PlateKey::parse(s).map(PlateFragment)
    }
}

impl PartialEq<&str> for PlateFragment {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for PlateFragment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PlateFragment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PlateKey {
        PlateKey::parse(s).unwrap()
    }

    #[test]
    fn pieces_of_plates_are_fragments() {
        // One line of a two-line plate, a half-visible plate, a smudged end.
        for piece in [
            "5919", "N8100", "29B1", "25662", "2566", "29MD1", "30A339", "B12566", "AB", "B125662",
            "MD112345", "LD12345",
        ] {
            assert!(key(piece).is_fragment(), "{piece}");
            assert!(!key(piece).is_whole(), "{piece}");
        }
    }

    #[test]
    fn vietnamese_plates_are_whole_at_every_length() {
        for plate in [
            "30A1234",    // 7: old 4-digit serial
            "30A99999",   // 8: car, 5-digit serial
            "29B125662",  // 9: motorbike
            "29MD112345", // 10: electric motorbike
            "51LD12345",
        ] {
            assert!(
                key(plate).is_vietnamese() && key(plate).is_whole(),
                "{plate}"
            );
        }
    }

    #[test]
    fn foreign_plates_of_seven_or_more_mixed_characters_are_whole() {
        for plate in ["AB123CD", "BL1234AB", "MH12AB1234", "29B12S662", "WA12345"] {
            assert!(!key(plate).is_vietnamese(), "{plate}");
            assert!(key(plate).is_whole(), "{plate}");
        }
        // Too short, or not mixing letters and digits.
        for text in ["ABC123", "12345678", "HYUNDAI", "2912566"] {
            assert!(key(text).is_fragment(), "{text}");
        }
    }

    #[test]
    fn a_series_letter_read_as_a_digit_is_still_a_whole_plate() {
        assert!(key("298125662").is_whole()); // 29B125662
        assert!(key("30012345").is_whole()); // 30D12345 (O and Q are not series letters)
        assert!(key("51512345").is_whole()); // 51S12345
        assert!(!key("09812345").is_whole()); // no province 09
        assert!(!key("29312345").is_whole()); // 3 looks like no letter
        assert!(!key("29B").is_whole());
    }

    #[test]
    fn fragments_refuse_whole_plates_and_read_back_as_logged() {
        assert_eq!(PlateFragment::of(key("5919")).unwrap(), "5919");
        assert_eq!(PlateFragment::of(key("30A99999")), Err(key("30A99999")));
        let f: PlateFragment = "n-81.00".parse().unwrap();
        assert_eq!(f.as_str(), "N8100");
        assert_eq!(f.to_string(), "N8100");
        assert_eq!(serde_json::to_string(&f).unwrap(), "\"N8100\"");
        let back: PlateFragment = serde_json::from_str("\"N8100\"").unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<PlateFragment>("\"-\"").is_err());
    }
}
