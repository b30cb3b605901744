//! A generated multi-junction log for the road tests: five junctions along the road (km 0 to
//! 52), plates that travel, one cloned plate, one missed junction, plates travelling together.
//!
//! On 2026-11-28 (times in Vietnam, UTC+7):
//! - `29B125662` drives up the road in the morning: Km 0 (two cameras, 08:00:00 and 08:00:20),
//!   Km 12 08:18, Km 25 08:37, Km 52 09:10. Km 40 recorded all morning and did not see it: a
//!   skip. In the afternoon it comes back: Km 52 15:00, Km 40 15:30, Km 25 16:05, Km 0 17:00,
//!   passing Km 12 when nothing there was recording (no skip).
//! - `88A12345` is at Km 0 at 10:00 and at Km 52 at 10:10 (312 km/h: a cloned plate), then at
//!   Km 25 at 10:40.
//! - `30A99999` travels with `29B125662` all morning (4 junctions, within 20 s); `29C11111` at
//!   Km 0 and Km 12 (2 junctions); `51F22222` at Km 0 only; `15B33333` at Km 25 two minutes
//!   behind.

use chrono::{DateTime, Utc};
use matthan::config::{CameraConfig, Config, JunctionConfig};
use matthan::store::writer::write_batch;
use matthan::store::{query, Store};

/// The junctions: (name, km, cameras).
pub const ROAD: [(&str, f64, &[&str]); 5] = [
    ("Km 0 Hà Giang", 0.0, &["hg-1", "hg-2"]),
    ("Km 12 Tam Sơn", 12.0, &["ts-1"]),
    ("Km 25 Yên Minh", 25.0, &["ym-1"]),
    ("Km 40 Mậu Duệ", 40.0, &["md-1"]),
    ("Km 52 Mèo Vạc", 52.0, &["mv-1"]),
];

/// A time on 2026-11-28 in Vietnam, `hh:mm:ss`.
pub fn ict(hms: &str) -> DateTime<Utc> {
    super::t(&format!("2026-11-28T{hms}+07:00"))
}

/// The passages: (camera, time, plate).
pub const SIGHTINGS: [(&str, &str, &str); 24] = [
    ("hg-1", "08:00:00", "29B125662"),
    ("hg-2", "08:00:20", "29B125662"),
    ("ts-1", "08:18:00", "29B125662"),
    ("ym-1", "08:37:00", "29B125662"),
    ("mv-1", "09:10:00", "29B125662"),
    ("mv-1", "15:00:00", "29B125662"),
    ("md-1", "15:30:00", "29B125662"),
    ("ym-1", "16:05:00", "29B125662"),
    ("hg-1", "17:00:00", "29B125662"),
    ("hg-1", "10:00:00", "88A12345"),
    ("mv-1", "10:10:00", "88A12345"),
    ("ym-1", "10:40:00", "88A12345"),
    ("hg-1", "08:00:10", "30A99999"),
    ("ts-1", "08:18:15", "30A99999"),
    ("ym-1", "08:36:50", "30A99999"),
    ("mv-1", "09:10:20", "30A99999"),
    ("hg-2", "08:00:25", "29C11111"),
    ("ts-1", "08:18:25", "29C11111"),
    ("hg-1", "08:00:05", "51F22222"),
    ("ym-1", "08:39:00", "15B33333"),
    // Unrelated traffic.
    ("md-1", "08:10:00", "29D45678"),
    ("ts-1", "12:00:00", "29D45678"),
    ("hg-2", "13:00:00", "37A55555"),
    ("mv-1", "13:30:00", "37A55555"),
];

/// Writes the road's junctions, cameras, recordings (Km 40 and Km 12 from 07:00 to 12:00) and
/// passages into `store`.
pub async fn road_log(store: &Store) {
    let mut cfg = Config::default();
    for (name, km, cameras) in ROAD {
        cfg.junctions.push(JunctionConfig {
            name: name.into(),
            km_marker: Some(km),
            lat: None,
            lon: None,
        });
        for cam in cameras {
            let mut c = CameraConfig::named(cam);
            c.junction = Some(name.into());
            cfg.cameras.push(c);
        }
    }
    let client = store.client().await.unwrap();
    query::sync_config(&client, &cfg).await.unwrap();
    let items: Vec<_> = SIGHTINGS
        .iter()
        .enumerate()
        .map(|(i, (cam, hms, plate))| super::passage(cam, i as i64 + 1, ict(hms), Some(plate)))
        .collect();
    write_batch(store, &items).await.unwrap();
    for cam in ["md-1", "ts-1"] {
        client
            .execute(
                "INSERT INTO clips (camera_id, started_at, ended_at, path, bytes, sha256)
                 SELECT id, $2, $3, '/nonexistent/' || name || '.mp4', 0, '' FROM cameras
                 WHERE name = $1",
                &[&cam, &ict("07:00:00"), &ict("12:00:00")],
            )
            .await
            .unwrap();
    }
}
