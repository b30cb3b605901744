//! The road as one picture, over HTTP on a real PostgreSQL holding a generated multi-junction
//! log (`common::road_log`): a plate's corridor (trips, hops, speeds, a skipped junction that
//! was recording, one that was not), a cloned plate's impossible hop, plates travelling
//! together ranked by shared junctions, and the refusals (no reason, bad plate, too long a
//! window, a pattern where one plate is needed, a viewer asking for companions), each audited.

mod common;

use axum::http::StatusCode;
use matthan::access::Role;
use matthan::api::AppState;
use serde_json::Value;

const DAY: &str = "from=2026-11-28T00:00:00%2B07:00&to=2026-11-29T00:00:00%2B07:00";

async fn get(state: &AppState, token: &str, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = common::get_as(state, token, uri).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, json)
}

fn names(hops_or_visits: &Value, field: &str) -> Vec<String> {
    hops_or_visits
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plates_corridor_has_trips_hops_speeds_and_flags() {
    let db = common::scratch("road_corridor").await;
    let dir = common::temp_dir("road-corridor");
    let state = common::app_state(db.store.clone(), &dir);
    let token = common::add_user(&db.store, "viewer", Role::Viewer, None).await;
    common::road_log(&db.store).await;

    let (status, body) = get(
        &state,
        &token,
        &format!("/api/corridor?plate=29B125662&{DAY}&reason=case+7"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["junctions"].as_array().unwrap().len(), 5);
    let vehicles = body["vehicles"].as_array().unwrap();
    assert_eq!(vehicles.len(), 1);
    let v = &vehicles[0];
    assert_eq!(v["plate_key"], "29B125662");
    assert_eq!(v["passages"], 9);
    assert_eq!(v["impossible_hops"], 0);
    assert_eq!(v["skipped_hops"], 1);
    let trips = v["trips"].as_array().unwrap();
    assert_eq!(trips.len(), 2, "morning up, afternoon down: {body:#}");

    // Morning: Km 0 (two cameras, one visit) → Km 12 → Km 25 → Km 52, skipping Km 40.
    let up = &trips[0];
    assert_eq!(
        names(&up["visits"], "junction"),
        [
            "Km 0 Hà Giang",
            "Km 12 Tam Sơn",
            "Km 25 Yên Minh",
            "Km 52 Mèo Vạc"
        ]
    );
    assert_eq!(up["visits"][0]["passages"].as_array().unwrap().len(), 2);
    let hops = up["hops"].as_array().unwrap();
    assert_eq!(hops.len(), 3);
    // Km 0 left at 08:00:20, Km 12 reached at 08:18:00: 12 km in 17 min 40 s.
    assert_eq!(hops[0]["travel_s"], 1060.0);
    let speed = hops[0]["speed_kmh"].as_f64().unwrap();
    assert!((speed - 12.0 / (1060.0 / 3600.0)).abs() < 1e-6, "{speed}");
    assert_eq!(hops[0]["heading"], "up");
    assert_eq!(hops[0]["distance_km"], 12.0);
    assert!(hops.iter().all(|h| h["impossible"] == false));
    assert_eq!(hops[2]["from"], "Km 25 Yên Minh");
    assert_eq!(hops[2]["skipped_recording"], true);
    let passed = &hops[2]["passed_by"][0];
    assert_eq!(passed["junction"], "Km 40 Mậu Duệ");
    assert_eq!(passed["recording"], true);
    assert_eq!(hops[0]["skipped_recording"], false);

    // Afternoon: back down; it passes Km 12 when nothing there was recording: no skip.
    let down = &trips[1];
    assert_eq!(
        names(&down["visits"], "junction"),
        [
            "Km 52 Mèo Vạc",
            "Km 40 Mậu Duệ",
            "Km 25 Yên Minh",
            "Km 0 Hà Giang"
        ]
    );
    let hops = down["hops"].as_array().unwrap();
    assert!(hops.iter().all(|h| h["heading"] == "down"));
    assert_eq!(hops[2]["passed_by"][0]["junction"], "Km 12 Tam Sơn");
    assert_eq!(hops[2]["passed_by"][0]["recording"], false);
    assert!(hops.iter().all(|h| h["skipped_recording"] == false));

    // The cloned plate: Km 0 to Km 52 in 10 minutes.
    let (status, body) = get(
        &state,
        &token,
        &format!("/api/corridor?plate=88A12345&{DAY}&reason=case+7"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = &body["vehicles"][0];
    assert_eq!(v["impossible_hops"], 1);
    let hop = &v["trips"][0]["hops"][0];
    assert_eq!(hop["impossible"], true);
    assert!((hop["speed_kmh"].as_f64().unwrap() - 312.0).abs() < 1e-6);
    // Its next hop (27 km in 30 minutes) is possible.
    assert_eq!(v["trips"][0]["hops"][1]["impossible"], false);

    // A plate never seen: no vehicles, not an error.
    let (status, body) = get(
        &state,
        &token,
        &format!("/api/corridor?plate=29B199999&{DAY}&reason=case+7"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["vehicles"].as_array().unwrap().is_empty());

    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn companions_are_ranked_by_shared_junctions() {
    let db = common::scratch("road_companions").await;
    let dir = common::temp_dir("road-companions");
    let state = common::app_state(db.store.clone(), &dir);
    let token = common::add_user(&db.store, "inv", Role::Investigator, None).await;
    common::road_log(&db.store).await;
    let ask = |extra: &str| format!("/api/companions?plate=29B125662&{DAY}&reason=case+7{extra}");

    let (status, body) = get(&state, &token, &ask("")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["window_s"], 30);
    assert_eq!(body["target_passages"], 9);
    let items = body["items"].as_array().unwrap();
    let plates: Vec<&str> = items
        .iter()
        .map(|c| c["plate_key"].as_str().unwrap())
        .collect();
    assert_eq!(plates, ["30A99999", "29C11111"], "{body:#}");
    assert_eq!(items[0]["junctions"], 4);
    assert_eq!(
        items[0]["junction_names"],
        serde_json::json!([
            "Km 0 Hà Giang",
            "Km 12 Tam Sơn",
            "Km 25 Yên Minh",
            "Km 52 Mèo Vạc"
        ])
    );
    // Near both Km 0 passages, and one each at the other three.
    assert_eq!(items[0]["times_together"], 5);
    assert_eq!(items[1]["junctions"], 2);
    assert!(items[0]["mean_gap_s"].as_f64().unwrap() <= 20.0);

    // One shared junction is enough when asked; a wider window finds the one behind.
    let (_, body) = get(&state, &token, &ask("&min_junctions=1")).await;
    let plates: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["plate_key"].as_str().unwrap())
        .collect();
    assert_eq!(plates, ["30A99999", "29C11111", "51F22222"]);
    let (_, body) = get(&state, &token, &ask("&min_junctions=1&window=2m")).await;
    let found: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["plate_key"].as_str().unwrap())
        .collect();
    assert!(found.contains(&"15B33333"), "{found:?}");

    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_road_requests_are_refused_and_audited() {
    let db = common::scratch("road_bad").await;
    let dir = common::temp_dir("road-bad");
    let state = common::app_state(db.store.clone(), &dir);
    let admin = common::add_user(&db.store, "admin", Role::Admin, None).await;
    let viewer = common::add_user(&db.store, "viewer", Role::Viewer, None).await;
    common::road_log(&db.store).await;
    let long = "from=2026-10-01T00:00:00Z&to=2026-11-28T00:00:00Z";
    for (uri, param) in [
        (format!("/api/corridor?plate=29B125662&{DAY}"), "reason"),
        (format!("/api/corridor?{DAY}&reason=x+y+z"), "plate"),
        (format!("/api/corridor?plate=%25&{DAY}&reason=case+7"), "plate"),
        (format!("/api/corridor?plate=29B125662&mode=regex&{DAY}&reason=case+7"), "mode"),
        (format!("/api/corridor?plate=29B125662&{long}&reason=case+7"), "from"),
        (
            "/api/corridor?plate=29B125662&from=2026-11-28T00:00:00Z&to=2026-11-27T00:00:00Z&reason=case+7".to_string(),
            "to",
        ),
        (format!("/api/corridor?plate=29B125662&{DAY}&reason=case+7&speed=9"), "speed"),
        (format!("/api/companions?plate=29B1*&{DAY}&reason=case+7"), "plate"),
        (format!("/api/companions?plate=29B125662&{DAY}&reason=case+7&window=11m"), "window"),
        (format!("/api/companions?plate=29B125662&{DAY}&reason=case+7&window=soon"), "window"),
        (format!("/api/companions?plate=29B125662&{DAY}&reason=case+7&min_junctions=0"), "min_junctions"),
        (format!("/api/companions?plate=29B125662&{long}&reason=case+7"), "from"),
    ] {
        let (status, body) = get(&state, &admin, &uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        let said = format!("{} {}", body["error"], body["detail"]);
        assert!(said.contains(param), "{uri}: {said}");
    }
    // Companions show other people's movements: investigators only.
    let (status, _) = get(
        &state,
        &viewer,
        &format!("/api/companions?plate=29B125662&{DAY}&reason=case+7"),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Every refusal left its audit row, with its status.
    let client = db.store.client().await.unwrap();
    let refused: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action IN ('corridor', 'companions')
             AND status >= 400",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused, 13);
    drop(client);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
