//! Every query the API runs, and the config → database sync. All parameterised.
//!
//! Owns the shapes the API returns ([`PassageView`], [`ClipView`], [`CountRow`], ...) and the
//! keyset [`Cursor`] of plate search:
//! - exact and wildcard results come newest first, the cursor is (best_at, id);
//! - fuzzy results come by likelihood ([`crate::plate::search::fuzzy_cost`]), then newest first; every hit is
//!   ranked in the database and the cursor is (cost, best_at, id).
//!   A new passage never shifts a page the user has seen.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use super::StoreError;
use crate::config::Config;
use crate::plate::search::PlateQuery;

/// The clip segment holding a passage's best frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipLink {
    /// Clip id.
    pub id: i64,
    /// Where the page plays it.
    pub url: String,
    /// Offset of the best frame in the segment.
    pub offset_ms: i64,
    /// Segment start.
    pub started_at: DateTime<Utc>,
    /// Segment SHA-256.
    pub sha256: String,
}

/// Which plate candidate matched a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchInfo {
    /// The candidate's key.
    pub plate_key: String,
    /// Its rank in the vote (1 = the voted plate).
    pub rank: i16,
    /// Edit distance from the query (0 for exact and wildcard hits).
    pub distance: u32,
}

/// A plate candidate of a passage.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// 1 = voted.
    pub rank: i16,
    /// Key.
    pub plate_key: String,
    /// Score 0..1.
    pub confidence: f32,
}

/// A passage as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PassageView {
    /// Id (with `best_at`, the row's key).
    pub id: i64,
    /// Camera name.
    pub camera: String,
    /// Junction name, if the camera has one.
    pub junction: Option<String>,
    /// First seen.
    pub first_seen: DateTime<Utc>,
    /// Last seen.
    pub last_seen: DateTime<Utc>,
    /// Snapshot time.
    pub best_at: DateTime<Utc>,
    /// Vehicle class.
    pub vehicle_class: String,
    /// Voted plate key.
    pub plate_key: Option<String>,
    /// Voted plate, national display form.
    pub plate_display: Option<String>,
    /// Vote confidence.
    pub plate_confidence: Option<f32>,
    /// Whether the plate fits the Vietnamese grammar.
    pub is_vietnamese: Option<bool>,
    /// `along`, `against`, `unknown`.
    pub direction: String,
    /// Counting-line crossing; `None` when the camera has no line.
    pub crossed_line: Option<bool>,
    /// The segment with the best frame, if recorded.
    pub clip: Option<ClipLink>,
    /// Snapshot URL, if a snapshot was saved.
    pub snapshot_url: Option<String>,
    /// Snapshot file (not shown to clients).
    #[serde(skip)]
    pub snapshot_path: Option<String>,
    /// In search results: the candidate that matched.
    #[serde(rename = "match", skip_serializing_if = "Option::is_none")]
    pub matched: Option<MatchInfo>,
    /// In the detail view: all candidates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<Candidate>>,
}

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
    pub vehicle_class: Option<String>,
}

/// One page of search results.
#[derive(Debug, Clone, Serialize)]
pub struct SearchPage {
    /// The passages.
    pub items: Vec<PassageView>,
    /// Cursor for the next page, if there may be one.
    pub next_cursor: Option<String>,
}

const PASSAGE_COLUMNS: &str = "
    p.id, c.name, j.name, p.first_seen, p.last_seen, p.best_at, p.vehicle_class,
    p.plate_key, p.plate_display, p.plate_confidence, p.is_vietnamese, p.direction,
    p.crossed_line, cl.id, cl.started_at, cl.sha256, p.snapshot_path";

const PASSAGE_JOINS: &str = "
    JOIN cameras c ON c.id = p.camera_id
    LEFT JOIN junctions j ON j.id = c.junction_id
    LEFT JOIN LATERAL (
        SELECT id, started_at, sha256 FROM clips
        WHERE camera_id = p.camera_id AND started_at <= p.best_at AND ended_at >= p.best_at
        ORDER BY started_at DESC LIMIT 1) cl ON true";

/// Reads a row of `PASSAGE_COLUMNS` starting at column 0.
fn passage_from_row(row: &Row) -> PassageView {
    let id: i64 = row.get(0);
    let best_at: DateTime<Utc> = row.get(5);
    let clip_id: Option<i64> = row.get(13);
    let clip = clip_id.map(|clip_id| {
        let started_at: DateTime<Utc> = row.get(14);
        ClipLink {
            id: clip_id,
            url: format!("/api/clips/{clip_id}/video"),
            offset_ms: (best_at - started_at).num_milliseconds(),
            started_at,
            sha256: row.get(15),
        }
    });
    let snapshot_path: Option<String> = row.get(16);
    PassageView {
        id,
        camera: row.get(1),
        junction: row.get(2),
        first_seen: row.get(3),
        last_seen: row.get(4),
        best_at,
        vehicle_class: row.get(6),
        plate_key: row.get(7),
        plate_display: row.get(8),
        plate_confidence: row.get(9),
        is_vietnamese: row.get(10),
        direction: row.get(11),
        crossed_line: row.get(12),
        clip,
        snapshot_url: snapshot_path
            .as_ref()
            .map(|_| format!("/api/passages/{id}/snapshot.jpg")),
        snapshot_path,
        matched: None,
        candidates: None,
    }
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
fn class_filter(n: usize) -> String {
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
    let (after_t, after_id) = match cursor {
        Some(Cursor::Time { best_at, id }) => (Some(best_at), Some(id)),
        _ => (None, None),
    };
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
                &filter.vehicle_class,
                &fetch,
            ],
        )
        .await?;
    let mut items: Vec<PassageView> = rows
        .iter()
        .map(|row| {
            let mut p = passage_from_row(row);
            p.matched = Some(MatchInfo {
                rank: row.get(17),
                plate_key: row.get(18),
                distance: 0,
            });
            p
        })
        .collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|p| Cursor::Time {
            best_at: p.best_at,
            id: p.id,
        })
        .map(|c| c.encode());
    Ok(SearchPage { items, next_cursor })
}

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

/// [`crate::plate::search::fuzzy_cost`] in SQL for candidate row `r`: `$7` is the query, `$8` its folded form.
/// Rounding is half away from zero, as in Rust.
const FUZZY_COST_SQL: &str = "(
    levenshtein(r.plate_folded, $8) * 1000
    + greatest(levenshtein(r.plate_key, $7) - levenshtein(r.plate_folded, $8), 0) * 300
    + (greatest(r.rank, 1) - 1) * 100
    + floor((1 - least(greatest(r.confidence, 0), 1)) * 100 + 0.5))::int";

async fn search_fuzzy(
    client: &mut tokio_postgres::Client,
    key: &str,
    folded_keys: &[String],
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    // 1. Every candidate whose folded key is within one edit (index-only), the cheapest
    //    candidate per passage, ranked by cost then newest first, cut at the cursor and page:
    //    all in the database, so a vehicle passing thousands of times cannot crowd out
    //    better matches, and only the page comes back.
    let (after_cost, after_t, after_id) = match cursor {
        Some(Cursor::Cost { cost, best_at, id }) => (Some(cost as i32), Some(best_at), Some(id)),
        _ => (None, None, None),
    };
    let sql = format!(
        "WITH hits AS (
            SELECT DISTINCT ON (r.best_at, r.passage_id)
                r.passage_id, r.best_at, r.rank, r.plate_key, {FUZZY_COST_SQL} AS cost
            FROM plate_reads r
            WHERE r.plate_folded = ANY($1)
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
                &filter.vehicle_class,
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
    let mut ranked: Vec<FuzzyHit> = rows
        .iter()
        .map(|row| {
            let candidate: String = row.get(3);
            FuzzyHit {
                cost: row.get::<_, i32>(4).max(0) as u32,
                id: row.get(0),
                best_at: row.get(1),
                matched: MatchInfo {
                    distance: strsim::levenshtein(key, &candidate) as u32,
                    plate_key: candidate,
                    rank: row.get(2),
                },
            }
        })
        .collect();
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
    // 3. Only the page's passages are read.
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
        .map(|r| {
            let p = passage_from_row(r);
            (p.id, p)
        })
        .collect();
    let items = ranked
        .into_iter()
        .filter_map(|h| {
            let mut p = by_id.remove(&h.id)?;
            p.matched = Some(h.matched);
            Some(p)
        })
        .collect();
    Ok(SearchPage { items, next_cursor })
}

/// Passages newest first, without a plate condition (every passage, read or not).
pub async fn recent_passages(
    client: &tokio_postgres::Client,
    filter: &SearchFilter,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<SearchPage, StoreError> {
    let (after_t, after_id) = match cursor {
        Some(Cursor::Time { best_at, id }) => (Some(best_at), Some(id)),
        _ => (None, None),
    };
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
                &filter.vehicle_class,
                &fetch,
            ],
        )
        .await?;
    let mut items: Vec<PassageView> = rows.iter().map(passage_from_row).collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = more
        .then(|| items.last())
        .flatten()
        .map(|p| Cursor::Time {
            best_at: p.best_at,
            id: p.id,
        })
        .map(|c| c.encode());
    Ok(SearchPage { items, next_cursor })
}

/// One passage with its candidates; `None` if there is no such id.
pub async fn passage(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<PassageView>, StoreError> {
    let sql = format!("SELECT {PASSAGE_COLUMNS} FROM passages p {PASSAGE_JOINS} WHERE p.id = $1");
    let Some(row) = client.query_opt(&sql, &[&id]).await? else {
        return Ok(None);
    };
    let mut p = passage_from_row(&row);
    let reads = client
        .query(
            "SELECT rank, plate_key, confidence FROM plate_reads
             WHERE passage_id = $1 AND best_at = $2 ORDER BY rank",
            &[&p.id, &p.best_at],
        )
        .await?;
    p.candidates = Some(
        reads
            .iter()
            .map(|r| Candidate {
                rank: r.get(0),
                plate_key: r.get(1),
                confidence: r.get(2),
            })
            .collect(),
    );
    Ok(Some(p))
}

/// The snapshot file of passage `id`: `None` if there is no such passage, `Some(None)` if it
/// has no snapshot. (What the snapshot endpoint needs, without the joins and candidates of
/// [`passage`]: the page asks for one per result row.)
pub async fn snapshot_path(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(client
        .query_opt("SELECT snapshot_path FROM passages WHERE id = $1", &[&id])
        .await?
        .map(|r| r.get(0)))
}

/// Vehicles counted in one bucket, class and direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountRow {
    /// Bucket start.
    pub bucket_start: DateTime<Utc>,
    /// Vehicle class.
    pub vehicle_class: String,
    /// Direction.
    pub direction: String,
    /// Vehicles.
    pub count: i64,
}

/// Counting bucket sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// 15 minutes.
    Quarter,
    /// 1 hour.
    Hour,
    /// 1 day (a local day in Asia/Ho_Chi_Minh).
    Day,
}

impl Bucket {
    /// `15m`, `1h` or `1d`.
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "15m" => Some(Bucket::Quarter),
            "1h" => Some(Bucket::Hour),
            "1d" => Some(Bucket::Day),
            _ => None,
        }
    }

    /// The bucket's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Bucket::Quarter => "15m",
            Bucket::Hour => "1h",
            Bucket::Day => "1d",
        }
    }

    /// Its length.
    pub fn length(&self) -> TimeDelta {
        match self {
            Bucket::Quarter => TimeDelta::minutes(15),
            Bucket::Hour => TimeDelta::hours(1),
            Bucket::Day => TimeDelta::days(1),
        }
    }
}

/// Vehicles per bucket × class × direction at a junction's cameras in [from, to). A camera
/// with a counting line counts the passages that crossed it; one without counts every
/// passage. Buckets are aligned to local midnight (UTC+7).
pub async fn counts(
    client: &tokio_postgres::Client,
    junction_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
) -> Result<Vec<CountRow>, StoreError> {
    let seconds = bucket.length().num_seconds() as f64;
    let rows = client
        .query(
            "SELECT date_bin(make_interval(secs => $4), p.best_at,
                             timestamptz '2000-01-01 00:00:00+07') AS b,
                    p.vehicle_class, p.direction, count(*)
             FROM passages p JOIN cameras c ON c.id = p.camera_id
             WHERE c.junction_id = $1 AND p.best_at >= $2 AND p.best_at < $3
               AND p.crossed_line IS NOT FALSE
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            &[&junction_id, &from, &to, &seconds],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| CountRow {
            bucket_start: r.get(0),
            vehicle_class: r.get(1),
            direction: r.get(2),
            count: r.get(3),
        })
        .collect())
}

/// A clip segment as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClipView {
    /// Id.
    pub id: i64,
    /// Camera name.
    pub camera: String,
    /// Segment start.
    pub started_at: DateTime<Utc>,
    /// Segment end.
    pub ended_at: DateTime<Utc>,
    /// File size.
    pub bytes: i64,
    /// SHA-256 recorded when the segment closed.
    pub sha256: String,
    /// Where to play it.
    pub url: String,
    /// File path (not shown to clients).
    #[serde(skip)]
    pub path: String,
}

fn clip_from_row(r: &Row) -> ClipView {
    let id: i64 = r.get(0);
    ClipView {
        id,
        camera: r.get(1),
        started_at: r.get(2),
        ended_at: r.get(3),
        bytes: r.get(4),
        sha256: r.get(5),
        url: format!("/api/clips/{id}/video"),
        path: r.get(6),
    }
}

/// Segments of `camera_id` overlapping [from, to), in time order.
pub async fn clips(
    client: &tokio_postgres::Client,
    camera_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<ClipView>, StoreError> {
    let rows = client
        .query(
            "SELECT cl.id, c.name, cl.started_at, cl.ended_at, cl.bytes, cl.sha256, cl.path
             FROM clips cl JOIN cameras c ON c.id = cl.camera_id
             WHERE cl.camera_id = $1 AND cl.started_at < $3 AND cl.ended_at > $2
             ORDER BY cl.started_at",
            &[&camera_id, &from, &to],
        )
        .await?;
    Ok(rows.iter().map(clip_from_row).collect())
}

/// One segment by id.
pub async fn clip(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<ClipView>, StoreError> {
    let row = client
        .query_opt(
            "SELECT cl.id, c.name, cl.started_at, cl.ended_at, cl.bytes, cl.sha256, cl.path
             FROM clips cl JOIN cameras c ON c.id = cl.camera_id WHERE cl.id = $1",
            &[&id],
        )
        .await?;
    Ok(row.as_ref().map(clip_from_row))
}

/// A camera as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Junction name.
    pub junction: Option<String>,
    /// Whether it is configured to run.
    pub enabled: bool,
    /// `recording` (a segment closed in the last 3 minutes), `offline`, or `never`.
    pub status: String,
    /// End of the newest segment.
    pub last_clip_at: Option<DateTime<Utc>>,
    /// Newest passage.
    pub last_passage_at: Option<DateTime<Utc>>,
    /// Passages in the last 24 hours.
    pub passages_24h: i64,
}

/// All cameras, by name.
pub async fn cameras(client: &tokio_postgres::Client) -> Result<Vec<CameraView>, StoreError> {
    let rows = client
        .query(
            "SELECT c.id, c.name, j.name, c.enabled,
                    (SELECT max(ended_at) FROM clips WHERE camera_id = c.id),
                    (SELECT max(best_at) FROM passages WHERE camera_id = c.id),
                    (SELECT count(*) FROM passages
                     WHERE camera_id = c.id AND best_at > now() - interval '24 hours')
             FROM cameras c LEFT JOIN junctions j ON j.id = c.junction_id
             ORDER BY c.name",
            &[],
        )
        .await?;
    let now = Utc::now();
    Ok(rows
        .iter()
        .map(|r| {
            let last_clip_at: Option<DateTime<Utc>> = r.get(4);
            let status = match last_clip_at {
                None => "never",
                Some(t) if now - t < TimeDelta::minutes(3) => "recording",
                Some(_) => "offline",
            };
            CameraView {
                id: r.get(0),
                name: r.get(1),
                junction: r.get(2),
                enabled: r.get(3),
                status: status.to_string(),
                last_clip_at,
                last_passage_at: r.get(5),
                passages_24h: r.get(6),
            }
        })
        .collect())
}

/// A junction with its cameras.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JunctionView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Kilometre marker on the road.
    pub km_marker: Option<f64>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Camera names.
    pub cameras: Vec<String>,
}

/// All junctions, by name.
pub async fn junctions(client: &tokio_postgres::Client) -> Result<Vec<JunctionView>, StoreError> {
    let rows = client
        .query(
            "SELECT j.id, j.name, j.km_marker, j.lat, j.lon,
                    coalesce(array_agg(c.name ORDER BY c.name) FILTER (WHERE c.name IS NOT NULL), '{}')
             FROM junctions j LEFT JOIN cameras c ON c.junction_id = j.id
             GROUP BY j.id ORDER BY j.name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| JunctionView {
            id: r.get(0),
            name: r.get(1),
            km_marker: r.get(2),
            lat: r.get(3),
            lon: r.get(4),
            cameras: r.get(5),
        })
        .collect())
}

/// Id of the camera `name`.
pub async fn camera_id(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_opt("SELECT id FROM cameras WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0)))
}

/// Id of the junction `name`.
pub async fn junction_id(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<Option<i64>, StoreError> {
    Ok(client
        .query_opt("SELECT id FROM junctions WHERE name = $1", &[&name])
        .await?
        .map(|r| r.get(0)))
}

/// Ids of the cameras at junction `junction_id`.
pub async fn junction_camera_ids(
    client: &tokio_postgres::Client,
    junction_id: i64,
) -> Result<Vec<i64>, StoreError> {
    Ok(client
        .query(
            "SELECT id FROM cameras WHERE junction_id = $1",
            &[&junction_id],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

/// Id of the camera `name`, created (unconfigured) if new.
pub async fn camera_id_or_create(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<i64, StoreError> {
    client
        .execute(
            "INSERT INTO cameras (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
            &[&name],
        )
        .await?;
    Ok(client
        .query_one("SELECT id FROM cameras WHERE name = $1", &[&name])
        .await?
        .get(0))
}

/// `source` without a password: `rtsp://user:secret@host/` → `rtsp://user@host/`.
pub fn redact_source(source: &str) -> String {
    if let Some((scheme, rest)) = source.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            let sep = if rest.contains('/') { "/" } else { "" };
            return format!("{scheme}://{user}@{host}{sep}{path}");
        }
    }
    source.to_string()
}

/// Writes the config's junctions and cameras into the log (insert or update by name).
pub async fn sync_config(
    client: &tokio_postgres::Client,
    config: &Config,
) -> Result<(), StoreError> {
    for j in &config.junctions {
        client
            .execute(
                "INSERT INTO junctions (name, km_marker, lat, lon) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE
                 SET km_marker = EXCLUDED.km_marker, lat = EXCLUDED.lat, lon = EXCLUDED.lon",
                &[&j.name, &j.km_marker, &j.lat, &j.lon],
            )
            .await?;
    }
    for c in &config.cameras {
        let junction = match &c.junction {
            Some(name) => junction_id(client, name).await?,
            None => None,
        };
        let source = c.source.as_deref().map(redact_source);
        let road: Vec<f32> = c.road_direction.to_vec();
        let line: Option<Vec<f32>> = c.counting_line.map(|[a, b]| vec![a[0], a[1], b[0], b[1]]);
        client
            .execute(
                "INSERT INTO cameras (name, junction_id, source, road_direction, counting_line, enabled)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (name) DO UPDATE
                 SET junction_id = EXCLUDED.junction_id, source = EXCLUDED.source,
                     road_direction = EXCLUDED.road_direction,
                     counting_line = EXCLUDED.counting_line, enabled = EXCLUDED.enabled",
                &[&c.name, &junction, &source, &road, &line, &c.enabled],
            )
            .await?;
    }
    Ok(())
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

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_source("rtsp://admin:hunter2@10.0.0.5:554/Streaming/101"),
            "rtsp://admin@10.0.0.5:554/Streaming/101"
        );
        assert_eq!(redact_source("rtsp://10.0.0.5/x"), "rtsp://10.0.0.5/x");
        assert_eq!(redact_source("/videos/cam.mp4"), "/videos/cam.mp4");
        assert_eq!(redact_source("rtsp://u:p@host"), "rtsp://u@host");
    }

    #[test]
    fn buckets_parse() {
        assert_eq!(Bucket::parse("15m"), Some(Bucket::Quarter));
        assert_eq!(
            Bucket::parse("1d").map(|b| b.length()),
            Some(TimeDelta::days(1))
        );
        assert_eq!(Bucket::parse("2h"), None);
    }
}
