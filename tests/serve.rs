//! `matthan serve` as the station runs it: a config with a live camera (an HTTP MPEG-TS
//! stream that ffmpeg serves from the demo photos), a real database; the camera's passages
//! and segments reach the log while the API answers, and Ctrl-C (SIGINT) stops it cleanly.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A plain HTTP GET with a bearer token: (status, body).
fn http_get(port: u16, path: &str, token: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

#[test]
fn serve_records_a_live_camera_into_the_log_and_stops_on_ctrl_c() {
    let dir = common::temp_dir("serve");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = rt.block_on(common::scratch("serve"));
    let video = dir.join("live.mp4");
    common::demo_video(&video);
    let (camera_port, api_port) = (common::free_port(), common::free_port());
    let stream = format!("http://127.0.0.1:{camera_port}/live.ts");
    let config = dir.join("matthan.toml");
    std::fs::write(
        &config,
        format!(
            r#"
[storage]
state_dir = "{state}"
segment_len_sec = 4

[[junctions]]
name = "Km 31 junction"

[[cameras]]
name = "gate"
junction = "Km 31 junction"
source = "{stream}"
"#,
            state = dir.join("state").display()
        ),
    )
    .unwrap();
    // The camera: ffmpeg plays the video in real time to whoever connects.
    let mut camera = common::live_camera(&video, &stream, 0);
    // An officer's token, made the way an admin makes one: printed once by `matthan user add`.
    let added = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .env("DATABASE_URL", db.connection_string())
        .args(["user", "add", "officer", "--role", "viewer", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    common::assert_success(&added);
    let token = String::from_utf8(added.stdout).unwrap().trim().to_string();
    assert!(matthan::access::looks_like_token(&token), "{token}");
    let listed = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .env("DATABASE_URL", db.connection_string())
        .args(["user", "list"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("officer") && listed.contains("viewer"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "a token is shown only once");
    let mut server = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .env("DATABASE_URL", db.connection_string())
        .args(["--models"])
        .arg(common::model_dir())
        .args(["serve", "--config"])
        .arg(&config)
        .args(["--listen", &format!("127.0.0.1:{api_port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // The plate of the first photo reaches the log while the server runs.
    let deadline = Instant::now() + Duration::from_secs(120);
    let found = loop {
        if let Some((200, body)) = http_get(
            api_port,
            "/api/passages?plate=29B125662&mode=exact&reason=serve+test",
            &token,
        ) {
            let v: serde_json::Value = serde_json::from_str(&body).unwrap();
            if let Some(p) = v["items"].as_array().and_then(|a| a.first()).cloned() {
                break p;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no passage of 29B125662 was logged"
        );
        assert!(server.try_wait().unwrap().is_none(), "serve exited early");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(found["camera"], "gate");
    assert_eq!(found["junction"], "Km 31 junction");
    let (status, cameras) = http_get(api_port, "/api/cameras", &token).unwrap();
    assert_eq!(status, 200);
    // Without the token: 401.
    let (status, _) = http_get(api_port, "/api/cameras", "mth_nope").unwrap();
    assert_eq!(status, 401);
    let cameras: serde_json::Value = serde_json::from_str(&cameras).unwrap();
    assert_eq!(cameras["items"][0]["name"], "gate");
    // The stream ends after 12 s; wait for its segments to be closed and logged.
    let _ = camera.wait();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, body) = http_get(api_port, "/metrics", "").unwrap();
        let written = body
            .lines()
            .find_map(|l| l.strip_prefix("matthan_clips_written_total "))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .unwrap_or(0);
        if written >= 3 {
            // The camera's own counters are listed too: frames decoded, analysed, held back
            // by the motion gate and dropped.
            let decoded = body
                .lines()
                .find_map(|l| {
                    l.strip_prefix(r#"matthan_camera_frames_total{camera="gate",kind="decoded"} "#)
                })
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            assert!(decoded > 100, "camera counters missing: {body}");
            for kind in ["analysed", "gated", "dropped"] {
                let line = format!(r#"matthan_camera_frames_total{{camera="gate",kind="{kind}"}}"#);
                assert!(body.contains(&line), "{kind} missing: {body}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "segments not logged: {body}");
        std::thread::sleep(Duration::from_millis(500));
    }

    // A page left open holds a live alert stream; it must not keep the server from stopping.
    let mut page = TcpStream::connect(("127.0.0.1", api_port)).unwrap();
    write!(
        page,
        "GET /api/alerts/stream HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\r\n"
    )
    .unwrap();
    page.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut head = [0u8; 64];
    let n = page.read(&mut head).unwrap();
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );

    // Ctrl-C: the server stops, with everything it produced in the log.
    let status = Command::new("kill")
        .args(["-INT", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = server.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stderr = String::new();
    server
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(exit.success(), "{stderr}");
    let (passages, clips): (i64, i64) = rt.block_on(async {
        let c = db.store.client().await.unwrap();
        let p = c
            .query_one("SELECT count(*) FROM passages", &[])
            .await
            .unwrap();
        let k = c
            .query_one("SELECT count(*) FROM clips", &[])
            .await
            .unwrap();
        (p.get(0), k.get(0))
    });
    assert!(passages >= 8, "{passages} passages logged");
    assert!(clips >= 3, "{clips} segments logged");
    rt.block_on(db.drop_database()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
