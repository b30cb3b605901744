//! Plate search and the recent-passages list: the keyset [`Cursor`], the filters and the page.
//!
//! Exact and wildcard results come newest first and their cursor is (best_at, id); fuzzy
//! results (see [`super::fuzzy`]) come by likelihood and their cursor is (cost, best_at, id).
//! A new passage never shifts a page the user has seen.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::fuzzy::search_fuzzy;
use super::passage::{
    parsed, passage_from_row, MatchInfo, PassageView, PASSAGE_COLUMNS, PASSAGE_COLUMN_COUNT,
    PASSAGE_JOINS,
};
use crate::plate::search::PlateQuery;
use crate::scene::VehicleClass;
use crate::store::StoreError;

/// Where a plate search continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// After this (best_at, id), newest first.
    Time {
        /// Last item's best_at.
        best_at: DateTime<Utc>,
        /// Last item's id.
        id: i64,
    },
    /// After this (cost, best_at, id): cost ascending, then newest first.
    Cost {
        /// Last item's cost.
        cost: u32,
        /// Last item's best_at.
        best_at: DateTime<Utc>,
        /// Last item's id.
        id: i64,
    },
}

impl Cursor {
    /// Where a newest-first page resumes: the time and id of the last row shown, or nothing
    /// for the first page (or a cursor of another kind).
    fn time_position(cursor: Option<Cursor>) -> (Option<DateTime<Utc>>, Option<i64>) {
        match cursor {
            Some(Cursor::Time { best_at, id }) => (Some(best_at), Some(id)),
            _ => (None, None),
        }
    }

    /// Text form: `t.<µs>.<id>` or `f.<cost>.<µs>.<id>`.
    pub fn encode(&self) -> String {
        match self {
            Cursor::Time { best_at, id } => format!("t.{}.{id}", best_at.timestamp_micros()),
            Cursor::Cost { cost, best_at, id } => {
                format!("f.{cost}.{}.{id}", best_at.timestamp_micros())
            }
        }
    }

    /// Parses [`Cursor::encode`]'s form; `None` for anything else.
    pub fn decode(s: &str) -> Option<Cursor> {
        let parts: Vec<&str> = s.split('.').collect();
        let time = |us: &str| DateTime::from_timestamp_micros(us.parse().ok()?);
        match parts.as_slice() {
            ["t", t, id] => Some(Cursor::Time {
                best_at: time(t)?,
                id: id.parse().ok()?,
            }),
            ["f", cost, t, id] => Some(Cursor::Cost {
                cost: cost.parse().ok()?,
                best_at: time(t)?,
                id: id.parse().ok()?,
            }),
            _ => None,
        }
    }
}

/// Filters of a plate search.
#[derive(Debug, Clone, Default)]
pub struct SearchFilter {
    /// best_at ≥ from.
    pub from: Option<DateTime<Utc>>,
    /// best_at < to.
    pub to: Option<DateTime<Utc>>,
    /// Only these cameras (resolved from camera or junction names).
    pub camera_ids: Option<Vec<i64>>,
    /// Only this vehicle class.
    pub vehicle_class: Option<VehicleClass>,
}

impl SearchFilter {
    /// The class filter as the database spells it (a query parameter).
    pub(super) fn class_name(&self) -> Option<&'static str> {
        self.vehicle_class.map(VehicleClass::as_str)
    }
}

/// One page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// The passages.
    pub items: Vec<PassageView>,
    /// Cursor for the next page, if there may be one.
    pub next_cursor: Option<String>,
}

/// Plate search. `limit` is clamped to 1..=500 by the caller.
pub async fn search_passages(
    client: &mut tokio_postgres::Client,
    query: &PlateQuery,
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    match query {
        PlateQuery::Exact(key) => {
            search_by_time(client, "r.plate_key = $1", key, filter, limit, cursor).await
        }
        PlateQuery::Wildcard { like, .. } => {
            // A literal start: B-tree range on the key. A wildcard start but a literal end:
            // B-tree range on the reversed key. Wildcards at both ends: trigram index.
            let starts_literal = !like.starts_with(['%', '_']);
            let ends_literal = !like.ends_with(['%', '_']);
            if !starts_literal && ends_literal {
                let reversed: String = like.chars().rev().collect();
                let condition = "reverse(r.plate_key) COLLATE \"C\" LIKE $1";
                search_by_time(client, condition, &reversed, filter, limit, cursor).await
            } else {
                search_by_time(client, "r.plate_key LIKE $1", like, filter, limit, cursor).await
            }
        }
        PlateQuery::Fuzzy { key, folded_keys } => {
            search_fuzzy(client, key, folded_keys, filter, limit, cursor).await
        }
    }
}

/// SQL keeping hits `r` of the vehicle class in parameter `$n` (none: all), applied inside the
/// hit scan so that the page limit holds.
pub(super) fn class_filter(n: usize) -> String {
    format!(
        "(${n}::text IS NULL OR EXISTS (
            SELECT 1 FROM passages q
            WHERE q.id = r.passage_id AND q.best_at = r.best_at AND q.vehicle_class = ${n}))"
    )
}

async fn search_by_time(
    client: &tokio_postgres::Client,
    condition: &str,
    value: &str,
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    let (after_t, after_id) = Cursor::time_position(cursor);
    // The page is cut from the hits alone (index-only on plate_reads), newest first; only
    // those passages are then joined. One passage may match with several candidates (a
    // wildcard): it counts once, with its best-ranked match.
    let sql = format!(
        "WITH hits AS (
            SELECT DISTINCT ON (r.best_at, r.passage_id) r.passage_id, r.best_at, r.rank, r.plate_key
            FROM plate_reads r
            WHERE {condition}
              AND ($2::timestamptz IS NULL OR r.best_at >= $2)
              AND ($3::timestamptz IS NULL OR r.best_at < $3)
              AND ($4::bigint[] IS NULL OR r.camera_id = ANY($4))
              AND ($5::timestamptz IS NULL OR (r.best_at, r.passage_id) < ($5, $6::bigint))
              AND {class}
            ORDER BY r.best_at DESC, r.passage_id DESC, r.rank
            LIMIT $8)
        SELECT {PASSAGE_COLUMNS}, hits.rank, hits.plate_key
        FROM hits JOIN passages p ON p.id = hits.passage_id AND p.best_at = hits.best_at
        {PASSAGE_JOINS}
        ORDER BY p.best_at DESC, p.id DESC",
        class = class_filter(7)
    );
    let fetch = limit as i64 + 1;
    let rows = client
        .query(
            &sql,
            &[
                &value,
                &filter.from,
                &filter.to,
                &filter.camera_ids,
                &after_t,
                &after_id,
                &filter.class_name(),
                &fetch,
            ],
        )
        .await?;
    let mut items: Vec<PassageView> = rows
        .iter()
        .map(|row| {
            let mut p = passage_from_row(row)?;
            p.matched = Some(MatchInfo {
                rank: row.get(PASSAGE_COLUMN_COUNT),
                plate_key: parsed(row, PASSAGE_COLUMN_COUNT + 1, "plate_key")?,
                distance: 0,
            });
            Ok(p)
        })
        .collect::<Result<_, StoreError>>()?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|p| Cursor::Time {
            best_at: p.facts.best_at,
            id: p.id,
        })
        .map(|c| c.encode());
    Ok(SearchPage { items, next_cursor })
}

/// Passages newest first, without a plate condition (every passage, read or not).
pub async fn recent_passages(
    client: &tokio_postgres::Client,
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    let (after_t, after_id) = Cursor::time_position(cursor);
    let sql = format!(
        "SELECT {PASSAGE_COLUMNS} FROM passages p {PASSAGE_JOINS}
         WHERE ($1::timestamptz IS NULL OR p.best_at >= $1)
           AND ($2::timestamptz IS NULL OR p.best_at < $2)
           AND ($3::bigint[] IS NULL OR p.camera_id = ANY($3))
           AND ($4::timestamptz IS NULL OR (p.best_at, p.id) < ($4, $5::bigint))
           AND ($6::text IS NULL OR p.vehicle_class = $6)
         ORDER BY p.best_at DESC, p.id DESC
         LIMIT $7"
    );
    let fetch = limit as i64 + 1;
    let rows = client
        .query(
            &sql,
            &[
                &filter.from,
                &filter.to,
                &filter.camera_ids,
                &after_t,
                &after_id,
                &filter.class_name(),
                &fetch,
            ],
        )
        .await?;
    let mut items: Vec<PassageView> = rows
        .iter()
        .map(passage_from_row)
        .collect::<Result<_, _>>()?;
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|p| Cursor::Time {
            best_at: p.facts.best_at,
            id: p.id,
        })
        .map(|c| c.encode());
    Ok(SearchPage { items, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let t = DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        for c in [
            Cursor::Time { best_at: t, id: 42 },
            Cursor::Cost {
                cost: 610,
                best_at: t,
                id: 7,
            },
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
        for junk in [
            "", "t", "t.1", "t.x.1", "f.1.2", "z.1.2", "t.1.2.3", "f.-1.2.3",
        ] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
    }
}
