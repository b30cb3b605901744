//! The web page in headless Chromium (Debian's chromium + chromedriver, driven over
//! WebDriver): a video made from the demo photos is ingested into a real database, the server
//! runs, and the test types a demo plate into the search box, clicks Search, and sees the
//! passage's row with its snapshot loaded, and the same car read again by `matthan reread`
//! marked as a re-read; opening the live row plays the clip at the passage, shows how long the
//! car went unseen, and offers the evidence package under the station key's fingerprint. A
//! second test draws a plate's corridor on a generated multi-junction log: its points and hops
//! are drawn (checked in the DOM and in a screenshot's pixels), and clicking a point opens that
//! passage.

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
        .args(["--start", "2026-11-29T00:00:00Z"])
        .args(common::media_dirs(dir))
        .arg(&video)
        .output()
        .unwrap();
    common::assert_success(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(PLATE),
        "the demo video should hold {PLATE}"
    );
}

/// The first 3 s of `ingest_demo`'s camera read again as a new analysis run.
fn reread_demo(dir: &Path, db: &ScratchDatabase) {
    let out = common::matthan(&db.connection_string())
        .args(["reread", "--camera", "web-demo"])
        .args([
            "--from",
            "2026-11-29T00:00:00Z",
            "--to",
            "2026-11-29T00:00:03Z",
        ])
        .args(common::media_dirs(dir))
        .output()
        .unwrap();
    common::assert_success(&out);
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
    // The first photo's segment read again: the car is listed twice, once as a re-read.
    tokio::task::block_in_place(|| reread_demo(&dir, &db));

    let state = AppState::new(
        db.store.clone(),
        &dir.join("clips"),
        &dir.join("snapshots"),
        &dir.join("exports"),
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("web"),
        None,
    )
    .unwrap();
    let page = Page::open(state, &dir).await;
    let browser = page.browser.clone();

    let result = async {
        page.log_in("officer", "officer-pass").await?;
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
        let reread_css = format!("tr.passage[data-plate='{PLATE}'] span.run");
        let badge = browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(&reread_css))
            .await?
            .text()
            .await?;
        assert!(
            badge.starts_with("re-read (run ") && badge.contains(" / đọc lại (đợt "),
            "{badge}"
        );
        let row_css = format!("tr.passage[data-plate='{PLATE}']:not(:has(span.run))");
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
    page.close(result, "web").await;
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// The API and page of `state` served on a free port, with chromedriver and a headless
/// Chromium (profile under `dir`) on it.
struct Page {
    /// The browser session.
    browser: fantoccini::Client,
    /// The server's base URL.
    base: String,
    /// chromedriver.
    driver: Driver,
    /// Stops the server.
    stop: tokio::sync::oneshot::Sender<()>,
    /// The server task.
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Page {
    async fn open(state: AppState, dir: &Path) -> Page {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
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
                    "--disable-component-update", "--disable-sync",
                    "--autoplay-policy=no-user-gesture-required",
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
        Page {
            browser,
            base,
            driver,
            stop,
            server,
        }
    }

    /// Opens the page, which shows only the login, and logs in as `name`.
    async fn log_in(&self, name: &str, password: &str) -> Result<(), Box<dyn std::error::Error>> {
        let browser = &self.browser;
        browser.goto(&self.base).await?;
        let field = browser
            .wait()
            .for_element(Locator::Css("#login:not([hidden]) #login-name"))
            .await?;
        assert!(browser.find(Locator::Css("#main[hidden]")).await.is_ok());
        field.send_keys(name).await?;
        browser
            .find(Locator::Css("#login-password"))
            .await?
            .send_keys(password)
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
        Ok(())
    }

    /// Closes the browser and the server; on `result`'s error, panics with a screenshot of
    /// the page saved as `matthan-<tag>-test-failure.png` in the temp folder.
    async fn close(self, result: Result<(), Box<dyn std::error::Error>>, tag: &str) {
        let screenshot = self.browser.screenshot().await.ok();
        let _ = self.browser.close().await;
        drop(self.driver);
        let _ = self.stop.send(());
        let _ = self.server.await;
        if let Err(e) = result {
            if let Some(png) = screenshot {
                let path = std::env::temp_dir().join(format!("matthan-{tag}-test-failure.png"));
                let _ = std::fs::write(&path, png);
                panic!("{e} (screenshot: {})", path.display());
            }
            panic!("{e}");
        }
    }
}

/// Pixels of `png` within a small distance of the colour `rgb`.
fn pixels_of(png: &[u8], rgb: [u8; 3]) -> usize {
    let img = image::load_from_memory(png).expect("a PNG").to_rgb8();
    img.pixels()
        .filter(|p| {
            p.0.iter()
                .zip(rgb)
                .all(|(a, b)| (i16::from(*a) - i16::from(b)).abs() <= 12)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_corridor_chart_draws_the_trips_and_a_point_opens_its_passage() {
    let db = common::scratch("web_corridor").await;
    let dir = common::temp_dir("web-corridor");
    {
        use matthan::access::{hash_password, Role};
        use matthan::store::trust;
        let client = db.store.client().await.unwrap();
        let hash = hash_password("officer-pass").unwrap();
        trust::create_user(&client, "officer", Role::Investigator, Some(&hash))
            .await
            .unwrap();
    }
    common::road_log(&db.store).await;
    let mut state = common::app_state(db.store.clone(), &dir);
    state.web_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let page = Page::open(state, &dir).await;
    let browser = page.browser.clone();
    let shot_path = std::env::temp_dir().join("matthan-corridor-chart.png");

    let result = async {
        page.log_in("officer", "officer-pass").await?;
        browser
            .wait()
            .for_element(Locator::Css("#road:not([hidden]) #corridor-plate"))
            .await?;
        // The log's day (datetime-local inputs are set as the page's own code sets them).
        browser
            .execute(
                "document.getElementById('corridor-from').value = '2026-11-28T00:00:00';
                 document.getElementById('corridor-to').value = '2026-11-29T00:00:00';",
                vec![],
            )
            .await?;
        browser
            .find(Locator::Css("#corridor-plate"))
            .await?
            .send_keys("29B125662")
            .await?;
        browser
            .find(Locator::Css("#corridor-reason"))
            .await?
            .send_keys("web test: case 7")
            .await?;
        browser
            .find(Locator::Css("#corridor-btn"))
            .await?
            .click()
            .await?;
        browser
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css("#corridor-svg circle.corridor-point"))
            .await?;
        // Nine passages, six hops (two trips of three), one junction missed while recording.
        let count = |css: &'static str| {
            let browser = browser.clone();
            async move { browser.find_all(Locator::Css(css)).await.map(|v| v.len()) }
        };
        assert_eq!(count("#corridor-svg circle.corridor-point").await?, 9);
        assert_eq!(count("#corridor-svg line.hop").await?, 6);
        assert_eq!(count("#corridor-svg line.impossible").await?, 0);
        assert_eq!(count("#corridor-svg rect.missed").await?, 1);
        assert_eq!(count("#corridor-hops tbody tr.hop").await?, 6);
        let status = browser
            .find(Locator::Css("#corridor-status"))
            .await?
            .text()
            .await?;
        assert!(status.contains("2 trip(s)"), "{status}");
        // The chart as drawn: the first trip's blue and the second's green are on screen.
        let chart = browser.find(Locator::Css("#corridor-chart")).await?;
        browser
            .execute(
                "arguments[0].scrollIntoView({block: 'start'});",
                vec![serde_json::to_value(&chart)?],
            )
            .await?;
        let png = chart.screenshot().await?;
        std::fs::write(&shot_path, &png)?;
        assert!(
            pixels_of(&png, [0x0b, 0x5c, 0xad]) > 200,
            "trip 1 not drawn"
        );
        assert!(
            pixels_of(&png, [0x1e, 0x7b, 0x34]) > 200,
            "trip 2 not drawn"
        );
        // A click on the Km 52 point of the morning opens that passage.
        let points = browser
            .find_all(Locator::Css("#corridor-svg circle.corridor-point"))
            .await?;
        let mut clicked = None;
        for p in points {
            let camera = p.attr("data-camera").await?.unwrap_or_default();
            let id = p.attr("data-passage").await?.unwrap_or_default();
            if camera == "mv-1" && clicked.is_none() {
                p.click().await?;
                clicked = Some(id);
            }
        }
        let id = clicked.expect("a point at Km 52");
        browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("#detail:not([hidden])"))
            .await?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let fields = browser
                .find(Locator::Css("#detail-fields"))
                .await?
                .text()
                .await?;
            if fields.contains(&id) && fields.contains("mv-1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "passage {id} not opened: {fields}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let title = browser
            .find(Locator::Css("#detail-title"))
            .await?
            .text()
            .await?;
        assert_eq!(title, "29B125662");
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    page.close(result, "corridor").await;
    db.drop_database().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
