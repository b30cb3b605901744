//! The database goes away in the middle of an ingest and nothing is lost: a live camera (ffmpeg
//! serving the demo video in real time, looped) is ingested into a private PostgreSQL cluster,
//! which is stopped with `pg_ctl stop` for 35 s after the first passages are logged and then
//! started again. The writer spools to disk meanwhile and replays when the server is back; in
//! the end the log holds exactly the passages the ingest produced, each once.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use matthan::store::{PrivateCluster, Store};

async fn count(store: &Store, sql: &str) -> Option<i64> {
    let client = store.client().await.ok()?;
    client.query_one(sql, &[]).await.ok().map(|r| r.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passages_survive_the_database_going_down_mid_ingest() {
    let dir = common::temp_dir("fault");
    let pg_state = dir.join("pg");
    let cluster = tokio::task::block_in_place(|| PrivateCluster::start(&pg_state))
        .expect("initdb/pg_ctl from Debian's postgresql");
    let url = cluster.connection_string();
    let store = Store::from_config(cluster.client_config(), 2).unwrap();
    store.migrate().await.unwrap();

    // The camera: 6 × 12 s of the demo video, in real time, over HTTP.
    let video = dir.join("demo.mp4");
    common::demo_video(&video);
    let port = common::free_port();
    let stream = format!("http://127.0.0.1:{port}/live.ts");
    let mut camera = common::live_camera(&video, &stream, 5);
    let config = dir.join("matthan.toml");
    let state = dir.join("state");
    std::fs::write(
        &config,
        format!(
            "[storage]\nstate_dir = \"{}\"\nsegment_len_sec = 6\n",
            state.display()
        ),
    )
    .unwrap();
    let mut ingest = common::LiveIngest::spawn(
        common::matthan(&url)
            .env("RUST_LOG", "matthan=info")
            .args(["ingest", "--camera", "gate", "--config"])
            .arg(&config)
            .arg(&stream),
    );

    // Once the first passages are in the log, the server goes away for 35 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&store, "SELECT count(*) FROM passages")
        .await
        .unwrap_or(0)
        == 0
    {
        assert!(Instant::now() < deadline, "no passage reached the log");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let before = count(&store, "SELECT count(*) FROM passages")
        .await
        .unwrap();
    drop(store);
    tokio::task::block_in_place(|| cluster.stop());
    let down_at = Instant::now();
    let spool_root = state.join("spool");
    let mut spooled_while_down = 0;
    while down_at.elapsed() < Duration::from_secs(35) {
        spooled_while_down = spooled_while_down.max(common::spooled_batches(&spool_root));
        assert!(
            ingest.running(),
            "the ingest must go on while the database is down"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        spooled_while_down > 0,
        "batches went to the spool while the database was down"
    );
    let cluster = tokio::task::block_in_place(|| PrivateCluster::start(&pg_state)).unwrap();
    let store = Store::from_config(cluster.client_config(), 2).unwrap();

    // The camera's video ends; then the ingest is stopped as an operator would (Ctrl-C): it
    // writes what is left, replays the spool and exits.
    let end = tokio::task::block_in_place(|| {
        let _ = camera.wait();
        std::thread::sleep(Duration::from_secs(2));
        ingest.stop()
    });
    let _ = camera.kill();
    let _ = camera.wait();
    let (produced, stats) = (end.printed, end.stats);

    let in_log = count(&store, "SELECT count(*) FROM passages")
        .await
        .unwrap();
    let distinct = count(
        &store,
        "SELECT count(*) FROM (SELECT DISTINCT camera_id, best_at, first_seen, track_no FROM passages) k",
    )
    .await
    .unwrap();
    eprintln!(
        "produced {produced}, logged {in_log} ({before} before the outage), {spooled_while_down} batches spooled; writer {stats}"
    );
    assert!(
        produced as i64 > before,
        "passages were produced during the outage"
    );
    assert_eq!(
        in_log, produced as i64,
        "every passage produced is in the log"
    );
    assert_eq!(distinct, in_log, "no passage is logged twice");
    assert!(stats["spooled"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["in_spool"], 0, "{stats}");
    assert_eq!(
        common::spooled_batches(&spool_root),
        0,
        "the spool is empty again"
    );
    // Clip rows went through the spool too: one per segment file on disk.
    let clips = count(&store, "SELECT count(*) FROM clips").await.unwrap();
    let files = std::fs::read_dir(state.join("clips").join("gate"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(clips as usize, files, "one clip row per segment");
    drop(store);
    tokio::task::block_in_place(|| cluster.stop());
    let _ = Command::new("rm").arg("-rf").arg(&dir).status();
}
