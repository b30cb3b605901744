//! A replicated log: a primary and a streaming-replication standby made by Debian's
//! PostgreSQL 15 tools (`initdb`, `pg_basebackup -R`, `pg_ctl promote`), two private clusters
//! on loopback TCP ports, and matthan given both hosts with `target_session_attrs=read-write`.
//!
//! - While only the standby answers, nothing is written to it: `matthan ingest` refuses to
//!   start and says the database is a read-only standby, and a running writer keeps its
//!   batches in the spool until the standby is promoted, then writes them.
//! - A live camera is ingested; the primary is killed (`pg_ctl stop -m immediate`) mid-ingest
//!   and the standby promoted; the ingest goes on and in the end the promoted log holds every
//!   passage the ingest printed, each once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use matthan::store::{Store, Writer, WriterSettings};

/// Debian's PostgreSQL 15 programs (`$MATTHAN_PG_BIN` overrides).
fn pg_bin() -> PathBuf {
    let bin = std::env::var_os("MATTHAN_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"));
    for program in ["initdb", "pg_ctl", "pg_basebackup", "psql"] {
        assert!(
            bin.join(program).exists(),
            "{} is missing: this test needs Debian's PostgreSQL 15 server programs \
             (apt-get install postgresql-15) or MATTHAN_PG_BIN naming their folder",
            bin.join(program).display()
        );
    }
    bin
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// One PostgreSQL server of the test: its data folder and loopback port. PostgreSQL refuses
/// to run as root, so as root the programs run as `postgres`.
struct Server {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl Server {
    fn program(bin: &Path, name: &str) -> Command {
        if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bin.join(name));
            c
        } else {
            Command::new(bin.join(name))
        }
    }

    fn run(mut cmd: Command, what: &str) -> String {
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// A new primary in `dir/name` on `port`: `initdb`, then streaming replication allowed
    /// (the defaults of PostgreSQL 15: `wal_level = replica`, ten WAL senders; `initdb`'s
    /// `pg_hba.conf` lets loopback replication connections in).
    fn primary(bin: &Path, dir: &Path, name: &str) -> Server {
        let data = dir.join(name);
        let mut initdb = Self::program(bin, "initdb");
        initdb.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        Self::run(initdb, "initdb");
        let server = Server {
            bin: bin.to_path_buf(),
            data,
            port: common::free_port(),
        };
        server.configure("wal_level = replica\nmax_wal_senders = 5\n");
        server
    }

    /// A standby of `primary` in `dir/name`: `pg_basebackup -R` (writes `primary_conninfo`
    /// and `standby.signal`) with a replication slot, so the primary keeps the WAL it needs.
    fn standby_of(primary: &Server, dir: &Path, name: &str) -> Server {
        let data = dir.join(name);
        let mut backup = Self::program(&primary.bin, "pg_basebackup");
        backup
            .args(["-h", "127.0.0.1", "-p", &primary.port.to_string()])
            .args(["-U", "postgres", "-D"])
            .arg(&data)
            .args(["-R", "-X", "stream", "-C", "-S", "matthan_standby"])
            .args(["--checkpoint=fast"]);
        Self::run(backup, "pg_basebackup");
        assert!(data.join("standby.signal").exists(), "pg_basebackup -R");
        let server = Server {
            bin: primary.bin.clone(),
            data,
            port: common::free_port(),
        };
        server.configure("");
        server
    }

    /// Appends the server's own port and socket folder (and `extra`) to its configuration.
    fn configure(&self, extra: &str) {
        let conf = self.data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(&format!(
            "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n{extra}",
            self.port,
            self.data.display()
        ));
        std::fs::write(&conf, text).unwrap();
    }

    fn pg_ctl(&self, args: &[&str], what: &str) {
        let mut c = Self::program(&self.bin, "pg_ctl");
        c.arg("-D").arg(&self.data).args(args);
        Self::run(c, what);
    }

    fn start(&self) {
        let log = self.data.join("server.log");
        let mut c = Self::program(&self.bin, "pg_ctl");
        c.arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"]);
        // `pg_ctl start` keeps no output pipe open once the server runs (it logs to `log`).
        Self::run(c, "pg_ctl start");
    }

    /// Stops the server; `immediate` is a crash (no shutdown checkpoint, clients cut off).
    fn stop(&self, mode: &str) {
        self.pg_ctl(&["-w", "-m", mode, "stop"], "pg_ctl stop");
    }

    fn promote(&self) {
        self.pg_ctl(&["-w", "-t", "60", "promote"], "pg_ctl promote");
    }

    /// One value by `psql` (as the superuser, over loopback TCP).
    fn psql(&self, db: &str, sql: &str) -> String {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", db, "-tAc", sql]);
        Self::run(c, "psql")
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// A primary with database `matthan`, migrated, and a running standby that has replayed it.
struct Pair {
    dir: PathBuf,
    primary: Server,
    standby: Server,
}

impl Pair {
    async fn new(tag: &str) -> Pair {
        let bin = pg_bin();
        let dir = common::temp_dir(tag);
        if running_as_root() {
            Server::run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown",
            );
        }
        let primary = Server::primary(&bin, &dir, "primary");
        primary.start();
        primary.psql("postgres", "CREATE DATABASE matthan");
        let standby = Server::standby_of(&primary, &dir, "standby");
        standby.start();
        // Commits wait until the standby has the WAL on disk, so a crash of the primary loses
        // nothing that was acknowledged. Set on the primary only, after the base backup (the
        // promoted standby must not wait for a standby of its own).
        primary.psql(
            "postgres",
            "ALTER SYSTEM SET synchronous_standby_names = '*'",
        );
        primary.pg_ctl(&["reload"], "pg_ctl reload");
        let pair = Pair {
            dir,
            primary,
            standby,
        };
        let store = Store::from_url(&pair.url(), 2).unwrap();
        store.migrate().await.expect("migrating the primary");
        let deadline = Instant::now() + Duration::from_secs(30);
        while pair
            .standby
            .psql("matthan", "SELECT count(*) FROM schema_migrations")
            != pair
                .primary
                .psql("matthan", "SELECT count(*) FROM schema_migrations")
        {
            assert!(
                Instant::now() < deadline,
                "the standby did not replay the schema"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        assert_eq!(
            pair.standby.psql("matthan", "SELECT pg_is_in_recovery()"),
            "t"
        );
        while pair
            .primary
            .psql("postgres", "SELECT sync_state FROM pg_stat_replication")
            != "sync"
        {
            assert!(
                Instant::now() < deadline,
                "the standby does not stream synchronously"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        pair
    }

    /// Both hosts, the primary first, read-write sessions only.
    fn url(&self) -> String {
        format!(
            "postgresql://postgres@{},{}/matthan?target_session_attrs=read-write&connect_timeout=3",
            self.primary.host(),
            self.standby.host()
        )
    }

    fn count(server: &Server, sql: &str) -> i64 {
        server.psql("matthan", sql).parse().unwrap()
    }

    fn close(self) {
        for s in [&self.primary, &self.standby] {
            let mut c = Server::program(&s.bin, "pg_ctl");
            c.arg("-D").arg(&s.data).args(["-m", "immediate", "stop"]);
            let _ = c.output();
        }
        let _ = Command::new("rm").arg("-rf").arg(&self.dir).status();
    }
}

const PASSAGES: &str = "SELECT count(*) FROM passages";
const DISTINCT_PASSAGES: &str = "SELECT count(*) FROM (SELECT DISTINCT camera_id, best_at, \
     first_seen, track_no, run_id FROM passages) k";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_written_to_a_standby_and_the_spool_waits_for_its_promotion() {
    let pair = Pair::new("replica-standby").await;
    pair.primary.stop("fast");

    // At start-up: a clear refusal naming the standby, nothing written.
    let video = pair.dir.join("demo.mp4");
    common::demo_video(&video);
    let out = common::matthan(&pair.url())
        .args(["ingest", "--camera", "gate"])
        .arg(&video)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ingest must not start: {stderr}");
    let expected = format!(
        "the database at {} is a read-only standby",
        pair.standby.host()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("no primary to write to"), "{stderr}");
    eprintln!("ingest with only the standby up: {}", stderr.trim());

    // A writer that is running: its batches go to the spool, not to the standby.
    let spool_root = pair.dir.join("spool");
    let store = Store::from_url(&pair.url(), 2).unwrap();
    let settings = WriterSettings {
        spool_dir: Some(spool_root.clone()),
        drain_timeout: Duration::from_secs(2),
        flush_interval: Duration::from_millis(100),
        ..WriterSettings::default()
    };
    let at = common::t("2026-11-29T01:00:00Z");
    let items: Vec<_> = (0..7)
        .map(|i| common::passage("gate", i, at + chrono::TimeDelta::seconds(i), None))
        .collect();
    let writer = Writer::start(store.clone(), settings.clone());
    let input = writer.input();
    for item in items.clone() {
        input.send(item).await.unwrap();
    }
    drop(input);
    let stats = writer.close().await;
    assert_eq!(stats.passages, 0, "{stats:?}");
    assert_eq!(stats.in_spool, 7, "{stats:?}");
    assert!(common::spooled_batches(&spool_root) > 0);
    assert_eq!(Pair::count(&pair.standby, PASSAGES), 0);

    // Promoted, the standby takes the spooled rows: the next writer adopts the spool.
    pair.standby.promote();
    let writer = Writer::start(store.clone(), settings);
    let stats = writer.close().await;
    assert_eq!(stats.passages, 7, "{stats:?}");
    assert_eq!(stats.in_spool, 0, "{stats:?}");
    assert_eq!(common::spooled_batches(&spool_root), 0);
    assert_eq!(Pair::count(&pair.standby, PASSAGES), 7);
    drop(store);
    pair.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ingest_goes_on_through_a_failover_and_loses_nothing() {
    let pair = Pair::new("replica-failover").await;

    // The camera: 4 × 12 s of the demo video, in real time, over HTTP.
    let video = pair.dir.join("demo.mp4");
    common::demo_video(&video);
    let port = common::free_port();
    let stream = format!("http://127.0.0.1:{port}/live.ts");
    let mut camera = common::live_camera(&video, &stream, 3);
    let config = pair.dir.join("matthan.toml");
    let state = pair.dir.join("state");
    std::fs::write(
        &config,
        format!(
            "[storage]\nstate_dir = \"{}\"\nsegment_len_sec = 6\n",
            state.display()
        ),
    )
    .unwrap();
    let mut ingest = common::LiveIngest::spawn(
        common::matthan(&pair.url())
            // Failed replays of the spool after the first are logged at debug.
            .env("RUST_LOG", "matthan=info,matthan::store::writer=debug")
            .args(["ingest", "--camera", "gate", "--config"])
            .arg(&config)
            .arg(&stream),
    );

    // Once the first passages are in the log, the primary crashes.
    let deadline = Instant::now() + Duration::from_secs(90);
    while Pair::count(&pair.primary, PASSAGES) == 0 {
        assert!(Instant::now() < deadline, "no passage reached the primary");
        assert!(ingest.running(), "the ingest ended early");
        std::thread::sleep(Duration::from_millis(300));
    }
    let before = Pair::count(&pair.primary, PASSAGES);
    pair.primary.stop("immediate");
    let down_at = Instant::now();

    // Only the standby answers: batches go to the spool until it is promoted.
    let spool_root = state.join("spool");
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::spooled_batches(&spool_root) == 0 {
        assert!(
            Instant::now() < deadline,
            "no batch went to the spool while only the standby answered"
        );
        assert!(
            ingest.running(),
            "the ingest must go on while there is no primary"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let first_spooled = down_at.elapsed();
    assert_eq!(
        Pair::count(&pair.standby, PASSAGES),
        before,
        "nothing was written while only the standby answered"
    );
    std::thread::sleep(Duration::from_secs(3));
    pair.standby.promote();
    let promoted_at = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(60);
    while common::spooled_batches(&spool_root) > 0 {
        assert!(
            Instant::now() < deadline,
            "the spool was not replayed into the promoted standby"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let replayed_after = promoted_at.elapsed();
    let spool_held = down_at.elapsed() - first_spooled;

    // The camera's video ends; then the ingest is stopped as an operator would (Ctrl-C).
    let _ = camera.wait();
    std::thread::sleep(Duration::from_secs(2));
    let common::IngestEnd {
        printed,
        log,
        stats,
    } = ingest.stop();
    let standby_said = log.iter().any(|l| {
        l.contains(&format!(
            "the database at {} is a read-only standby",
            pair.standby.host()
        ))
    });

    let in_log = Pair::count(&pair.standby, PASSAGES);
    let distinct = Pair::count(&pair.standby, DISTINCT_PASSAGES);
    eprintln!(
        "printed {printed} passages; the promoted log holds {in_log} ({distinct} distinct, \
         {before} written before the primary crashed); first batch spooled {:.1} s after the \
         crash, promoted {:.1} s after it, spool replayed {:.1} s after promotion (rows held \
         {:.1} s); writer {stats}",
        first_spooled.as_secs_f64(),
        (promoted_at - down_at).as_secs_f64(),
        replayed_after.as_secs_f64(),
        spool_held.as_secs_f64(),
    );
    assert!(
        standby_said,
        "the writer said the standby is read-only: {}",
        log.join("\n")
    );
    assert!(
        printed as i64 > before,
        "passages were printed after the primary crashed"
    );
    assert_eq!(
        in_log, printed as i64,
        "every passage printed is in the promoted log"
    );
    assert_eq!(distinct, in_log, "no passage is logged twice");
    assert!(stats["spooled"].as_u64().unwrap() > 0, "{stats}");
    assert_eq!(stats["in_spool"], 0, "{stats}");
    assert_eq!(
        Pair::count(&pair.standby, "SELECT count(*) FROM clips") as usize,
        std::fs::read_dir(state.join("clips").join("gate"))
            .map(|d| d.count())
            .unwrap_or(0),
        "one clip row per segment"
    );
    let _ = camera.kill();
    pair.close();
}
