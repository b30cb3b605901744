//! Retention on real files and a real PostgreSQL: clip segments older than their days go,
//! then, with the disk short of its reserve, the oldest of the rest until it is not; old
//! snapshots go; whole months of passages are dropped; each run leaves an audit row.

mod common;

use std::fs::File;
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Datelike, TimeDelta, TimeZone, Utc};
use matthan::retention::{disk_space, run_once, RetentionPolicy};
use matthan::store::writer::write_batch;
use matthan::store::{NewClip, WriteItem};

const MB: u64 = 1 << 20;

fn clip(dir: &std::path::Path, n: i64, ended: DateTime<Utc>, bytes: u64) -> WriteItem {
    let path = dir.join(format!("seg{n}.mp4"));
    let f = File::create(&path).unwrap();
    // Real blocks, so deleting the file gives the space back.
    std::io::Write::write_all(&mut &f, &vec![7u8; bytes as usize]).unwrap();
    f.sync_all().unwrap();
    WriteItem::Clip(NewClip {
        camera: "cam".into(),
        started_at: ended - TimeDelta::seconds(60),
        ended_at: ended,
        path: path.to_string_lossy().into_owned(),
        bytes: bytes as i64,
        sha256: "00".into(),
        fence: None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_then_oldest_and_drops_old_months() {
    let db = common::scratch("retention").await;
    let dir = common::temp_dir("retention");
    let clips_dir = dir.join("clips");
    let snaps = dir.join("snapshots");
    std::fs::create_dir_all(&clips_dir).unwrap();
    std::fs::create_dir_all(snaps.join("cam")).unwrap();
    let now = Utc::now();
    // Two segments past 30 days, then five recent ones of 40 MB, oldest first.
    let mut items = vec![
        clip(&clips_dir, 0, now - TimeDelta::days(45), MB),
        clip(&clips_dir, 1, now - TimeDelta::days(31), MB),
    ];
    for n in 2..7 {
        items.push(clip(&clips_dir, n, now - TimeDelta::hours(10 - n), 40 * MB));
    }
    // Passages 14 months ago, 2 months ago and now.
    items.push(common::passage("cam", 1, now - TimeDelta::days(420), None));
    items.push(common::passage("cam", 2, now - TimeDelta::days(60), None));
    items.push(common::passage("cam", 3, now, None));
    write_batch(&db.store, &items).await.unwrap();
    // An old segment on another node's disk (its file is not here): that node's to delete.
    let client = db.store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO nodes (name, api_url, cores, capacity, version, instance)
             VALUES ('pc-b', 'http://127.0.0.1:9', 2, 4, 'test', gen_random_uuid());
             INSERT INTO clips (camera_id, started_at, ended_at, path, bytes, sha256, node_id)
             SELECT c.id, now() - interval '50 days', now() - interval '50 days',
                    '/elsewhere/seg-b.mp4', 1048576, '00', n.id
             FROM cameras c, nodes n WHERE c.name = 'cam' AND n.name = 'pc-b';",
        )
        .await
        .unwrap();
    drop(client);
    // A snapshot from 100 days ago and one from today.
    let old_snap = snaps.join("cam/old.jpg");
    let new_snap = snaps.join("cam/new.jpg");
    std::fs::write(&old_snap, b"jpeg").unwrap();
    std::fs::write(&new_snap, b"jpeg").unwrap();
    File::options()
        .write(true)
        .open(&old_snap)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(100 * 86400))
        .unwrap();

    // First run: the disk has room; only age counts.
    let policy = RetentionPolicy {
        clips: Some(TimeDelta::days(30)),
        snapshots: Some(TimeDelta::days(90)),
        passages: Some(TimeDelta::days(365)),
        min_free_ratio: 0.0,
        node: None,
    };
    let report = run_once(&db.store, &clips_dir, &snaps, &policy, now)
        .await
        .unwrap();
    assert_eq!((report.clips_aged, report.clips_for_space), (2, 0));
    assert_eq!(report.snapshots, 1);
    assert!(!old_snap.exists() && new_snap.exists());
    assert!(!clips_dir.join("seg0.mp4").exists() && !clips_dir.join("seg1.mp4").exists());
    // The month of the 14-month-old passage is dropped from both tables, and every month
    // dropped ends before the 365-day cutoff. Which other (empty) months exist to be dropped
    // depends on today's date, so the count is not fixed.
    let month = |t: DateTime<Utc>| format!("y{}m{:02}", t.year(), t.month());
    let oldest = month(now - TimeDelta::days(420));
    for table in ["passages", "plate_reads"] {
        let name = format!("{table}_{oldest}");
        assert!(
            report.partitions.contains(&name),
            "{name} not in {:?}",
            report.partitions
        );
    }
    let cutoff = now - TimeDelta::days(365);
    for name in &report.partitions {
        let ym = name.rsplit('_').next().unwrap();
        let (y, m) = ym[1..].split_once('m').unwrap();
        let (y, m): (i32, u32) = (y.parse().unwrap(), m.parse().unwrap());
        let end = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let end = Utc.with_ymd_and_hms(end.0, end.1, 1, 0, 0, 0).unwrap();
        assert!(end <= cutoff, "{name} ends after the cutoff {cutoff}");
    }
    let client = db.store.client().await.unwrap();
    let left: Vec<i64> = client
        .query("SELECT track_no FROM passages ORDER BY track_no", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(
        left,
        vec![2, 3],
        "the month of 14 months ago is dropped, the rest kept"
    );

    // Second run: the disk is short of a reserve that ~80 MB more would meet, so the two
    // oldest 40 MB segments go, and no more.
    let disk = disk_space(&clips_dir).unwrap();
    let reserve = (disk.free + 60 * MB) as f64 / disk.total as f64;
    let tight = RetentionPolicy {
        min_free_ratio: reserve,
        ..policy
    };
    let report = run_once(&db.store, &clips_dir, &snaps, &tight, now)
        .await
        .unwrap();
    assert_eq!(
        (report.clips_aged, report.clips_for_space),
        (0, 2),
        "{report:?}"
    );
    let on_disk: Vec<String> = {
        let mut v: Vec<String> = std::fs::read_dir(&clips_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(on_disk, ["seg4.mp4", "seg5.mp4", "seg6.mp4"]);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM clips WHERE node_id IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 3, "deleted segments leave the log too");
    let theirs: i64 = client
        .query_one("SELECT count(*) FROM clips WHERE node_id IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(theirs, 1, "another node's segment is left to that node");
    // Each run is in the audit log.
    let runs: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action = 'retention'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(runs, 2);
    drop(client);
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
