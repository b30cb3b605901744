//! `matthan reread` end to end, on real video made by ffmpeg from real photos, real models and
//! a fresh database: an ingested window read again is a second analysis run beside the first,
//! which stays as it was, and reading it again adds nothing; bad input is refused with nothing
//! written; a damaged or missing segment is reported and skipped, the rest still read, and the
//! next try reads what was skipped without doubling what was logged.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use matthan::plate::search::{PlateQuery, SearchMode};
use matthan::store::query::{self, Bucket, SearchFilter};
use serde_json::Value;

const START: &str = "2026-11-29T01:00:00Z";

/// Ingests `video` as camera `camera` from [`START`] into the log at `url`, segments of
/// `segment_len` s under `dir/clips`; `fps` 0 records without analysis.
fn ingest(url: &str, camera: &str, video: &Path, dir: &Path, segment_len: u32, fps: u32) {
    let out = common::matthan(url)
        .args(["ingest", "--camera", camera, "--start", START])
        .args(["--segment-len", &segment_len.to_string()])
        .args(["--fps", &fps.to_string()])
        .args(common::media_dirs(dir))
        .arg(video)
        .output()
        .unwrap();
    common::assert_success(&out);
}

/// Runs `matthan reread` for `camera` over [`from`, `to`) with the folders under `dir`.
fn reread(url: &str, camera: &str, from: &str, to: &str, dir: &Path) -> Output {
    common::matthan(url)
        .args(["reread", "--camera", camera, "--from", from, "--to", to])
        .args(common::media_dirs(dir))
        .output()
        .unwrap()
}

/// The JSON summary a reread printed.
fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.trim())
        .unwrap_or_else(|e| panic!("{e}: {stdout}\n{}", String::from_utf8_lossy(&out.stderr)))
}

/// Every row of `sql` as its JSON text, in order.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<String> {
    client
        .query(&format!("SELECT row_to_json(t)::text FROM ({sql}) t"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// A count.
async fn count(client: &tokio_postgres::Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// The files under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

const LIVE_PASSAGES: &str = "SELECT * FROM passages WHERE run_id IS NULL ORDER BY id";
const LIVE_READS: &str = "SELECT r.* FROM plate_reads r JOIN passages p
    ON p.id = r.passage_id AND p.best_at = r.best_at WHERE p.run_id IS NULL
    ORDER BY r.passage_id, r.rank";

#[test]
fn a_reread_adds_a_second_run_beside_the_first_and_again_adds_nothing() {
    let dir = common::temp_dir("reread");
    let video = dir.join("demo.mp4");
    // The demo's photos, 3 s each; 3 s segments hold one photo each.
    common::demo_video(&video);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("reread"));
    let url = db.connection_string();
    // A demo plate on the watchlist: the live analysis raises its alert.
    rt.block_on(async {
        let mut client = db.store.client().await.unwrap();
        let watch = PlateQuery::parse("29B125662", None).unwrap();
        matthan::store::trust::add_watch(&mut client, &watch, "reread test", "tester")
            .await
            .unwrap();
    });
    ingest(&url, "demo", &video, &dir, 3, 5);
    let client = rt.block_on(db.store.client()).unwrap();
    let junction: i64 = rt.block_on(async {
        client
            .batch_execute(
                "INSERT INTO junctions (name) VALUES ('J');
                 UPDATE cameras SET junction_id = (SELECT id FROM junctions)",
            )
            .await
            .unwrap();
        count(&client, "SELECT id FROM junctions").await
    });
    let counts = || {
        rt.block_on(query::counts(
            &client,
            junction,
            common::t(START),
            common::t("2026-11-29T01:00:30Z"),
            Bucket::Quarter,
        ))
        .unwrap()
    };
    let live_counts = counts();
    let alerts = rt.block_on(count(&client, "SELECT count(*) FROM alerts"));
    assert!(alerts >= 1, "the live analysis alerts on the watched plate");
    let live = rt.block_on(rows(&client, LIVE_PASSAGES));
    let live_reads = rt.block_on(rows(&client, LIVE_READS));
    let clips = rt.block_on(rows(&client, "SELECT * FROM clips ORDER BY id"));
    let clip_files = files(&dir.join("clips"));
    let live_keys: Vec<String> = rt.block_on(async {
        client
            .query(
                "SELECT DISTINCT plate_key FROM passages WHERE plate_key IS NOT NULL",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    assert!(live.len() >= 4, "{live:?}");
    assert!(clips.len() >= 4, "{clips:?}");
    assert!(live_keys.len() >= 4, "{live_keys:?}");

    let out = reread(&url, "demo", START, "2026-11-29T01:00:30Z", &dir);
    common::assert_success(&out);
    let first = summary(&out);
    let run = first["run"].as_i64().unwrap();
    assert_eq!(first["already_done"], false, "{first}");
    assert_eq!(first["finished"], true, "{first}");
    assert_eq!(first["segments"].as_u64(), Some(clips.len() as u64));
    assert_eq!(first["read"], first["segments"], "{first}");
    assert_eq!(first["skipped"], serde_json::json!([]));
    let added = first["passages_added"].as_i64().unwrap();
    assert!(added >= 4, "{first}");
    assert_eq!(first["passages"].as_i64(), Some(added), "{first}");
    assert_eq!(first["model_version"].as_str().map(str::len), Some(16));

    rt.block_on(async {
        // The first run is untouched, row for row; the clips too.
        assert_eq!(rows(&client, LIVE_PASSAGES).await, live);
        assert_eq!(rows(&client, LIVE_READS).await, live_reads);
        assert_eq!(
            rows(&client, "SELECT * FROM clips ORDER BY id").await,
            clips
        );
        let runs = client
            .query(
                "SELECT id, kind, finished_at IS NOT NULL, passages FROM analysis_runs",
                &[],
            )
            .await
            .unwrap();
        assert_eq!(runs.len(), 1);
        let (id, kind, finished, passages): (i64, String, bool, Option<i64>) = (
            runs[0].get(0),
            runs[0].get(1),
            runs[0].get(2),
            runs[0].get(3),
        );
        assert_eq!((id, kind.as_str(), finished), (run, "reread", true));
        assert_eq!(passages, Some(added));
        let sql = format!("SELECT count(*) FROM passages WHERE run_id = {run}");
        assert_eq!(count(&client, &sql).await, added);
        // Inside the window, linked to the recorded segments, snapshots in the run's folder.
        let sql = format!(
            "SELECT count(*) FROM passages p WHERE run_id = {run} AND (
                 best_at < '{START}' OR best_at >= '2026-11-29T01:00:30Z'
                 OR NOT EXISTS (SELECT 1 FROM clips c WHERE c.started_at = p.clip_started_at)
                 OR snapshot_path NOT LIKE '%/reread-{run}/demo/%')"
        );
        assert_eq!(count(&client, &sql).await, 0);
    });
    // No segment was written or changed.
    assert_eq!(files(&dir.join("clips")), clip_files);
    // The past read again raises no alert, and counts the vehicles once.
    assert_eq!(
        rt.block_on(count(&client, "SELECT count(*) FROM alerts")),
        alerts
    );
    assert_eq!(counts(), live_counts);
    assert!(!live_counts.is_empty());

    // The re-read plates are the live ones, each found by a search in both runs.
    let reread_keys: Vec<String> = rt.block_on(async {
        client
            .query(
                "SELECT DISTINCT plate_key FROM passages WHERE run_id = $1
                 AND plate_key IS NOT NULL",
                &[&run],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    });
    let common_keys: Vec<&String> = reread_keys
        .iter()
        .filter(|k| live_keys.contains(k))
        .collect();
    assert!(
        common_keys.len() * 4 >= live_keys.len() * 3,
        "live {live_keys:?}, re-read {reread_keys:?}"
    );
    let key = common_keys[0];
    let page = rt.block_on(async {
        let q = PlateQuery::parse(key, Some(SearchMode::Exact)).unwrap();
        let mut client = db.store.client().await.unwrap();
        query::search_passages(&mut client, &q, &SearchFilter::default(), 50, None)
            .await
            .unwrap()
    });
    let runs: Vec<Option<i64>> = page
        .items
        .iter()
        .map(|p| p.run.as_ref().map(|r| r.id))
        .collect();
    assert!(runs.contains(&None), "{key}: {runs:?}");
    assert!(runs.contains(&Some(run)), "{key}: {runs:?}");
    let view = page.items.iter().find(|p| p.run.is_some()).unwrap();
    let link = view.run.as_ref().unwrap();
    assert_eq!(link.kind, "reread");
    assert_eq!(
        Some(link.model_version.as_str()),
        first["model_version"].as_str()
    );
    let json = serde_json::to_value(view).unwrap();
    assert_eq!(json["run"]["id"], run, "{json}");

    // Again: the finished run is found, nothing is read or added.
    let before = rt.block_on(rows(&client, "SELECT * FROM passages ORDER BY id"));
    let out = reread(&url, "demo", START, "2026-11-29T01:00:30Z", &dir);
    common::assert_success(&out);
    let again = summary(&out);
    assert_eq!(again["already_done"], true, "{again}");
    assert_eq!(again["run"], run);
    assert_eq!(again["passages_added"], 0);
    assert_eq!(again["passages"].as_i64(), Some(added));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already read"));
    assert_eq!(
        rt.block_on(rows(&client, "SELECT * FROM passages ORDER BY id")),
        before
    );
    assert_eq!(
        rt.block_on(count(&client, "SELECT count(*) FROM analysis_runs")),
        1
    );
    drop(client);
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_is_refused_and_a_damaged_segment_is_skipped_then_read_on_the_next_try() {
    let dir = common::temp_dir("reread-bad");
    let video = dir.join("two.mp4");
    let photos = common::vn_dev_photos(&["101.jpg", "119.jpg", "4.jpg"]);
    common::make_video(&video, &photos, &["--seconds", "2", "--size", "960x720"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("reread_bad"));
    let url = db.connection_string();
    // Recorded without analysis: segments and clip rows only.
    ingest(&url, "cam", &video, &dir, 2, 0);
    let client = rt.block_on(db.store.client()).unwrap();
    let segments: Vec<PathBuf> = rt.block_on(async {
        client
            .query("SELECT path FROM clips ORDER BY started_at", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| PathBuf::from(r.get::<_, String>(0)))
            .collect()
    });
    assert!(segments.len() >= 3, "{segments:?}");
    let nothing_written = |what: &str| {
        rt.block_on(async {
            for table in ["analysis_runs", "passages", "plate_reads"] {
                let n = count(&client, &format!("SELECT count(*) FROM {table}")).await;
                assert_eq!(n, 0, "{what}: {table}");
            }
        });
        assert!(!dir.join("snapshots").exists(), "{what}: snapshots");
    };
    let refused = |out: &Output, says: &str| {
        assert!(!out.status.success(), "{says}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{says}: {err}");
        assert!(out.stdout.is_empty(), "{says}");
        nothing_written(says);
    };
    let end = "2026-11-29T01:00:10Z";
    refused(
        &reread(&url, "nope", START, end, &dir),
        "unknown camera \"nope\" (the log knows: cam)",
    );
    refused(
        &reread(&url, "cam", end, START, &dir),
        "--to must be after --from",
    );
    refused(
        &reread(&url, "cam", START, START, &dir),
        "--to must be after --from",
    );
    refused(
        &reread(&url, "cam", START, "2026-11-30T01:00:01Z", &dir),
        "at most 24 h",
    );
    refused(
        &reread(&url, "cam", "yesterday", end, &dir),
        "--from \"yesterday\" is not an RFC 3339 time",
    );
    refused(
        &reread(
            &url,
            "cam",
            "2026-11-30T01:00:00Z",
            "2026-11-30T02:00:00Z",
            &dir,
        ),
        "has no recordings between",
    );
    // Every file gone: nothing can be read, so nothing is begun.
    let moved = dir.join("moved");
    std::fs::rename(dir.join("clips"), &moved).unwrap();
    std::fs::create_dir_all(dir.join("clips")).unwrap();
    refused(
        &reread(&url, "cam", START, end, &dir),
        "the file is missing",
    );
    std::fs::remove_dir_all(dir.join("clips")).unwrap();
    std::fs::rename(&moved, dir.join("clips")).unwrap();

    // One segment damaged, one missing: both reported and skipped, the rest read, the run
    // left open.
    let damaged = &segments[0];
    let missing = &segments[1];
    let keep = dir.join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(damaged, keep.join("damaged.mp4")).unwrap();
    std::fs::rename(missing, keep.join("missing.mp4")).unwrap();
    let mut bytes = std::fs::read(damaged).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 64].fill(0x42);
    std::fs::write(damaged, &bytes).unwrap();
    let out = reread(&url, "cam", START, end, &dir);
    assert_eq!(out.status.code(), Some(1));
    let partial = summary(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damaged or altered"), "{err}");
    assert!(err.contains("the file is missing"), "{err}");
    assert!(err.contains("stays open"), "{err}");
    assert_eq!(partial["skipped"].as_array().map(Vec::len), Some(2));
    assert_eq!(partial["read"].as_u64(), Some(segments.len() as u64 - 2));
    assert_eq!(partial["finished"], false);
    let run = partial["run"].as_i64().unwrap();
    let first_passages = partial["passages_added"].as_i64().unwrap();
    assert!(first_passages >= 1, "{partial}");
    assert_eq!(partial["passages"].as_i64(), Some(first_passages));
    let open = rt.block_on(count(
        &client,
        "SELECT count(*) FROM analysis_runs WHERE finished_at IS NULL",
    ));
    assert_eq!(open, 1);
    let logged = rt.block_on(rows(&client, "SELECT * FROM passages ORDER BY id"));

    // The files back: the same command takes the run up, reads what was skipped, and keeps
    // what it had logged as it was.
    std::fs::copy(keep.join("damaged.mp4"), damaged).unwrap();
    std::fs::rename(keep.join("missing.mp4"), missing).unwrap();
    let out = reread(&url, "cam", START, end, &dir);
    common::assert_success(&out);
    let resumed = summary(&out);
    assert_eq!(resumed["run"], run, "{resumed}");
    assert_eq!(resumed["finished"], true, "{resumed}");
    assert_eq!(resumed["read"].as_u64(), Some(segments.len() as u64));
    let total = resumed["passages"].as_i64().unwrap();
    assert_eq!(
        total,
        first_passages + resumed["passages_added"].as_i64().unwrap(),
        "{resumed}"
    );
    assert!(total > first_passages, "{resumed}");
    let now = rt.block_on(rows(&client, "SELECT * FROM passages ORDER BY id"));
    assert_eq!(&now[..logged.len()], &logged[..]);
    assert_eq!(
        rt.block_on(count(&client, "SELECT count(*) FROM analysis_runs")),
        1
    );
    drop(client);
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
