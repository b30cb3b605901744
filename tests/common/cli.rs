//! The `matthan` binary as the tests run it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The `matthan` binary with its database at `database_url` and the project's models; add the
/// command and its arguments.
pub fn matthan(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matthan"));
    cmd.env("DATABASE_URL", database_url)
        .arg("--models")
        .arg(super::model_dir());
    cmd
}

/// The `matthan` binary with the project's models and no database, for the commands that do
/// not log (`read`, `eval`, `eval-video`); add the command and its arguments.
pub fn matthan_offline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matthan"));
    cmd.env_remove("DATABASE_URL")
        .arg("--models")
        .arg(super::model_dir());
    cmd
}

/// `--clips DIR/clips --snapshots DIR/snapshots`: where a test's `ingest`, `reread` or
/// `eval-video` writes its segments and snapshots.
pub fn media_dirs(dir: &Path) -> [std::ffi::OsString; 4] {
    [
        "--clips".into(),
        dir.join("clips").into(),
        "--snapshots".into(),
        dir.join("snapshots").into(),
    ]
}

/// Asserts that a finished command succeeded, showing its stderr when it did not.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `matthan ingest` run as a child process: one thread counts the passages it prints (JSON
/// lines on stdout), another keeps its log (stderr).
pub struct LiveIngest {
    child: Child,
    printed: JoinHandle<usize>,
    log: JoinHandle<Vec<String>>,
}

/// How a [`LiveIngest`] ended.
pub struct IngestEnd {
    /// Passages it printed.
    pub printed: usize,
    /// Its log lines.
    pub log: Vec<String>,
    /// The writer's summary (the `database` line of its report).
    pub stats: serde_json::Value,
}

impl LiveIngest {
    /// Starts `cmd` (`matthan … ingest …`) with its output read as it comes.
    pub fn spawn(cmd: &mut Command) -> LiveIngest {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let printed = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter(|l| {
                    serde_json::from_str::<serde_json::Value>(l)
                        .is_ok_and(|v| v["type"] == "passage")
                })
                .count()
        });
        let stderr = child.stderr.take().unwrap();
        let log = std::thread::spawn(move || {
            BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<_>>()
        });
        LiveIngest {
            child,
            printed,
            log,
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Stops it as an operator would (Ctrl-C) and waits, at most 180 s, while it writes what is
    /// left and replays its spool; asserts that it exited cleanly with the writer's summary.
    pub fn stop(mut self) -> IngestEnd {
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(180);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("ingest did not finish");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let printed = self.printed.join().unwrap();
        let log = self.log.join().unwrap();
        assert!(status.success(), "{}", log.join("\n"));
        let stats = log
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v.get("database").is_some())
            .map(|v| v["database"].clone())
            .unwrap_or_else(|| panic!("no database summary: {}", log.join("\n")));
        IngestEnd {
            printed,
            log,
            stats,
        }
    }
}

/// How many batches the writer's spool under `root` holds.
pub fn spooled_batches(root: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(root) else {
        return 0;
    };
    dirs.flatten()
        .filter_map(|d| std::fs::read_dir(d.path()).ok())
        .flat_map(|files| files.flatten())
        .filter(|f| f.path().extension().is_some_and(|x| x == "batch"))
        .count()
}
