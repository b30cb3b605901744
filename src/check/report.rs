//! PURE. What `matthan check` found, as lines: the status of each finding, the thresholds it
//! is judged by, the advice when it is not ok, and the exit code.
//!
//! A line is `STATUS  item: what was found -> what to do`; the status is `ok`, `WARN` or
//! `FAIL`, and only lines that are not ok carry advice. Any `FAIL` makes the exit code 1.
//! Must not: do I/O, or hold a camera password (sources arrive already redacted).

/// How a finding stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Nothing to do.
    Ok,
    /// Works, but deserves a look.
    Warn,
    /// Will not work as it is.
    Fail,
}

impl Status {
    /// `ok`, `WARN`, `FAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// How it stands.
    pub status: Status,
    /// What was checked: `models`, `database`, `camera "north"`...
    pub item: String,
    /// What was found.
    pub finding: String,
    /// What to do; `None` for an ok line.
    pub advice: Option<String>,
}

impl Line {
    /// An ok line.
    pub fn ok(item: impl Into<String>, finding: impl Into<String>) -> Line {
        Line {
            status: Status::Ok,
            item: item.into(),
            finding: finding.into(),
            advice: None,
        }
    }
    /// A line that is not ok, with what to do.
    pub fn not_ok(
        status: Status,
        item: impl Into<String>,
        finding: impl Into<String>,
        advice: impl Into<String>,
    ) -> Line {
        Line {
            status,
            item: item.into(),
            finding: finding.into(),
            advice: Some(advice.into()),
        }
    }
    /// The line as printed.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{:<4}  {}: {}",
            self.status.as_str(),
            self.item,
            self.finding
        );
        if let Some(a) = &self.advice {
            s.push_str(" -> ");
            s.push_str(a);
        }
        s
    }
}

/// 1 when any line failed, else 0.
pub fn exit_code(lines: &[Line]) -> u8 {
    u8::from(lines.iter().any(|l| l.status == Status::Fail))
}

/// A model file's state against `MODELS.lock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelFinding {
    /// Present with the pinned SHA-256.
    Matches,
    /// Missing or unreadable.
    Missing { reason: String },
    /// Its SHA-256 differs from the lock's.
    Differs { origin: String },
}

/// The models: one ok line when every file matches, else one FAIL line per file that does
/// not. `files` is each locked file's name and finding.
pub fn models(dir: &str, files: &[(String, ModelFinding)]) -> Vec<Line> {
    let bad: Vec<Line> = files
        .iter()
        .filter_map(|(name, f)| match f {
            ModelFinding::Matches => None,
            ModelFinding::Missing { reason } => Some(Line::not_ok(
                Status::Fail,
                format!("model {name}"),
                format!("missing from {dir} ({reason})"),
                "run `make setup` in the source tree, or point --models / MATTHAN_MODELS at the models",
            )),
            ModelFinding::Differs { origin } => Some(Line::not_ok(
                Status::Fail,
                format!("model {name}"),
                format!("in {dir} differs from MODELS.lock ({origin})"),
                "delete it and run `make setup` to fetch the pinned file",
            )),
        })
        .collect();
    if bad.is_empty() {
        vec![Line::ok(
            "models",
            format!("{} files in {dir} match MODELS.lock", files.len()),
        )]
    } else {
        bad
    }
}

/// The database's migrations against this build's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaFinding {
    /// Migrations this build has that the database has not applied.
    pub pending: Vec<String>,
    /// Migrations the database has that this build does not know (a newer build wrote them).
    pub unknown: Vec<String>,
    /// Migrations whose text differs from this build's.
    pub changed: Vec<String>,
    /// Migrations applied and matching.
    pub applied: usize,
}

/// The database line: where it is (no password), and its schema.
pub fn database(place: &str, schema: &SchemaFinding) -> Line {
    let item = "database";
    if !schema.unknown.is_empty() {
        return Line::not_ok(
            Status::Fail,
            item,
            format!(
                "{place} has migration {} that this build does not know",
                schema.unknown.join(", ")
            ),
            "run the newer matthan that wrote it (serve refuses this database)",
        );
    }
    if !schema.changed.is_empty() {
        return Line::not_ok(
            Status::Fail,
            item,
            format!(
                "{place}: migration {} differs from this build's",
                schema.changed.join(", ")
            ),
            "restore the database or run the build that applied it (serve refuses this database)",
        );
    }
    if !schema.pending.is_empty() {
        return Line::not_ok(
            Status::Warn,
            item,
            format!(
                "{place} reachable, {} migration(s) pending ({})",
                schema.pending.len(),
                schema.pending.join(", ")
            ),
            "run `matthan migrate` (serve also applies them at start)",
        );
    }
    Line::ok(
        item,
        format!(
            "{place} reachable, schema up to date ({} migrations)",
            schema.applied
        ),
    )
}

/// The database could not be reached: `advice` says what to start or fix.
pub fn database_unreachable(place: &str, reason: &str, advice: &str) -> Line {
    Line::not_ok(
        Status::Fail,
        "database",
        format!("cannot connect to {place}: {reason}"),
        advice,
    )
}

/// How a camera's probe ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CameraFinding {
    /// A frame was decoded: its size and how long it took.
    Frame {
        width: u32,
        height: u32,
        after_s: f64,
    },
    /// The source did not open.
    OpenFailed { reason: String },
    /// It opened, but no frame came (the stream ended or failed).
    NoFrame { reason: String },
    /// Nothing within the time allowed.
    TimedOut { after_s: f64 },
    /// No source in the config.
    NoSource,
}

/// One camera's line; `source` is already redacted.
pub fn camera(name: &str, source: &str, finding: &CameraFinding) -> Line {
    let item = format!("camera {name:?} {source}");
    let reach = "check the address, port, user and password and that the camera is on the \
                 network (open the URL in VLC or ffprobe from this machine)";
    match finding {
        CameraFinding::Frame {
            width,
            height,
            after_s,
        } => Line::ok(item, format!("{width}x{height} frame after {after_s:.1} s")),
        CameraFinding::OpenFailed { reason } => Line::not_ok(
            Status::Fail,
            item,
            format!("does not open ({reason})"),
            reach,
        ),
        CameraFinding::NoFrame { reason } => Line::not_ok(
            Status::Fail,
            item,
            format!("opened but gave no frame ({reason})"),
            "check the stream path and codec (H.264/H.265 main or sub-stream)",
        ),
        CameraFinding::TimedOut { after_s } => Line::not_ok(
            Status::Fail,
            item,
            format!("no frame within {after_s:.0} s"),
            format!("{reach}; --camera-timeout allows a slow camera longer"),
        ),
        CameraFinding::NoSource => Line::not_ok(
            Status::Fail,
            item,
            "enabled but has no source",
            "set its `source` in the config, or `enabled = false`",
        ),
    }
}

/// The clips disk and the recent recording rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DiskFinding {
    /// Bytes free to us on the clips disk.
    pub free_bytes: u64,
    /// Its size.
    pub total_bytes: u64,
    /// The free share retention keeps (`retention.min_free_percent`).
    pub min_free_percent: f64,
    /// Days a clip is kept (`retention.clips_days`; 0 = until the disk needs the room).
    pub clips_days: u32,
    /// Bytes of clips the log holds now (retention may delete them to make room).
    pub clips_bytes: u64,
    /// Bytes recorded per day lately, when the log says.
    pub recent_bytes_per_day: Option<f64>,
}

/// Below this much free space the disk fails the check whatever the reserve: a segment or a
/// database write may not fit.
pub const DISK_FAIL_BYTES: u64 = 1 << 30;

/// Days of clips the disk holds at `rate` bytes a day: what is free above the reserve plus
/// what clips hold now.
pub fn days_of_clips(d: &DiskFinding, bytes_per_day: f64) -> f64 {
    let reserve = d.total_bytes as f64 * d.min_free_percent / 100.0;
    let room = (d.free_bytes as f64 - reserve).max(0.0) + d.clips_bytes as f64;
    room / bytes_per_day.max(1.0)
}

/// The disk line for the clips folder `dir`.
pub fn disk(dir: &str, d: &DiskFinding) -> Line {
    let item = format!("disk {dir}");
    let gib = |b: f64| b / (1u64 << 30) as f64;
    let free_percent = 100.0 * d.free_bytes as f64 / (d.total_bytes.max(1)) as f64;
    let space = format!(
        "{:.1} GiB free of {:.1} GiB ({free_percent:.0}%, reserve {}%)",
        gib(d.free_bytes as f64),
        gib(d.total_bytes as f64),
        d.min_free_percent
    );
    if d.free_bytes < DISK_FAIL_BYTES {
        return Line::not_ok(
            Status::Fail,
            item,
            format!("{space}: nearly full"),
            "free space on this disk or move storage.clips_dir to a bigger one",
        );
    }
    if free_percent < d.min_free_percent {
        return Line::not_ok(
            Status::Warn,
            item,
            format!("{space}: below the reserve, retention is deleting the oldest clips"),
            "add disk, or lower retention.clips_days",
        );
    }
    let Some(rate) = d.recent_bytes_per_day.filter(|r| *r > 0.0) else {
        return Line::ok(item, format!("{space}; no recent recordings in the log"));
    };
    let days = days_of_clips(d, rate);
    let fits = format!(
        "{space}; {:.1} GiB/day recorded lately, room for {days:.0} days of clips",
        gib(rate)
    );
    if d.clips_days > 0 && days < f64::from(d.clips_days) {
        return Line::not_ok(
            Status::Warn,
            item,
            format!("{fits}, fewer than retention.clips_days = {}", d.clips_days),
            "add disk or lower retention.clips_days; the oldest clips go early when the disk is short",
        );
    }
    Line::ok(item, fits)
}

/// Above this offset (seconds) between this machine and the database, WARN.
pub const CLOCK_WARN_S: f64 = 2.0;
/// Above this offset, FAIL: passage times and clip times no longer agree across machines.
pub const CLOCK_FAIL_S: f64 = 30.0;

/// The clock line: `offset_s` is this machine's clock minus the database server's.
pub fn clock(offset_s: f64) -> Line {
    let item = "clock";
    let finding = format!("{offset_s:+.3} s from the database server's");
    let advice = "synchronise both machines with NTP (timedatectl set-ntp true, or chrony)";
    if offset_s.abs() > CLOCK_FAIL_S {
        Line::not_ok(Status::Fail, item, finding, advice)
    } else if offset_s.abs() > CLOCK_WARN_S {
        Line::not_ok(Status::Warn, item, finding, advice)
    } else {
        Line::ok(item, finding)
    }
}

/// What `timedatectl` said about NTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NtpFinding {
    /// It reports the clock synchronised.
    Synchronised,
    /// It reports the clock not synchronised.
    NotSynchronised,
    /// It is there but could not say (no systemd running, say).
    Unknown { reason: String },
}

/// The NTP line.
pub fn ntp(finding: &NtpFinding) -> Line {
    let item = "clock sync";
    match finding {
        NtpFinding::Synchronised => Line::ok(item, "timedatectl reports the clock synchronised"),
        NtpFinding::NotSynchronised => Line::not_ok(
            Status::Warn,
            item,
            "timedatectl reports the clock not synchronised",
            "timedatectl set-ntp true (systemd-timesyncd), or run chrony",
        ),
        NtpFinding::Unknown { reason } => Line::not_ok(
            Status::Warn,
            item,
            format!("timedatectl could not say ({reason})"),
            "make sure an NTP client (systemd-timesyncd, chrony) keeps this clock",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_puts_the_status_first_and_advice_last() {
        let l = Line::not_ok(Status::Fail, "database", "down", "start it");
        assert_eq!(l.render(), "FAIL  database: down -> start it");
        assert_eq!(Line::ok("models", "fine").render(), "ok    models: fine");
    }

    #[test]
    fn only_a_failure_fails_the_run() {
        let warn = Line::not_ok(Status::Warn, "a", "b", "c");
        let fail = Line::not_ok(Status::Fail, "a", "b", "c");
        assert_eq!(exit_code(&[]), 0);
        assert_eq!(exit_code(&[Line::ok("a", "b"), warn.clone()]), 0);
        assert_eq!(exit_code(&[warn, fail]), 1);
    }

    #[test]
    fn models_are_one_ok_line_or_one_failure_per_bad_file() {
        let good = vec![
            ("a.onnx".to_string(), ModelFinding::Matches),
            ("b.onnx".to_string(), ModelFinding::Matches),
        ];
        let lines = models("/m", &good);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].status, Status::Ok);
        assert!(lines[0].finding.starts_with("2 files"));
        let bad = vec![
            ("a.onnx".to_string(), ModelFinding::Matches),
            (
                "b.onnx".to_string(),
                ModelFinding::Missing {
                    reason: "gone".into(),
                },
            ),
            (
                "c.onnx".to_string(),
                ModelFinding::Differs {
                    origin: "wheel w".into(),
                },
            ),
        ];
        let lines = models("/m", &bad);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.status == Status::Fail));
        assert!(lines[1].render().contains("make setup"));
    }

    #[test]
    fn the_schema_fails_on_foreign_migrations_and_warns_on_pending_ones() {
        let up = SchemaFinding {
            applied: 8,
            ..Default::default()
        };
        assert_eq!(database("db", &up).status, Status::Ok);
        let pending = SchemaFinding {
            pending: vec!["0008_nodes.sql".into()],
            applied: 7,
            ..Default::default()
        };
        let l = database("db", &pending);
        assert_eq!(l.status, Status::Warn);
        assert!(l.render().contains("matthan migrate"));
        let newer = SchemaFinding {
            unknown: vec!["0099_future.sql".into()],
            ..Default::default()
        };
        assert_eq!(database("db", &newer).status, Status::Fail);
        let changed = SchemaFinding {
            changed: vec!["0001_init.sql".into()],
            ..Default::default()
        };
        assert_eq!(database("db", &changed).status, Status::Fail);
    }

    #[test]
    fn clock_offsets_warn_above_two_seconds_and_fail_above_thirty() {
        assert_eq!(clock(0.4).status, Status::Ok);
        assert_eq!(clock(-2.0).status, Status::Ok);
        assert_eq!(clock(2.5).status, Status::Warn);
        assert_eq!(clock(-29.0).status, Status::Warn);
        assert_eq!(clock(31.0).status, Status::Fail);
        assert_eq!(clock(-120.0).status, Status::Fail);
        assert_eq!(ntp(&NtpFinding::Synchronised).status, Status::Ok);
        assert_eq!(ntp(&NtpFinding::NotSynchronised).status, Status::Warn);
    }

    const GIB: u64 = 1 << 30;

    fn disk_of(free_gib: u64, rate_gib: Option<f64>) -> DiskFinding {
        DiskFinding {
            free_bytes: free_gib * GIB,
            total_bytes: 1000 * GIB,
            min_free_percent: 10.0,
            clips_days: 30,
            clips_bytes: 0,
            recent_bytes_per_day: rate_gib.map(|g| g * GIB as f64),
        }
    }

    #[test]
    fn the_disk_is_judged_by_its_reserve_and_the_days_of_clips_it_holds() {
        assert_eq!(disk("/c", &disk_of(500, None)).status, Status::Ok);
        // 400 GiB above the 100 GiB reserve at 10 GiB a day: 40 days ≥ 30.
        let l = disk("/c", &disk_of(500, Some(10.0)));
        assert_eq!(l.status, Status::Ok, "{}", l.render());
        assert!(l.finding.contains("room for 40 days"), "{}", l.finding);
        // At 20 GiB a day only 20 days fit.
        let l = disk("/c", &disk_of(500, Some(20.0)));
        assert_eq!(l.status, Status::Warn);
        assert!(l.render().contains("clips_days = 30"));
        // Clips already on the disk count: retention deletes them for room.
        let mut d = disk_of(500, Some(20.0));
        d.clips_bytes = 200 * GIB;
        assert_eq!(disk("/c", &d).status, Status::Ok);
        assert_eq!(days_of_clips(&d, 20.0 * GIB as f64), 30.0);
        assert_eq!(disk("/c", &disk_of(50, None)).status, Status::Warn);
        let mut full = disk_of(0, None);
        full.free_bytes = GIB / 2;
        assert_eq!(disk("/c", &full).status, Status::Fail);
    }

    #[test]
    fn every_camera_failure_says_what_to_do() {
        let ok = CameraFinding::Frame {
            width: 1280,
            height: 720,
            after_s: 0.4,
        };
        assert_eq!(camera("n", "rtsp://u@h/x", &ok).status, Status::Ok);
        for f in [
            CameraFinding::OpenFailed {
                reason: "refused".into(),
            },
            CameraFinding::NoFrame {
                reason: "eof".into(),
            },
            CameraFinding::TimedOut { after_s: 10.0 },
            CameraFinding::NoSource,
        ] {
            let l = camera("n", "rtsp://u@h/x", &f);
            assert_eq!(l.status, Status::Fail);
            assert!(l.advice.is_some());
        }
    }
}
