//! The fixture of the evidence tests: a recorded camera with a passage in it, the API and the
//! `matthan evidence` command on it, and ZIPs taken apart and put back together.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;

use axum::http::StatusCode;
use matthan::access::Role;
use matthan::store::scratch::ScratchDatabase;
use matthan::store::writer::write_batch;

use crate::common::{self, t};

/// The recording, a junction for its camera, and a passage best seen at 00:00:12 (seen from
/// 00:00:10 to 00:00:13) with two plate candidates and a snapshot (when `snapshot`). Returns
/// the passage id.
pub async fn passage(dir: &Path, db: &ScratchDatabase, snapshot: bool) -> i64 {
    let mut p = common::new_passage(
        "cam-x",
        1,
        t("2026-01-01T00:00:12Z"),
        &[("29B125662", 0.9), ("29B125682", 0.4)],
    );
    if snapshot {
        let file = dir.join("snapshots/cam-x/1.jpg");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"\xff\xd8\xff\xe0 a snapshot \xff\xd9").unwrap();
        p.snapshot_path = Some(file.to_string_lossy().into_owned());
    }
    write_batch(&db.store, &common::items(vec![p]))
        .await
        .unwrap();
    let client = db.store.client().await.unwrap();
    client
        .batch_execute(
            "INSERT INTO junctions (name, km_marker) VALUES ('Km 31', 31.5) ON CONFLICT DO NOTHING;
             UPDATE cameras SET junction_id = (SELECT id FROM junctions)",
        )
        .await
        .unwrap();
    client
        .query_one("SELECT max(id) FROM passages", &[])
        .await
        .unwrap()
        .get(0)
}

pub use super::common::get_as as get;

/// A config whose state directory is `dir` (where the API's key lives too).
pub fn config(dir: &Path) -> PathBuf {
    let file = dir.join("matthan.toml");
    std::fs::write(&file, format!("[storage]\nstate_dir = {:?}\n", dir)).unwrap();
    file
}

/// `matthan evidence ARGS… --config CONFIG` with the database.
pub fn evidence_cli(db: &ScratchDatabase, cfg: &Path, args: &[&str]) -> Output {
    common::matthan(&db.connection_string())
        .arg("evidence")
        .args(args)
        .arg("--config")
        .arg(cfg)
        .output()
        .unwrap()
}

/// `matthan evidence verify FILE` (plus `extra`): exit code, stdout, stderr.
pub fn verify(
    db: &ScratchDatabase,
    cfg: &Path,
    file: &Path,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec!["verify", file.to_str().unwrap()];
    args.extend(extra);
    let out = evidence_cli(db, cfg, &args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// The files of a ZIP, in order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().unwrap().to_string(), data)
        })
        .collect()
}

/// A ZIP of `files`, as someone repacking a package would make it.
pub fn rezip(files: &[(String, Vec<u8>)], out: &Path) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(out).unwrap());
    for (name, data) in files {
        zip.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

pub fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files.iter().find(|f| f.0 == name).unwrap().1
}

pub fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Audit rows: (action, status, target), oldest first.
pub async fn audit_rows(db: &ScratchDatabase) -> Vec<(String, i16, Option<String>)> {
    let client = db.store.client().await.unwrap();
    client
        .query(
            "SELECT action, status, target FROM audit_log ORDER BY id",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect()
}

/// A package downloaded from the API by investigator `ivy`, who viewed the passage first.
pub struct Exported {
    /// The scratch database.
    pub db: ScratchDatabase,
    /// The test's folder (the API's state folders, and the config's state directory).
    pub dir: PathBuf,
    /// The passage.
    pub id: i64,
    /// The answer's status and headers.
    pub answer: (StatusCode, axum::http::HeaderMap),
    /// The ZIP.
    pub zip: Vec<u8>,
    /// Its files.
    pub files: Vec<(String, Vec<u8>)>,
}

/// Records the camera, logs the passage (with a snapshot) and exports its package over the
/// API with reason `case 17/2026`.
pub async fn exported(tag: &str) -> Exported {
    let db = common::scratch(&format!("evidence_{tag}")).await;
    let dir = common::temp_dir(&format!("evidence-{tag}"));
    tokio::task::block_in_place(|| common::record_test_pattern(&dir, &db));
    let id = passage(&dir, &db, true).await;
    let state = common::app_state(db.store.clone(), &dir);
    let token = common::add_user(&state.store, "ivy", Role::Investigator, None).await;
    let (status, _, _) = get(&state, &token, &format!("/api/passages/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    let uri = format!("/api/passages/{id}/evidence?reason=case+17%2F2026");
    let (status, headers, zip) = get(&state, &token, &uri).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    let files = unzip(&zip);
    Exported {
        db,
        dir,
        id,
        answer: (status, headers),
        zip,
        files,
    }
}

impl Exported {
    /// Drops the database and the folder.
    pub async fn clean_up(self) {
        self.db.drop_database().await.unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}
