//! A passage as the API shows it, and reading one: the view types ([`PassageView`] with its
//! [`ClipLink`], [`RunLink`], [`MatchInfo`] and [`Candidate`]s), the columns and joins every
//! passage query selects, and the look-ups of one passage and of its snapshot file.
//!
//! The class, direction, plate keys and unseen spans are parsed from the row here, once; a
//! value this build does not know (or a gap that is not a span with two ends) is a
//! [`StoreError::BadValue`]. They serialize as the names the database holds,
//! so the JSON is the same as when they were strings.

use std::error::Error as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Row;

use crate::plate::PlateKey;
use crate::store::{PassageFacts, StoreError, UnseenSpan};

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

/// The analysis run a re-read passage came from (`matthan reread`); a passage of the live
/// analysis has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLink {
    /// Run id.
    pub id: i64,
    /// What kind of run: `reread`.
    pub kind: String,
    /// Short hash of the models and settings that read it.
    pub model_version: String,
    /// When the run began.
    pub started_at: DateTime<Utc>,
}

/// Which plate candidate matched a search.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchInfo {
    /// The candidate's key.
    pub plate_key: PlateKey,
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
    pub plate_key: PlateKey,
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
    /// What was seen: times, class, voted plate, direction (flattened: its fields are the
    /// view's, in this place).
    #[serde(flatten)]
    pub facts: PassageFacts,
    /// The segment with the best frame, if recorded.
    pub clip: Option<ClipLink>,
    /// The re-read run that logged it; `None` for the live analysis.
    pub run: Option<RunLink>,
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

pub(super) const PASSAGE_COLUMNS: &str = "
    p.id, c.name, j.name, p.first_seen, p.last_seen, p.best_at, p.vehicle_class,
    p.plate_key, p.plate_display, p.plate_confidence, p.is_vietnamese, p.direction,
    p.crossed_line, cl.id, cl.started_at, cl.sha256, p.snapshot_path, p.partial_plate,
    p.partial_confidence, p.gaps, ar.id, ar.kind, ar.model_version, ar.started_at";

/// How many columns `PASSAGE_COLUMNS` selects: a query's own columns after them start here.
pub(super) const PASSAGE_COLUMN_COUNT: usize = 24;

pub(super) const PASSAGE_JOINS: &str = "
    JOIN cameras c ON c.id = p.camera_id
    LEFT JOIN junctions j ON j.id = c.junction_id
    LEFT JOIN LATERAL (
        SELECT id, started_at, sha256 FROM clips
        WHERE camera_id = p.camera_id AND started_at <= p.best_at AND ended_at >= p.best_at
        ORDER BY started_at DESC LIMIT 1) cl ON true
    LEFT JOIN analysis_runs ar ON ar.id = p.run_id";

/// Column `idx` of `row`, the text of `column`, parsed.
pub(super) fn parsed<T>(row: &Row, idx: usize, column: &'static str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    StoreError::parse_column(column, row.get::<_, &str>(idx))
}

/// Column `idx` of `row`, a nullable plate key, parsed.
pub(super) fn parsed_key(row: &Row, idx: usize) -> Result<Option<PlateKey>, StoreError> {
    row.get::<_, Option<&str>>(idx)
        .map(|k| StoreError::parse_column("plate_key", k))
        .transpose()
}

/// Reads a row of `PASSAGE_COLUMNS` starting at column 0.
pub(super) fn passage_from_row(row: &Row) -> Result<PassageView, StoreError> {
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
    let run = row.get::<_, Option<i64>>(20).map(|run_id| RunLink {
        id: run_id,
        kind: row.get(21),
        model_version: row.get(22),
        started_at: row.get(23),
    });
    Ok(PassageView {
        id,
        camera: row.get(1),
        junction: row.get(2),
        facts: PassageFacts {
            first_seen: row.get(3),
            last_seen: row.get(4),
            best_at,
            vehicle_class: parsed(row, 6, "vehicle_class")?,
            plate_key: parsed_key(row, 7)?,
            plate_display: row.get(8),
            plate_confidence: row.get(9),
            is_vietnamese: row.get(10),
            direction: parsed(row, 11, "direction")?,
            crossed_line: row.get(12),
            partial_plate: row
                .get::<_, Option<&str>>(17)
                .map(|k| StoreError::parse_column("partial_plate", k))
                .transpose()?,
            partial_confidence: row.get(18),
            gaps: row
                .try_get::<_, Option<Vec<UnseenSpan>>>(19)
                .map_err(|e| StoreError::BadValue {
                    column: "gaps",
                    reason: e.source().map_or_else(|| e.to_string(), |s| s.to_string()),
                })?
                .unwrap_or_default(),
        },
        clip,
        run,
        snapshot_url: snapshot_path
            .as_ref()
            .map(|_| format!("/api/passages/{id}/snapshot.jpg")),
        snapshot_path,
        matched: None,
        candidates: None,
    })
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
    let mut p = passage_from_row(&row)?;
    let reads = client
        .query(
            "SELECT rank, plate_key, confidence FROM plate_reads
             WHERE passage_id = $1 AND best_at = $2 ORDER BY rank",
            &[&p.id, &p.facts.best_at],
        )
        .await?;
    p.candidates = Some(
        reads
            .iter()
            .map(|r| {
                Ok(Candidate {
                    rank: r.get(0),
                    plate_key: parsed(r, 1, "plate_key")?,
                    confidence: r.get(2),
                })
            })
            .collect::<Result<_, StoreError>>()?,
    );
    Ok(Some(p))
}

/// Where a passage's snapshot is: the file, and the node whose disk holds it (`None`: the
/// disk of whoever reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    /// The file; `None` when no snapshot was saved.
    pub path: Option<String>,
    /// Its node.
    pub node_id: Option<i64>,
}

/// The snapshot file of passage `id`: `None` if there is no such passage. (What the snapshot
/// endpoint needs, without the joins and candidates of [`passage`]: the page asks for one per
/// result row.)
pub async fn snapshot_path(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<SnapshotFile>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT snapshot_path, node_id FROM passages WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| SnapshotFile {
            path: r.get(0),
            node_id: r.get(1),
        }))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::scene::VehicleClass;
    use crate::track::Direction;

    /// The shared facts are flattened into the view: the JSON has the same field names in the
    /// same order as when they were the view's own fields.
    #[test]
    fn the_view_serializes_its_facts_in_place() {
        let at = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let view = PassageView {
            id: 3,
            camera: "cam".into(),
            junction: None,
            facts: PassageFacts {
                first_seen: at,
                last_seen: at,
                best_at: at,
                vehicle_class: VehicleClass::Car,
                plate_key: Some("29B125662".parse().unwrap()),
                plate_display: Some("29-B1 256.62".into()),
                plate_confidence: Some(0.5),
                is_vietnamese: Some(true),
                direction: Direction::Along,
                crossed_line: None,
                partial_plate: None,
                partial_confidence: None,
                gaps: vec![UnseenSpan {
                    from: at,
                    to: at + chrono::TimeDelta::milliseconds(2_400),
                }],
            },
            clip: None,
            run: None,
            snapshot_url: None,
            snapshot_path: Some("x.jpg".into()),
            matched: None,
            candidates: Some(vec![]),
        };
        let t = "\"2023-11-14T22:13:20Z\"";
        let expected = format!(
            "{{\"id\":3,\"camera\":\"cam\",\"junction\":null,\"first_seen\":{t},\
             \"last_seen\":{t},\"best_at\":{t},\"vehicle_class\":\"car\",\
             \"plate_key\":\"29B125662\",\"plate_display\":\"29-B1 256.62\",\
             \"plate_confidence\":0.5,\"is_vietnamese\":true,\"direction\":\"along\",\
             \"crossed_line\":null,\"partial_plate\":null,\"partial_confidence\":null,\
             \"gaps\":[{{\"from\":{t},\"to\":\"2023-11-14T22:13:22.400Z\"}}],\
             \"clip\":null,\"run\":null,\"snapshot_url\":null,\"candidates\":[]}}"
        );
        assert_eq!(serde_json::to_string(&view).unwrap(), expected);
        // A re-read passage names its run.
        let view = PassageView {
            run: Some(RunLink {
                id: 7,
                kind: "reread".into(),
                model_version: "0123456789abcdef".into(),
                started_at: at,
            }),
            ..view
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["run"],
            serde_json::json!({"id": 7, "kind": "reread",
                "model_version": "0123456789abcdef", "started_at": "2023-11-14T22:13:20Z"})
        );
    }
}
