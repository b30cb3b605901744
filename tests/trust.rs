//! Access control, the audit log and the watchlist, on a real PostgreSQL: no token is a 401, a
//! viewer cannot export clips (403), a plate search without a reason is a 400, every request
//! (allowed or refused) has its audit row and the log refuses edits; a page login works through
//! its cookie; the demo plate on the watchlist raises exactly one alert per passage, pushed
//! over Server-Sent Events from a real `matthan ingest`, and posted to a webhook that fails
//! first and is retried.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeDelta, Utc};
use matthan::access::{self, Role};
use matthan::api::{router, AppState};
use matthan::store::trust;
use matthan::store::writer::write_batch;
use matthan::store::{NewPlateRead, WriteItem};
use serde_json::{json, Value};
use tower::ServiceExt;

/// One answer: status, audit id, JSON body (or Null), Set-Cookie.
struct Answer {
    status: StatusCode,
    audit_id: Option<i64>,
    body: Value,
    cookie: Option<String>,
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    auth: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(a) = auth {
        req = req.header(
            if a.starts_with("matthan_session=") {
                "cookie"
            } else {
                "authorization"
            },
            if a.starts_with("matthan_session=") {
                a.to_string()
            } else {
                format!("Bearer {a}")
            },
        );
    }
    let req = match body {
        Some(b) => req
            .header("content-type", "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let response = router(state.clone()).oneshot(req).await.unwrap();
    let status = response.status();
    let audit_id = response
        .headers()
        .get("x-audit-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 26)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        audit_id,
        body,
        cookie,
    }
}

/// When the test camera's track `track` passes: `track` seconds after 01:00.
fn at(track: i64) -> DateTime<Utc> {
    common::t("2026-11-29T01:00:00Z") + TimeDelta::seconds(track)
}

/// What the audit row of each answer must say: status, user, path.
type Expected = HashMap<i64, (StatusCode, Option<&'static str>, String)>;

/// Checks an answer's status and notes what its audit row must say.
fn note(
    expected: &mut Expected,
    a: &Answer,
    status: StatusCode,
    user: Option<&'static str>,
    path: &str,
) {
    assert_eq!(a.status, status, "{path}: {}", a.body);
    let id = a
        .audit_id
        .unwrap_or_else(|| panic!("{path}: no X-Audit-Id"));
    expected.insert(id, (status, user, path.to_string()));
}

/// A request and what must come of it: method, uri, caller's token, body, the status, and the
/// user the audit row names.
type Case = (
    &'static str,
    String,
    Option<String>,
    Option<Value>,
    StatusCode,
    Option<&'static str>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_reasons_and_an_audit_row_for_every_request() {
    let db = common::scratch("trust_access").await;
    let dir = common::temp_dir("trust-access");
    let s = common::app_state(db.store.clone(), &dir);
    write_batch(
        &db.store,
        &[common::passage("cam-a", 1, at(1), Some("29B125662"))],
    )
    .await
    .unwrap();
    let viewer = common::add_user(&db.store, "vi", Role::Viewer, Some("viewer-pass")).await;
    let investigator = common::add_user(
        &db.store,
        "inv",
        Role::Investigator,
        Some("investigator-pass"),
    )
    .await;
    let admin = common::add_user(&db.store, "adm", Role::Admin, Some("admin-pass-123")).await;
    let window = "camera=cam-a&from=2026-11-29T00:00:00Z&to=2026-11-29T00:10:00Z";
    let mut cases: Vec<Case> = vec![];
    let mut case = |m: &'static str,
                    u: String,
                    who: Option<&String>,
                    b: Option<Value>,
                    st: StatusCode,
                    name: Option<&'static str>| {
        cases.push((m, u, who.cloned(), b, st, name));
    };
    // No token, or a bad one: 401 everywhere under /api.
    for uri in [
        "/api/passages?plate=29B125662&reason=case+1",
        "/api/passages/1",
        "/api/counts?junction=J&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z",
        "/api/cameras",
        "/api/openapi.json",
        "/api/no-such-thing",
    ] {
        case(
            "GET",
            uri.into(),
            None,
            None,
            StatusCode::UNAUTHORIZED,
            None,
        );
    }
    let forged = access::new_token().unwrap().secret;
    case(
        "GET",
        "/api/cameras".into(),
        Some(&forged),
        None,
        StatusCode::UNAUTHORIZED,
        None,
    );
    let junk = "not-a-token".to_string();
    case(
        "GET",
        "/api/cameras".into(),
        Some(&junk),
        None,
        StatusCode::UNAUTHORIZED,
        None,
    );
    // A plate search needs a reason; a list of recent passages does not.
    case(
        "GET",
        "/api/passages?plate=29B125662".into(),
        Some(&viewer),
        None,
        StatusCode::BAD_REQUEST,
        Some("vi"),
    );
    case(
        "GET",
        "/api/passages?plate=29B125662&reason=+".into(),
        Some(&viewer),
        None,
        StatusCode::BAD_REQUEST,
        Some("vi"),
    );
    case(
        "GET",
        "/api/passages?plate=29B125662&reason=case+17%2F2026".into(),
        Some(&viewer),
        None,
        StatusCode::OK,
        Some("vi"),
    );
    case(
        "GET",
        "/api/passages?limit=5".into(),
        Some(&viewer),
        None,
        StatusCode::OK,
        Some("vi"),
    );
    case(
        "GET",
        "/api/passages/1".into(),
        Some(&viewer),
        None,
        StatusCode::OK,
        Some("vi"),
    );
    case(
        "GET",
        "/api/counts?junction=nowhere&from=2026-11-29T00:00:00Z&to=2026-11-30T00:00:00Z".into(),
        Some(&viewer),
        None,
        StatusCode::NOT_FOUND,
        Some("vi"),
    );
    // Viewers cannot touch clips; investigators can, with a reason for an export.
    case(
        "GET",
        format!("/api/clips/export?{window}&reason=case+1"),
        Some(&viewer),
        None,
        StatusCode::FORBIDDEN,
        Some("vi"),
    );
    case(
        "GET",
        format!("/api/clips?{window}"),
        Some(&viewer),
        None,
        StatusCode::FORBIDDEN,
        Some("vi"),
    );
    case(
        "GET",
        "/api/clips/1/video".into(),
        Some(&viewer),
        None,
        StatusCode::FORBIDDEN,
        Some("vi"),
    );
    case(
        "GET",
        format!("/api/clips/export?{window}"),
        Some(&investigator),
        None,
        StatusCode::BAD_REQUEST,
        Some("inv"),
    );
    case(
        "GET",
        format!("/api/clips/export?{window}&reason=case+1"),
        Some(&investigator),
        None,
        StatusCode::NOT_FOUND,
        Some("inv"),
    );
    case(
        "GET",
        format!("/api/clips?{window}"),
        Some(&investigator),
        None,
        StatusCode::OK,
        Some("inv"),
    );
    // Only admins manage the watchlist and users and read the audit log.
    case(
        "GET",
        "/api/audit".into(),
        Some(&investigator),
        None,
        StatusCode::FORBIDDEN,
        Some("inv"),
    );
    case(
        "POST",
        "/api/watchlist".into(),
        Some(&investigator),
        Some(json!({"pattern": "29B1*", "reason": "case 9"})),
        StatusCode::FORBIDDEN,
        Some("inv"),
    );
    case(
        "POST",
        "/api/watchlist".into(),
        Some(&admin),
        Some(json!({"pattern": "29B1*"})),
        StatusCode::BAD_REQUEST,
        Some("adm"),
    );
    case(
        "POST",
        "/api/watchlist".into(),
        Some(&admin),
        Some(json!({"pattern": "29B1*", "reason": "case 9"})),
        StatusCode::CREATED,
        Some("adm"),
    );
    case(
        "POST",
        "/api/users".into(),
        Some(&admin),
        Some(json!({"name": "new.officer", "role": "viewer"})),
        StatusCode::CREATED,
        Some("adm"),
    );
    case(
        "POST",
        "/api/users".into(),
        Some(&admin),
        Some(json!({"name": "x", "role": "root"})),
        StatusCode::BAD_REQUEST,
        Some("adm"),
    );
    case(
        "GET",
        "/api/users".into(),
        Some(&admin),
        None,
        StatusCode::OK,
        Some("adm"),
    );
    case(
        "GET",
        "/api/me".into(),
        Some(&viewer),
        None,
        StatusCode::OK,
        Some("vi"),
    );

    let mut expected: Expected = HashMap::new();
    for (method, uri, who, body, want, name) in &cases {
        let a = call(&s, method, uri, who.as_deref(), body.clone()).await;
        if a.status.is_client_error() {
            assert!(a.body["detail"].is_string(), "{uri}: {}", a.body);
        }
        let path = uri.split('?').next().unwrap();
        note(&mut expected, &a, *want, *name, path);
    }
    let a = call(
        &s,
        "GET",
        "/api/passages?plate=29B125662",
        Some(&viewer),
        None,
    )
    .await;
    assert!(
        a.body["detail"].as_str().unwrap().contains("reason"),
        "{}",
        a.body
    );
    note(
        &mut expected,
        &a,
        StatusCode::BAD_REQUEST,
        Some("vi"),
        "/api/passages",
    );

    // A page login: the cookie works, a wrong password does not, logout ends the session.
    let bad = call(
        &s,
        "POST",
        "/api/login",
        None,
        Some(json!({"name": "vi", "password": "wrong-pass"})),
    )
    .await;
    note(
        &mut expected,
        &bad,
        StatusCode::UNAUTHORIZED,
        Some("vi"),
        "/api/login",
    );
    let ok = call(
        &s,
        "POST",
        "/api/login",
        None,
        Some(json!({"name": "vi", "password": "viewer-pass"})),
    )
    .await;
    note(&mut expected, &ok, StatusCode::OK, Some("vi"), "/api/login");
    let cookie = ok.cookie.unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_string();
    let me = call(&s, "GET", "/api/me", Some(&session), None).await;
    note(&mut expected, &me, StatusCode::OK, Some("vi"), "/api/me");
    assert_eq!(me.body, json!({"name": "vi", "role": "viewer"}));
    let out = call(&s, "POST", "/api/logout", Some(&session), None).await;
    note(
        &mut expected,
        &out,
        StatusCode::OK,
        Some("vi"),
        "/api/logout",
    );
    let after = call(&s, "GET", "/api/me", Some(&session), None).await;
    note(
        &mut expected,
        &after,
        StatusCode::UNAUTHORIZED,
        None,
        "/api/me",
    );

    // Every request above has exactly its row, and no other row exists: no gap, no extra.
    let client = db.store.client().await.unwrap();
    let rows = client
        .query(
            "SELECT id, status, user_name, path, reason, params FROM audit_log ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.len(), "one audit row per request");
    for r in &rows {
        let id: i64 = r.get(0);
        let (status, name, path) = expected
            .get(&id)
            .unwrap_or_else(|| panic!("audit row {id} belongs to no request"));
        assert_eq!(r.get::<_, i16>(1) as u16, status.as_u16(), "row {id}");
        assert_eq!(r.get::<_, Option<String>>(2).as_deref(), *name, "row {id}");
        assert_eq!(&r.get::<_, String>(3), path, "row {id}");
    }
    // The search with a reason keeps the reason and the plate searched.
    let searched = client
        .query_one(
            "SELECT reason, params->>'plate' FROM audit_log WHERE status = 200 AND path = '/api/passages' AND params ? 'plate'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        searched.get::<_, Option<String>>(0).as_deref(),
        Some("case 17/2026")
    );
    assert_eq!(
        searched.get::<_, Option<String>>(1).as_deref(),
        Some("29B125662")
    );
    // The passage view names what it showed.
    let viewed: Option<String> = client
        .query_one(
            "SELECT target FROM audit_log WHERE path = '/api/passages/1' AND status = 200",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(viewed.as_deref(), Some("passage:1"));
    // Admins read it over the API.
    let log = call(
        &s,
        "GET",
        "/api/audit?user=vi&limit=500",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(log.status, StatusCode::OK);
    let vi_rows = rows
        .iter()
        .filter(|r| r.get::<_, Option<String>>(2).as_deref() == Some("vi"))
        .count();
    assert_eq!(log.body["items"].as_array().unwrap().len(), vi_rows);
    // The log is append-only.
    for sql in [
        "UPDATE audit_log SET reason = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let e = client.batch_execute(sql).await.unwrap_err();
        assert!(format!("{e:?}").contains("append-only"), "{sql}: {e:?}");
    }
    drop(client);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// A webhook receiver on a free port that refuses the first `fail_first` posts with a 500.
async fn webhook_receiver(fail_first: usize) -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let calls = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post({
            let got = got.clone();
            move |axum::Json(v): axum::Json<Value>| {
                let (got, calls) = (got.clone(), calls.clone());
                async move {
                    let n = {
                        let mut c = calls.lock().unwrap();
                        *c += 1;
                        *c
                    };
                    if n <= fail_first {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    got.lock().unwrap().push(v);
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_plate_raises_one_alert_per_passage_seen_over_sse_and_by_webhook() {
    let db = common::scratch("trust_watch").await;
    let dir = common::temp_dir("trust-watch");
    let state = common::app_state(db.store.clone(), &dir);
    let admin = common::add_user(&db.store, "adm", Role::Admin, Some("admin-pass-123")).await;
    let viewer = common::add_user(&db.store, "vi", Role::Viewer, Some("viewer-pass")).await;
    // The server, its alert listener and a webhook that fails twice before it accepts.
    tokio::spawn(state.alerts.clone().listen(db.store.clone()));
    let (hook_url, hooked) = webhook_receiver(2).await;
    let mut hook = matthan::alerts::WebhookSettings::new(&hook_url);
    hook.max_delay = Duration::from_secs(2);
    tokio::spawn(matthan::alerts::run_webhook(
        db.store.clone(),
        state.alerts.clone(),
        hook,
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(matthan::api::serve(
        listener,
        state.clone(),
        std::future::pending(),
    ));
    let http = reqwest::Client::new();

    let r = http
        .post(format!("{base}/api/watchlist"))
        .bearer_auth(&admin)
        .json(
            &json!({"pattern": "29B1 256.62", "mode": "exact", "reason": "test: reported stolen"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A viewer's live stream (SSE), open before any passage is written.
    let sse = http
        .get(format!("{base}/api/alerts/stream"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(sse.status(), 200);
    assert!(sse.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let seen: Arc<Mutex<Vec<Value>>> = Arc::default();
    {
        let seen = seen.clone();
        tokio::spawn(async move {
            let mut sse = sse;
            let mut buf = String::new();
            while let Ok(Some(chunk)) = sse.chunk().await {
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let event: String = buf.drain(..end + 2).collect();
                    if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) {
                        seen.lock()
                            .unwrap()
                            .push(serde_json::from_str(data.trim()).unwrap());
                    }
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // A real ingest of the demo video (its first photo shows 29B1 256.62) in another process.
    let video = dir.join("demo.mp4");
    common::demo_video(&video);
    let config = dir.join("matthan.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nstate_dir = \"{}\"\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    let out = tokio::task::block_in_place(|| {
        common::matthan(&db.connection_string())
            .args(["ingest", "--camera", "gate", "--config"])
            .arg(&config)
            .arg(&video)
            .args(["--start", "2026-11-29T08:00:00+07:00"])
            .output()
            .unwrap()
    });
    common::assert_success(&out);
    let client = db.store.client().await.unwrap();
    let watched: Vec<i64> = client
        .query(
            "SELECT DISTINCT passage_id FROM plate_reads WHERE plate_key = '29B125662' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!watched.is_empty(), "the demo plate was logged");

    // Every passage of the plate, exactly once, over SSE.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let n = seen.lock().unwrap().len();
        if n >= watched.len() || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pushed: Vec<i64> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|a| a["passage_id"].as_i64().unwrap())
        .collect();
    let mut sorted = pushed.clone();
    sorted.sort();
    assert_eq!(
        sorted, watched,
        "one alert per passage of the watched plate, no more"
    );
    for a in seen.lock().unwrap().iter() {
        assert_eq!(a["plate_key"], "29B125662");
        assert_eq!(a["camera"], "gate");
        assert_eq!(a["reason"], "test: reported stolen");
    }
    let stored: i64 = client
        .query_one("SELECT count(*) FROM alerts", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored as usize, watched.len());

    // Writing the same passages again (a replayed batch) adds nothing and raises nothing.
    let replay: Vec<WriteItem> = client
        .query(
            "SELECT track_no, first_seen, last_seen, best_at FROM passages WHERE id = ANY($1)",
            &[&watched],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let WriteItem::Passage(mut p) = common::passage("cam-a", 0, at(0), Some("29B125662"))
            else {
                unreachable!()
            };
            p.camera = "gate".into();
            p.track_no = r.get(0);
            p.facts.first_seen = r.get(1);
            p.facts.last_seen = r.get(2);
            p.facts.best_at = r.get(3);
            WriteItem::Passage(p)
        })
        .collect();
    let again = write_batch(&db.store, &replay).await.unwrap();
    assert_eq!(
        (again.passages, again.duplicates, again.alerts),
        (0, watched.len() as u64, 0)
    );

    // The webhook got each alert once it stopped failing (two failures, then retries).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids: BTreeSet<i64> = hooked
            .lock()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_i64().unwrap())
            .collect();
        if ids.len() == watched.len() {
            break;
        }
        assert!(Instant::now() < deadline, "webhook got {ids:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        hooked.lock().unwrap().len(),
        watched.len(),
        "each alert delivered once"
    );
    let undelivered: i64 = client
        .query_one(
            "SELECT count(*) FROM alerts WHERE webhook_done_at IS NULL",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(undelivered, 0);
    let retried: i64 = client
        .query_one(
            "SELECT count(*) FROM alerts WHERE webhook_attempts > 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(retried >= 1, "the failed posts were retried");

    // A late stream that says which alert it saw last gets the ones after it.
    let first = sorted.len();
    let resumed = http
        .get(format!("{base}/api/alerts/stream"))
        .bearer_auth(&viewer)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut resumed = resumed;
    let mut text = String::new();
    while text.matches("event: alert").count() < first {
        match tokio::time::timeout(Duration::from_secs(5), resumed.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            _ => break,
        }
    }
    assert_eq!(text.matches("event: alert").count(), first, "{text}");
    drop(client);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_match_like_a_search_once_per_passage() {
    use matthan::plate::search::{PlateQuery, SearchMode};
    let db = common::scratch("trust_match").await;
    let mut client = db.store.client().await.unwrap();
    let watch = |text: &str, mode: Option<SearchMode>| PlateQuery::parse(text, mode).unwrap();
    let exact = trust::add_watch(
        &mut client,
        &watch("29B125662", Some(SearchMode::Exact)),
        "w1",
        "t",
    )
    .await
    .unwrap();
    let wild = trust::add_watch(&mut client, &watch("30A*", None), "w2", "t")
        .await
        .unwrap();
    let fuzzy = trust::add_watch(&mut client, &watch("51F12345", None), "w3", "t")
        .await
        .unwrap();
    let removed = trust::add_watch(&mut client, &watch("88C99999", None), "w4", "t")
        .await
        .unwrap();
    assert!(trust::remove_watch(&client, removed, "t").await.unwrap());
    // Passage 1: the exact plate. 2: a runner-up candidate is the watched plate (rank 2) and
    // the voted one matches too: still one alert for that watch. 3: wildcard. 4: look-alike
    // swap (S for 5, O for 0...) of the fuzzy watch. 5: one real edit of it. 6: two edits: no.
    // 7: the removed watch's plate: no.
    let mut p2 = common::passage("cam-a", 2, at(2), Some("29B125662"));
    if let WriteItem::Passage(p) = &mut p2 {
        p.reads.push(NewPlateRead {
            rank: 2,
            key: common::key("29B125662"),
            confidence: 0.3,
            char_confidences: vec![],
        });
        p.reads[0].key = common::key("29B125663");
    }
    let items = vec![
        common::passage("cam-a", 1, at(1), Some("29B125662")),
        p2,
        common::passage("cam-a", 3, at(3), Some("30A99999")),
        common::passage("cam-a", 4, at(4), Some("S1F12345")),
        common::passage("cam-a", 5, at(5), Some("51F12346")),
        common::passage("cam-a", 6, at(6), Some("51F12399")),
        common::passage("cam-a", 7, at(7), Some("88C99999")),
        common::passage("cam-a", 8, at(8), Some("29B125663")),
    ];
    let stats = write_batch(&db.store, &items).await.unwrap();
    let rows = client
        .query(
            "SELECT a.watch_id, p.track_no, a.plate_key, a.rank FROM alerts a
             JOIN passages p ON p.id = a.passage_id ORDER BY a.watch_id, p.track_no",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(i64, i64, String, i16)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        vec![
            (exact, 1, "29B125662".to_string(), 1),
            (exact, 2, "29B125662".to_string(), 2),
            (wild, 3, "30A99999".to_string(), 1),
            (fuzzy, 4, "S1F12345".to_string(), 1),
            (fuzzy, 5, "51F12346".to_string(), 1),
        ]
    );
    assert_eq!(stats.alerts, 5);
    // A replay raises nothing; the live watchlist lists its alert counts.
    let again = write_batch(&db.store, &items).await.unwrap();
    assert_eq!((again.passages, again.alerts), (0, 0));
    let listed = trust::watchlist(&client).await.unwrap();
    assert_eq!(
        listed.iter().map(|w| (w.id, w.alerts)).collect::<Vec<_>>(),
        vec![(exact, 2), (wild, 1), (fuzzy, 2)]
    );
    drop(client);
    db.drop_database().await.unwrap();
}
