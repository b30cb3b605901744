//! `matthan demo`: two demo cameras at two junctions, fed with the toll-booth clip that ships
//! with the repository (`tests/data/vn_toll_station_cars.mp4`, MIT), ingested into the log
//! (DATABASE_URL or the private cluster), then served. `--photos DIR` adds a third camera made
//! from a folder of eval photos.
//!
//! The videos are dated today in Asia/Ho_Chi_Minh (at 07:00 once that is past), and a second
//! run the same local day reuses the first run's start, so it finds every passage already
//! logged and adds nothing (the writer is idempotent). The second junction sees the clip
//! twenty minutes after the first, so the same vehicles make a corridor on the page.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{bail, Context};
use chrono::{DateTime, TimeDelta, TimeZone, Timelike, Utc};
use matthan::app::{self, ApiSettings, Gauges};
use matthan::config::{CameraConfig, Config, JunctionConfig};
use matthan::pipeline::{run_camera, write_item, CameraSettings};
use matthan::recognize::{runtime, RecognizerSettings};
use matthan::store::{query, trust, Database, Writer, WriterSettings};
use matthan::video::{Shutdown, SourceSpec};

use super::common::{describe, Globals};
use super::serve::{ctrl_c, print_listening};

/// The clip the demo cameras show, as shipped with the repository.
const DEMO_CLIP: &str = "tests/data/vn_toll_station_cars.mp4";

/// Flags of `matthan demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// The video the two demo cameras show.
    #[arg(long, default_value = DEMO_CLIP)]
    clip: PathBuf,
    /// A folder of eval photos (its `vn-dev`, else the folder itself) for a third camera, shown
    /// 3 s each (default: $MATTHAN_EVAL_DIR if set; none otherwise).
    #[arg(long)]
    photos: Option<PathBuf>,
    /// Ingest only; do not serve afterwards.
    #[arg(long)]
    no_serve: bool,
}

/// Where a demo camera's video comes from.
enum DemoVideo {
    /// A video file, ingested as it is.
    Clip(PathBuf),
    /// Photos made into a video, 3 s each.
    Photos(Vec<PathBuf>),
}

/// One demo camera: its name, junction and video.
struct DemoCamera {
    /// Camera name.
    name: &'static str,
    /// Junction name.
    junction: &'static str,
    /// What it shows.
    video: DemoVideo,
    /// Offset of its video's start from the demo's start.
    start_offset: TimeDelta,
}

/// The photo folder for the third camera, if one was asked for.
fn photo_dir(photos: Option<&Path>) -> Option<PathBuf> {
    photos
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("MATTHAN_EVAL_DIR").map(PathBuf::from))
}

fn jpegs(dir: &Path, max: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("demo photos: cannot read {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("jpg")))
        .collect();
    v.sort();
    v.truncate(max);
    if v.is_empty() {
        bail!("demo photos: no .jpg in {}", dir.display());
    }
    Ok(v)
}

/// When the demo's video starts: dated today in Asia/Ho_Chi_Minh, whatever the UTC date.
/// - `earlier`: the start an earlier run of the same local day used (its first segment in the
///   log); reused, so running the demo again the same day adds nothing.
/// - Else 07:00 local if it is 07:30 or later now (the demo's videos span about 21 minutes).
/// - Else half an hour ago, to the minute (the small hours of the day), or yesterday's 07:00
///   in the first half hour after midnight, so that nothing is dated in the future.
fn demo_start(now: DateTime<Utc>, earlier: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let ict = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    let local = now.with_timezone(&ict);
    let day = local.date_naive();
    if let Some(t) = earlier.filter(|t| t.with_timezone(&ict).date_naive() == day) {
        return t;
    }
    let at = |d: chrono::NaiveDate, h, m| {
        let naive = d.and_hms_opt(h, m, 0).expect("valid");
        ict.from_local_datetime(&naive)
            .single()
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let t = local.time();
    let hm = |h, m| chrono::NaiveTime::from_hms_opt(h, m, 0).expect("valid");
    if t >= hm(7, 30) {
        at(day, 7, 0)
    } else if t >= hm(0, 30) {
        let half_hour_ago = local - TimeDelta::minutes(30);
        let time = half_hour_ago.time();
        at(day, time.hour(), time.minute())
    } else {
        at(day.pred_opt().unwrap_or(day), 7, 0)
    }
}

/// The first segment of `camera` recorded on the local day of `now`, if an earlier demo run
/// logged one.
async fn earlier_start(
    client: &tokio_postgres::Client,
    camera: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let Some(id) = query::camera_id(client, camera).await? else {
        return Ok(None);
    };
    let ict = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7");
    let midnight = now
        .with_timezone(&ict)
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("valid");
    let Some(day_start) = ict.from_local_datetime(&midnight).single() else {
        return Ok(None);
    };
    let day_start = day_start.with_timezone(&Utc);
    let clips = query::clips(client, id, day_start, day_start + TimeDelta::days(1)).await?;
    Ok(clips.iter().map(|c| c.started_at).min())
}

fn make_video(out: &Path, photos: &[PathBuf]) -> anyhow::Result<()> {
    if out.exists() {
        return Ok(());
    }
    let script = Path::new("scripts/make-test-video");
    if !script.exists() {
        bail!("run the demo from the matthan folder (scripts/make-test-video is missing)");
    }
    let status = Command::new(script)
        .arg(out)
        .args(["--seconds", "3", "--size", "1280x960"])
        .args(photos)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running scripts/make-test-video")?;
    if !status.success() {
        let _ = std::fs::remove_file(out);
        bail!("scripts/make-test-video failed ({status})");
    }
    Ok(())
}

/// Runs the demo.
pub fn run(globals: &Globals, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    let recognizer = globals.recognizer();
    runtime::verify_model_dir(&recognizer.model_dir)
        .context("the demo needs the models: run `make setup`")?;
    let cameras = demo_cameras(&args.clip, photo_dir(args.photos.as_deref()).as_deref())?;
    let cfg = demo_config(&cameras)?;
    let demo_dir = cfg.storage.state_dir.join("demo");
    std::fs::create_dir_all(&demo_dir)?;
    let rt = tokio::runtime::Runtime::new()?;
    let db = rt.block_on(Database::open(
        globals.database_url.as_deref(),
        &cfg.storage.state_dir,
    ))?;
    println!("demo: log in {}", db.description);
    let now = Utc::now();
    let earlier = rt.block_on(async {
        let client = db.store.client().await?;
        earlier_start(&client, cameras[0].name, now).await
    })?;
    let demo = Demo {
        start: demo_start(now, earlier),
        cfg,
        cameras,
        demo_dir,
        recognizer,
    };
    let result = ingest_and_serve(&demo, &rt, &db, args);
    rt.block_on(db.close());
    result?;
    Ok(ExitCode::SUCCESS)
}

/// What the demo runs: its cameras, their config, where their videos go, and when they start.
struct Demo {
    /// The two demo cameras.
    cameras: Vec<DemoCamera>,
    /// A default config listing their junctions and cameras.
    cfg: Config,
    /// Where the videos are made (kept for the next run).
    demo_dir: PathBuf,
    /// Wall-clock time of the first camera's first frame.
    start: DateTime<Utc>,
    /// Models and thresholds.
    recognizer: RecognizerSettings,
}

/// The demo cameras: the clip at Km 31 and, twenty minutes later, at Km 42; the photos of
/// `photos` (its `vn-dev` if it has one) at Km 52 ten minutes in, when asked for.
fn demo_cameras(clip: &Path, photos: Option<&Path>) -> anyhow::Result<Vec<DemoCamera>> {
    if !clip.is_file() {
        bail!(
            "the demo clip {} is missing: run the demo from the matthan folder, or give --clip",
            clip.display()
        );
    }
    let mut cameras = vec![
        DemoCamera {
            name: "km31-junction",
            junction: "Km 31 junction",
            video: DemoVideo::Clip(clip.to_path_buf()),
            start_offset: TimeDelta::zero(),
        },
        DemoCamera {
            name: "km42-market-gate",
            junction: "Km 42 market",
            video: DemoVideo::Clip(clip.to_path_buf()),
            start_offset: TimeDelta::minutes(20),
        },
    ];
    if let Some(dir) = photos {
        let vn_dev = dir.join("vn-dev");
        let dir = if vn_dev.is_dir() {
            vn_dev
        } else {
            dir.to_path_buf()
        };
        cameras.push(DemoCamera {
            name: "km52-photos",
            junction: "Km 52 bridge",
            video: DemoVideo::Photos(jpegs(&dir, 8)?),
            start_offset: TimeDelta::minutes(10),
        });
    }
    Ok(cameras)
}

/// The default config with the demo's junctions and cameras, and short segments.
fn demo_config(cameras: &[DemoCamera]) -> anyhow::Result<Config> {
    let mut cfg = Config::default();
    for c in cameras {
        cfg.junctions.push(JunctionConfig {
            name: c.junction.to_string(),
            km_marker: c.junction[3..5].parse().ok(),
            lat: None,
            lon: None,
        });
        let mut cam = CameraConfig::named(c.name);
        cam.junction = Some(c.junction.to_string());
        cfg.cameras.push(cam);
    }
    // Short segments, so the demo's few seconds of video make several.
    cfg.storage.segment_len_sec = 6;
    cfg.validate()?;
    Ok(cfg)
}

/// Ingests every demo camera into `db` (Ctrl-C stops it), then serves the log unless
/// `--no-serve`.
fn ingest_and_serve(
    demo: &Demo,
    rt: &tokio::runtime::Runtime,
    db: &Database,
    args: &DemoArgs,
) -> anyhow::Result<()> {
    let (writer, password) = rt.block_on(async {
        let mut client = db.store.client().await?;
        query::sync_config(&client, &demo.cfg).await?;
        let password = demo_access(&mut client).await?;
        anyhow::Ok((
            Writer::start(db.store.clone(), WriterSettings::from_config(&demo.cfg)),
            password,
        ))
    })?;
    let counters = writer.counters();
    let shutdown = Shutdown::new();
    {
        let shutdown = shutdown.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                shutdown.trigger();
            }
        });
    }
    for c in &demo.cameras {
        ingest_camera(demo, c, &writer, &shutdown)?;
    }
    let stats = rt.block_on(writer.close());
    println!(
        "demo: log has {} new passages ({} already there from an earlier run), {} segments, \
         {} new watchlist alerts",
        stats.passages, stats.duplicates, stats.clips, stats.alerts
    );
    println!("demo: log in on the page as `{DEMO_USER}` with password `{password}` (admin)");
    if args.no_serve {
        return Ok(());
    }
    let api = ApiSettings {
        listen: args.listen.clone(),
        web_dir: matthan::api::default_web_dir(),
    };
    println!(
        "demo: open the page and search a plate, e.g. 34A36837 (or 34A3683*), then its corridor"
    );
    let gauges = Gauges {
        writer: Some(counters),
        cameras: None,
    };
    rt.block_on(app::serve_api(
        db,
        &demo.cfg,
        &api,
        None,
        gauges,
        print_listening,
        ctrl_c(),
    ))?;
    Ok(())
}

/// Makes camera `c`'s video (unless an earlier run did) and ingests it into `writer`,
/// printing each event.
fn ingest_camera(
    demo: &Demo,
    c: &DemoCamera,
    writer: &Writer,
    shutdown: &Shutdown,
) -> anyhow::Result<()> {
    let video = match &c.video {
        DemoVideo::Clip(path) => path.clone(),
        DemoVideo::Photos(photos) => {
            let video = demo.demo_dir.join(format!("{}.mp4", c.name));
            println!(
                "demo: making {} from {} photos (3 s each)",
                video.display(),
                photos.len()
            );
            make_video(&video, photos)?;
            video
        }
    };
    println!("demo: ingesting camera {} at {}", c.name, c.junction);
    let cam = demo
        .cfg
        .camera(c.name)
        .context("demo camera in its config")?;
    let camera_settings = CameraSettings::from_config(
        &demo.cfg,
        cam,
        SourceSpec::File(video.clone()),
        demo.start + c.start_offset,
        demo.recognizer.clone(),
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    let sd = shutdown.clone();
    let worker = std::thread::spawn(move || run_camera(camera_settings, sd, tx));
    let input = writer.input();
    for event in rx {
        println!("  {}", describe(&event));
        input.blocking_send(write_item(&event, false))?;
    }
    let report = worker
        .join()
        .map_err(|_| anyhow::anyhow!("ingest thread panicked"))??;
    println!(
        "demo: {}: {} passages, {} segments, {:.1} s of video in {:.1} s",
        c.name, report.passages, report.clips, report.media_seconds, report.wall_seconds
    );
    if shutdown.is_triggered() {
        bail!("interrupted");
    }
    Ok(())
}

/// The demo's admin login.
const DEMO_USER: &str = "demo";

/// The plate the demo watches for (the white car at the toll booth, 34A-368.37).
const DEMO_WATCH: &str = "34A36837";

/// Makes (or re-keys) the demo admin with a fresh random password, and puts the demo plate on
/// the watchlist, so its passages raise alerts. Returns the password.
async fn demo_access(client: &mut tokio_postgres::Client) -> anyhow::Result<String> {
    use matthan::access::{self, Role};
    use matthan::plate::search::{PlateQuery, SearchMode};
    let secret = access::new_token()?.secret;
    let password = secret[access::TOKEN_PREFIX.len()..][..12].to_string();
    let hash = access::hash_password(&password)?;
    if !trust::set_password(client, DEMO_USER, &hash).await? {
        trust::create_user(client, DEMO_USER, Role::Admin, Some(&hash)).await?;
    }
    let watch = PlateQuery::parse(DEMO_WATCH, Some(SearchMode::Exact))?;
    if !trust::has_watch(client, &watch).await? {
        trust::add_watch(
            client,
            &watch,
            "demo: reported stolen (not a real case)",
            DEMO_USER,
        )
        .await?;
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn the_demo_is_dated_today_in_vietnam() {
        // 20:00 UTC on the 30th is 03:00 on 1 December in Vietnam: the demo is on the 1st.
        let start = demo_start(t("2026-11-30T20:00:00Z"), None);
        assert_eq!(start, t("2026-12-01T02:30:00+07:00"));
        // After 07:30 local: 07:00 local.
        assert_eq!(
            demo_start(t("2026-11-30T14:11:35Z"), None),
            t("2026-11-30T07:00:00+07:00")
        );
        // A run earlier the same local day is reused; one from another day is not.
        let earlier = t("2026-12-01T02:30:00+07:00");
        assert_eq!(
            demo_start(t("2026-12-01T05:00:00Z"), Some(earlier)),
            earlier
        );
        assert_eq!(
            demo_start(t("2026-12-02T05:00:00Z"), Some(earlier)),
            t("2026-12-02T07:00:00+07:00")
        );
        // The first half hour after midnight: yesterday's 07:00, never the future.
        assert_eq!(
            demo_start(t("2026-11-30T17:10:00Z"), None),
            t("2026-11-30T07:00:00+07:00")
        );
        for h in 0..24 {
            let now = t("2026-11-30T00:00:00Z") + TimeDelta::minutes(h * 60 + 7);
            // The videos span about 21 minutes: all of it in the past.
            assert!(
                demo_start(now, None) + TimeDelta::minutes(21) <= now,
                "{now}"
            );
        }
    }
}
