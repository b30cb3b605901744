//! Several `matthan serve` sharing the cameras: the lease SQL against a real database (two
//! nodes racing for cameras, pins, expiry and takeover, a name taken while it heartbeats, the
//! fence refusing rows of a lost lease and taking spooled rows made before the handover), and
//! three real `serve` processes with six live cameras, one killed and started again, another
//! paused past its lease and woken; and a node that loses the database for longer than its
//! lease, which goes on recording and keeps its camera.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use matthan::access::Role;
use matthan::config::{CameraConfig, Config};
use matthan::lease::{Fence, Held};
use matthan::store::query::{
    lease_tick, register_node, release_node, sync_config, NodeIdentity, NodeRegistration,
    TickAnswer, TickRequest,
};
use matthan::store::writer::write_batch;
use matthan::store::{NewClip, PrivateCluster, Store, StoreError, WriteItem};
use sha2::{Digest, Sha256};

const LEASE: Duration = Duration::from_secs(20);

fn registration(name: &str) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        api_url: format!("http://{name}:8080"),
        cores: 2,
        capacity: 3,
        version: "test".into(),
        lease: LEASE,
    }
}

/// A config with live cameras `names`, `pins` naming the node a camera is pinned to.
fn cameras_config(names: &[&str], pins: &[(&str, &str)]) -> Config {
    let mut cfg = Config::default();
    for name in names {
        let mut c = CameraConfig::named(name);
        c.source = Some(format!("rtsp://10.0.0.1/{name}"));
        c.node = pins
            .iter()
            .find(|(cam, _)| cam == name)
            .map(|(_, n)| n.to_string());
        cfg.cameras.push(c);
    }
    cfg
}

async fn tick(
    store: &Store,
    node: &NodeIdentity,
    running: &[Held],
    runnable: &[String],
) -> TickAnswer {
    let mut client = store.client().await.unwrap();
    lease_tick(
        &mut client,
        TickRequest {
            node,
            lease: LEASE,
            running,
            runnable,
            capacity: 3,
            take: true,
        },
    )
    .await
    .unwrap()
}

fn won(answer: TickAnswer) -> Vec<Held> {
    match answer {
        TickAnswer::Leases { won, .. } => won,
        TickAnswer::Superseded => panic!("superseded"),
    }
}

/// Makes every lease of `node` run out now, as if it had stopped heartbeating.
async fn expire_leases(store: &Store, node: &NodeIdentity) {
    let client = store.client().await.unwrap();
    client
        .execute(
            "UPDATE camera_leases SET expires_at = now() - interval '1 second' WHERE node_id = $1",
            &[&node.id],
        )
        .await
        .unwrap();
    client
        .execute(
            "UPDATE nodes SET heartbeat_at = now() - interval '1 hour' WHERE id = $1",
            &[&node.id],
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_racing_share_the_cameras_and_keep_pins() {
    let db = common::scratch("nodes_race").await;
    let names = ["c1", "c2", "c3", "c4"];
    let cfg = cameras_config(&names, &[("c4", "pc-b")]);
    sync_config(&db.store.client().await.unwrap(), &cfg)
        .await
        .unwrap();
    let client = db.store.client().await.unwrap();
    let a = register_node(&client, &registration("pc-a")).await.unwrap();
    let b = register_node(&client, &registration("pc-b")).await.unwrap();
    let runnable: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    // Both look at once.
    let (wa, wb) = tokio::join!(
        tick(&db.store, &a, &[], &runnable),
        tick(&db.store, &b, &[], &runnable)
    );
    let (wa, wb) = (won(wa), won(wb));
    let taken_a: HashSet<&str> = wa.iter().map(|h| h.camera.as_str()).collect();
    let taken_b: HashSet<&str> = wb.iter().map(|h| h.camera.as_str()).collect();
    assert!(taken_a.is_disjoint(&taken_b), "{wa:?} {wb:?}");
    assert!(!taken_a.contains("c4"), "c4 is pinned to pc-b: {wa:?}");
    // Each takes its even share (two of four); the one a racer skipped is free next tick.
    assert!(wa.len() <= 2 && wb.len() <= 2, "{wa:?} {wb:?}");
    let wb2 = won(tick(&db.store, &b, &wb, &runnable).await);
    let wa2 = won(tick(&db.store, &a, &wa, &runnable).await);
    let all: HashSet<String> = [wa, wb.clone(), wa2, wb2.clone()]
        .concat()
        .into_iter()
        .map(|h| h.camera)
        .collect();
    assert_eq!(all.len(), 4, "every camera is held once");
    assert!(
        wb.iter().chain(&wb2).any(|h| h.camera == "c4"),
        "pc-b took its pinned camera"
    );
    // Every first lease is epoch 1, logged in lease_epochs.
    let epochs: i64 = client
        .query_one("SELECT count(*) FROM lease_epochs WHERE epoch = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(epochs, 4);
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_cameras_are_taken_under_a_new_epoch_and_it_loses_them() {
    let db = common::scratch("nodes_expiry").await;
    let cfg = cameras_config(&["c1", "c2"], &[]);
    sync_config(&db.store.client().await.unwrap(), &cfg)
        .await
        .unwrap();
    let client = db.store.client().await.unwrap();
    let a = register_node(&client, &registration("pc-a")).await.unwrap();
    let runnable = vec!["c1".to_string(), "c2".to_string()];
    let held_a = won(tick(&db.store, &a, &[], &runnable).await);
    assert_eq!(held_a.len(), 2, "alone, it takes both");
    let b = register_node(&client, &registration("pc-b")).await.unwrap();
    // Held and renewed: nothing for b.
    assert!(won(tick(&db.store, &b, &[], &runnable).await).is_empty());
    match tick(&db.store, &a, &held_a, &runnable).await {
        TickAnswer::Leases { renewed, won } => {
            assert_eq!(renewed, held_a);
            assert!(won.is_empty());
        }
        TickAnswer::Superseded => panic!("superseded"),
    }
    // a stops heartbeating: its leases run out, b takes both under epoch 2.
    expire_leases(&db.store, &a).await;
    let held_b = won(tick(&db.store, &b, &[], &runnable).await);
    assert_eq!(
        held_b,
        vec![
            Held {
                camera: "c1".into(),
                epoch: 2
            },
            Held {
                camera: "c2".into(),
                epoch: 2
            }
        ]
    );
    // a comes back: its renewal finds nothing at its epochs, so it must stop both.
    match tick(&db.store, &a, &held_a, &runnable).await {
        TickAnswer::Leases { renewed, won } => {
            assert!(renewed.is_empty(), "{renewed:?}");
            assert!(won.is_empty(), "nothing is free: {won:?}");
            assert_eq!(matthan::lease::lost(&held_a, &renewed), held_a);
        }
        TickAnswer::Superseded => panic!("superseded"),
    }
    // A clean stop releases at once: a takes them back under epoch 3.
    release_node(&mut db.store.client().await.unwrap(), &b)
        .await
        .unwrap();
    let back = won(tick(&db.store, &a, &[], &runnable).await);
    assert!(
        back.iter().all(|h| h.epoch == 3) && back.len() == 2,
        "{back:?}"
    );
    db.drop_database().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_still_heartbeats_is_refused_and_a_stale_one_taken_over() {
    let db = common::scratch("nodes_name").await;
    let client = db.store.client().await.unwrap();
    let first = register_node(&client, &registration("pc-a")).await.unwrap();
    let err = register_node(&client, &registration("pc-a"))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, StoreError::NodeRunning { .. }), "{text}");
    assert!(
        text.contains("pc-a") && text.contains("last heartbeat") && text.contains("s ago"),
        "{text}"
    );
    // Stale: taken over, same id, another instance; the old process is told so.
    expire_leases(&db.store, &first).await;
    let second = register_node(&client, &registration("pc-a")).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_ne!(second.instance, first.instance);
    assert_eq!(
        tick(&db.store, &first, &[], &[]).await,
        TickAnswer::Superseded
    );
    // A clean stop: the name may be registered again at once.
    release_node(&mut db.store.client().await.unwrap(), &second)
        .await
        .unwrap();
    register_node(&client, &registration("pc-a")).await.unwrap();
    db.drop_database().await.unwrap();
}

fn clip(camera: &str, at: DateTime<Utc>, fence: Option<Fence>) -> WriteItem {
    WriteItem::Clip(NewClip {
        camera: camera.into(),
        started_at: at,
        ended_at: at + TimeDelta::seconds(2),
        path: format!("/clips/{camera}/{}.mp4", at.timestamp()),
        bytes: 1,
        sha256: "00".into(),
        fence,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fence_refuses_rows_of_a_lost_lease_and_takes_those_made_before_the_handover() {
    let db = common::scratch("nodes_fence").await;
    let cfg = cameras_config(&["c1", "c2"], &[]);
    sync_config(&db.store.client().await.unwrap(), &cfg)
        .await
        .unwrap();
    let client = db.store.client().await.unwrap();
    let a = register_node(&client, &registration("pc-a")).await.unwrap();
    let runnable = vec!["c1".to_string()];
    let held_a = won(tick(&db.store, &a, &[], &runnable).await);
    assert_eq!(held_a[0].epoch, 1);
    let fence_a = |made_at| Fence {
        node_id: a.id,
        epoch: 1,
        made_at,
    };
    // Under the current epoch: taken, logged as a's.
    let now = Utc::now();
    let p = common::passage("c1", 1, now, Some("29B125662")).fenced(fence_a(now));
    let stats = write_batch(&db.store, &[p, clip("c1", now, Some(fence_a(now)))])
        .await
        .unwrap();
    assert_eq!((stats.passages, stats.clips, stats.refused), (1, 1, 0));

    // b takes c1 over (epoch 2).
    expire_leases(&db.store, &a).await;
    let b = register_node(&client, &registration("pc-b")).await.unwrap();
    let held_b = won(tick(&db.store, &b, &[], &runnable).await);
    assert_eq!(held_b[0].epoch, 2);
    let handover: DateTime<Utc> = client
        .query_one("SELECT since FROM lease_epochs WHERE epoch = 2", &[])
        .await
        .unwrap()
        .get(0);
    let fence_b = Fence {
        node_id: b.id,
        epoch: 2,
        made_at: Utc::now(),
    };
    let before = handover - TimeDelta::seconds(3);
    let after = Utc::now() + TimeDelta::milliseconds(10);
    // One batch, as a's spool would replay it after the database came back, and b's rows:
    // a's rows made before the handover are taken, those made after refused, b's taken, an
    // unfenced row (ingest) taken, an epoch a never held refused.
    let batch = vec![
        common::passage("c1", 2, before, Some("30A99999")).fenced(fence_a(before)),
        clip("c1", before - TimeDelta::seconds(2), Some(fence_a(before))),
        common::passage("c1", 3, after, Some("30A99999")).fenced(fence_a(after)),
        clip("c1", after, Some(fence_a(after))),
        common::passage("c1", 4, after, Some("51F12345")).fenced(fence_b),
        clip("c1", after + TimeDelta::seconds(2), Some(fence_b)),
        common::passage("c2", 1, after, Some("29B125662")),
        common::passage("c1", 5, after, None).fenced(Fence {
            node_id: a.id,
            epoch: 2,
            made_at: before,
        }),
    ];
    let stats = write_batch(&db.store, &batch).await.unwrap();
    assert_eq!(
        (stats.passages, stats.clips, stats.refused),
        (3, 2, 3),
        "{stats:?}"
    );
    let rows = client
        .query(
            "SELECT track_no, node_id FROM passages ORDER BY track_no, camera_id",
            &[],
        )
        .await
        .unwrap();
    let tracks: Vec<(i64, Option<i64>)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(
        tracks,
        vec![(1, Some(a.id)), (1, None), (2, Some(a.id)), (4, Some(b.id))]
    );
    let clips: Vec<Option<i64>> = client
        .query("SELECT node_id FROM clips ORDER BY started_at", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(clips, vec![Some(a.id), Some(a.id), Some(b.id)]);
    // Written again (a replay after a lost acknowledgement): nothing twice.
    let again = write_batch(&db.store, &batch).await.unwrap();
    assert_eq!((again.passages, again.duplicates, again.refused), (0, 3, 3));
    db.drop_database().await.unwrap();
}

// ---------------------------------------------------------------------------------------
// Three real nodes.

/// ffmpeg as a camera that any node may connect to, one at a time: it plays `video` in a
/// loop to whoever connects and, when that client goes (a node killed), listens again.
struct Camera {
    stop: Arc<AtomicBool>,
    child: Arc<Mutex<Option<Child>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Camera {
    fn start(video: &Path, url: &str) -> Camera {
        let stop = Arc::new(AtomicBool::new(false));
        let child: Arc<Mutex<Option<Child>>> = Arc::default();
        let (video, url) = (video.to_path_buf(), url.to_string());
        let (s, c) = (stop.clone(), child.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let spawned = Command::new("ffmpeg")
                    .args([
                        "-hide_banner",
                        "-v",
                        "error",
                        "-re",
                        "-stream_loop",
                        "-1",
                        "-i",
                    ])
                    .arg(&video)
                    .args(["-c", "copy", "-f", "mpegts", "-listen", "1", &url])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("ffmpeg");
                *c.lock().unwrap() = Some(spawned);
                loop {
                    std::thread::sleep(Duration::from_millis(100));
                    let mut guard = c.lock().unwrap();
                    let Some(ch) = guard.as_mut() else { break };
                    if s.load(Ordering::SeqCst) {
                        let _ = ch.kill();
                        let _ = ch.wait();
                        return;
                    }
                    if ch.try_wait().ok().flatten().is_some() {
                        break;
                    }
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        Camera {
            stop,
            child,
            thread: Some(thread),
        }
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut ch) = self.child.lock().unwrap().take() {
            let _ = ch.kill();
            let _ = ch.wait();
        }
    }
}

/// One `matthan serve` node: its config and process.
struct Node {
    name: String,
    config: PathBuf,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self, database_url: &str) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_matthan"))
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info")
            .args(["--models"])
            .arg(common::model_dir())
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", &format!("127.0.0.1:{}", self.port)])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    fn assert_running(&mut self) {
        let exited = self.child.as_mut().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none(),
            "node {} exited: {}",
            self.name,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Ctrl-C, and waits for a clean exit.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                assert!(s.success(), "node {} stopped with {s}", self.name);
                return;
            }
            assert!(Instant::now() < deadline, "node {} did not stop", self.name);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// GET `path` of the API on `port` with a bearer token: the JSON body of a 200.
fn api_get(port: u16, path: &str, token: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    serde_json::from_str(raw.split_once("\r\n\r\n").unwrap().1).unwrap()
}

/// GET `path` of the API on `port` without a token: the body.
fn http_text(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or(raw)
}

/// (camera, holder node name, epoch) of every lease not run out.
async fn leases(store: &Store) -> Vec<(String, String, i64)> {
    let client = store.client().await.unwrap();
    client
        .query(
            "SELECT c.name, n.name, l.epoch FROM camera_leases l
             JOIN cameras c ON c.id = l.camera_id JOIN nodes n ON n.id = l.node_id
             WHERE l.expires_at > now() ORDER BY c.name",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

fn per_node(leases: &[(String, String, i64)]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for (_, node, _) in leases {
        *m.entry(node.clone()).or_default() += 1;
    }
    m
}

async fn count(
    store: &Store,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> i64 {
    let client = store.client().await.unwrap();
    client.query_one(sql, params).await.unwrap().get(0)
}

#[test]
fn three_nodes_share_six_cameras_and_take_over_a_killed_one_without_double_recording() {
    let dir = common::temp_dir("nodes");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("nodes_three"));
    let url = db.connection_string();
    // Small frames at a low rate: six cameras on three nodes on one machine.
    let video = dir.join("road.mp4");
    let photos = common::vn_dev_photos(&["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"]);
    common::make_video(
        &video,
        &photos,
        &[
            "--seconds",
            "2",
            "--size",
            "640x480",
            "--fps",
            "10",
            "--gop",
            "10",
        ],
    );
    let names: Vec<String> = (1..=6).map(|i| format!("cam-{i}")).collect();
    let mut cameras_toml = String::new();
    let mut cameras = Vec::new();
    for name in &names {
        let stream = format!("http://127.0.0.1:{}/{name}.ts", common::free_port());
        cameras.push(Camera::start(&video, &stream));
        cameras_toml.push_str(&format!(
            "\n[[cameras]]\nname = \"{name}\"\nsource = \"{stream}\"\n"
        ));
    }
    let mut nodes: Vec<Node> = ["node-a", "node-b", "node-c"]
        .iter()
        .map(|name| {
            let config = dir.join(format!("{name}.toml"));
            let mut f = std::fs::File::create(&config).unwrap();
            write!(
                f,
                "[storage]\nstate_dir = \"{}\"\nsegment_len_sec = 2\n\n\
                 [analysis]\nfps = 1\nworkers = 1\n\n\
                 [node]\nname = \"{name}\"\ncapacity = 3\n{cameras_toml}",
                dir.join(name).display()
            )
            .unwrap();
            Node {
                name: name.to_string(),
                config,
                port: common::free_port(),
                log: dir.join(format!("{name}.log")),
                child: None,
            }
        })
        .collect();
    for n in nodes.iter_mut() {
        n.start(&url);
    }

    // The six cameras are shared out, two each, and all record.
    let started = Instant::now();
    let deadline = started + Duration::from_secs(120);
    let shared = loop {
        let l = rt.block_on(leases(&db.store));
        let recording = rt.block_on(count(
            &db.store,
            "SELECT count(DISTINCT camera_id) FROM clips",
            &[],
        ));
        if l.len() == 6 && recording == 6 {
            break l;
        }
        for n in nodes.iter_mut() {
            n.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "not shared out: {l:?}, {recording} recording"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    println!(
        "shared out after {:.1} s: {:?}",
        started.elapsed().as_secs_f64(),
        per_node(&shared)
    );
    assert_eq!(
        per_node(&shared).values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2],
        "{shared:?}"
    );
    // Let them record a while.
    std::thread::sleep(Duration::from_secs(6));

    // Kill node-b: its cameras are taken over by the others.
    let victim = "node-b";
    let victims: Vec<String> = shared
        .iter()
        .filter(|(_, n, _)| n == victim)
        .map(|(c, _, _)| c.clone())
        .collect();
    let killed_at = Utc::now();
    let kill = Instant::now();
    nodes[1].child.as_mut().unwrap().kill().unwrap();
    let _ = nodes[1].child.as_mut().unwrap().wait();
    nodes[1].child = None;
    let deadline = kill + Duration::from_secs(60);
    let (lease_takeover, taken) = loop {
        let l = rt.block_on(leases(&db.store));
        let moved = l
            .iter()
            .filter(|(c, n, _)| victims.contains(c) && n != victim)
            .count();
        if moved == victims.len() {
            break (kill.elapsed(), l);
        }
        assert!(Instant::now() < deadline, "not taken over: {l:?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    // ...and record again.
    let resumed = loop {
        let n = rt.block_on(count(
            &db.store,
            "SELECT count(DISTINCT c.camera_id) FROM clips c JOIN cameras k ON k.id = c.camera_id
             JOIN nodes n ON n.id = c.node_id
             WHERE k.name = ANY($1) AND n.name <> $2",
            &[&victims, &victim],
        ));
        if n == victims.len() as i64 {
            break kill.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "taken-over cameras do not record"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let first_new_clip: DateTime<Utc> = {
        let client = rt.block_on(db.store.client()).unwrap();
        rt.block_on(client.query_one(
            "SELECT max(first) FROM (
                SELECT min(c.started_at) AS first FROM clips c
                JOIN cameras k ON k.id = c.camera_id JOIN nodes n ON n.id = c.node_id
                WHERE k.name = ANY($1) AND n.name <> $2 GROUP BY c.camera_id) f",
            &[&victims, &victim],
        ))
        .unwrap()
        .get(0)
    };
    let recording_takeover = (first_new_clip - killed_at).num_milliseconds() as f64 / 1000.0;
    println!(
        "killed {victim} holding {victims:?}: leases taken over in {:.1} s, {:?}; \
         first new segment {recording_takeover:.1} s after the kill (logged after {:.1} s)",
        lease_takeover.as_secs_f64(),
        per_node(&taken),
        resumed.as_secs_f64()
    );
    assert!(
        lease_takeover <= Duration::from_secs(30),
        "takeover took {lease_takeover:?}"
    );
    assert!(
        recording_takeover <= 30.0,
        "recording resumed after {recording_takeover} s"
    );

    // Start node-b again: it registers, takes nothing held, records nothing.
    let before_restart = rt.block_on(leases(&db.store));
    let restarted_at = Utc::now();
    nodes[1].start(&url);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let back = rt.block_on(count(
            &db.store,
            "SELECT count(*) FROM nodes WHERE name = $1 AND started_at > $2
             AND heartbeat_at > now() - interval '20 seconds'",
            &[&victim, &restarted_at],
        ));
        if back == 1 {
            break;
        }
        nodes[1].assert_running();
        assert!(Instant::now() < deadline, "node-b did not register again");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Two of its ticks.
    std::thread::sleep(Duration::from_secs(12));
    for n in nodes.iter_mut() {
        n.assert_running();
    }
    let after_restart = rt.block_on(leases(&db.store));
    assert_eq!(
        after_restart, before_restart,
        "leases changed after the restart"
    );
    let late = rt.block_on(count(
        &db.store,
        "SELECT (SELECT count(*) FROM clips c JOIN nodes n ON n.id = c.node_id
                 WHERE n.name = $1 AND c.recorded_at > $2)
              + (SELECT count(*) FROM passages p JOIN nodes n ON n.id = p.node_id
                 WHERE n.name = $1 AND p.last_seen > $2)",
        &[&victim, &restarted_at],
    ));
    assert_eq!(late, 0, "the restarted node logged rows");
    // The node list, as any node's API shows it.
    let token = rt.block_on(common::add_user(&db.store, "officer", Role::Viewer, None));
    let listed = api_get(nodes[0].port, "/api/nodes", &token);
    let summary: Vec<(String, bool, usize)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["alive"].as_bool().unwrap(),
                n["cameras"].as_array().unwrap().len(),
            )
        })
        .collect();
    println!("GET /api/nodes: {summary:?}");
    assert_eq!(
        summary,
        vec![
            ("node-a".to_string(), true, 3),
            ("node-b".to_string(), true, 0),
            ("node-c".to_string(), true, 3)
        ],
        "{listed}"
    );
    assert_eq!(
        listed["items"][0]["api_url"],
        format!("http://127.0.0.1:{}", nodes[0].port)
    );

    // A segment node-b recorded before it was killed, asked of node-a and of node-c now that
    // node-b is back: relayed from node-b's disk, byte for byte, as its logged SHA-256 says.
    let (clip_id, path, logged): (i64, String, String) = rt.block_on(async {
        let c = db.store.client().await.unwrap();
        let r = c
            .query_one(
                "SELECT c.id, c.path, c.sha256 FROM clips c JOIN nodes n ON n.id = c.node_id
                 WHERE n.name = $1 ORDER BY c.started_at LIMIT 1",
                &[&victim],
            )
            .await
            .unwrap();
        (r.get(0), r.get(1), r.get(2))
    });
    let on_disk = std::fs::read(&path).unwrap();
    let investigator = rt.block_on(common::add_user(
        &db.store,
        "investigator",
        Role::Investigator,
        None,
    ));
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for via in [&nodes[0], &nodes[2]] {
        let (status, body) = rt.block_on(async {
            let r = http
                .get(format!(
                    "http://127.0.0.1:{}/api/clips/{clip_id}/video",
                    via.port
                ))
                .bearer_auth(&investigator)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.bytes().await.unwrap().to_vec())
        });
        assert_eq!(status, 200, "clip {clip_id} of node-b via {}", via.name);
        assert!(
            body == on_disk,
            "clip {clip_id} via {}: {} bytes, {} on node-b's disk",
            via.name,
            body.len(),
            on_disk.len()
        );
        let sha: String = Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(sha, logged, "clip {clip_id} via {}", via.name);
        println!(
            "clip {clip_id} recorded by node-b, served by {} after node-b came back: {} bytes, SHA-256 as logged",
            via.name,
            body.len()
        );
    }

    // Pause node-c (SIGSTOP) past its lease: node-b takes its cameras. Woken again, node-c
    // finds its leases gone and stops them; the rows it made after the handover are fenced.
    let paused = rt.block_on(leases(&db.store));
    let paused_cameras: Vec<String> = paused
        .iter()
        .filter(|(_, n, _)| n == "node-c")
        .map(|(c, _, _)| c.clone())
        .collect();
    let pid = nodes[2].child.as_ref().unwrap().id().to_string();
    let paused_at = Utc::now();
    let pause = Instant::now();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = pause + Duration::from_secs(60);
    let pause_takeover = loop {
        let l = rt.block_on(leases(&db.store));
        let moved = l
            .iter()
            .filter(|(c, n, _)| paused_cameras.contains(c) && n != "node-c")
            .count();
        if moved == paused_cameras.len() {
            break pause.elapsed();
        }
        assert!(
            Instant::now() < deadline,
            "a paused node's cameras stay: {l:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(Command::new("kill")
        .args(["-CONT", &pid])
        .status()
        .unwrap()
        .success());
    // Two of its ticks after waking.
    std::thread::sleep(Duration::from_secs(12));
    nodes[2].assert_running();
    let after_pause = rt.block_on(leases(&db.store));
    assert!(
        after_pause.iter().all(|(_, n, _)| n != "node-c"),
        "the woken node took cameras back: {after_pause:?}"
    );
    let metrics = http_text(nodes[2].port, "/metrics");
    let fenced_rows = metrics
        .lines()
        .find_map(|l| l.strip_prefix("matthan_rows_fenced_total "))
        .unwrap_or("?")
        .trim()
        .to_string();
    println!(
        "paused node-c holding {paused_cameras:?}: taken over in {:.1} s, {:?}; woken, it holds \
         none and its writer refused {fenced_rows} row(s) made after the handover",
        pause_takeover.as_secs_f64(),
        per_node(&after_pause)
    );
    assert!(
        pause_takeover <= Duration::from_secs(30),
        "{pause_takeover:?}"
    );

    for n in nodes.iter_mut() {
        n.stop();
    }
    drop(cameras);

    // The log: no segment or passage of a camera logged twice (by two nodes over the same
    // time), and no gap in any camera's segments longer than the takeover, up to the pause
    // (while a paused node holds a test camera's only connection, no other node can reach it;
    // a real camera serves several).
    let overlapping_clips = rt.block_on(count(
        &db.store,
        "SELECT count(*) FROM clips a JOIN clips b ON a.camera_id = b.camera_id AND a.id < b.id
         AND a.node_id IS DISTINCT FROM b.node_id
         WHERE tstzrange(a.started_at, a.ended_at) && tstzrange(b.started_at, b.ended_at)",
        &[],
    ));
    let overlapping_passages = rt.block_on(count(
        &db.store,
        "SELECT count(*) FROM passages a JOIN passages b ON a.camera_id = b.camera_id
         AND a.id < b.id AND a.node_id IS DISTINCT FROM b.node_id
         WHERE tstzrange(a.first_seen, a.last_seen, '[]') && tstzrange(b.first_seen, b.last_seen, '[]')",
        &[],
    ));
    let client = rt.block_on(db.store.client()).unwrap();
    let rows = rt
        .block_on(client.query(
            "SELECT k.name, count(*), max(gap), count(DISTINCT c.node_id),
                    (SELECT count(*) FROM passages p WHERE p.camera_id = k.id)
             FROM (SELECT camera_id, node_id,
                          extract(epoch FROM started_at - lag(ended_at) OVER w)::float8 AS gap
                   FROM clips WHERE started_at < $1
                   WINDOW w AS (PARTITION BY camera_id ORDER BY started_at)) c
             JOIN cameras k ON k.id = c.camera_id GROUP BY k.id, k.name ORDER BY k.name",
            &[&paused_at],
        ))
        .unwrap();
    let mut longest = 0.0f64;
    for r in &rows {
        let (name, segments, gap, holders, passages): (String, i64, Option<f64>, i64, i64) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        let gap = gap.unwrap_or(0.0);
        println!(
            "{name}: {segments} segments by {holders} node(s), longest gap {gap:.1} s, {passages} passages"
        );
        longest = longest.max(gap);
    }
    let fenced: i64 = rt
        .block_on(client.query_one("SELECT count(*) FROM passages WHERE node_id IS NULL", &[]))
        .unwrap()
        .get(0);
    println!(
        "overlapping segments {overlapping_clips}, overlapping passages of two nodes \
         {overlapping_passages}, longest gap {longest:.1} s, passages of no node {fenced}"
    );
    assert_eq!(overlapping_clips, 0);
    assert_eq!(overlapping_passages, 0);
    assert_eq!(fenced, 0, "every live row names its node");
    // The killed node's last open segment is lost with it (at most one segment, 2 s).
    assert!(
        longest <= recording_takeover + 2.0 + 1.0,
        "a gap of {longest:.1} s, longer than the takeover ({recording_takeover:.1} s) and one segment"
    );
    drop(client);
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_node_cut_off_from_the_database_keeps_recording_and_keeps_its_camera() {
    let dir = common::temp_dir("nodes-down");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let pg_state = dir.join("pg");
    let cluster = PrivateCluster::start(&pg_state).expect("initdb/pg_ctl from Debian's postgresql");
    let url = cluster.connection_string();
    let store = Store::from_config(cluster.client_config(), 2).unwrap();
    rt.block_on(store.migrate()).unwrap();
    let video = dir.join("road.mp4");
    let photos = common::vn_dev_photos(&["101.jpg", "119.jpg", "4.jpg", "bien_so.jpg"]);
    common::make_video(
        &video,
        &photos,
        &[
            "--seconds",
            "2",
            "--size",
            "640x480",
            "--fps",
            "10",
            "--gop",
            "10",
        ],
    );
    let stream = format!("http://127.0.0.1:{}/gate.ts", common::free_port());
    let camera = Camera::start(&video, &stream);
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[storage]\nstate_dir = \"{}\"\nsegment_len_sec = 2\n\n\
             [analysis]\nfps = 1\nworkers = 1\n\n[node]\nname = \"pc-1\"\n\n\
             [[cameras]]\nname = \"gate\"\nsource = \"{stream}\"\n",
            dir.join("state").display()
        ),
    )
    .unwrap();
    let mut node = Node {
        name: "pc-1".into(),
        config,
        port: common::free_port(),
        log: dir.join("pc-1.log"),
        child: None,
    };
    node.start(&url);
    let deadline = Instant::now() + Duration::from_secs(90);
    while rt.block_on(count(&store, "SELECT count(*) FROM clips", &[])) < 2 {
        node.assert_running();
        assert!(Instant::now() < deadline, "the camera does not record");
        std::thread::sleep(Duration::from_millis(300));
    }
    let held = rt.block_on(leases(&store));
    assert_eq!(held, vec![("gate".into(), "pc-1".into(), 1)]);
    drop(store);

    // The database goes away for longer than the lease.
    cluster.stop();
    let down = Instant::now();
    let mut spooled = 0;
    while down.elapsed() < Duration::from_secs(30) {
        spooled = spooled.max(common::spooled_batches(&dir.join("state/spool")));
        node.assert_running();
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(
        spooled > 0,
        "nothing was spooled while the database was down"
    );
    let cluster = PrivateCluster::start(&pg_state).unwrap();
    let store = Store::from_config(cluster.client_config(), 2).unwrap();
    // The spool is replayed, and the node renews its lease: same epoch, nobody else took it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let in_spool = common::spooled_batches(&dir.join("state/spool"));
        let l = rt.block_on(leases(&store));
        if in_spool == 0 && l == held {
            break;
        }
        node.assert_running();
        assert!(
            Instant::now() < deadline,
            "{in_spool} batches left, leases {l:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    std::thread::sleep(Duration::from_secs(3));
    let metrics = http_text(node.port, "/metrics");
    node.stop();
    drop(camera);
    let log = std::fs::read_to_string(&node.log).unwrap();
    assert!(
        log.contains("the cameras go on recording into the spool"),
        "{log}"
    );
    // The camera recorded throughout: its segments follow each other without a gap, and
    // none was refused.
    let client = rt.block_on(store.client()).unwrap();
    let row = rt
        .block_on(client.query_one(
            "SELECT count(*), max(gap) FROM (
                SELECT extract(epoch FROM started_at - lag(ended_at) OVER (ORDER BY started_at))::float8
                    AS gap FROM clips) g",
            &[],
        ))
        .unwrap();
    let (segments, gap): (i64, Option<f64>) = (row.get(0), row.get(1));
    let fenced = metrics
        .lines()
        .find_map(|l| l.strip_prefix("matthan_rows_fenced_total "))
        .map(|n| n.trim().to_string());
    println!(
        "database down 30 s: {spooled} batch(es) spooled, {segments} segments, longest gap \
         {:.1} s, rows fenced {fenced:?}",
        gap.unwrap_or(0.0)
    );
    assert!(gap.unwrap_or(0.0) < 2.0, "a gap of {gap:?} s");
    assert_eq!(fenced.as_deref(), Some("0"));
    drop(client);
    drop(store);
    cluster.stop();
    std::fs::remove_dir_all(&dir).ok();
}
