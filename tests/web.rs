//! The web page in headless Chromium (Debian's chromium + chromedriver, driven over
//! WebDriver): a video made from the demo photos is ingested into a real database, the server
//! runs, and the test types a demo plate into the search box, clicks Search, and sees the
//! passage's row with its snapshot loaded; opening the row plays the clip at the passage,
//! shows how long the car went unseen, and offers the evidence package under the station
//! key's fingerprint.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use matthan::api::{serve, AppState};
use matthan::evidence::{self, StationKey};
use matthan::store::scratch::ScratchDatabase;
use serde_json::json;

const PLATE: &str = "29B125662";

/// chromedriver on a free port, killed on drop.
struct Driver {
    /// The process.
    child: Child,
    /// Its WebDriver URL.
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = common::free_port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian package chromium-driver; make setup installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo video (vn-dev photos, 3 s each) ingested as camera `web-demo` into `db`.
fn ingest_demo(dir: &Path, db: &ScratchDatabase) {
    let video = dir.join("demo.mp4");
    common::demo_video(&video);
    let out = common::matthan(&db.connection_string())
        .args(["ingest", "--camera", "web-demo", "--segment-len", "6"])
        .args(["--start", "2026-11-29T00:00:00Z", "--clips"])
        .arg(dir.join("clips"))
        .arg("--snapshots")
        .arg(dir.join("snapshots"))
        .arg(&video)
        .output()
        .unwrap();
    common::assert_success(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(PLATE),
        "the demo video should hold {PLATE}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_finds_a_demo_plate_with_its_snapshot_and_clip() {
    let db = common::scratch("web").await;
    let dir = common::temp_dir("web");
    // An investigator who logs in on the page, and the demo plate on the watchlist.
    {
        use matthan::access::{hash_password, Role};
        use matthan::plate::search::PlateQuery;
        use matthan::store::trust;
        let mut client = db.store.client().await.unwrap();
        let hash = hash_password("officer-pass").unwrap();
        trust::create_user(&client, "officer", Role::Investigator, Some(&hash))
            .await
            .unwrap();
        let watch = PlateQuery::parse(PLATE, None).unwrap();
        trust::add_watch(&mut client, &watch, "web test: reported stolen", "officer")
            .await
            .unwrap();
    }
    tokio::task::block_in_place(|| ingest_demo(&dir, &db));
    // The demo car as if its track had broken and been rejoined by its plate: unseen 2.4 s.
    {
        let client = db.store.client().await.unwrap();
        let rejoined = client
            .execute(
                "UPDATE passages SET unseen_ms = 2400,
                     gaps = ARRAY[tstzrange(first_seen, first_seen + interval '2.4 s', '[]')]
                 WHERE plate_key = $1",
                &[&PLATE],
            )
            .await
            .unwrap();
        assert!(rejoined >= 1);
    }

    let state = AppState::new(
        db.store.clone(),
        &dir.join("clips"),
        &dir.join("snapshots"),
        &dir.join("exports"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
        None,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stop_rx.await;
    }));

    let driver = Driver::start();
    let profile = dir.join("chromium-profile");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
                format!("--user-data-dir={}", profile.display()),
                "--window-size=1366,900"
            ]
        }),
    );
    let browser = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session");

    let result = async {
        browser.goto(&base).await?;
        // The page asks for a login first; nothing else is shown.
        let name = browser
            .wait()
            .for_element(Locator::Css("#login:not([hidden]) #login-name"))
            .await?;
        assert!(browser.find(Locator::Css("#main[hidden]")).await.is_ok());
        name.send_keys("officer").await?;
        browser
            .find(Locator::Css("#login-password"))
            .await?
            .send_keys("officer-pass")
            .await?;
        browser
            .find(Locator::Css("#login-btn"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .for_element(Locator::Css("#main:not([hidden])"))
            .await?;
        // The watched plate's alert is listed, and the live stream is open.
        let alert = browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#alerts-list li.alert"))
            .await?;
        assert!(alert.text().await?.contains(PLATE));
        let input = browser.wait().for_element(Locator::Css("#plate")).await?;
        input.send_keys("29-B1 256.62").await?;
        browser
            .find(Locator::Css("#reason"))
            .await?
            .send_keys("web test")
            .await?;
        browser
            .find(Locator::Css("#search-btn"))
            .await?
            .click()
            .await?;
        let row_css = format!("tr.passage[data-plate='{PLATE}']");
        let row = browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&row_css))
            .await?;
        let text = row.text().await?;
        assert!(text.contains("29-B1 256.62"), "row shows the plate: {text}");
        assert!(text.contains("web-demo"), "row shows the camera: {text}");
        // The snapshot thumbnail loads (a real JPEG from the snapshot endpoint).
        let thumb = row.find(Locator::Css("img.thumb")).await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let loaded = browser
                .execute(
                    "return arguments[0].complete && arguments[0].naturalWidth",
                    vec![serde_json::to_value(&thumb)?],
                )
                .await?;
            if loaded.as_u64().unwrap_or(0) > 0 {
                break;
            }
            assert!(Instant::now() < deadline, "snapshot did not load");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(thumb.attr("data-loaded").await?.as_deref(), Some("1"));
        let src = thumb.attr("src").await?.unwrap_or_default();
        assert!(src.contains("/snapshot.jpg"), "{src}");

        // Opening the row plays the clip segment at the passage's offset.
        row.click().await?;
        browser
            .wait()
            .for_element(Locator::Css("#detail:not([hidden])"))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(20);
        let position = loop {
            let state = browser
                .execute(
                    "const v = document.getElementById('player');
                     return [v.readyState, v.currentTime, v.currentSrc];",
                    vec![],
                )
                .await?;
            let ready = state[0].as_u64().unwrap_or(0);
            let at = state[1].as_f64().unwrap_or(0.0);
            if ready >= 1 && at > 0.0 {
                break (at, state[2].as_str().unwrap_or("").to_string());
            }
            assert!(Instant::now() < deadline, "the clip did not load: {state}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(position.1.contains("/api/clips/"), "{}", position.1);
        // The plate is in the first photo (0-3 s of the video).
        assert!(
            position.0 > 0.0 && position.0 < 6.5,
            "player at {} s",
            position.0
        );
        // The detail says how long the car went unseen, in both languages.
        let fields = browser
            .find(Locator::Css("#detail-fields"))
            .await?
            .text()
            .await?;
        for said in [
            "2.4 s inside this passage (track rejoined by its plate)",
            "2,4 giây trong lượt này (nối lại theo biển số)",
        ] {
            assert!(fields.contains(said), "{said:?} not in {fields:?}");
        }
        // An investigator is offered the passage's evidence package, and the page shows the
        // fingerprint of the key that signs it.
        let evidence = browser
            .find(Locator::Css("#evidence:not([hidden])"))
            .await?;
        assert!(evidence.text().await?.contains("Gói chứng cứ"));
        let fingerprint = browser
            .wait()
            .for_element(Locator::Css("#station-key:not([hidden]) #station-key-fp"))
            .await?
            .text()
            .await?;
        let key = StationKey::load(&evidence::key_path(&dir))
            .unwrap()
            .unwrap();
        assert_eq!(fingerprint, key.fingerprint());
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    let screenshot = browser.screenshot().await.ok();
    let _ = browser.close().await;
    drop(driver);
    let _ = stop_tx.send(());
    let _ = server.await;
    if let Err(e) = result {
        if let Some(png) = screenshot {
            let path = std::env::temp_dir().join("matthan-web-test-failure.png");
            let _ = std::fs::write(&path, png);
            panic!("{e} (screenshot: {})", path.display());
        }
        panic!("{e}");
    }
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
