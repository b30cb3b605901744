//! `matthan check` on a healthy setup (fresh migrated database, a camera that is a local file
//! and one that is an ffmpeg-served live stream, the real models) and on a broken one (the
//! database on a closed port, a camera at an unreachable address, a model missing and one
//! altered): exit codes, the lines, and no password in the output.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use chrono::{TimeDelta, Utc};
use matthan::recognize::runtime;
use matthan::store::writer::{write_batch, NewClip, WriteItem};

fn check(database_url: &str, models: &Path, config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_matthan"))
        .env("DATABASE_URL", database_url)
        .arg("--models")
        .arg(models)
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(["--camera-timeout", "10"])
        .output()
        .unwrap()
}

fn line<'a>(stdout: &'a str, start: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| l.starts_with(start))
        .unwrap_or_else(|| panic!("no line starting {start:?} in:\n{stdout}"))
}

#[test]
fn a_healthy_setup_passes_every_check() {
    let dir = common::temp_dir("check-ok");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("check_ok"));
    // Ten minutes of recording in the last hour, for the disk's headroom.
    let now = Utc::now();
    let clip = |n: i64| {
        WriteItem::Clip(NewClip {
            camera: "file-cam".into(),
            started_at: now - TimeDelta::minutes(30 - 5 * n),
            ended_at: now - TimeDelta::minutes(25 - 5 * n),
            path: format!("file-cam/{n}.mp4"),
            bytes: 5_000_000,
            sha256: "00".repeat(32),
            fence: None,
        })
    };
    rt.block_on(write_batch(&db.store, &[clip(0), clip(1)]))
        .unwrap();

    let video = dir.join("cam.mp4");
    common::make_video(
        &video,
        &common::vn_dev_photos(&["101.jpg"]),
        &["--seconds", "2", "--size", "640x480"],
    );
    let port = common::free_port();
    let stream = format!("http://127.0.0.1:{port}/live.ts");
    let mut camera = common::live_camera(&video, &stream, 5);
    let config = dir.join("matthan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[storage]
state_dir = "{state}"

[retention]
clips_days = 1

[[cameras]]
name = "file-cam"
source = "{video}"

[[cameras]]
name = "live-cam"
source = "{stream}"

[[cameras]]
name = "spare"
source = "rtsp://127.0.0.1:9/off"
enabled = false
"#,
            state = dir.join("state").display(),
            video = video.display()
        ),
    )
    .unwrap();

    let out = check(&db.connection_string(), &common::model_dir(), &config);
    let _ = camera.kill();
    let _ = camera.wait();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    line(&stdout, "ok    config");
    assert!(line(&stdout, "ok    config").contains("3 camera(s), 2 enabled"));
    let models = line(&stdout, "ok    models:");
    assert!(
        models.contains(&format!("{} files", runtime::locked_files().len())),
        "{models}"
    );
    assert!(line(&stdout, "ok    database:").contains("schema up to date"));
    assert!(line(&stdout, "ok    camera \"file-cam\"").contains("640x480 frame"));
    assert!(line(&stdout, "ok    camera \"live-cam\"").contains("640x480 frame"));
    assert!(!stdout.contains("spare"), "a disabled camera is not probed");
    assert!(line(&stdout, "ok    disk").contains("GiB/day recorded lately"));
    line(&stdout, "ok    clock:");
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_broken_setup_fails_with_what_to_do_and_no_password() {
    let dir = common::temp_dir("check-broken");
    // Models: one missing, one altered, the rest linked from the real folder.
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let locked = runtime::locked_files();
    let (missing, altered) = (locked[0].dest, locked[1].dest);
    for f in &locked[2..] {
        std::os::unix::fs::symlink(common::model_dir().join(f.dest), models.join(f.dest)).unwrap();
    }
    std::fs::write(models.join(altered), b"not the pinned model").unwrap();

    let config = dir.join("matthan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[storage]
state_dir = "{state}"

[[cameras]]
name = "gate"
source = "rtsp://admin:hunter2@127.0.0.1:9/Streaming/Channels/101"
"#,
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    let closed = common::free_port();
    let url = format!("postgres://matthan:s3cretdb@127.0.0.1:{closed}/matthan");
    let out = check(&url, &models, &config);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let fails: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL")).collect();
    assert!(
        fails.iter().all(|l| l.contains(" -> ")),
        "a FAIL line without advice:\n{stdout}"
    );
    assert!(line(&stdout, &format!("FAIL  model {missing}:")).contains("missing"));
    assert!(line(&stdout, &format!("FAIL  model {altered}:")).contains("differs"));
    assert!(line(&stdout, "FAIL  database:").contains(&format!("127.0.0.1:{closed}")));
    let camera = line(&stdout, "FAIL  camera \"gate\"");
    assert!(camera.contains("rtsp://admin@127.0.0.1:9/"), "{camera}");
    line(&stdout, "WARN  clock:");
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !all.contains("hunter2") && !all.contains("s3cretdb"),
        "{all}"
    );

    // A config that does not parse is one FAIL line naming the file; nothing panics.
    std::fs::write(&config, "[storage]\nclip_dir = \"x\"\n").unwrap();
    let out = check(&url, &models, &config);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let bad = line(&stdout, &format!("FAIL  config {}", config.display()));
    assert!(bad.contains("clip_dir"), "{bad}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn without_database_url_the_private_cluster_is_checked_as_serve_would_find_it() {
    let dir = common::temp_dir("check-cluster");
    let state = dir.join("state");
    let config = dir.join("matthan.toml");
    std::fs::write(
        &config,
        format!("[storage]\nstate_dir = \"{}\"\n", state.display()),
    )
    .unwrap();
    let check = || {
        let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
            .env_remove("DATABASE_URL")
            .arg("--models")
            .arg(common::model_dir())
            .arg("check")
            .arg("--config")
            .arg(&config)
            .arg("--env-file")
            .arg(dir.join("no.env"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        println!("{stdout}");
        (out.status.code(), stdout)
    };
    // None yet: serve would create it.
    let (code, stdout) = check();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(line(&stdout, "WARN  database:").contains("no private cluster"));

    // Running and migrated, as serve leaves it.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt
        .block_on(matthan::store::Database::open(None, &state))
        .unwrap();
    let (code, stdout) = check();
    assert_eq!(code, Some(0), "{stdout}");
    let ok = line(&stdout, "ok    database:");
    assert!(
        ok.contains("private cluster in") && ok.contains("schema up to date"),
        "{ok}"
    );
    line(&stdout, "ok    clock:");

    // Stopped: said plainly, and nothing is started.
    rt.block_on(db.close());
    let (code, stdout) = check();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(line(&stdout, "WARN  database:").contains("is not running"));
    assert!(!state.join("postgres/postmaster.pid").exists());
    std::fs::remove_dir_all(&dir).ok();
}
