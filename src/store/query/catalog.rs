//! The catalog: cameras and junctions as the API lists them, one camera with its junction as
//! configured, their ids by name, and the config → database sync (with camera sources'
//! passwords redacted).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::store::StoreError;

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

/// A camera as configured, with its junction: what an evidence package records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CameraRecord {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Where it is read from (any password removed).
    pub source: Option<String>,
    /// The road's direction in the picture.
    pub road_direction: Vec<f32>,
    /// The counting line, `[x1, y1, x2, y2]`, if any.
    pub counting_line: Option<Vec<f32>>,
    /// Whether it is configured to run.
    pub enabled: bool,
    /// Its junction, if any.
    pub junction: Option<JunctionRecord>,
}

/// A junction's place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JunctionRecord {
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
}

/// The camera `name` with its junction.
pub async fn camera_record(
    client: &tokio_postgres::Client,
    name: &str,
) -> Result<Option<CameraRecord>, StoreError> {
    let row = client
        .query_opt(
            "SELECT c.id, c.name, c.source, c.road_direction, c.counting_line, c.enabled,
                    j.id, j.name, j.km_marker, j.lat, j.lon
             FROM cameras c LEFT JOIN junctions j ON j.id = c.junction_id
             WHERE c.name = $1",
            &[&name],
        )
        .await?;
    Ok(row.map(|r| CameraRecord {
        id: r.get(0),
        name: r.get(1),
        source: r.get(2),
        road_direction: r.get(3),
        counting_line: r.get(4),
        enabled: r.get(5),
        junction: r.get::<_, Option<i64>>(6).map(|id| JunctionRecord {
            id,
            name: r.get(7),
            km_marker: r.get(8),
            lat: r.get(9),
            lon: r.get(10),
        }),
    }))
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
                "INSERT INTO cameras (name, junction_id, source, road_direction, counting_line, enabled,
                     pinned_node)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (name) DO UPDATE
                 SET junction_id = EXCLUDED.junction_id, source = EXCLUDED.source,
                     road_direction = EXCLUDED.road_direction,
                     counting_line = EXCLUDED.counting_line, enabled = EXCLUDED.enabled,
                     pinned_node = EXCLUDED.pinned_node",
                &[&c.name, &junction, &source, &road, &line, &c.enabled, &c.node],
            )
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
