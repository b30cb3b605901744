//! The package over HTTP: what it holds, the audit rows it writes, the clip it cuts; and what
//! is refused.

use axum::http::StatusCode;
use matthan::access::Role;
use serde_json::Value;

use crate::common;
use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_answers_the_passages_package_with_its_audit_rows_and_clip() {
    let e = exported("api").await;
    let (db, dir, id, zip, files) = (&e.db, &e.dir, e.id, &e.zip, &e.files);
    let headers = &e.answer.1;
    assert_eq!(headers["content-type"], "application/zip");
    assert_eq!(headers["x-content-sha256"].to_str().unwrap(), sha256(zip));
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains(&format!("evidence-passage-{id}-")),
        "{disposition}"
    );
    // Nothing is left in the scratch folder.
    assert_eq!(std::fs::read_dir(dir.join("exports")).unwrap().count(), 0);

    let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.json",
            "manifest.sig",
            "README.txt",
            "passage.json",
            "camera.json",
            "audit.json",
            "snapshot.jpg",
            "clip.mp4"
        ]
    );
    let manifest: Value = serde_json::from_slice(file(files, "manifest.json")).unwrap();
    assert_eq!(manifest["passage_id"], id);
    assert_eq!(manifest["exported_by"], "ivy");
    assert_eq!(manifest["reason"], "case 17/2026");
    assert_eq!(manifest["absent"], serde_json::json!([]));
    let passage: Value = serde_json::from_slice(file(files, "passage.json")).unwrap();
    assert_eq!(
        passage["candidates"].as_array().unwrap().len(),
        2,
        "{passage}"
    );
    let camera: Value = serde_json::from_slice(file(files, "camera.json")).unwrap();
    assert_eq!(camera["junction"]["name"], "Km 31", "{camera}");
    // The audit rows about the passage: the view before, and this export's own row (begun).
    let audit: Value = serde_json::from_slice(file(files, "audit.json")).unwrap();
    let actions: Vec<(&str, i64)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["action"].as_str().unwrap(), r["status"].as_i64().unwrap()))
        .collect();
    assert_eq!(actions, [("passage_view", 200), ("evidence_export", 202)]);
    assert_eq!(audit[1]["user"], "ivy");
    assert_eq!(audit[1]["reason"], "case 17/2026");
    // Then the guard's row for the request, with the package's SHA-256.
    let rows = audit_rows(db).await;
    let last = rows.last().unwrap();
    assert_eq!(last.1, 200);
    assert_eq!(
        last.2.as_deref(),
        Some(format!("passage:{id} evidence sha256:{}", sha256(zip)).as_str())
    );

    // The clip is the window 00:00:05..00:00:18, cut on keyframes, and decodes cleanly.
    let clip = dir.join("clip.mp4");
    std::fs::write(&clip, file(files, "clip.mp4")).unwrap();
    let (duration, errors) = common::ffprobe_duration(&clip);
    assert!(
        errors.is_empty() && common::decode_errors(&clip).is_empty(),
        "{errors}"
    );
    assert!(
        (12.9..=14.2).contains(&duration),
        "{duration} s for a 13 s window"
    );
    assert_eq!(manifest["clip"]["window_from"], "2026-01-01T00:00:05Z");
    let overlapping: i64 = db
        .store
        .client()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM clips WHERE started_at < '2026-01-01T00:00:18Z'
                 AND ended_at > '2026-01-01T00:00:05Z'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let segments = manifest["clip"]["segments"].as_array().unwrap();
    assert!(
        overlapping >= 3 && segments.len() as i64 == overlapping,
        "{segments:?}"
    );

    e.clean_up().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_only_the_guards_row_and_a_bare_passage_still_gets_a_package() {
    let db = common::scratch("evidence_refused").await;
    let dir = common::temp_dir("evidence-refused");
    // No recording and no snapshot.
    let id = passage(&dir, &db, false).await;
    let state = common::app_state(db.store.clone(), &dir);
    let viewer = common::add_user(&state.store, "vic", Role::Viewer, None).await;
    let ivy = common::add_user(&state.store, "ivy", Role::Investigator, None).await;
    for (token, uri, status, mentions) in [
        (
            &viewer,
            format!("/api/passages/{id}/evidence?reason=case+1"),
            StatusCode::FORBIDDEN,
            "investigator",
        ),
        (
            &ivy,
            format!("/api/passages/{id}/evidence"),
            StatusCode::BAD_REQUEST,
            "reason",
        ),
        (
            &ivy,
            format!("/api/passages/{id}/evidence?reason=ab"),
            StatusCode::BAD_REQUEST,
            "reason",
        ),
        (
            &ivy,
            format!("/api/passages/{id}/evidence?reason=case+1&x=1"),
            StatusCode::BAD_REQUEST,
            "unknown field `x`",
        ),
        (
            &ivy,
            "/api/passages/0/evidence?reason=case+1".into(),
            StatusCode::BAD_REQUEST,
            "id",
        ),
        (
            &ivy,
            "/api/passages/424242/evidence?reason=case+1".into(),
            StatusCode::NOT_FOUND,
            "424242",
        ),
    ] {
        let before = audit_rows(&db).await.len();
        let (got, headers, body) = get(&state, token, &uri).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(got, status, "{uri}: {body}");
        assert!(
            body["detail"].as_str().unwrap().contains(mentions),
            "{uri}: {body}"
        );
        assert!(headers.contains_key("x-audit-id"), "{uri}");
        let rows = audit_rows(&db).await;
        assert_eq!(
            rows.len(),
            before + 1,
            "{uri}: only the guard's row: {rows:?}"
        );
        assert_eq!(rows.last().unwrap().0, "evidence_export");
        assert_eq!(rows.last().unwrap().1, status.as_u16() as i16);
        assert_eq!(
            std::fs::read_dir(dir.join("exports")).unwrap().count(),
            0,
            "{uri}"
        );
    }

    // The page shows the key that signs the packages.
    let (status, _, body) = get(&state, &viewer, "/api/evidence/key").await;
    assert_eq!(status, StatusCode::OK);
    let key: Value = serde_json::from_slice(&body).unwrap();
    let (status, _, zip) = get(
        &state,
        &ivy,
        &format!("/api/passages/{id}/evidence?reason=case+1"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&zip));
    let files = unzip(&zip);
    let manifest: Value = serde_json::from_slice(file(&files, "manifest.json")).unwrap();
    assert_eq!(manifest["station_key"], key["public_key"]);
    let absent: Vec<&str> = manifest["absent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(absent, ["clip.mp4", "snapshot.jpg"], "{manifest}");
    assert!(manifest["clip"].is_null());
    assert!(!files
        .iter()
        .any(|f| f.0 == "clip.mp4" || f.0 == "snapshot.jpg"));
    let readme = String::from_utf8_lossy(file(&files, "README.txt")).into_owned();
    assert!(
        readme.contains(key["fingerprint"].as_str().unwrap()),
        "{readme}"
    );
    assert!(
        readme.contains("clip.mp4: no recording of camera `cam-x`"),
        "{readme}"
    );
    let package = dir.join("bare.zip");
    std::fs::write(&package, &zip).unwrap();
    let verdict = matthan::evidence::verify_file(&package, None).unwrap();
    assert!(verdict.ok(), "{:?}", verdict.differences);
    assert_eq!(verdict.files_matching, 4);

    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
