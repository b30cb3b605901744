//! Licence-plate text: the canonical key, the Vietnamese plate grammar and its display form,
//! confusion folding for fuzzy search, and grammar-guided decoding of OCR candidates.
//!
//! PURE: no I/O. The province and special-series tables are embedded data files.
//!
//! - [`PlateKey`]: canonical `A-Z0-9` key (Đ written `D`), e.g. `29B125662`.
//! - [`display`]: national punctuation for a layout, e.g. `29-B1 256.62` or `30A-339.18`.
//! - [`fold_confusions`]: a key folded by look-alike classes, for fuzzy search.
//! - [`PlateKey::is_fragment`]: whether a read is only a piece of a plate (`5919`, `29B1`);
//!   [`PlateFragment`]: such a read's text, kept apart from plate keys.
//! - [`decode`]: per-position OCR alternatives to the most likely key; [`decode_box`]: the
//!   lines read in one plate box to its read, extra text (city names, dealer frames) stripped.
//! - [`search`]: plate queries (exact, wildcard, fuzzy) and the fuzzy ranking.
//!
//! The grammar is a preference, not a filter: keys that do not fit it (foreign plates,
//! misreads) stay valid keys flagged not-Vietnamese.

mod decode;
mod fragment;
mod grammar;
pub mod search;

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

pub use decode::{
    decode, decode_box, line_kind, strip_extra_words, CharCandidates, DecodeOptions, LineKind,
    PlateDecoding, CONFUSION_FACTOR, MAX_GRAMMAR_GAP,
};
pub use fragment::{PlateFragment, MIN_FOREIGN_PLATE_LEN};

/// Shortest canonical key.
pub const MIN_KEY_LEN: usize = 2;
/// Longest canonical key.
pub const MAX_KEY_LEN: usize = 12;

/// Why text is not a plate key.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlateError {
    /// No letter or digit at all.
    #[error("plate text has no letters or digits")]
    Empty,
    /// Fewer than [`MIN_KEY_LEN`] letters and digits.
    #[error("plate key `{0}` is too short (at least {min} characters)", min = MIN_KEY_LEN)]
    TooShort(String),
    /// More than [`MAX_KEY_LEN`] letters and digits.
    #[error("plate key `{0}` is too long (at most {max} characters)", max = MAX_KEY_LEN)]
    TooLong(String),
    /// A letter or digit outside A-Z, 0-9 and Đ (e.g. `é`, `٣`).
    #[error("unsupported character {0:?} in plate text")]
    UnsupportedChar(char),
}

/// Canonical form of one character: uppercase ASCII letter or digit, Đ/đ as `D`; `None` for
/// anything else.
pub(crate) fn canonical_char(c: char) -> Option<u8> {
    match c {
        'Đ' | 'đ' => Some(b'D'),
        // Full-width forms (`Ｂ`, `８`), which CJK-trained OCR models emit.
        '\u{FF10}'..='\u{FF19}' | '\u{FF21}'..='\u{FF3A}' | '\u{FF41}'..='\u{FF5A}' => {
            char::from_u32(c as u32 - 0xFEE0).map(|a| a.to_ascii_uppercase() as u8)
        }
        c if c.is_ascii_alphanumeric() => Some(c.to_ascii_uppercase() as u8),
        _ => None,
    }
}

/// A canonical plate key: 2 to 12 characters of `A-Z0-9`.
///
/// The plate text of every read, from the decoder through the recognizer and the tracker to
/// the log: a Vietnamese key or a raw read (a foreign plate, a misread) alike, told apart by
/// [`PlateKey::is_vietnamese`], never by a separate flag. Made only by [`PlateKey::parse`] (or
/// its [`FromStr`](std::str::FromStr) and serde forms), so holding one means the text is
/// canonical; it serializes as the plain key string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlateKey(String);

impl PlateKey {
    /// Normalises free text (`29-MĐ1 123.45`, `30a 339.18`) to a key: drops punctuation and
    /// spaces, uppercases, writes Đ as `D`.
    pub fn parse(s: &str) -> Result<PlateKey, PlateError> {
        let mut key = String::with_capacity(s.len());
        for c in s.chars() {
            match canonical_char(c) {
                Some(b) => key.push(b as char),
                None if c.is_alphanumeric() => return Err(PlateError::UnsupportedChar(c)),
                None => {}
            }
        }
        match key.len() {
            0 => Err(PlateError::Empty),
            n if n < MIN_KEY_LEN => Err(PlateError::TooShort(key)),
            n if n > MAX_KEY_LEN => Err(PlateError::TooLong(key)),
            _ => Ok(PlateKey(key)),
        }
    }

    /// The key text, e.g. `29B125662`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the key fits the Vietnamese grammar (province, series, serial).
    pub fn is_vietnamese(&self) -> bool {
        grammar::split(&self.0, None).is_some()
    }

    /// The province of a Vietnamese key whose code is in the table.
    pub fn province(&self) -> Option<Province> {
        let code = grammar::split(&self.0, None)?.province;
        grammar::province_name(code).map(|name| Province { code, name })
    }

    /// How many wheels the vehicle bearing a Vietnamese key has, from its series: motorbike
    /// series end in a digit (`29-B1`, `59-P2`, `29-MĐ1`); car, bus and truck series are one
    /// letter (`30A`, `51F`). `None` for foreign keys and two-letter series, which both cars
    /// (`LD`, `NG`) and mopeds (`AA`) carry.
    pub fn wheels(&self) -> Option<Wheels> {
        let series = grammar::split(&self.0, None)?.series;
        if series.ends_with(|c: char| c.is_ascii_digit()) {
            Some(Wheels::Two)
        } else if series.len() == 1 {
            Some(Wheels::Four)
        } else {
            None
        }
    }

    /// What a special series (`LD`, `NG`, `MĐ`, ...) of a Vietnamese key is for.
    pub fn series_description(&self) -> Option<&'static str> {
        let series = grammar::split(&self.0, None)?.series;
        let letters = series.trim_end_matches(|c: char| c.is_ascii_digit());
        grammar::special_series(letters).map(|s| s.description)
    }
}

/// Two-wheelers and four-wheelers, as a Vietnamese plate series tells them apart
/// ([`PlateKey::wheels`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wheels {
    /// Motorbikes and mopeds.
    Two,
    /// Cars, vans, buses and trucks.
    Four,
}

impl fmt::Display for PlateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for PlateKey {
    type Err = PlateError;

    /// [`PlateKey::parse`].
    fn from_str(s: &str) -> Result<PlateKey, PlateError> {
        PlateKey::parse(s)
    }
}

impl PartialEq<str> for PlateKey {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for PlateKey {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for PlateKey {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

impl Serialize for PlateKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PlateKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        PlateKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A province from the embedded table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Province {
    /// The 2-digit code at the start of the key.
    pub code: u8,
    /// Province (or agency) name in Vietnamese.
    pub name: &'static str,
}

/// How the plate's text is laid out, from its aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlateLayout {
    /// One line (cars): `30A-339.18`.
    OneLine,
    /// Two lines (motorbikes): `29-B1` over `256.62`.
    TwoLine,
}

/// Display form: national punctuation for Vietnamese keys, the raw key otherwise.
///
/// When series letters are followed by exactly 5 digits the layout decides the split: on one
/// line the digit belongs to the serial (`29U-279.14`); on two lines a single letter takes it
/// (`29-U2 7914`) while two letters do not (`29-AA 123.45`).
pub fn display(key: &PlateKey, layout: PlateLayout) -> String {
    match grammar::split(key.as_str(), Some(layout)) {
        Some(parts) => grammar::format(&parts, layout),
        None => key.0.clone(),
    }
}

/// Look-alike classes for fuzzy search: each character of a class folds to the first one.
pub const CONFUSION_CLASSES: &[&str] = &["0ODQ", "8B", "1IJ", "5S", "2Z", "6G"];

/// The key with every character replaced by its [`CONFUSION_CLASSES`] representative, so that
/// `298I25662` and `29B125662` fold alike. Input is normalised like [`PlateKey::parse`]
/// (non-alphanumerics dropped, uppercased, Đ as `D`); other characters are unchanged.
pub fn fold_confusions(key: &str) -> String {
    key.chars()
        .filter_map(canonical_char)
        .map(|c| fold_confusion(c) as char)
        .collect()
}

/// A canonical character's [`CONFUSION_CLASSES`] representative (`O` → `0`, `I` → `1`); other
/// characters are returned as they are.
pub(crate) fn fold_confusion(c: u8) -> u8 {
    CONFUSION_CLASSES
        .iter()
        .find(|class| class.as_bytes().contains(&c))
        .map_or(c, |class| class.as_bytes()[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PlateKey {
        PlateKey::parse(s).unwrap()
    }

    #[test]
    fn parse_normalises() {
        assert_eq!(key("29-B1 256.62").as_str(), "29B125662");
        assert_eq!(key("30a-339.18").as_str(), "30A33918");
        assert_eq!(key(" 29-MĐ1 123.45 ").as_str(), "29MD112345");
        assert_eq!(key("29-mđ1·123:45").as_str(), "29MD112345");
        assert_eq!(PlateKey::parse(" -. "), Err(PlateError::Empty));
        assert_eq!(PlateKey::parse("A"), Err(PlateError::TooShort("A".into())));
        assert!(matches!(
            PlateKey::parse("1234567890ABC"),
            Err(PlateError::TooLong(_))
        ));
        assert_eq!(
            PlateKey::parse("29é12345"),
            Err(PlateError::UnsupportedChar('é'))
        );
        assert_eq!(key("29B125662").to_string(), "29B125662");
        assert_eq!("29-b1 256.62".parse::<PlateKey>(), Ok(key("29B125662")));
        assert_eq!(
            "é".parse::<PlateKey>(),
            Err(PlateError::UnsupportedChar('é'))
        );
        assert_eq!(key("30A33918"), "30A33918");
        assert!(key("30A33918") != "30a33918");
    }

    #[test]
    fn display_round_trips() {
        use PlateLayout::*;
        let cases = [
            ("29B125662", TwoLine, "29-B1 256.62"),
            ("30L90860", OneLine, "30L-908.60"),
            ("29U27914", OneLine, "29U-279.14"),
            ("29U27914", TwoLine, "29-U2 7914"),
            ("29S175902", TwoLine, "29-S1 759.02"),
            ("59P166480", TwoLine, "59-P1 664.80"),
            ("30E43502", OneLine, "30E-435.02"),
            ("30A1234", OneLine, "30A-1234"),
            ("30A33918", OneLine, "30A-339.18"),
            ("51LD12345", OneLine, "51LD-123.45"),
            ("80NG12345", OneLine, "80NG-123.45"),
            ("60KT12345", OneLine, "60KT-123.45"),
            ("29MD112345", TwoLine, "29-MĐ1 123.45"),
            ("23B112345", TwoLine, "23-B1 123.45"),
            ("59U139619", TwoLine, "59-U1 396.19"),
            ("88A30598", OneLine, "88A-305.98"),
            ("29AA12345", TwoLine, "29-AA 123.45"),
            ("29B12566", TwoLine, "29-B1 2566"),
        ];
        for (k, layout, shown) in cases {
            let parsed = key(k);
            assert!(parsed.is_vietnamese(), "{k}");
            assert_eq!(display(&parsed, layout), shown, "{k}");
            assert_eq!(key(shown), parsed, "{shown}");
        }
    }

    #[test]
    fn provinces_and_series() {
        assert_eq!(
            key("23B112345").province(),
            Some(Province {
                code: 23,
                name: "Hà Giang"
            })
        );
        assert_eq!(key("51LD12345").province().unwrap().name, "TP Hồ Chí Minh");
        assert_eq!(key("80NG12345").province().unwrap().code, 80);
        // Unnamed codes are still Vietnamese.
        assert!(key("13A12345").is_vietnamese());
        assert_eq!(key("13A12345").province(), None);
        assert_eq!(
            key("29MD112345").series_description(),
            Some("electric motorbike")
        );
        assert_eq!(key("30A12345").series_description(), None);
    }

    #[test]
    fn foreign_keys_stay_raw() {
        for raw in ["BL1234AB", "MH12AB1234", "ABC123", "B-L 1234.ab"] {
            let k = key(raw);
            assert!(!k.is_vietnamese(), "{raw}");
            assert_eq!(k.province(), None);
            assert_eq!(display(&k, PlateLayout::OneLine), k.as_str());
        }
        assert_eq!(key("mh-12 ab 1234").as_str(), "MH12AB1234");
    }

    #[test]
    fn label_keys_are_vietnamese() {
        let labels = "59U139619 59F107509 59F116711 59V184031 30E43502 30F07227 30A35919 \
                      88A30598 29B125662 30L90860 29U27914 29S175902";
        for k in labels.split_whitespace() {
            let k = key(k);
            assert!(k.is_vietnamese(), "{k}");
            assert!(k.province().is_some(), "{k}");
        }
    }

    #[test]
    fn confusion_folding() {
        assert_eq!(fold_confusions("298I25662"), fold_confusions("29B125662"));
        assert_eq!(fold_confusions("30-a 0o.dq"), "30A0000");
        assert_eq!(fold_confusions("5S2Z6GJ"), "5522661");
        assert_ne!(fold_confusions("30A12345"), fold_confusions("30A12346"));
    }

    #[test]
    fn serde_forms() {
        let k = key("29B125662");
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"29B125662\"");
        let back: PlateKey = serde_json::from_str("\"29-B1 256.62\"").unwrap();
        assert_eq!(back, k);
        assert!(serde_json::from_str::<PlateKey>("\"-\"").is_err());
        assert_eq!(
            serde_json::to_string(&PlateLayout::TwoLine).unwrap(),
            "\"two_line\""
        );
        let l: PlateLayout = serde_json::from_str("\"one_line\"").unwrap();
        assert_eq!(l, PlateLayout::OneLine);
    }
}
