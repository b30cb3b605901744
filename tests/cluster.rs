//! The private PostgreSQL cluster matthan runs when no `DATABASE_URL` is given: created under
//! the state directory, started, migrated, written to, stopped on close, and found again
//! (data intact) by the next start. As root it runs as the `postgres` user.

mod common;

use std::process::Command;

use chrono::{DateTime, Utc};
use matthan::store::writer::write_batch;
use matthan::store::{Database, NewClip, WriteItem};

fn server_running(data_dir: &std::path::Path) -> bool {
    // `postmaster.pid` exists exactly while the server runs (a clean stop removes it).
    data_dir.join("postmaster.pid").exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_cluster_starts_keeps_data_and_stops() {
    let dir = common::temp_dir("cluster");
    let at: DateTime<Utc> = "2026-11-29T01:00:00Z".parse().unwrap();
    let db = Database::open(None, &dir)
        .await
        .expect("initdb/pg_ctl from Debian's postgresql");
    assert!(
        db.description.contains("private cluster"),
        "{}",
        db.description
    );
    let data_dir = dir.join("postgres");
    assert!(data_dir.join("PG_VERSION").exists());
    assert!(server_running(&data_dir));
    let clip = WriteItem::Clip(NewClip {
        camera: "cam".into(),
        started_at: at,
        ended_at: at,
        path: "/dev/null".into(),
        bytes: 0,
        sha256: "00".into(),
        fence: None,
    });
    let stats = write_batch(&db.store, &[clip]).await.unwrap();
    assert_eq!(stats.clips, 1);
    db.close().await;
    assert!(
        !server_running(&data_dir),
        "the cluster stops with the process that started it"
    );

    // The next start finds the cluster and its data; migrations are not applied twice.
    let db = Database::open(None, &dir).await.unwrap();
    let client = db.store.client().await.unwrap();
    let clips: i64 = client
        .query_one("SELECT count(*) FROM clips", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(clips, 1);
    // No TCP port: the socket lives in the data directory.
    let listen: String = client
        .query_one("SHOW listen_addresses", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(listen, "");
    drop(client);
    db.close().await;
    assert!(!server_running(&data_dir));
    // A root run leaves the files to `postgres`; remove them as whoever owns them.
    let _ = Command::new("rm").arg("-rf").arg(&dir).status();
}
