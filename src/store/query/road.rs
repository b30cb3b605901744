//! The road's queries: a plate's corridor (its passages by the plate search, grouped into
//! trips by [`crate::road`], with which passed-by junctions were recording), and the plates
//! seen travelling with a plate (companions).
//!
//! Both ride on existing indexes: `clips (camera_id, ended_at)`, `plate_reads (plate_key,
//! best_at)` and `passages (camera_id, best_at)`; a companion search is one index range scan
//! per target passage and camera of its junction.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::catalog::junctions;
use super::passage::{parsed_key, PassageView};
use super::search::{search_passages, Cursor, SearchFilter};
use crate::plate::search::PlateQuery;
use crate::plate::PlateKey;
use crate::road::{self, Place, RoadRules, Sighting, Trip};
use crate::store::StoreError;

/// Most passages one corridor reads (beyond: `truncated`).
pub const MAX_CORRIDOR_PASSAGES: usize = 5000;

/// One plate's corridor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VehicleCorridor {
    /// The plate (the matched candidate's key).
    pub plate_key: String,
    /// Its passages in the window.
    pub passages: usize,
    /// Hops faster than the road allows.
    pub impossible_hops: usize,
    /// Hops past a junction that was recording and did not see it.
    pub skipped_hops: usize,
    /// Its trips.
    pub trips: Vec<Trip>,
}

/// The corridor of a plate query: one [`VehicleCorridor`] per matched plate, most passages
/// first, and the road's junctions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Corridor {
    /// Junctions with a km marker, the chart's rows.
    pub junctions: Vec<Place>,
    /// More than [`MAX_CORRIDOR_PASSAGES`] passages matched; the newest were kept.
    pub truncated: bool,
    /// One per matched plate.
    pub vehicles: Vec<VehicleCorridor>,
}

/// The passages `plate` matches in [from, to) (by the plate search, so a plate ranked second
/// by a vote is found too), as trips across the junctions, with pass-bys checked against the
/// recordings.
pub async fn corridor(
    client: &mut tokio_postgres::Client,
    plate: &PlateQuery,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    rules: &RoadRules,
) -> Result<Corridor, StoreError> {
    let filter = SearchFilter {
        from: Some(from),
        to: Some(to),
        ..SearchFilter::default()
    };
    let mut passages: Vec<PassageView> = Vec::new();
    let mut cursor = None;
    let mut truncated = false;
    loop {
        let page = search_passages(client, plate, &filter, 500, cursor).await?;
        let more = page.next_cursor.as_deref().and_then(Cursor::decode);
        passages.extend(page.items);
        let full = passages.len() >= MAX_CORRIDOR_PASSAGES;
        if passages.len() > MAX_CORRIDOR_PASSAGES || (full && more.is_some()) {
            truncated = true;
            passages.truncate(MAX_CORRIDOR_PASSAGES);
        }
        match more {
            Some(c) if !full => cursor = Some(c),
            _ => break,
        }
    }
    let places: Vec<Place> = junctions(client)
        .await?
        .into_iter()
        .filter_map(|j| {
            j.km_marker.map(|km| Place {
                junction: j.name,
                km,
            })
        })
        .collect();

    // One corridor per matched plate (one for an exact search).
    let mut by_plate: BTreeMap<String, Vec<Sighting>> = BTreeMap::new();
    for v in passages {
        let key = v
            .matched
            .as_ref()
            .map(|m| m.plate_key.to_string())
            .or_else(|| v.facts.plate_key.as_ref().map(|k| k.to_string()))
            .unwrap_or_default();
        let km = v
            .junction
            .as_deref()
            .and_then(|name| places.iter().find(|p| p.junction == name).map(|p| p.km));
        by_plate.entry(key).or_default().push(Sighting {
            passage_id: v.id,
            at: v.facts.best_at,
            camera: v.camera,
            junction: v.junction,
            km,
            direction: v.facts.direction,
        });
    }
    let mut vehicles: Vec<VehicleCorridor> = by_plate
        .into_iter()
        .map(|(plate_key, s)| VehicleCorridor {
            plate_key,
            passages: s.len(),
            impossible_hops: 0,
            skipped_hops: 0,
            trips: road::corridor(s, &places, rules),
        })
        .collect();
    let checks: Vec<(String, DateTime<Utc>)> = vehicles
        .iter()
        .flat_map(|v| road::recording_checks(&v.trips))
        .collect();
    let answers = recording_at(client, &checks, rules.recording_slack()).await?;
    let mut offset = 0;
    for v in vehicles.iter_mut() {
        let n = road::recording_checks(&v.trips).len();
        road::mark_recording(&mut v.trips, answers.get(offset..offset + n).unwrap_or(&[]));
        offset += n;
        let hops = v.trips.iter().flat_map(|t| &t.hops);
        v.impossible_hops = hops.clone().filter(|h| h.impossible).count();
        v.skipped_hops = hops.filter(|h| h.skipped_recording).count();
    }
    vehicles.sort_by(|a, b| {
        b.passages
            .cmp(&a.passages)
            .then(a.plate_key.cmp(&b.plate_key))
    });
    Ok(Corridor {
        junctions: places,
        truncated,
        vehicles,
    })
}

/// For each (junction name, time): whether a segment of one of the junction's cameras covers
/// the time, give or take `slack`. Same order as `checks`.
pub async fn recording_at(
    client: &tokio_postgres::Client,
    checks: &[(String, DateTime<Utc>)],
    slack: TimeDelta,
) -> Result<Vec<bool>, StoreError> {
    if checks.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = checks.iter().map(|(j, _)| j.as_str()).collect();
    let times: Vec<DateTime<Utc>> = checks.iter().map(|(_, t)| *t).collect();
    let slack_s = slack.num_milliseconds() as f64 / 1000.0;
    let rows = client
        .query(
            // Segments of one camera do not overlap, so the first one ending after t - slack
            // is the only one that can cover [t - slack, t + slack]: one index probe each.
            "SELECT q.i, EXISTS (
                 SELECT 1 FROM junctions j
                 JOIN cameras c ON c.junction_id = j.id
                 CROSS JOIN LATERAL (
                     SELECT k.started_at FROM clips k
                     WHERE k.camera_id = c.id AND k.ended_at >= q.t - make_interval(secs => $3)
                     ORDER BY k.ended_at LIMIT 1) k
                 WHERE j.name = q.name AND k.started_at <= q.t + make_interval(secs => $3))
             FROM unnest($1::text[], $2::timestamptz[]) WITH ORDINALITY AS q(name, t, i)
             ORDER BY q.i",
            &[&names, &times, &slack_s],
        )
        .await?;
    Ok(rows.iter().map(|r| r.get::<_, bool>(1)).collect())
}

/// Limits of a companion search.
#[derive(Debug, Clone, Copy)]
pub struct CompanionSearch {
    /// The target's passages from this time.
    pub from: DateTime<Utc>,
    /// To this time (exclusive).
    pub to: DateTime<Utc>,
    /// Another plate counts as together when seen at the same junction within this much of
    /// the target.
    pub window: TimeDelta,
    /// Only plates seen together at this many distinct junctions or more.
    pub min_junctions: i64,
    /// At most this many plates.
    pub limit: i64,
}

/// A plate seen travelling with the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Companion {
    /// Its voted plate.
    pub plate_key: PlateKey,
    /// Display form of its latest passage with the target.
    pub plate_display: Option<String>,
    /// Distinct junctions where both were seen within the window.
    pub junctions: i64,
    /// Their names, in order of first meeting.
    pub junction_names: Vec<String>,
    /// Target passages it was near.
    pub times_together: i64,
    /// Mean gap to the target's passage, seconds (absolute).
    pub mean_gap_s: f64,
    /// First and last meeting.
    pub first_at: DateTime<Utc>,
    /// See `first_at`.
    pub last_at: DateTime<Utc>,
    /// Its passages near the target (at most 20, latest ids first).
    pub passage_ids: Vec<i64>,
}

/// Plates seen at the same junctions as `target` (its voted passages in the window), within
/// `search.window` of it, ranked by distinct shared junctions, then times together, then the
/// smallest mean gap. Returns the companions and how many target passages were looked at.
pub async fn companions(
    client: &mut tokio_postgres::Client,
    target: &str,
    search: &CompanionSearch,
) -> Result<(Vec<Companion>, i64), StoreError> {
    let window_s = search.window.num_milliseconds() as f64 / 1000.0;
    let key = target;
    // The planner cannot see the window when it plans the per-passage range scans and costs
    // them high enough to JIT-compile the query: seconds of compiling for a query that runs
    // in tens of milliseconds (measured at 10 M passages: 4.5 s with JIT, 0.13 s without).
    let client = client.transaction().await?;
    client.batch_execute("SET LOCAL jit = off").await?;
    let targets: i64 = client
        .query_one(
            "SELECT count(*) FROM plate_reads r
             WHERE r.plate_key = $1 AND r.rank = 1 AND r.best_at >= $2 AND r.best_at < $3",
            &[&key, &search.from, &search.to],
        )
        .await?
        .get(0);
    let rows = client
        .query(
            "WITH target AS (
                 SELECT p.id, p.best_at, c.junction_id
                 FROM plate_reads r
                 JOIN passages p ON p.id = r.passage_id AND p.best_at = r.best_at
                 JOIN cameras c ON c.id = p.camera_id
                 WHERE r.plate_key = $1 AND r.rank = 1 AND r.best_at >= $2 AND r.best_at < $3
                   AND c.junction_id IS NOT NULL
             ), near AS (
                 SELECT t.id AS target_id, t.junction_id, o.id, o.best_at, o.plate_key,
                        o.plate_display,
                        abs(extract(epoch FROM o.best_at - t.best_at))::float8 AS gap
                 FROM target t
                 JOIN cameras oc ON oc.junction_id = t.junction_id
                 JOIN passages o ON o.camera_id = oc.id
                     AND o.best_at >= t.best_at - make_interval(secs => $4)
                     AND o.best_at <= t.best_at + make_interval(secs => $4)
                 WHERE o.plate_key IS NOT NULL AND o.plate_key <> $1
             ), first_meeting AS (
                 SELECT plate_key, junction_id, min(best_at) AS at
                 FROM near GROUP BY plate_key, junction_id
             )
             SELECT n.plate_key,
                    (array_agg(n.plate_display ORDER BY n.best_at DESC))[1],
                    count(DISTINCT n.junction_id),
                    (SELECT array_agg(j.name ORDER BY f.at) FROM first_meeting f
                         JOIN junctions j ON j.id = f.junction_id
                         WHERE f.plate_key = n.plate_key),
                    count(DISTINCT n.target_id),
                    avg(n.gap),
                    min(n.best_at), max(n.best_at),
                    (array_agg(DISTINCT n.id))[1:20]
             FROM near n
             GROUP BY n.plate_key
             HAVING count(DISTINCT n.junction_id) >= $5
             ORDER BY 3 DESC, 5 DESC, 6 ASC, 1
             LIMIT $6",
            &[
                &key,
                &search.from,
                &search.to,
                &window_s,
                &search.min_junctions,
                &search.limit,
            ],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let plate_key = parsed_key(r, 0)?.ok_or(StoreError::BadValue {
            column: "plate_key",
            reason: "empty".into(),
        })?;
        let mut passage_ids: Vec<i64> = r.get(8);
        passage_ids.sort_unstable_by(|a, b| b.cmp(a));
        out.push(Companion {
            plate_key,
            plate_display: r.get(1),
            junctions: r.get(2),
            junction_names: r.get::<_, Option<Vec<String>>>(3).unwrap_or_default(),
            times_together: r.get(4),
            mean_gap_s: r.get::<_, Option<f64>>(5).unwrap_or(0.0),
            first_at: r.get(6),
            last_at: r.get(7),
            passage_ids,
        });
    }
    client.commit().await?;
    Ok((out, targets))
}
