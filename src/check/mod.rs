//! `matthan check`: is this machine ready to run the service? One line per item, status
//! first: the config, the models against `MODELS.lock`, the database (reachable, migrated),
//! each enabled camera (a first frame within the timeout), the clips disk (free space
//! against the reserve, days of clips at the recent rate), the clock against the database
//! server's, and NTP.
//!
//! - [`report`]: PURE. Findings to lines, the thresholds, the exit code.
//! - [`probe`]: model files, cameras (the video module's opener), the disk, `timedatectl`.
//! - [`database`]: the log (joins a running private cluster, never starts one), its schema,
//!   the server's clock, the clips' volume.
//!
//! Must not: change anything (no migration, no cluster start, no file written), panic on a
//! bad config (it is one FAIL line), or print a camera's password.

pub mod database;
pub mod probe;
pub mod report;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::retention;
use crate::store::query::redact_source;

pub use report::{exit_code, Line, Status};

/// What to check.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    /// The config file; `None` checks the defaults (no cameras).
    pub config: Option<PathBuf>,
    /// The database; `None` looks for the private cluster under the state directory.
    pub database_url: Option<String>,
    /// The model folder.
    pub models_dir: PathBuf,
    /// How long each camera has to give a first frame.
    pub camera_timeout: Duration,
}

/// `KEY`'s value in an environment file of `KEY=VALUE` lines (as systemd's
/// `EnvironmentFile=` reads them: `#` comments, optional quotes). Pure.
pub fn env_file_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.trim() == key)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v)
                .to_string()
        })
        .next_back()
        .filter(|v| !v.is_empty())
}

/// A multi-line message (TOML's parse errors draw the line in question) as one line: its
/// first line and its last, which says what is wrong. Pure.
pub fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    match lines.as_slice() {
        [] => String::new(),
        [only] => only.to_string(),
        [first, .., last] => format!("{first}: {last}"),
    }
}

/// The config line, and the config (the defaults without a file, `None` when it does not
/// load).
fn config(path: Option<&PathBuf>) -> (Line, Option<Config>) {
    let Some(path) = path else {
        return (
            Line::ok("config", "none given: the defaults (no cameras)"),
            Some(Config::default()),
        );
    };
    match Config::load(path) {
        Ok(c) => {
            let enabled = c.cameras.iter().filter(|c| c.enabled).count();
            let line = Line::ok(
                format!("config {}", path.display()),
                format!(
                    "{} camera(s), {enabled} enabled; {} junction(s)",
                    c.cameras.len(),
                    c.junctions.len()
                ),
            );
            (line, Some(c))
        }
        Err(e) => (
            Line::not_ok(
                Status::Fail,
                format!("config {}", path.display()),
                one_line(&e.to_string()),
                "fix the file (the template: `matthan install --dry-run`); cameras and disk were not checked",
            ),
            None,
        ),
    }
}

/// Runs every check and returns the lines, in order.
pub async fn run(settings: &CheckSettings) -> Vec<Line> {
    let (config_line, config) = config(settings.config.as_ref());
    let mut lines = vec![config_line];

    let models_dir = settings.models_dir.clone();
    let dir_text = models_dir.display().to_string();
    match tokio::task::spawn_blocking(move || probe::models(&models_dir)).await {
        Ok(files) => lines.extend(report::models(&dir_text, &files)),
        Err(e) => lines.push(Line::not_ok(
            Status::Fail,
            "models",
            format!("the check stopped: {e}"),
            "run `matthan models`",
        )),
    }

    let state_dir = config
        .as_ref()
        .map(|c| c.storage.state_dir.clone())
        .unwrap_or_else(|| Config::default().storage.state_dir);
    let db = database::probe(settings.database_url.as_deref(), &state_dir).await;
    lines.extend(db.lines);

    if let Some(config) = &config {
        let cameras: Vec<_> = config.cameras.iter().filter(|c| c.enabled).collect();
        let sources: Vec<String> = cameras
            .iter()
            .map(|c| c.source.clone().unwrap_or_default())
            .collect();
        let timeout = settings.camera_timeout;
        let probed = {
            let sources = sources.clone();
            tokio::task::spawn_blocking(move || {
                let live: Vec<String> = sources.into_iter().filter(|s| !s.is_empty()).collect();
                probe::cameras(&live, timeout)
            })
            .await
            .unwrap_or_default()
        };
        let mut probed = probed.into_iter();
        for (camera, source) in cameras.iter().zip(&sources) {
            let finding = if source.is_empty() {
                report::CameraFinding::NoSource
            } else {
                probed.next().unwrap_or(report::CameraFinding::TimedOut {
                    after_s: timeout.as_secs_f64(),
                })
            };
            lines.push(report::camera(
                &camera.name,
                &redact_source(source),
                &finding,
            ));
        }

        let clips_dir = config.storage.clips_dir();
        let on = probe::existing_ancestor(&clips_dir);
        match retention::disk_space(&on) {
            Ok(space) => {
                let d = report::DiskFinding {
                    free_bytes: space.free,
                    total_bytes: space.total,
                    min_free_percent: config.retention.min_free_percent,
                    clips_days: config.retention.clips_days,
                    clips_bytes: db.clips.map_or(0, |v| v.total_bytes.max(0) as u64),
                    recent_bytes_per_day: db.clips.and_then(|v| v.bytes_per_day()),
                };
                lines.push(report::disk(&clips_dir.display().to_string(), &d));
            }
            Err(e) => lines.push(Line::not_ok(
                Status::Fail,
                format!("disk {}", clips_dir.display()),
                e.to_string(),
                "check storage.clips_dir",
            )),
        }
    }

    match db.clock_offset_s {
        Some(offset) => lines.push(report::clock(offset)),
        None => lines.push(Line::not_ok(
            Status::Warn,
            "clock",
            "not compared: the database did not answer",
            "check the database first",
        )),
    }
    if let Some(ntp) = tokio::task::spawn_blocking(probe::ntp).await.ok().flatten() {
        lines.push(report::ntp(&ntp));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::{env_file_value, one_line};

    #[test]
    fn a_toml_error_becomes_one_line_with_what_is_wrong() {
        let e = crate::config::Config::parse("[storage]\nclip_dir = \"x\"\n").unwrap_err();
        let line = one_line(&e.to_string());
        assert!(!line.contains('\n'));
        assert!(line.starts_with("invalid config"), "{line}");
        assert!(
            line.contains("line 2") && line.contains("unknown field `clip_dir`"),
            "{line}"
        );
        assert_eq!(one_line("just this"), "just this");
    }

    #[test]
    fn environment_files_are_read_as_systemd_reads_them() {
        let text = "# DATABASE_URL=postgres://nope\nRUST_LOG=info\n\
                    DATABASE_URL=\"host=/run/pg dbname=m\"\n";
        assert_eq!(
            env_file_value(text, "DATABASE_URL").as_deref(),
            Some("host=/run/pg dbname=m")
        );
        assert_eq!(env_file_value(text, "RUST_LOG").as_deref(), Some("info"));
        assert_eq!(env_file_value("#DATABASE_URL=x\n", "DATABASE_URL"), None);
        assert_eq!(env_file_value("DATABASE_URL=\n", "DATABASE_URL"), None);
    }
}
