//! `matthan evidence export` and `matthan evidence key`: an audited package, and clear
//! refusals that write no file.

use std::path::Path;

use serde_json::Value;

use crate::common;
use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_exports_an_audited_package_and_refuses_clearly() {
    let db = common::scratch("evidence_cli").await;
    let dir = common::temp_dir("evidence-cli");
    tokio::task::block_in_place(|| common::record_test_pattern(&dir, &db));
    let id = passage(&dir, &db, true).await;
    let cfg = config(&dir);
    let out = dir.join("case9.zip");
    let id_text = id.to_string();
    let export = |passage: &str, reason: &str, out: &Path| {
        let args = [
            "export",
            "--passage",
            passage,
            "--reason",
            reason,
            "--out",
            out.to_str().unwrap(),
        ];
        evidence_cli(&db, &cfg, &args)
    };
    let done = tokio::task::block_in_place(|| export(&id_text, "case 9/2026", &out));
    common::assert_success(&done);
    let printed = String::from_utf8_lossy(&done.stdout).into_owned();
    let bytes = std::fs::read(&out).unwrap();
    assert!(printed.contains(&sha256(&bytes)), "{printed}");
    let (code, stdout, stderr) = tokio::task::block_in_place(|| verify(&db, &cfg, &out, &[]));
    assert_eq!(code, 0, "{stdout}{stderr}");
    // The key the command line prints is the one that signed.
    let key = tokio::task::block_in_place(|| evidence_cli(&db, &cfg, &["key"]));
    common::assert_success(&key);
    let key = String::from_utf8_lossy(&key.stdout).into_owned();
    let files = unzip(&bytes);
    let manifest: Value = serde_json::from_slice(file(&files, "manifest.json")).unwrap();
    assert_eq!(
        key.lines().next().unwrap(),
        manifest["station_key"].as_str().unwrap()
    );
    assert!(
        key.lines().nth(1).unwrap().starts_with("fingerprint "),
        "{key}"
    );
    // Its begun row is in the package; the row of how it ended follows in the log.
    let audit: Value = serde_json::from_slice(file(&files, "audit.json")).unwrap();
    assert_eq!(audit[0]["action"], "evidence_export");
    assert_eq!(
        (audit[0]["method"].as_str(), audit[0]["status"].as_i64()),
        (Some("CLI"), Some(202))
    );
    let rows = audit_rows(&db).await;
    let target = format!("passage:{id} evidence sha256:{}", sha256(&bytes));
    assert_eq!(
        rows.last().unwrap(),
        &("evidence_export".to_string(), 200, Some(target))
    );

    // Refusals: clear, audited, and no file written.
    let other = dir.join("other.zip");
    for (passage, reason, says, status) in [
        ("424242", "case 9/2026", "no passage 424242", 404),
        (id_text.as_str(), "ab", "--reason is too short", 400),
    ] {
        let before = audit_rows(&db).await.len();
        let refused = tokio::task::block_in_place(|| export(passage, reason, &other));
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains(says), "{stderr}");
        let rows = audit_rows(&db).await;
        assert_eq!(rows.len(), before + 1);
        assert_eq!(rows.last().unwrap().1, status);
        assert!(!other.exists());
    }
    let refused = tokio::task::block_in_place(|| export(&id_text, "case 9/2026", &out));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("never overwritten"));
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert_eq!(std::fs::read_dir(dir.join("exports")).unwrap().count(), 0);

    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
