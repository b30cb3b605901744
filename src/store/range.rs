//! PostgreSQL's `tstzrange` in its binary form, for [`UnseenSpan`]: what lets the writer
//! `COPY` a passage's gaps into `passages.gaps` (a `tstzrange[]`) and the queries read them
//! back, without a range crate.
//!
//! The binary form (`range_send` in PostgreSQL's `rangetypes.c`) is one flags byte, then each
//! finite bound as a 4-byte big-endian length and the bound's own binary form (here a
//! `timestamptz`). A span is written with both bounds included (`[from, to]`: its ends are
//! sightings, and a zero-length span stays a point rather than becoming `empty`), its ends in
//! order so the server never refuses a batch for a reversed span. Reading takes a range with
//! two finite bounds, included or not; an empty or unbounded range is an error (the column
//! never holds one unless changed by hand).

use std::error::Error;

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, Utc};
use tokio_postgres::types::{to_sql_checked, FromSql, IsNull, ToSql, Type};

use super::rows::UnseenSpan;

/// The range is empty.
const EMPTY: u8 = 0x01;
/// The lower bound is included.
const LB_INC: u8 = 0x02;
/// The upper bound is included.
const UB_INC: u8 = 0x04;
/// There is no lower bound.
const LB_INF: u8 = 0x08;
/// There is no upper bound.
const UB_INF: u8 = 0x10;

/// Writes `at` as a length-prefixed `timestamptz`.
fn write_bound(at: &DateTime<Utc>, out: &mut BytesMut) -> Result<(), Box<dyn Error + Sync + Send>> {
    let start = out.len();
    out.put_i32(0);
    at.to_sql(&Type::TIMESTAMPTZ, out)?;
    let len = i32::try_from(out.len() - start - 4)?;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Reads a length-prefixed `timestamptz` off the front of `raw`.
fn read_bound(raw: &mut &[u8]) -> Result<DateTime<Utc>, Box<dyn Error + Sync + Send>> {
    let (len, rest) = raw
        .split_first_chunk::<4>()
        .ok_or("tstzrange: a bound's length is cut short")?;
    let len = usize::try_from(i32::from_be_bytes(*len)).map_err(|_| "tstzrange: a null bound")?;
    if rest.len() < len {
        return Err("tstzrange: a bound is cut short".into());
    }
    let (bound, rest) = rest.split_at(len);
    *raw = rest;
    DateTime::<Utc>::from_sql(&Type::TIMESTAMPTZ, bound)
}

impl ToSql for UnseenSpan {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.put_u8(LB_INC | UB_INC);
        write_bound(&self.from.min(self.to), out)?;
        write_bound(&self.from.max(self.to), out)?;
        Ok(IsNull::No)
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TSTZ_RANGE
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for UnseenSpan {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        let (&flags, mut rest) = raw.split_first().ok_or("tstzrange: no flags")?;
        if flags & EMPTY != 0 {
            return Err("tstzrange: an empty range is not a span".into());
        }
        if flags & (LB_INF | UB_INF) != 0 {
            return Err("tstzrange: an unbounded range is not a span".into());
        }
        let from = read_bound(&mut rest)?;
        let to = read_bound(&mut rest)?;
        if !rest.is_empty() {
            return Err("tstzrange: bytes after the upper bound".into());
        }
        Ok(UnseenSpan { from, to })
    }

    fn accepts(ty: &Type) -> bool {
        *ty == Type::TSTZ_RANGE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(from: i64, to: i64) -> UnseenSpan {
        UnseenSpan::from_ms([from, to])
    }

    fn encode(s: &UnseenSpan) -> Vec<u8> {
        let mut out = BytesMut::new();
        s.to_sql(&Type::TSTZ_RANGE, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn a_span_is_an_inclusive_range_of_two_timestamps() {
        // 2000-01-01 (PostgreSQL's epoch) plus 1 s and 3.5 s, in microseconds.
        let y2k = 946_684_800_000;
        let bytes = encode(&span(y2k + 1_000, y2k + 3_500));
        let mut expected = vec![LB_INC | UB_INC];
        for us in [1_000_000i64, 3_500_000] {
            expected.extend(8i32.to_be_bytes());
            expected.extend(us.to_be_bytes());
        }
        assert_eq!(bytes, expected);
    }

    #[test]
    fn spans_read_back_as_written_with_their_ends_in_order() {
        let t0 = 1_764_378_000_123;
        for s in [span(t0, t0 + 2_400), span(t0, t0)] {
            let back = UnseenSpan::from_sql(&Type::TSTZ_RANGE, &encode(&s)).unwrap();
            assert_eq!(back, s);
        }
        let reversed = span(t0 + 2_400, t0);
        let back = UnseenSpan::from_sql(&Type::TSTZ_RANGE, &encode(&reversed)).unwrap();
        assert_eq!(back, span(t0, t0 + 2_400));
    }

    #[test]
    fn exclusive_bounds_read_as_the_same_span() {
        let mut bytes = encode(&span(0, 1_000));
        bytes[0] = 0;
        let back = UnseenSpan::from_sql(&Type::TSTZ_RANGE, &bytes).unwrap();
        assert_eq!(back, span(0, 1_000));
    }

    #[test]
    fn empty_unbounded_or_cut_ranges_are_errors_not_panics() {
        let whole = encode(&span(0, 1_000));
        let mut unbounded = vec![LB_INF | UB_INC];
        unbounded.extend(&whole[13..]);
        let mut null_bound = whole.clone();
        null_bound[1..5].copy_from_slice(&(-1i32).to_be_bytes());
        let mut long_bound = whole.clone();
        long_bound[1..5].copy_from_slice(&100i32.to_be_bytes());
        let mut trailing = whole.clone();
        trailing.push(0);
        for bad in [
            vec![],
            vec![EMPTY],
            unbounded,
            null_bound,
            long_bound,
            trailing,
            whole[..whole.len() - 1].to_vec(),
            whole[..3].to_vec(),
        ] {
            assert!(
                UnseenSpan::from_sql(&Type::TSTZ_RANGE, &bad).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn only_tstzrange_and_its_array_are_accepted() {
        assert!(<UnseenSpan as ToSql>::accepts(&Type::TSTZ_RANGE));
        assert!(<Vec<UnseenSpan> as ToSql>::accepts(&Type::TSTZ_RANGE_ARRAY));
        assert!(<Vec<UnseenSpan> as FromSql>::accepts(
            &Type::TSTZ_RANGE_ARRAY
        ));
        assert!(!<UnseenSpan as ToSql>::accepts(&Type::TS_RANGE));
        assert!(!<UnseenSpan as FromSql>::accepts(&Type::TIMESTAMPTZ));
    }
}
