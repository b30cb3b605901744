//! The HTTP API on a real PostgreSQL, called in-process through the axum router: parameter
//! validation (400 with a JSON body, never a 500), unknown ids (404), files that must never be
//! served, the database being down (503), search over HTTP with its cursor, a partial plate
//! read kept apart from plates (logged and shown, never searched or watched), a rejoined
//! passage's unseen spans (logged and shown), and a clip export of recorded video whose length
//! is the window's within one GOP.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta};
use common::t;
use matthan::access::Role;
use matthan::api::{router, AppState, OPENAPI_JSON};
use matthan::store::scratch::ScratchDatabase;
use matthan::store::writer::write_batch;
use matthan::store::{NewClip, Store, WriteItem};
use serde_json::Value;
use tower::ServiceExt;

/// The API as an admin calls it.
struct Api {
    /// The server's state.
    state: AppState,
    /// An admin's token.
    token: String,
}

/// State with folders under `dir`, and an admin to call it.
async fn state(store: Store, dir: &Path) -> Api {
    with_admin(common::app_state(store, dir)).await
}

/// `state` with a new admin user's token.
async fn with_admin(state: AppState) -> Api {
    let token = common::add_user(&state.store, "admin", Role::Admin, None).await;
    Api { state, token }
}

/// `uri` with a reason added where the API demands one (plate searches, exports).
fn with_reason(uri: &str) -> String {
    let needs = uri.contains("plate=") || uri.starts_with("/api/clips/export");
    if needs && !uri.contains("reason=") {
        let sep = if uri.contains('?') { '&' } else { '?' };
        format!("{uri}{sep}reason=api+test")
    } else {
        uri.to_string()
    }
}

/// GET `uri` as the admin: status, headers and body.
async fn get(api: &Api, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(api.state.clone())
        .oneshot(
            Request::get(with_reason(uri))
                .header("authorization", format!("Bearer {}", api.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 1 << 30)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

async fn get_json(state: &Api, uri: &str) -> (StatusCode, Value) {
    let (status, _, body) = get(state, uri).await;
    let json = serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{uri}: not JSON ({e}): {}", String::from_utf8_lossy(&body)));
    (status, json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_400_with_a_reason_and_unknown_things_are_404() {
    let db = common::scratch("api_bad").await;
    let dir = common::temp_dir("api-bad");
    let s = state(db.store.clone(), &dir).await;
    write_batch(
        &db.store,
        &[common::passage(
            "cam-a",
            1,
            t("2026-11-29T01:00:00Z"),
            Some("29B125662"),
        )],
    )
    .await
    .unwrap();
    for (uri, mentions) in [
        ("/api/passages?plate=%", "plate"),
        ("/api/passages?plate=29B1*&mode=exact", "wildcard"),
        ("/api/passages?plate=29B&mode=regex", "mode"),
        ("/api/passages?plate=%E2%9C%93%E2%9C%93", "plate"),
        ("/api/passages?plate=29&limit=9999", "limit"),
        ("/api/passages?plate=29&limit=-1", "limit"),
        ("/api/passages?plate=29&cursor=t.x.1", "cursor"),
        ("/api/passages?plate=29B1*&cursor=f.1.2.3", "cursor"),
        ("/api/passages?from=2026-11-29", "from"),
        (
            "/api/passages?from=2026-11-29T01:00:00Z&to=2026-11-29T00:00:00Z",
            "to",
        ),
        ("/api/passages?class=spaceship", "class"),
        ("/api/passages?camera=nope", "camera"),
        ("/api/passages?junction=nope", "junction"),
        ("/api/passages?plate=29B125662&sort=asc", "sort"),
        ("/api/passages/0", "id"),
        ("/api/passages/1x", "id"),
        ("/api/passages/99999999999999999999", "id"),
        (
            "/api/counts?from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
            "junction",
        ),
        (
            "/api/counts?junction=J&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z&bucket=5m",
            "bucket",
        ),
        (
            "/api/counts?junction=J&from=1500-01-01T00:00:00Z&to=2026-11-30T00:00:00Z&bucket=15m",
            "from",
        ),
        (
            "/api/counts?junction=J&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z&format=xml",
            "format",
        ),
        ("/api/clips?camera=cam-a&from=2026-11-29T00:00:00Z", "to"),
        (
            "/api/clips/export?camera=cam-a&from=2026-11-29T00:00:00Z&to=2026-11-29T02:00:00Z",
            "1 hour",
        ),
        ("/api/clips/abc/video", "id"),
    ] {
        let (status, body) = get_json(&s, uri).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["error"], "bad_request", "{uri}");
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.contains(mentions), "{uri}: {detail}");
    }
    for uri in [
        "/api/passages/424242",
        "/api/passages/424242/snapshot.jpg",
        "/api/clips/424242/video",
        "/api/counts?junction=nowhere&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
        "/api/clips?camera=nope&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
        "/api/clips/export?camera=cam-a&from=2026-11-29T00:00:00Z&to=2026-11-29T00:10:00Z",
        "/api/no-such-thing",
    ] {
        let (status, body) = get_json(&s, uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(body["error"], "not_found", "{uri}");
    }
    // The passage without a snapshot has no snapshot URL and its snapshot is a 404.
    let (status, body) = get_json(&s, "/api/passages?plate=29B125662").await;
    assert_eq!(status, StatusCode::OK);
    let id = body["items"][0]["id"].as_i64().unwrap();
    assert!(body["items"][0]["snapshot_url"].is_null());
    let (status, _) = get_json(&s, &format!("/api/passages/{id}/snapshot.jpg")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_outside_their_folders_are_never_served() {
    let db = common::scratch("api_paths").await;
    let dir = common::temp_dir("api-paths");
    let s = state(db.store.clone(), &dir).await;
    let inside = dir.join("snapshots/cam-a/ok.jpg");
    std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
    std::fs::write(&inside, b"\xff\xd8\xff\xe0 a jpeg").unwrap();
    let outside = dir.join("secret.jpg");
    std::fs::write(&outside, b"not for you").unwrap();
    let link = dir.join("snapshots/cam-a/link.jpg");
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let sneaky = dir.join("snapshots/cam-a/../../secret.jpg");
    let at = t("2026-11-29T01:00:00Z");
    write_batch(
        &db.store,
        &[
            common::with_snapshot(common::passage("cam-a", 1, at, Some("11A11111")), &inside),
            common::with_snapshot(common::passage("cam-a", 2, at, Some("22A22222")), &outside),
            common::with_snapshot(common::passage("cam-a", 3, at, Some("33A33333")), &link),
            common::with_snapshot(common::passage("cam-a", 4, at, Some("44A44444")), &sneaky),
            common::with_snapshot(
                common::passage("cam-a", 5, at, Some("55A55555")),
                Path::new("/etc/passwd"),
            ),
            WriteItem::Clip(NewClip {
                camera: "cam-a".into(),
                started_at: at,
                ended_at: at + TimeDelta::seconds(60),
                path: "/etc/passwd".into(),
                bytes: 1,
                sha256: "00".into(),
                fence: None,
            }),
        ],
    )
    .await
    .unwrap();
    let mut served = Vec::new();
    for key in ["11A11111", "22A22222", "33A33333", "44A44444", "55A55555"] {
        let (_, body) = get_json(&s, &format!("/api/passages?plate={key}&mode=exact")).await;
        let url = body["items"][0]["snapshot_url"]
            .as_str()
            .unwrap()
            .to_string();
        let (status, _, bytes) = get(&s, &url).await;
        if status == StatusCode::OK {
            served.push(String::from_utf8_lossy(&bytes).into_owned());
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{key}");
        }
    }
    assert_eq!(
        served.len(),
        1,
        "only the snapshot inside the folder: {served:?}"
    );
    assert!(served[0].ends_with("a jpeg"));
    let (_, clips) = get_json(
        &s,
        "/api/clips?camera=cam-a&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
    )
    .await;
    let clip_url = clips["items"][0]["url"].as_str().unwrap().to_string();
    let (status, _, _) = get(&s, &clip_url).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(
        &s,
        "/api/clips/export?camera=cam-a&from=2026-11-29T01:00:00Z&to=2026-11-29T01:00:30Z",
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Static files cannot climb out of the web folder either.
    std::fs::create_dir_all(dir.join("web")).unwrap();
    let (status, _, _) = get(&s, "/../secret.jpg").await;
    assert_ne!(status, StatusCode::OK);
    let (status, _, _) = get(&s, "/%2e%2e/secret.jpg").await;
    assert_ne!(status, StatusCode::OK);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_down_is_a_503_not_a_crash() {
    let dir = common::temp_dir("api-down");
    // Nothing listens on port 1.
    let store =
        Store::from_url("host=127.0.0.1 port=1 user=postgres connect_timeout=1", 2).unwrap();
    let s = Api {
        state: common::app_state(store, &dir),
        token: matthan::access::new_token().unwrap().secret,
    };
    let (status, body) = get_json(&s, "/healthz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["database"], "down");
    let (status, body) = get_json(&s, "/api/passages?plate=29B125662").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"], "unavailable");
    // Neither the token nor the audit row can be checked or written: nothing is answered,
    // not even a 400 for bad input.
    let (status, _) = get_json(&s, "/api/passages?plate=%").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _, body) = get(&s, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("matthan_database_up 0"), "{text}");
    assert!(
        text.contains(
            "matthan_http_requests_total{method=\"GET\",route=\"/api/passages\",status=\"503\"} 2"
        ),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_over_http_pages_with_its_cursor() {
    let db = common::scratch("api_search").await;
    let dir = common::temp_dir("api-search");
    let s = state(db.store.clone(), &dir).await;
    let base = t("2026-11-29T00:00:00Z");
    let items: Vec<WriteItem> = (0..23)
        .map(|i| {
            common::passage(
                "cam-a",
                i,
                base + TimeDelta::seconds(i),
                Some(if i % 2 == 0 { "29B125662" } else { "29B125663" }),
            )
        })
        .collect();
    write_batch(&db.store, &items).await.unwrap();
    // Fuzzy finds 29B125662 from the misread 298I25662, exact matches first.
    let (status, body) = get_json(&s, "/api/passages?plate=298I25662&limit=5").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["plate_key"], "29B125662");
    assert_eq!(body["items"][0]["match"]["rank"], 1);
    let mut seen = Vec::new();
    let mut uri = "/api/passages?plate=298I25662&limit=5".to_string();
    loop {
        let (status, body) = get_json(&s, &uri).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for p in body["items"].as_array().unwrap() {
            seen.push((
                p["plate_key"].as_str().unwrap().to_string(),
                p["id"].as_i64().unwrap(),
            ));
        }
        match body["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/passages?plate=298I25662&limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 23);
    let first_edit = seen.iter().position(|(k, _)| k == "29B125663").unwrap();
    assert_eq!(
        first_edit, 12,
        "the 12 look-alike matches come before the 11 one-edit matches"
    );
    // The wildcard and an empty plate (list) work over HTTP too.
    let (_, body) = get_json(&s, "/api/passages?plate=29B12566%3F&limit=50").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 23);
    let (_, body) = get_json(&s, "/api/passages?camera=cam-a&limit=3").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
    assert!(body["next_cursor"].is_string());
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_plate_read_is_logged_and_shown_but_never_searched_or_watched() {
    let db = common::scratch("api_partial").await;
    let dir = common::temp_dir("api-partial");
    let s = state(db.store.clone(), &dir).await;
    // Watches that would match the fragment if it were a plate: its key (fuzzy, exact) and a
    // pattern that also matches a whole plate ending in it.
    {
        let mut client = db.store.client().await.unwrap();
        for (pattern, mode) in [("5919", None), ("5919", Some("exact")), ("*5919", None)] {
            let mode = mode.map(|m| matthan::plate::search::SearchMode::parse(m).unwrap());
            let q = matthan::plate::search::PlateQuery::parse(pattern, mode).unwrap();
            matthan::store::trust::add_watch(&mut client, &q, "partial test", "admin")
                .await
                .unwrap();
        }
    }
    let at = t("2026-11-29T01:00:00Z");
    let stats = write_batch(
        &db.store,
        &[
            common::partial_passage("cam-a", 1, at, "5919"),
            common::passage("cam-a", 2, at + TimeDelta::seconds(5), Some("30A35919")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(stats.passages, 2);

    // Stored with its partial read, no plate and no plate reads.
    let client = db.store.client().await.unwrap();
    let row = client
        .query_one(
            "SELECT p.id, p.plate_key, p.is_vietnamese, p.partial_plate, p.partial_confidence,
                 (SELECT count(*) FROM plate_reads r WHERE r.passage_id = p.id)
             FROM passages p WHERE p.track_no = 1",
            &[],
        )
        .await
        .unwrap();
    let partial_id: i64 = row.get(0);
    assert_eq!(row.get::<_, Option<String>>(1), None);
    assert_eq!(row.get::<_, Option<bool>>(2), None);
    assert_eq!(row.get::<_, Option<String>>(3).as_deref(), Some("5919"));
    assert_eq!(row.get::<_, Option<f32>>(4), Some(0.6));
    assert_eq!(row.get::<_, i64>(5), 0);
    // The watches alerted on the whole plate only.
    let alerted: Vec<(i64, String)> = client
        .query("SELECT passage_id, plate_key FROM alerts", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(alerted.len(), 1, "{alerted:?}");
    assert_ne!(alerted[0].0, partial_id);
    assert_eq!(alerted[0].1, "30A35919");
    drop(client);

    // No plate search finds it.
    for uri in [
        "/api/passages?plate=5919",
        "/api/passages?plate=5919&mode=exact",
        "/api/passages?plate=*5919",
        "/api/passages?plate=591%3F",
    ] {
        let (status, body) = get_json(&s, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        let ids: Vec<i64> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect();
        assert!(
            !ids.contains(&partial_id),
            "{uri} found the fragment: {body}"
        );
    }
    let (_, body) = get_json(&s, "/api/passages?plate=*5919").await;
    assert_eq!(body["items"][0]["plate_key"], "30A35919");

    // The list and the detail show it as the partial read, with no plate.
    let (_, body) = get_json(&s, "/api/passages?camera=cam-a").await;
    let listed = &body["items"][1];
    assert_eq!(listed["id"], partial_id, "{body}");
    assert_eq!(listed["plate_key"], Value::Null);
    assert_eq!(listed["partial_plate"], "5919");
    assert_eq!(body["items"][0]["partial_plate"], Value::Null);
    let (status, detail) = get_json(&s, &format!("/api/passages/{partial_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&detail["plate_key"], &detail["partial_plate"]),
        (&Value::Null, &Value::from("5919"))
    );
    assert!((detail["partial_confidence"].as_f64().unwrap() - 0.6).abs() < 1e-6);
    assert_eq!(detail["candidates"], serde_json::json!([]));
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejoined_passage_is_logged_and_shown_with_the_spans_it_went_unseen() {
    let db = common::scratch("api_gaps").await;
    let dir = common::temp_dir("api-gaps");
    let s = state(db.store.clone(), &dir).await;
    let at = t("2026-11-29T01:00:00Z");
    let ms = TimeDelta::milliseconds;
    // Seen from 2 s before `at` to 1 s after, unseen for 1.25 s and then 0.8 s in between.
    let gaps = [(at - ms(1_900), at - ms(650)), (at + ms(100), at + ms(900))];
    let rejoined = common::new_passage("cam-a", 1, at, &[("29B125662", 0.9)]);
    let stats = write_batch(
        &db.store,
        &[
            common::with_gaps(WriteItem::Passage(Box::new(rejoined)), &gaps),
            common::passage("cam-a", 2, at + TimeDelta::seconds(5), Some("30A35919")),
        ],
    )
    .await
    .unwrap();
    assert_eq!(stats.passages, 2);

    // Stored: each span with both ends included, in order, and their total; NULL for a
    // passage without a gap.
    let client = db.store.client().await.unwrap();
    let rows = client
        .query(
            "SELECT track_no, cardinality(gaps), unseen_ms,
                 ARRAY(SELECT lower(g) FROM unnest(gaps) WITH ORDINALITY u(g, n) ORDER BY n),
                 ARRAY(SELECT upper(g) FROM unnest(gaps) WITH ORDINALITY u(g, n) ORDER BY n),
                 (SELECT bool_and(lower_inc(g) AND upper_inc(g)) FROM unnest(gaps) g),
                 gaps IS NULL
             FROM passages ORDER BY track_no",
            &[],
        )
        .await
        .unwrap();
    let r = &rows[0];
    assert_eq!(r.get::<_, i64>(0), 1);
    assert_eq!(r.get::<_, Option<i32>>(1), Some(2));
    assert_eq!(r.get::<_, Option<i32>>(2), Some(2_050));
    let lower: Vec<DateTime<chrono::Utc>> = r.get(3);
    let upper: Vec<DateTime<chrono::Utc>> = r.get(4);
    assert_eq!(lower, gaps.map(|g| g.0));
    assert_eq!(upper, gaps.map(|g| g.1));
    assert_eq!(r.get::<_, Option<bool>>(5), Some(true));
    let r = &rows[1];
    assert_eq!(r.get::<_, i64>(0), 2);
    assert_eq!(
        (r.get::<_, Option<i32>>(1), r.get::<_, Option<i32>>(2)),
        (None, None)
    );
    assert!(r.get::<_, bool>(6));
    // The total is a plain filter.
    let long: Vec<i64> = client
        .query("SELECT track_no FROM passages WHERE unseen_ms > 2000", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(long, [1]);
    drop(client);

    // The detail, the list and a plate search show the spans; `[]` for the other passage.
    let spans = |v: &Value| -> Vec<(DateTime<chrono::Utc>, DateTime<chrono::Utc>)> {
        v["gaps"]
            .as_array()
            .unwrap_or_else(|| panic!("no gaps: {v}"))
            .iter()
            .map(|g| (t(g["from"].as_str().unwrap()), t(g["to"].as_str().unwrap())))
            .collect()
    };
    let (_, list) = get_json(&s, "/api/passages?camera=cam-a").await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    let (with, without): (Vec<&Value>, Vec<&Value>) =
        items.iter().partition(|p| p["plate_key"] == "29B125662");
    assert_eq!(spans(with[0]), gaps);
    assert_eq!(spans(without[0]), []);
    let id = with[0]["id"].as_i64().unwrap();
    let (status, detail) = get_json(&s, &format!("/api/passages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(spans(&detail), gaps);
    assert_eq!(detail["gaps"][0]["to"], "2026-11-29T00:59:59.350Z");
    let (_, found) = get_json(&s, "/api/passages?plate=29B125662").await;
    assert_eq!(spans(&found["items"][0]), gaps, "{found}");
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_openapi_document_lists_every_route() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "/api/alerts",
            "/api/alerts/stream",
            "/api/audit",
            "/api/cameras",
            "/api/clips",
            "/api/clips/export",
            "/api/clips/{id}/video",
            "/api/companions",
            "/api/corridor",
            "/api/counts",
            "/api/evidence/key",
            "/api/junctions",
            "/api/login",
            "/api/logout",
            "/api/me",
            "/api/nodes",
            "/api/openapi.json",
            "/api/passages",
            "/api/passages/{id}",
            "/api/passages/{id}/evidence",
            "/api/passages/{id}/snapshot.jpg",
            "/api/users",
            "/api/watchlist",
            "/api/watchlist/{id}",
            "/healthz",
            "/metrics",
        ]
    );
}

/// A 12 s test-pattern video (25 fps, a keyframe every second) recorded into 4 s segments by
/// `matthan ingest` into `db`. Returns the clips folder.
fn record(dir: &Path, db: &ScratchDatabase) -> PathBuf {
    let video = dir.join("pattern.mp4");
    let status = Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25",
        ])
        .args([
            "-t", "12", "-c:v", "libx264", "-g", "25", "-bf", "2", "-pix_fmt", "yuv420p",
        ])
        .arg(&video)
        .status()
        .unwrap();
    assert!(status.success());
    let clips = dir.join("clips");
    let out = common::matthan(&db.connection_string())
        .args([
            "ingest",
            "--camera",
            "cam-x",
            "--fps",
            "0",
            "--segment-len",
            "4",
        ])
        .args(["--start", "2026-01-01T00:00:00Z"])
        .args(common::media_dirs(dir))
        .arg(&video)
        .output()
        .unwrap();
    common::assert_success(&out);
    clips
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_export_is_the_window_within_one_gop_with_its_sha256() {
    let db = common::scratch("api_export").await;
    let dir = common::temp_dir("api-export");
    let clips_dir = tokio::task::block_in_place(|| record(&dir, &db));
    let s = with_admin(
        AppState::new(
            db.store.clone(),
            &clips_dir,
            &dir.join("snapshots"),
            &dir.join("exports"),
            &dir.join("web"),
            None,
        )
        .unwrap(),
    )
    .await;
    let (status, body) = get_json(
        &s,
        "/api/clips?camera=cam-x&from=2026-01-01T00:00:00Z&to=2026-01-01T00:01:00Z",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"].as_array().unwrap().len(), 3, "{body}");
    // A segment plays over HTTP with ranges (what the page's player asks for).
    let url = body["items"][0]["url"].as_str().unwrap().to_string();
    let response = router(s.state.clone())
        .oneshot(
            Request::get(&url)
                .header("range", "bytes=0-99")
                .header("authorization", format!("Bearer {}", s.token))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);

    for (from, to) in [
        ("2026-01-01T00:00:02.500Z", "2026-01-01T00:00:07.300Z"),
        ("2026-01-01T00:00:05.200Z", "2026-01-01T00:00:06.900Z"),
        ("2026-01-01T00:00:00Z", "2026-01-01T00:00:12Z"),
    ] {
        let uri = format!("/api/clips/export?camera=cam-x&from={from}&to={to}");
        let (status, headers, body) = get(&s, &uri).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{uri}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(headers["content-type"], "video/mp4");
        use sha2::Digest;
        let sha: String = sha2::Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(headers["x-content-sha256"].to_str().unwrap(), sha);
        let file = dir.join("export.mp4");
        std::fs::write(&file, &body).unwrap();
        let window = (t(to) - t(from)).num_milliseconds() as f64 / 1000.0;
        let (duration, probe_errors) = common::ffprobe_duration(&file);
        assert!(probe_errors.is_empty(), "{probe_errors}");
        assert!(
            duration >= window - 0.05 && duration <= window + 1.0 + 0.1,
            "{from}..{to}: {duration:.3} s for a {window:.3} s window"
        );
        let start =
            DateTime::parse_from_rfc3339(headers["x-clip-start"].to_str().unwrap()).unwrap();
        assert!(start <= t(from) && t(from) - start.to_utc() < TimeDelta::seconds(1));
    }
    // Nothing is left in the scratch folder.
    assert_eq!(std::fs::read_dir(dir.join("exports")).unwrap().count(), 0);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// Checks `value` against schema `schema` of the OpenAPI document: `$ref`, `allOf`, objects
/// (required keys present, no undocumented keys), arrays, `nullable`, `enum`, basic types.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return conforms(doc, &doc["components"]["schemas"][name], value, at);
    }
    if value.is_null() && schema["nullable"] == true {
        // Also a nullable `allOf` (a passage's `clip` or `run`): null is all it needs.
        return Ok(());
    }
    if let Some(parts) = schema["allOf"].as_array() {
        // Merge the parts' properties and required lists, then check once.
        let mut props = serde_json::Map::new();
        let mut required = Vec::new();
        for p in parts {
            let p = match p["$ref"].as_str() {
                Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
                None => p,
            };
            props.extend(p["properties"].as_object().cloned().unwrap_or_default());
            required.extend(p["required"].as_array().cloned().unwrap_or_default());
        }
        let merged =
            serde_json::json!({"type": "object", "properties": props, "required": required});
        return conforms(doc, &merged, value, at);
    }
    if value.is_null() {
        return if schema["nullable"] == true || schema.as_object().is_some_and(|o| o.is_empty()) {
            Ok(())
        } else {
            Err(format!("{at}: null where the spec says not nullable"))
        };
    }
    if let Some(options) = schema["enum"].as_array() {
        if !options.contains(value) {
            return Err(format!("{at}: {value} not in {options:?}"));
        }
    }
    match schema["type"].as_str() {
        Some("object") => {
            let obj = value.as_object().ok_or(format!("{at}: not an object"))?;
            let props = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for r in schema["required"].as_array().into_iter().flatten() {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    return Err(format!("{at}: required `{r}` missing"));
                }
            }
            for (k, v) in obj {
                match props.get(k) {
                    Some(s) => conforms(doc, s, v, &format!("{at}.{k}"))?,
                    None if schema.get("additionalProperties").is_some() => {}
                    None => return Err(format!("{at}: `{k}` is not in the spec")),
                }
            }
            Ok(())
        }
        Some("array") => {
            let arr = value.as_array().ok_or(format!("{at}: not an array"))?;
            for (i, v) in arr.iter().enumerate() {
                conforms(doc, &schema["items"], v, &format!("{at}[{i}]"))?;
            }
            Ok(())
        }
        Some("string") if !value.is_string() => Err(format!("{at}: not a string")),
        Some("integer") if !(value.is_i64() || value.is_u64()) => {
            Err(format!("{at}: not an integer"))
        }
        Some("number") if !value.is_number() => Err(format!("{at}: not a number")),
        Some("boolean") if !value.is_boolean() => Err(format!("{at}: not a boolean")),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_match_the_openapi_document() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let db = common::scratch("api_spec").await;
    let dir = common::temp_dir("api-spec");
    let s = state(db.store.clone(), &dir).await;
    // A watch on the plate, so an alert is raised and listed.
    {
        let mut client = db.store.client().await.unwrap();
        let q = matthan::plate::search::PlateQuery::parse("29B125662", None).unwrap();
        matthan::store::trust::add_watch(&mut client, &q, "spec test", "admin")
            .await
            .unwrap();
    }
    let at = t("2026-11-29T01:00:00Z");
    let snapshot = dir.join("snapshots/cam-a/1.jpg");
    std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
    std::fs::write(&snapshot, b"jpeg").unwrap();
    write_batch(
        &db.store,
        &[
            common::with_gaps(
                common::with_snapshot(
                    common::passage("cam-a", 1, at, Some("29B125662")),
                    &snapshot,
                ),
                &[(at - TimeDelta::seconds(3), at - TimeDelta::seconds(1))],
            ),
            common::partial_passage("cam-a", 2, at + TimeDelta::seconds(1), "5919"),
            WriteItem::Clip(NewClip {
                camera: "cam-a".into(),
                started_at: at - TimeDelta::seconds(10),
                ended_at: at + TimeDelta::seconds(50),
                path: dir.join("clips/x.mp4").to_string_lossy().into_owned(),
                bytes: 10,
                sha256: "ab".into(),
                fence: None,
            }),
        ],
    )
    .await
    .unwrap();
    let client = db.store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO junctions (name, km_marker) VALUES ('J', 31.5);
             UPDATE cameras SET junction_id = (SELECT id FROM junctions)",
        )
        .await
        .unwrap();
    // The same car read again by a re-read run: its passage names the run.
    let run: i64 = client
        .query_one(
            "INSERT INTO analysis_runs (camera_id, window_from, window_to, model_version, analysis)
             SELECT id, $1, $2, '0123456789abcdef', 'spec test' FROM cameras WHERE name = 'cam-a'
             RETURNING id",
            &[&(at - TimeDelta::hours(1)), &(at + TimeDelta::hours(1))],
        )
        .await
        .unwrap()
        .get(0);
    drop(client);
    let mut reread = common::passage("cam-a", 1, at, Some("29B125662"));
    if let WriteItem::Passage(p) = &mut reread {
        p.run_id = Some(run);
    }
    write_batch(&db.store, &[reread]).await.unwrap();
    // A node holding cam-a, for the node list.
    let client = db.store.client().await.unwrap();
    let node = matthan::store::query::register_node(
        &client,
        &matthan::store::query::NodeRegistration {
            name: "pc-1".into(),
            api_url: "http://10.0.0.11:8080".into(),
            cores: 2,
            capacity: 4,
            version: "spec test".into(),
            lease: std::time::Duration::from_secs(20),
        },
    )
    .await
    .unwrap();
    client
        .execute(
            "INSERT INTO camera_leases (camera_id, node_id, epoch, since, expires_at)
             SELECT id, $1, 1, now(), now() + interval '20 seconds' FROM cameras
             WHERE name = 'cam-a'",
            &[&node.id],
        )
        .await
        .unwrap();
    drop(client);
    let (_, nodes) = get_json(&s, "/api/nodes").await;
    assert_eq!(nodes["items"][0]["cameras"][0], "cam-a", "{nodes}");
    assert_eq!(nodes["items"][0]["alive"], true, "{nodes}");
    let (_, page) = get_json(&s, "/api/passages?plate=298I25662").await;
    let runs: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["run"])
        .collect();
    assert_eq!(
        runs.len(),
        2,
        "the live passage and the re-read one: {page}"
    );
    assert!(runs.iter().any(|r| r.is_null()), "{page}");
    assert!(runs.iter().any(|r| r["id"] == run), "{page}");
    let id = page["items"][0]["id"].as_i64().unwrap();
    assert!(
        page["items"][0]["clip"].is_object(),
        "the passage links its clip: {page}"
    );
    let window = "from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z";
    for (uri, schema) in [
        ("/api/passages?plate=298I25662".to_string(), "PassagePage"),
        ("/api/passages?camera=cam-a".to_string(), "PassagePage"),
        (format!("/api/passages/{id}"), "PassageDetail"),
        (
            format!("/api/counts?junction=J&{window}&bucket=15m"),
            "Counts",
        ),
        (format!("/api/clips?camera=cam-a&{window}"), "ClipList"),
        ("/api/cameras".to_string(), "CameraList"),
        ("/api/junctions".to_string(), "JunctionList"),
        ("/api/nodes".to_string(), "NodeList"),
        ("/healthz".to_string(), "Health"),
        ("/api/me".to_string(), "Me"),
        ("/api/evidence/key".to_string(), "EvidenceKey"),
        ("/api/users".to_string(), "UserList"),
        ("/api/audit?limit=5".to_string(), "AuditPage"),
        ("/api/watchlist".to_string(), "WatchList"),
        ("/api/alerts".to_string(), "AlertList"),
        ("/api/passages?plate=%".to_string(), "Error"),
        ("/api/passages/123456".to_string(), "Error"),
    ] {
        let (_, body) = get_json(&s, &uri).await;
        let schema = serde_json::json!({ "$ref": format!("#/components/schemas/{schema}") });
        if let Err(e) = conforms(&doc, &schema, &body, schema.to_string().as_str()) {
            panic!("{uri}: {e}\n{body}");
        }
    }
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_come_as_csv_and_a_bucket_too_small_for_the_window_is_widened() {
    let db = common::scratch("api_counts_csv").await;
    let dir = common::temp_dir("api-counts-csv");
    let s = state(db.store.clone(), &dir).await;
    let at = t("2026-11-29T01:10:00Z");
    write_batch(
        &db.store,
        &[
            common::passage("cam-a", 1, at, Some("29B125662")),
            common::passage("cam-a", 2, at + TimeDelta::minutes(1), Some("30A99999")),
            common::passage("cam-a", 3, at + TimeDelta::hours(3), None),
        ],
    )
    .await
    .unwrap();
    let client = db.store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO junctions (name, km_marker) VALUES ('Km 31 Yên Minh', 31.0);
             UPDATE cameras SET junction_id = (SELECT id FROM junctions)",
        )
        .await
        .unwrap();
    drop(client);
    let window = "junction=Km+31+Y%C3%AAn+Minh&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z";

    // CSV by parameter: a header and one row per bucket, class and direction, in ICT.
    let (status, headers, body) = get(&s, &format!("/api/counts?{window}&format=csv")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("attachment") && disposition.contains(".csv"),
        "{disposition}"
    );
    let text = String::from_utf8(body).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a byte-order mark for spreadsheets");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "junction,bucket_start,bucket,vehicle_class,direction,count"
    );
    assert_eq!(
        &lines[1..],
        [
            "Km 31 Yên Minh,2026-11-29T08:00:00+07:00,1h,car,along,2",
            "Km 31 Yên Minh,2026-11-29T11:00:00+07:00,1h,car,along,1",
        ]
    );
    // The same by Accept header; JSON stays the default.
    let response = router(s.state.clone())
        .oneshot(
            Request::get(format!("/api/counts?{window}"))
                .header("authorization", format!("Bearer {}", s.token))
                .header("accept", "text/csv")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let (status, json) = get_json(&s, &format!("/api/counts?{window}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["bucket"], "1h");
    assert!(json.get("bucket_requested").is_none());

    // "All time" in 15-minute buckets would be ~940 000 buckets: shown per day instead.
    let all =
        "junction=Km+31+Y%C3%AAn+Minh&from=2000-01-01T00:00:00%2B07:00&to=2026-11-30T00:00:00Z";
    let (status, json) = get_json(&s, &format!("/api/counts?{all}&bucket=15m")).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["bucket"], "1d");
    assert_eq!(json["bucket_requested"], "15m");
    let rows = json["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{json}");
    assert_eq!(rows[0]["count"], 3);
    assert_eq!(rows[0]["bucket_start"], "2026-11-28T17:00:00Z");
    // Weeks start on a Monday (30 November 2026 is one).
    let (_, json) = get_json(&s, &format!("/api/counts?{window}&bucket=1w")).await;
    assert_eq!(json["rows"][0]["bucket_start"], "2026-11-22T17:00:00Z");
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
