//! Clips on several nodes: two API servers (nodes `pc-a` and `pc-b`, each with its own
//! folders, both in this process on their own ports) on one fresh database. A camera recorded
//! by `matthan ingest` (real H.264 made by ffmpeg) and a passage's snapshot lie on pc-b's disk
//! and their rows name pc-b; a user asks pc-a. The files come through pc-a byte for byte
//! (ranges too), exports and evidence packages check every fetched segment against the
//! logged SHA-256, a node that is down, silent or stale is a 503 naming it, an altered
//! segment is refused, and pc-b's internal routes open only with a good node token.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::t;
use matthan::access::Role;
use matthan::api::{self, AppState};
use matthan::node_token;
use matthan::peer::{NodeIdentity, PeerSettings};
use matthan::store::scratch::ScratchDatabase;
use matthan::store::writer::write_batch;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One API server in this process.
struct Node {
    id: i64,
    url: String,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Node {
    /// Stops it and waits until its port is closed.
    async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// Registers node `name` with its API at `listener`, and serves `state` (as that node) there.
async fn start(
    db: &ScratchDatabase,
    name: &str,
    dir: &Path,
    listener: tokio::net::TcpListener,
    settings: PeerSettings,
) -> Node {
    let url = format!("http://{}", listener.local_addr().unwrap());
    let client = db.store.client().await.unwrap();
    let id: i64 = client
        .query_one(
            "INSERT INTO nodes (name, api_url, cores, capacity, version, instance)
             VALUES ($1, $2, 2, 4, 'test', gen_random_uuid()) RETURNING id",
            &[&name, &url],
        )
        .await
        .unwrap()
        .get(0);
    let state: AppState = common::app_state(db.store.clone(), dir)
        .with_node(NodeIdentity {
            id,
            name: name.to_string(),
        })
        .with_peer_settings(settings)
        .unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    Node {
        id,
        url,
        dir: dir.to_path_buf(),
        stop: Some(stop),
        task: Some(task),
    }
}

/// The two nodes, the recording and the passage.
struct Cluster {
    db: ScratchDatabase,
    a: Node,
    b: Node,
    /// Investigator `ivy`'s token.
    token: String,
    /// The passage (best seen at 00:00:12, seen 00:00:10 to 00:00:13), its snapshot on pc-b.
    passage: i64,
    /// The segments: id, file, logged SHA-256, start.
    clips: Vec<(i64, PathBuf, String, chrono::DateTime<chrono::Utc>)>,
    http: reqwest::Client,
}

async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Records the camera on pc-b's disk, logs the passage with its snapshot there, marks every
/// row as pc-b's, and starts both nodes.
async fn cluster(tag: &str, settings: PeerSettings) -> Cluster {
    let db = common::scratch(&format!("proxy_{tag}")).await;
    let dir_a = common::temp_dir(&format!("proxy-{tag}-a"));
    let dir_b = common::temp_dir(&format!("proxy-{tag}-b"));
    tokio::task::block_in_place(|| common::record_test_pattern(&dir_b, &db));
    let mut p = common::new_passage("cam-x", 1, t("2026-01-01T00:00:12Z"), &[("29B125662", 0.9)]);
    let snapshot = dir_b.join("snapshots/cam-x/1.jpg");
    std::fs::create_dir_all(snapshot.parent().unwrap()).unwrap();
    std::fs::write(&snapshot, b"\xff\xd8\xff\xe0 a snapshot on pc-b \xff\xd9").unwrap();
    p.snapshot_path = Some(snapshot.to_string_lossy().into_owned());
    write_batch(&db.store, &common::items(vec![p]))
        .await
        .unwrap();
    let a = start(&db, "pc-a", &dir_a, listener().await, settings).await;
    let b = start(&db, "pc-b", &dir_b, listener().await, settings).await;
    let client = db.store.client().await.unwrap();
    client
        .execute("UPDATE clips SET node_id = $1", &[&b.id])
        .await
        .unwrap();
    client
        .execute("UPDATE passages SET node_id = $1", &[&b.id])
        .await
        .unwrap();
    let passage: i64 = client
        .query_one("SELECT max(id) FROM passages", &[])
        .await
        .unwrap()
        .get(0);
    let clips = client
        .query(
            "SELECT id, path, sha256, started_at FROM clips ORDER BY started_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get(0),
                PathBuf::from(r.get::<_, String>(1)),
                r.get(2),
                r.get(3),
            )
        })
        .collect::<Vec<_>>();
    assert_eq!(clips.len(), 5, "20 s in 4 s segments");
    for (_, path, _, _) in &clips {
        assert!(
            path.starts_with(&dir_b),
            "{} is on pc-b's disk",
            path.display()
        );
    }
    let token = common::add_user(&db.store, "ivy", Role::Investigator, None).await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    Cluster {
        db,
        a,
        b,
        token,
        passage,
        clips,
        http,
    }
}

impl Cluster {
    /// GET `path` of `base` as ivy (and `range`): status, headers, body.
    async fn get(
        &self,
        base: &str,
        path: &str,
        range: Option<&str>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
        let mut req = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(&self.token);
        if let Some(r) = range {
            req = req.header("range", r);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        (status, headers, r.bytes().await.unwrap().to_vec())
    }

    /// The clip holding 00:00:12 (the segment from about 12 s to 16 s).
    fn clip_at_12(&self) -> &(i64, PathBuf, String, chrono::DateTime<chrono::Utc>) {
        self.clips
            .iter()
            .rfind(|c| c.3 <= t("2026-01-01T00:00:12Z"))
            .unwrap()
    }

    async fn clean_up(mut self) {
        self.a.stop().await;
        self.b.stop().await;
        self.db.drop_database().await.unwrap();
        std::fs::remove_dir_all(&self.a.dir).ok();
        std::fs::remove_dir_all(&self.b.dir).ok();
    }
}

/// The `detail` of a JSON error body.
fn detail(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(body)));
    v["detail"].as_str().unwrap().to_string()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Files left in a folder (and its subfolders).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.push(e.path());
            out.extend(files_under(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

const EXPORT: &str = "/api/clips/export?camera=cam-x&from=2026-01-01T00:00:10Z\
                      &to=2026-01-01T00:00:14Z&reason=case+17";

fn evidence_uri(id: i64) -> String {
    format!("/api/passages/{id}/evidence?reason=case+17")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_and_a_snapshot_on_another_node_come_through_this_one_byte_for_byte() {
    let c = cluster("relay", PeerSettings::default()).await;
    let (id, path, logged, _) = c.clip_at_12().clone();
    let file = std::fs::read(&path).unwrap();
    assert_eq!(sha256(&file), logged);
    let video = format!("/api/clips/{id}/video");

    let (status, headers, body) = c.get(&c.a.url, &video, None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["content-type"], "video/mp4");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(body, file);

    let (status, headers, body) = c.get(&c.a.url, &video, Some("bytes=100-1099")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        headers["content-range"],
        format!("bytes 100-1099/{}", file.len()).as_str()
    );
    assert_eq!(body, &file[100..1100]);
    // The last bytes, as a player seeking to the end asks.
    let (status, _, body) = c.get(&c.a.url, &video, Some("bytes=-50")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &file[file.len() - 50..]);
    let (status, _, _) = c
        .get(
            &c.a.url,
            &video,
            Some(&format!("bytes={}-", file.len() + 10)),
        )
        .await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);

    let snapshot = std::fs::read(c.b.dir.join("snapshots/cam-x/1.jpg")).unwrap();
    let uri = format!("/api/passages/{}/snapshot.jpg", c.passage);
    let (status, headers, body) = c.get(&c.a.url, &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(body, snapshot);

    // Roles and audit rows stay with the node the user asked: every row is a user's /api
    // request, none is pc-b's internal route.
    let client = c.db.store.client().await.unwrap();
    let rows: Vec<(String, String, i16, Option<String>)> = client
        .query(
            "SELECT action, path, status, user_name FROM audit_log ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    let statuses: Vec<(&str, i16)> = rows.iter().map(|r| (r.0.as_str(), r.2)).collect();
    assert_eq!(
        statuses,
        [
            ("clip_video", 200),
            ("clip_video", 206),
            ("clip_video", 206),
            ("clip_video", 416),
            ("snapshot", 200)
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.1.starts_with("/api/") && r.3.as_deref() == Some("ivy")));
    // A viewer may not play a clip on pc-a, wherever the clip is.
    let viewer = common::add_user(&c.db.store, "vic", Role::Viewer, None).await;
    let r = c
        .http
        .get(format!("{}{video}", c.a.url))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    c.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exports_and_evidence_through_this_node_use_segments_checked_against_the_log() {
    let c = cluster("export", PeerSettings::default()).await;
    let (status, headers, body) = c.get(&c.a.url, EXPORT, None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers["x-content-sha256"], sha256(&body).as_str());
    let out = c.a.dir.join("export.mp4");
    std::fs::write(&out, &body).unwrap();
    assert_eq!(common::decode_errors(&out), "");
    let (seconds, _) = common::ffprobe_duration(&out);
    assert!((4.0..=5.5).contains(&seconds), "{seconds} s");
    // The same window cut by pc-b from its own disk is the same file.
    let (status, _, on_b) = c.get(&c.b.url, EXPORT, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sha256(&on_b), sha256(&body));

    let (status, _, zip) = c.get(&c.a.url, &evidence_uri(c.passage), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).unwrap();
    let mut read = |name: &str| {
        let mut data = Vec::new();
        archive
            .by_name(name)
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        data
    };
    let snapshot = std::fs::read(c.b.dir.join("snapshots/cam-x/1.jpg")).unwrap();
    assert_eq!(read("snapshot.jpg"), snapshot);
    let clip = read("clip.mp4");
    let manifest: Value = serde_json::from_slice(&read("manifest.json")).unwrap();
    assert_eq!(manifest["absent"], serde_json::json!([]));
    let listed = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "clip.mp4")
        .unwrap();
    assert_eq!(listed["sha256"], sha256(&clip).as_str());
    // The window 00:00:05..00:00:18: segments 4..8, 8..12, 12..16 and 16..20, with the
    // SHA-256 the log holds.
    let segments: Vec<&str> = manifest["clip"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sha256"].as_str().unwrap())
        .collect();
    let logged: Vec<&str> = c.clips[1..].iter().map(|c| c.2.as_str()).collect();
    assert_eq!(segments, logged);
    // The package checks out.
    let package = c.a.dir.join("package.zip");
    std::fs::write(&package, archive.into_inner().into_inner()).unwrap();
    let verdict = matthan::evidence::verify_file(&package, None).unwrap();
    assert!(verdict.ok(), "{:?}", verdict.differences);
    std::fs::remove_file(&package).unwrap();
    // Nothing fetched is left behind.
    assert_eq!(files_under(&c.a.dir.join("exports")), Vec::<PathBuf>::new());
    c.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_is_stale_silent_or_down_is_a_503_naming_it() {
    let settings = PeerSettings {
        answer_timeout: Duration::from_secs(1),
        ..PeerSettings::default()
    };
    let mut c = cluster("down", settings).await;
    let (id, ..) = c.clip_at_12().clone();
    let video = format!("/api/clips/{id}/video");
    let client = c.db.store.client().await.unwrap();

    // pc-b stopped heartbeating ten minutes ago: not asked.
    client
        .execute(
            "UPDATE nodes SET heartbeat_at = now() - interval '10 minutes' WHERE id = $1",
            &[&c.b.id],
        )
        .await
        .unwrap();
    let (status, _, body) = c.get(&c.a.url, &video, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let why = detail(&body);
    assert!(
        why.contains(&format!("clip {id} is on node pc-b ({})", c.b.url)),
        "{why}"
    );
    // 600 s, and the moment since.
    assert!(why.contains("its last heartbeat was 60"), "{why}");
    client
        .execute("UPDATE nodes SET heartbeat_at = now()", &[])
        .await
        .unwrap();

    // A node that takes connections and never answers.
    let silent = listener().await;
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let c_id: i64 = client
        .query_one(
            "INSERT INTO nodes (name, api_url, cores, capacity, version, instance)
             VALUES ('pc-c', $1, 2, 4, 'test', gen_random_uuid()) RETURNING id",
            &[&silent_url],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute("UPDATE clips SET node_id = $1 WHERE id = $2", &[&c_id, &id])
        .await
        .unwrap();
    let (status, _, body) = c.get(&c.a.url, &video, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let why = detail(&body);
    assert!(
        why.contains(&format!(
            "clip {id} is on node pc-c ({silent_url}), which is not answering"
        )),
        "{why}"
    );
    drop(silent);
    client
        .execute("UPDATE clips SET node_id = $1", &[&c.b.id])
        .await
        .unwrap();

    // pc-b stopped: nothing listens at its address.
    c.b.stop().await;
    let (status, _, body) = c.get(&c.a.url, &video, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let why = detail(&body);
    assert!(
        why.contains(&format!(
            "clip {id} is on node pc-b ({}), which is not answering",
            c.b.url
        )),
        "{why}"
    );
    let uri = format!("/api/passages/{}/snapshot.jpg", c.passage);
    let (status, _, body) = c.get(&c.a.url, &uri, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(detail(&body).contains(&format!(
        "the snapshot of passage {} is on node pc-b",
        c.passage
    )));
    for uri in [EXPORT.to_string(), evidence_uri(c.passage)] {
        let (status, _, body) = c.get(&c.a.url, &uri, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
        let why = detail(&body);
        assert!(
            why.contains("is on node pc-b") && why.contains("not answering"),
            "{why}"
        );
    }
    assert_eq!(files_under(&c.a.dir.join("exports")), Vec::<PathBuf>::new());
    c.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_routes_open_only_with_a_fresh_node_token_of_this_cluster() {
    let c = cluster("tokens", PeerSettings::default()).await;
    let (id, path, ..) = c.clip_at_12().clone();
    let file = std::fs::read(&path).unwrap();
    let client = c.db.store.client().await.unwrap();
    let secret: Vec<u8> = client
        .query_one("SELECT secret FROM cluster_secret", &[])
        .await
        .unwrap()
        .get(0);
    let now = chrono::Utc::now();
    let internal = format!("{}/internal/segments/{id}", c.b.url);
    let ask = |url: String, auth: Option<String>| {
        let mut req = c.http.get(url);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.bytes().await.unwrap().to_vec())
        }
    };

    let good = node_token::issue(&secret, "pc-a", now);
    let (status, body) = ask(internal.clone(), Some(format!("Node {good}"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, file);

    let expired = node_token::issue(&secret, "pc-a", now - chrono::TimeDelta::minutes(2));
    let foreign = node_token::issue(b"another cluster's secret", "pc-a", now);
    let mut altered = good.clone();
    let last = if altered.ends_with('0') { "1" } else { "0" };
    altered.replace_range(altered.len() - 1.., last);
    for (auth, why) in [
        (None, "a node token is required"),
        (Some(format!("Bearer {}", c.token)), "not a user's"),
        (Some("Node garbage".to_string()), "not a node token"),
        (Some(format!("Node {foreign}")), "signature does not match"),
        (Some(format!("Node {altered}")), "signature does not match"),
        (Some(format!("Node {expired}")), "expired"),
    ] {
        let (status, body) = ask(internal.clone(), auth.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}");
        assert!(detail(&body).contains(why), "{auth:?}: {}", detail(&body));
        assert!(body.len() < 1000, "no file with a 401");
    }
    // A good node token opens no user route, on either node.
    for base in [&c.a.url, &c.b.url] {
        let (status, body) = ask(
            format!("{base}/api/clips/{id}/video"),
            Some(format!("Node {good}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(detail(&body).contains("a node token opens only the internal routes"));
    }
    // pc-b gives only its own files: not a clip the log puts on pc-a.
    client
        .execute(
            "UPDATE clips SET node_id = $1 WHERE id = $2",
            &[&c.a.id, &id],
        )
        .await
        .unwrap();
    let (status, _) = ask(internal.clone(), Some(format!("Node {good}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    c.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_segment_altered_on_its_node_is_refused_by_exports_and_evidence() {
    let c = cluster("altered", PeerSettings::default()).await;
    let (id, path, logged, _) = c.clip_at_12().clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let altered = sha256(&bytes);
    for uri in [EXPORT.to_string(), evidence_uri(c.passage)] {
        let (status, _, body) = c.get(&c.a.url, &uri, None).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{uri}");
        assert_eq!(
            detail(&body),
            format!(
                "clip {id} fetched from node pc-b does not match the log: SHA-256 {logged} \
                 logged, {altered} received; not used"
            )
        );
    }
    assert_eq!(files_under(&c.a.dir.join("exports")), Vec::<PathBuf>::new());
    // Played through pc-a, the whole segment is cut before its end (here, a small one held
    // back whole, before the answer's head): never had whole.
    let played = c
        .http
        .get(format!("{}/api/clips/{id}/video", c.a.url))
        .bearer_auth(&c.token)
        .send()
        .await;
    match played {
        Err(e) => assert!(e.is_request(), "{e}"),
        Ok(r) => {
            assert_eq!(r.status(), StatusCode::OK);
            assert!(r.bytes().await.is_err(), "an altered segment is cut short");
        }
    }
    c.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_that_stops_mid_file_cuts_the_users_download_short() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let c = cluster("cut", PeerSettings::default()).await;
    let (id, ..) = c.clip_at_12().clone();
    // An owner that promises 100 000 bytes, sends 1 000 and hangs up.
    let owner = listener().await;
    let owner_url = format!("http://{}", owner.local_addr().unwrap());
    let served = tokio::spawn(async move {
        let (mut socket, _) = owner.accept().await.unwrap();
        let mut request = vec![0u8; 4096];
        let n = socket.read(&mut request).await.unwrap();
        let request = String::from_utf8_lossy(&request[..n]).to_string();
        socket
            .write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 100000\r\n\r\n",
            )
            .await
            .unwrap();
        socket.write_all(&[7u8; 1000]).await.unwrap();
        socket.flush().await.unwrap();
        request
    });
    let client = c.db.store.client().await.unwrap();
    let d: i64 = client
        .query_one(
            "INSERT INTO nodes (name, api_url, cores, capacity, version, instance)
             VALUES ('pc-d', $1, 2, 4, 'test', gen_random_uuid()) RETURNING id",
            &[&owner_url],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute("UPDATE clips SET node_id = $1 WHERE id = $2", &[&d, &id])
        .await
        .unwrap();
    let r = c
        .http
        .get(format!("{}/api/clips/{id}/video", c.a.url))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-length"], "100000");
    assert!(r.bytes().await.is_err(), "a cut download is never whole");
    // pc-a asked for the segment on pc-d's internal route, with a node token.
    let request = served.await.unwrap();
    assert!(
        request.starts_with(&format!("GET /internal/segments/{id} HTTP/1.1")),
        "{request}"
    );
    assert!(
        request.to_lowercase().contains("authorization: node mtn1."),
        "{request}"
    );
    c.clean_up().await;
}
