//! Fuzzy plate search: candidates whose folded key is within one edit of the query, ranked
//! in the database by [`crate::plate::search::fuzzy_cost`]'s rule written in SQL, then newest
//! first; only the page's passages are read.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::passage::{
    parsed, passage_from_row, MatchInfo, PassageView, PASSAGE_COLUMNS, PASSAGE_JOINS,
};
use super::search::{class_filter, Cursor, SearchFilter, SearchPage};
use crate::plate::search::PlateQuery;
use crate::plate::PlateKey;
use crate::store::StoreError;

/// A fuzzy hit before its passage is read.
struct FuzzyHit {
    /// Likelihood cost ([`crate::plate::search::fuzzy_cost`], computed in SQL).
    cost: u32,
    /// Passage id.
    id: i64,
    /// Passage best_at (its partition key).
    best_at: DateTime<Utc>,
    /// The matching candidate.
    matched: MatchInfo,
}

/// Which candidate rows `r` a fuzzy query matches: the folded key is one of parameter `$n`
/// (the query's one-edit neighbourhood, [`PlateQuery::Fuzzy`]'s `folded_keys`).
fn matches_sql(n: usize) -> String {
    format!("r.plate_folded = ANY(${n})")
}

/// [`crate::plate::search::fuzzy_cost`] in SQL for candidate row `r`: `$query` is the query,
/// `$folded` its folded form. The confidence term is computed in double precision and rounded
/// half up (NaN sorts above every number, so it clamps to 1); `tests/fuzzy_rank.rs` holds the
/// two equal.
fn cost_sql(query: usize, folded: usize) -> String {
    format!(
        "(
    levenshtein(r.plate_folded, ${folded}) * 1000
    + greatest(levenshtein(r.plate_key, ${query}) - levenshtein(r.plate_folded, ${folded}), 0) * 300
    + (greatest(r.rank, 1) - 1) * 100
    + floor((1 - least(greatest(r.confidence, 0), 1)) * 100 + 0.5))::int"
    )
}

/// Fuzzy search for `key` (whose folded one-edit neighbourhood is `folded_keys`).
pub(super) async fn search_fuzzy(
    client: &mut tokio_postgres::Client,
    key: &str,
    folded_keys: &[String],
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    let mut ranked = rank_hits(client, key, folded_keys, filter, limit, cursor).await?;
    let more = ranked.len() > limit;
    ranked.truncate(limit);
    let next_cursor = more
        .then(|| ranked.last())
        .flatten()
        .map(|h| Cursor::Cost {
            cost: h.cost,
            best_at: h.best_at,
            id: h.id,
        })
        .map(|c| c.encode());
    let items = read_page(client, ranked).await?;
    Ok(SearchPage { items, next_cursor })
}

/// Step 1: every candidate whose folded key is within one edit (index-only), the cheapest
/// candidate per passage, ranked by cost then newest first, cut at the cursor and paged (one
/// more than `limit`, to tell whether a next page exists): all in the database, so a vehicle
/// passing thousands of times cannot crowd out better matches, and only the page comes back.
async fn rank_hits(
    client: &mut tokio_postgres::Client,
    key: &str,
    folded_keys: &[String],
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Vec<FuzzyHit>, StoreError> {
    let (after_cost, after_t, after_id) = match cursor {
        Some(Cursor::Cost { cost, best_at, id }) => (Some(cost as i32), Some(best_at), Some(id)),
        _ => (None, None, None),
    };
    let sql = format!(
        "WITH hits AS (
            SELECT DISTINCT ON (r.best_at, r.passage_id)
                r.passage_id, r.best_at, r.rank, r.plate_key, {cost} AS cost
            FROM plate_reads r
            WHERE {matches}
              AND ($2::timestamptz IS NULL OR r.best_at >= $2)
              AND ($3::timestamptz IS NULL OR r.best_at < $3)
              AND ($4::bigint[] IS NULL OR r.camera_id = ANY($4))
              AND {class}
            ORDER BY r.best_at, r.passage_id, cost)
        SELECT passage_id, best_at, rank, plate_key, cost FROM hits
        WHERE $9::int IS NULL
           OR cost > $9 OR (cost = $9 AND (best_at, passage_id) < ($10, $11::bigint))
        ORDER BY cost, best_at DESC, passage_id DESC
        LIMIT $6",
        cost = cost_sql(7, 8),
        matches = matches_sql(1),
        class = class_filter(5)
    );
    let folded = crate::plate::fold_confusions(key);
    let fetch = limit as i64 + 1;
    // A custom plan for ~500 keys × 12 monthly partitions takes longer to plan (40 ms at 10 M
    // passages) than the generic plan takes to run: force the generic plan for this statement
    // only. Dropping the transaction (a cancelled request) rolls it back.
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL plan_cache_mode = force_generic_plan")
        .await?;
    let rows = tx
        .query(
            &sql,
            &[
                &folded_keys,
                &filter.from,
                &filter.to,
                &filter.camera_ids,
                &filter.class_name(),
                &fetch,
                &key,
                &folded,
                &after_cost,
                &after_t,
                &after_id,
            ],
        )
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            let candidate: PlateKey = parsed(row, 3, "plate_key")?;
            Ok(FuzzyHit {
                cost: row.get::<_, i32>(4).max(0) as u32,
                id: row.get(0),
                best_at: row.get(1),
                matched: MatchInfo {
                    distance: strsim::levenshtein(key, candidate.as_str()) as u32,
                    plate_key: candidate,
                    rank: row.get(2),
                },
            })
        })
        .collect()
}

/// Step 2: only the page's passages are read, in the hits' order, each with its match.
async fn read_page(
    client: &tokio_postgres::Client,
    ranked: Vec<FuzzyHit>,
) -> Result<Vec<PassageView>, StoreError> {
    let ids: Vec<i64> = ranked.iter().map(|h| h.id).collect();
    let times: Vec<DateTime<Utc>> = ranked.iter().map(|h| h.best_at).collect();
    let sql = format!(
        "SELECT {PASSAGE_COLUMNS}
        FROM unnest($1::bigint[], $2::timestamptz[]) AS page(id, best_at)
        JOIN passages p ON p.id = page.id AND p.best_at = page.best_at
        {PASSAGE_JOINS}"
    );
    let rows = client.query(&sql, &[&ids, &times]).await?;
    let mut by_id: HashMap<i64, PassageView> = rows
        .iter()
        .map(|r| passage_from_row(r).map(|p| (p.id, p)))
        .collect::<Result<_, StoreError>>()?;
    Ok(ranked
        .into_iter()
        .filter_map(|h| {
            let mut p = by_id.remove(&h.id)?;
            p.matched = Some(h.matched);
            Some(p)
        })
        .collect())
}

/// A stored plate candidate, as the fuzzy search sees it in `plate_reads`.
#[derive(Debug, Clone, PartialEq)]
pub struct CandidateRead {
    /// Canonical key.
    pub key: String,
    /// Rank in the vote (1 = the voted plate).
    pub rank: i16,
    /// Score 0..1.
    pub confidence: f32,
}

/// The cost the fuzzy search gives each of `candidates` as an answer to `query`, computed by
/// the search's own SQL (match condition and cost), one per candidate in order; `None` where
/// the search would not match it, and all `None` for a query that is not fuzzy. What holds the
/// SQL rule equal to [`crate::plate::search::fuzzy_cost`] in the tests; reads no table.
pub async fn fuzzy_costs(
    client: &tokio_postgres::Client,
    query: &PlateQuery,
    candidates: &[CandidateRead],
) -> Result<Vec<Option<u32>>, StoreError> {
    let PlateQuery::Fuzzy { key, folded_keys } = query else {
        return Ok(vec![None; candidates.len()]);
    };
    let sql = format!(
        "SELECT CASE WHEN {matches} THEN {cost} END
        FROM unnest($4::text[], $5::text[], $6::smallint[], $7::real[])
            WITH ORDINALITY AS r(plate_key, plate_folded, rank, confidence, n)
        ORDER BY r.n",
        matches = matches_sql(1),
        cost = cost_sql(2, 3)
    );
    let folded = crate::plate::fold_confusions(key);
    // The writer stores each read's folded key the same way.
    let keys: Vec<&str> = candidates.iter().map(|c| c.key.as_str()).collect();
    let keys_folded: Vec<String> = keys
        .iter()
        .map(|k| crate::plate::fold_confusions(k))
        .collect();
    let ranks: Vec<i16> = candidates.iter().map(|c| c.rank).collect();
    let confidences: Vec<f32> = candidates.iter().map(|c| c.confidence).collect();
    let rows = client
        .query(
            &sql,
            &[
                folded_keys,
                key,
                &folded,
                &keys,
                &keys_folded,
                &ranks,
                &confidences,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.get::<_, Option<i32>>(0).map(|c| c.max(0) as u32))
        .collect())
}
