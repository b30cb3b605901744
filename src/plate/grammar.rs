//! Vietnamese key grammar: the embedded province and special-series tables, the split of a
//! canonical key into province / series / serial, and the national display punctuation.
//!
//! A Vietnamese key is `PP S[S][d] NNNN[N]`: a 2-digit province code 11-99, a series of 1-2
//! letters optionally followed by one digit, and a 4- or 5-digit serial (7 to 10 characters).
//!
//! One key can split two ways when the series letters are followed by exactly 5 digits
//! (`29U27914` = `U` + `27914` or `U2` + `7914`). The layout decides:
//! - one line (cars): the digit belongs to the serial (`29U-279.14`, `51LD-123.45`);
//! - two lines (motorbikes): a single letter takes the digit (`29-U2 7914`), two letters do not
//!   (`29-AA 123.45`), since motorbike series are a letter plus a digit or two letters.
//!
//! With 6 digits after the letters the first one is always the series digit (`29-B1 256.62`).

use std::sync::OnceLock;

use super::PlateLayout;

const PROVINCES_TSV: &str = include_str!("provinces.tsv");
const SERIES_TSV: &str = include_str!("series.tsv");

/// Letters that ordinary series never use (too easily read as 1, 0 or each other).
const EXCLUDED_SERIES_LETTERS: &[u8] = b"IJOQW";

/// One row of `series.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SpecialSeries {
    /// Letters as they appear in the canonical key (Đ written `D`), the lookup key.
    pub key: &'static str,
    /// Letters as printed on the plate (`MĐ` for `MD`), used by the display form.
    pub display: &'static str,
    /// What the series is for, surfaced to users as an explanation.
    pub description: &'static str,
}

/// The parts of a Vietnamese key, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VnParts<'a> {
    /// Province code 11-99.
    pub province: u8,
    /// Series letters plus the optional digit, key form (e.g. `B1`, `MD1`, `LD`).
    pub series: &'a str,
    /// 4 or 5 digits.
    pub serial: &'a str,
}

/// Non-comment, non-empty rows of an embedded table, split on tabs.
fn rows(text: &'static str) -> impl Iterator<Item = Vec<&'static str>> {
    text.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').map(str::trim).collect())
}

/// Province names indexed by code (0..100); `None` where the table has no entry.
fn province_table() -> &'static [Option<&'static str>] {
    static TABLE: OnceLock<Vec<Option<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = vec![None; 100];
        for row in rows(PROVINCES_TSV) {
            if let [code, name] = row[..] {
                if let Ok(code) = code.parse::<usize>() {
                    if let Some(slot) = table.get_mut(code) {
                        *slot = Some(name);
                    }
                }
            }
        }
        table
    })
}

fn special_table() -> &'static [SpecialSeries] {
    static TABLE: OnceLock<Vec<SpecialSeries>> = OnceLock::new();
    TABLE.get_or_init(|| {
        rows(SERIES_TSV)
            .filter_map(|row| match row[..] {
                [key, display, description] => Some(SpecialSeries {
                    key,
                    display,
                    description,
                }),
                _ => None,
            })
            .collect()
    })
}

/// Name of a province code, if the table has it.
pub(crate) fn province_name(code: u8) -> Option<&'static str> {
    province_table().get(code as usize).copied().flatten()
}

/// The special-series row for these series letters (without the digit), if any.
pub(crate) fn special_series(letters: &str) -> Option<&'static SpecialSeries> {
    special_table().iter().find(|s| s.key == letters)
}

/// Whether a letter may appear in some series: the ordinary letters, plus letters that only
/// special series use (`Q` of `QT`).
pub(crate) fn is_series_letter(c: u8) -> bool {
    c.is_ascii_uppercase()
        && (!EXCLUDED_SERIES_LETTERS.contains(&c)
            || special_table()
                .iter()
                .any(|s| s.key.as_bytes().contains(&c)))
}

/// Whether the series letters (1-2, no digit) are valid.
fn valid_letters(letters: &str) -> bool {
    special_series(letters).is_some()
        || letters
            .bytes()
            .all(|c| c.is_ascii_uppercase() && !EXCLUDED_SERIES_LETTERS.contains(&c))
}

/// Splits a canonical key into Vietnamese parts. `layout` resolves the letters + 5 digits
/// ambiguity (see the module docs); `None` means "any split", for validity checks.
pub(crate) fn split(key: &str, layout: Option<PlateLayout>) -> Option<VnParts<'_>> {
    let b = key.as_bytes();
    if !(7..=10).contains(&b.len()) || !b[..2].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let province = (b[0] - b'0') * 10 + (b[1] - b'0');
    if province < 11 {
        return None;
    }
    let rest = &key[2..];
    let n_letters = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = &rest[n_letters..];
    if !(1..=2).contains(&n_letters)
        || !valid_letters(&rest[..n_letters])
        || !digits.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let series_len = match digits.len() {
        4 => n_letters,
        5 if layout == Some(PlateLayout::TwoLine) && n_letters == 1 => n_letters + 1,
        5 => n_letters,
        6 => n_letters + 1,
        _ => return None,
    };
    Some(VnParts {
        province,
        series: &rest[..series_len],
        serial: &rest[series_len..],
    })
}

/// National punctuation: `30A-339.18` / `30A-1234` on one line, `29-B1 256.62` / `29-B1 2566`
/// on two; special series use their printed letters (`MĐ`).
pub(crate) fn format(parts: &VnParts<'_>, layout: PlateLayout) -> String {
    let n_letters = parts
        .series
        .bytes()
        .take_while(u8::is_ascii_uppercase)
        .count();
    let (letters, digit) = parts.series.split_at(n_letters);
    let letters = special_series(letters).map_or(letters, |s| s.display);
    let serial = match parts.serial.len() {
        5 => format!("{}.{}", &parts.serial[..3], &parts.serial[3..]),
        _ => parts.serial.to_string(),
    };
    match layout {
        PlateLayout::OneLine => format!("{:02}{letters}{digit}-{serial}", parts.province),
        // A square car plate (one series letter, no digit) is written like a long one:
        // `30A` over `999.99` reads `30A-999.99`.
        PlateLayout::TwoLine if n_letters == 1 && digit.is_empty() => {
            format!("{:02}{letters}-{serial}", parts.province)
        }
        PlateLayout::TwoLine => format!("{:02}-{letters}{digit} {serial}", parts.province),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_parse_completely() {
        let data_rows = |t: &str| {
            t.lines()
                .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
                .count()
        };
        let provinces = province_table().iter().flatten().count();
        assert_eq!(provinces, data_rows(PROVINCES_TSV));
        assert_eq!(special_table().len(), data_rows(SERIES_TSV));
        assert_eq!(province_name(29), Some("Hà Nội"));
        assert_eq!(province_name(41), Some("TP Hồ Chí Minh"));
        assert_eq!(province_name(23), Some("Hà Giang"));
        assert_eq!(province_name(13), None);
        assert_eq!(special_series("MD").map(|s| s.display), Some("MĐ"));
    }

    #[test]
    fn square_car_plates_display_like_long_ones() {
        // The key alone cannot tell `30A` over `999.99` from `30-A9 9999`; the read's line
        // break can, and then the car is written like a long plate.
        let parts = VnParts {
            province: 30,
            series: "A",
            serial: "99999",
        };
        assert_eq!(format(&parts, PlateLayout::TwoLine), "30A-999.99");
        let bike = crate::plate::PlateKey::parse("29B125662").unwrap();
        assert_eq!(
            crate::plate::display(&bike, PlateLayout::TwoLine),
            "29-B1 256.62"
        );
    }

    #[test]
    fn split_rules() {
        let s = |k, l| split(k, Some(l)).map(|p| (p.series, p.serial));
        assert_eq!(s("29U27914", PlateLayout::OneLine), Some(("U", "27914")));
        assert_eq!(s("29U27914", PlateLayout::TwoLine), Some(("U2", "7914")));
        assert_eq!(s("29AA12345", PlateLayout::TwoLine), Some(("AA", "12345")));
        assert_eq!(s("29B125662", PlateLayout::OneLine), Some(("B1", "25662")));
        assert_eq!(split("09A12345", None), None);
        assert_eq!(split("29O12345", None), None);
        assert_eq!(split("29QA12345", None), None);
        assert!(split("80QT12345", None).is_some());
        assert_eq!(split("29B1234567", None), None);
    }
}
