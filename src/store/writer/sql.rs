//! The writer's SQL: the per-connection staging tables the batch is `COPY`'d into (with the
//! column types of the binary copy), the one statement that moves a staged batch into
//! `passages` and `plate_reads` and raises its watchlist alerts, the clip upsert, and the
//! fencing reads (the batch's leases share-locked, its epochs looked up).

use tokio_postgres::types::Type;

pub(super) const STAGE_PASSAGE_TYPES: &[Type] = &[
    Type::INT4,        // seq
    Type::INT8,        // camera_id
    Type::INT8,        // track_no
    Type::TIMESTAMPTZ, // first_seen
    Type::TIMESTAMPTZ, // last_seen
    Type::TIMESTAMPTZ, // best_at
    Type::TEXT,        // vehicle_class
    Type::TEXT,        // plate_key
    Type::TEXT,        // plate_display
    Type::FLOAT4,      // plate_confidence
    Type::BOOL,        // is_vietnamese
    Type::TEXT,        // direction
    Type::BOOL,        // crossed_line
    Type::TIMESTAMPTZ, // clip_started_at
    Type::INT8,        // clip_offset_ms
    Type::TEXT,        // snapshot_path
    Type::FLOAT4_ARRAY,
    Type::INT4,             // frames_seen
    Type::TEXT,             // partial_plate
    Type::FLOAT4,           // partial_confidence
    Type::TSTZ_RANGE_ARRAY, // gaps
    Type::INT4,             // unseen_ms
    Type::INT8,             // run_id
    Type::INT8,             // node_id
];

pub(super) const STAGE_READ_TYPES: &[Type] = &[
    Type::INT4,   // seq
    Type::INT2,   // rank
    Type::TEXT,   // plate_key
    Type::TEXT,   // plate_folded
    Type::FLOAT4, // confidence
    Type::FLOAT4_ARRAY,
];

pub(super) const CREATE_STAGING: &str = "
CREATE TEMP TABLE IF NOT EXISTS stage_passages (
    seq int, camera_id bigint, track_no bigint, first_seen timestamptz, last_seen timestamptz,
    best_at timestamptz, vehicle_class text, plate_key text, plate_display text,
    plate_confidence real, is_vietnamese boolean, direction text, crossed_line boolean,
    clip_started_at timestamptz, clip_offset_ms bigint, snapshot_path text, bbox real[],
    frames_seen int, partial_plate text, partial_confidence real, gaps tstzrange[],
    unseen_ms int, run_id bigint, node_id bigint) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_reads (
    seq int, rank smallint, plate_key text, plate_folded text, confidence real,
    char_confidences real[]) ON COMMIT DELETE ROWS;";

/// Moves the staged batch into the log; passages already there (natural key: camera, best
/// frame, first frame, track number and analysis run, NULL for the live one) are skipped
/// with their reads. A partial plate read goes to its own columns of `passages` and never to
/// `plate_reads`, so no search or watch sees it; so do the spans the vehicle went unseen
/// (`gaps`, `unseen_ms`). Every candidate of a new passage of the live analysis is matched
/// against the live watchlist with the same rules as a search (exact key, `LIKE` pattern, folded
/// key one edit away), and one alert is raised per (watch, passage); a re-read passage
/// (`run_id` set) is of the past and raises none. Returns (passages inserted, reads inserted, the
/// new alerts' ids).
pub(super) const MOVE_STAGED: &str = "
WITH ins AS (
    INSERT INTO passages (camera_id, track_no, first_seen, last_seen, best_at, vehicle_class,
        plate_key, plate_display, plate_confidence, is_vietnamese, direction, crossed_line,
        clip_started_at, clip_offset_ms, snapshot_path, bbox, frames_seen, partial_plate,
        partial_confidence, gaps, unseen_ms, run_id, node_id)
    SELECT camera_id, track_no, first_seen, last_seen, best_at, vehicle_class,
        plate_key, plate_display, plate_confidence, is_vietnamese, direction, crossed_line,
        clip_started_at, clip_offset_ms, snapshot_path, bbox, frames_seen, partial_plate,
        partial_confidence, gaps, unseen_ms, run_id, node_id
    FROM stage_passages ORDER BY seq
    ON CONFLICT DO NOTHING
    RETURNING id, best_at, camera_id, first_seen, track_no, run_id
), reads AS (
    INSERT INTO plate_reads (passage_id, best_at, camera_id, rank, plate_key, plate_folded,
        confidence, char_confidences)
    SELECT ins.id, ins.best_at, ins.camera_id, r.rank, r.plate_key, r.plate_folded,
        r.confidence, r.char_confidences
    FROM ins
    JOIN stage_passages s ON s.camera_id = ins.camera_id AND s.best_at = ins.best_at
        AND s.first_seen = ins.first_seen AND s.track_no = ins.track_no
        AND s.run_id IS NOT DISTINCT FROM ins.run_id
    JOIN stage_reads r ON r.seq = s.seq
    RETURNING passage_id, best_at, camera_id, rank, plate_key, plate_folded
), live_reads AS (
    SELECT r.* FROM reads r
    JOIN ins ON ins.id = r.passage_id AND ins.best_at = r.best_at AND ins.run_id IS NULL
), matched AS (
    SELECT k.watch_id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM live_reads r JOIN watch_keys k ON k.kind = 'key' AND k.key = r.plate_key
    UNION ALL
    SELECT k.watch_id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM live_reads r JOIN watch_keys k ON k.kind = 'folded' AND k.key = r.plate_folded
    UNION ALL
    SELECT w.id, r.passage_id, r.best_at, r.camera_id, r.plate_key, r.rank
    FROM live_reads r JOIN watchlist w ON w.mode = 'wildcard' AND w.removed_at IS NULL
        AND r.plate_key LIKE w.match_key
), hits AS (
    SELECT DISTINCT ON (m.watch_id, m.passage_id)
        m.watch_id, m.passage_id, m.best_at, m.camera_id, m.plate_key, m.rank
    FROM matched m JOIN watchlist w ON w.id = m.watch_id AND w.removed_at IS NULL
    ORDER BY m.watch_id, m.passage_id, m.rank
), alerted AS (
    INSERT INTO alerts (watch_id, passage_id, best_at, camera_id, plate_key, rank)
    SELECT watch_id, passage_id, best_at, camera_id, plate_key, rank FROM hits
    ON CONFLICT DO NOTHING
    RETURNING id
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM reads),
    (SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM alerted)";

/// The channel new alerts are announced on (payload: their ids, comma-separated).
pub const ALERT_CHANNEL: &str = "matthan_alerts";

/// Inserts or refreshes a clip row, with the node whose disk holds the file (NULL: none).
pub(super) const UPSERT_CLIP: &str = "
INSERT INTO clips (camera_id, started_at, ended_at, path, bytes, sha256, node_id)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (camera_id, started_at) DO UPDATE
SET ended_at = EXCLUDED.ended_at, path = EXCLUDED.path, bytes = EXCLUDED.bytes,
    sha256 = EXCLUDED.sha256, recorded_at = now(), node_id = EXCLUDED.node_id";

/// Fencing, first step: share-locks the current leases of the batch's fenced cameras (ids in
/// order, so writers never deadlock), so no lease changes hands until the batch commits.
pub(super) const LOCK_LEASES: &str = "
SELECT camera_id FROM camera_leases WHERE camera_id = ANY($1) ORDER BY camera_id FOR SHARE";

/// Fencing, second step: for each (camera, epoch) of the batch's rows, who held that epoch and
/// when the next one began (NULL: none, or no such epoch).
pub(super) const EPOCH_FACTS: &str = "
SELECT r.camera_id, r.epoch, e.node_id, n.since
FROM unnest($1::bigint[], $2::bigint[]) AS r(camera_id, epoch)
LEFT JOIN lease_epochs e ON e.camera_id = r.camera_id AND e.epoch = r.epoch
LEFT JOIN lease_epochs n ON n.camera_id = r.camera_id AND n.epoch = r.epoch + 1";
