//! Installing matthan as a systemd service (`matthan install`): which files go where, with
//! what in them, and writing them.
//!
//! Owns: the templates under `deploy/` (embedded, so packagers can use the same files), the
//! pure [`plan`] of the files (unit, journald drop-in, sysusers and tmpfiles entries, config
//! and environment templates) with their placeholders filled in, and [`apply`], which writes a
//! plan under a prefix (`/` for a real install).
//!
//! Invariants: a config or environment file that exists is never overwritten (the operator's
//! cameras and secrets live there); the unit and the other files matthan owns are replaced.
//! Must not: run `systemctl` or create users; the caller says what to run next.

use std::path::{Path, PathBuf};

/// The service unit; `@BIN@`, `@USER@`, `@MODELS@`, `@WEB@` are filled in.
pub const UNIT_TEMPLATE: &str = include_str!("../deploy/matthan.service");
/// The journald drop-in bounding the journal's disk use.
pub const JOURNALD_DROP_IN: &str = include_str!("../deploy/journald-matthan.conf");
/// The sysusers.d entry of the service's user; `@USER@` is filled in.
pub const SYSUSERS_TEMPLATE: &str = include_str!("../deploy/sysusers-matthan.conf");
/// The tmpfiles.d entries (config permissions); `@USER@` is filled in.
pub const TMPFILES_TEMPLATE: &str = include_str!("../deploy/tmpfiles-matthan.conf");
/// The config template, with commented camera, junction and node examples.
pub const CONFIG_TEMPLATE: &str = include_str!("../deploy/matthan.toml");
/// The service's environment file template (DATABASE_URL).
pub const ENV_TEMPLATE: &str = include_str!("../deploy/matthan.env");

/// Where the installed config lives (the unit's `--config`, `matthan check`'s default).
pub const CONFIG_PATH: &str = "/etc/matthan/matthan.toml";
/// Where the service's environment file lives (the unit's `EnvironmentFile=`).
pub const ENV_PATH: &str = "/etc/matthan/matthan.env";
/// The unit's path.
pub const UNIT_PATH: &str = "/etc/systemd/system/matthan.service";

/// Why an install failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A setting cannot go into a unit file.
    #[error("invalid {what}: {reason}")]
    Invalid { what: &'static str, reason: String },
    /// A file or folder could not be written.
    #[error("cannot write {path}: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// What the installed service runs as and with.
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// The `matthan` binary the unit starts (absolute).
    pub bin: PathBuf,
    /// The system user the service runs as.
    pub user: String,
    /// The model folder the service uses (absolute).
    pub models_dir: PathBuf,
    /// The web page's folder the service serves (absolute).
    pub web_dir: PathBuf,
}

/// Whether an existing file is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExisting {
    /// Files matthan owns (the unit, drop-ins).
    Replace,
    /// Files the operator edits (config, environment).
    Keep,
}

/// One file to install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Its path on the installed system (absolute).
    pub path: PathBuf,
    /// What it holds.
    pub contents: String,
    /// Unix permission bits.
    pub mode: u32,
    /// Whether an existing file is replaced.
    pub on_existing: OnExisting,
}

/// What [`apply`] did (or, in a dry run, would do) with one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// There was none; it was written.
    Written,
    /// There was one; it was replaced.
    Replaced,
    /// There was one; it was left as it is.
    KeptExisting,
}

impl Action {
    /// `written`, `replaced`, `kept (exists)`, or with `would` for a dry run.
    pub fn describe(self, dry_run: bool) -> &'static str {
        match (self, dry_run) {
            (Action::Written, false) => "written",
            (Action::Written, true) => "would write",
            (Action::Replaced, false) => "replaced",
            (Action::Replaced, true) => "would replace",
            (Action::KeptExisting, false) => "kept: it exists and is never overwritten",
            (Action::KeptExisting, true) => "would keep: it exists and is never overwritten",
        }
    }
}

/// A user name `useradd` and systemd accept: a letter or `_` first, then letters, digits,
/// `_` and `-`, at most 31 characters.
fn valid_user(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && name.len() <= 31
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// An absolute path a unit file can hold as is (no spaces, quotes, `%` or control characters).
fn unit_path(what: &'static str, path: &Path) -> Result<String, InstallError> {
    let text = path.to_str().ok_or_else(|| InstallError::Invalid {
        what,
        reason: format!("{} is not UTF-8", path.display()),
    })?;
    let bad = text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"'%\\$;".contains(c));
    if !path.is_absolute() || bad {
        return Err(InstallError::Invalid {
            what,
            reason: format!("{text:?} must be an absolute path without spaces, quotes, %, $ or ;"),
        });
    }
    Ok(text.to_string())
}

/// The files of an install with `settings`, in the order they are written. Pure.
pub fn plan(settings: &InstallSettings) -> Result<Vec<PlannedFile>, InstallError> {
    if !valid_user(&settings.user) {
        return Err(InstallError::Invalid {
            what: "user",
            reason: format!(
                "{:?}: lowercase letters, digits, _ and -, starting with a letter or _",
                settings.user
            ),
        });
    }
    let bin = unit_path("--bin", &settings.bin)?;
    let models = unit_path("model folder", &settings.models_dir)?;
    let web = unit_path("web folder", &settings.web_dir)?;
    let fill = |t: &str| {
        t.replace("@BIN@", &bin)
            .replace("@USER@", &settings.user)
            .replace("@MODELS@", &models)
            .replace("@WEB@", &web)
    };
    let file = |path: &str, contents: String, mode: u32, on_existing: OnExisting| PlannedFile {
        path: PathBuf::from(path),
        contents,
        mode,
        on_existing,
    };
    Ok(vec![
        file(UNIT_PATH, fill(UNIT_TEMPLATE), 0o644, OnExisting::Replace),
        file(
            "/etc/systemd/journald.conf.d/matthan.conf",
            JOURNALD_DROP_IN.to_string(),
            0o644,
            OnExisting::Replace,
        ),
        file(
            "/etc/sysusers.d/matthan.conf",
            fill(SYSUSERS_TEMPLATE),
            0o644,
            OnExisting::Replace,
        ),
        file(
            "/etc/tmpfiles.d/matthan.conf",
            fill(TMPFILES_TEMPLATE),
            0o644,
            OnExisting::Replace,
        ),
        file(
            CONFIG_PATH,
            CONFIG_TEMPLATE.to_string(),
            0o640,
            OnExisting::Keep,
        ),
        file(ENV_PATH, ENV_TEMPLATE.to_string(), 0o600, OnExisting::Keep),
    ])
}

/// `path` (absolute) under `prefix`: `/etc/x` under `/srv/pkg` is `/srv/pkg/etc/x`.
pub fn under_prefix(prefix: &Path, path: &Path) -> PathBuf {
    prefix.join(path.strip_prefix("/").unwrap_or(path))
}

/// What would happen to `file` under `prefix`, without writing anything.
pub fn action(prefix: &Path, file: &PlannedFile) -> Action {
    let exists = under_prefix(prefix, &file.path).exists();
    match (exists, file.on_existing) {
        (false, _) => Action::Written,
        (true, OnExisting::Replace) => Action::Replaced,
        (true, OnExisting::Keep) => Action::KeptExisting,
    }
}

/// Writes `file` under `prefix` (folders made as needed) unless it is kept; returns what it
/// did. A replaced file is written beside and renamed over the old one.
pub fn apply(prefix: &Path, file: &PlannedFile) -> Result<Action, InstallError> {
    use std::os::unix::fs::PermissionsExt;
    let action = action(prefix, file);
    if action == Action::KeptExisting {
        return Ok(action);
    }
    let target = under_prefix(prefix, &file.path);
    let fail = |path: &Path, e: std::io::Error| InstallError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    }
    let mut temp = target.clone().into_os_string();
    temp.push(".new");
    let temp = PathBuf::from(temp);
    std::fs::write(&temp, &file.contents).map_err(|e| fail(&temp, e))?;
    std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(file.mode))
        .map_err(|e| fail(&temp, e))?;
    std::fs::rename(&temp, &target).map_err(|e| fail(&target, e))?;
    Ok(action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> InstallSettings {
        InstallSettings {
            bin: PathBuf::from("/usr/local/bin/matthan"),
            user: "matthan".into(),
            models_dir: PathBuf::from("/opt/matthan/models"),
            web_dir: PathBuf::from("/opt/matthan/web"),
        }
    }

    #[test]
    fn the_unit_runs_serve_as_the_user_with_a_restart_policy_into_the_journal() {
        let files = plan(&settings()).unwrap();
        let unit = &files[0];
        assert_eq!(unit.path, PathBuf::from(UNIT_PATH));
        let has = |line: &str| unit.contents.lines().any(|l| l == line);
        assert!(has(
            "ExecStart=/usr/local/bin/matthan serve --config /etc/matthan/matthan.toml"
        ));
        assert!(has("User=matthan"));
        assert!(has("Restart=on-failure"));
        assert!(has("RestartSec=5"));
        assert!(has("StartLimitBurst=5"));
        assert!(has("StandardOutput=journal"));
        assert!(has("SyslogIdentifier=matthan"));
        assert!(has("Environment=MATTHAN_MODELS=/opt/matthan/models"));
        assert!(!unit.contents.contains('@'), "a placeholder is left");
        assert!(files
            .iter()
            .all(|f| !f.contents.contains("@USER@") && f.path.is_absolute()));
    }

    #[test]
    fn config_and_environment_are_kept_and_the_rest_replaced() {
        let files = plan(&settings()).unwrap();
        let kept: Vec<_> = files
            .iter()
            .filter(|f| f.on_existing == OnExisting::Keep)
            .map(|f| f.path.to_str().unwrap())
            .collect();
        assert_eq!(kept, [CONFIG_PATH, ENV_PATH]);
        let env = files
            .iter()
            .find(|f| f.path == Path::new(ENV_PATH))
            .unwrap();
        assert_eq!(env.mode, 0o600);
    }

    #[test]
    fn bad_users_and_paths_are_refused() {
        for user in ["", "Root", "1abc", "a b", "x;rm"] {
            let s = InstallSettings {
                user: user.into(),
                ..settings()
            };
            assert!(plan(&s).is_err(), "{user:?}");
        }
        for bin in ["matthan", "/opt/my matthan", "/opt/%i"] {
            let s = InstallSettings {
                bin: bin.into(),
                ..settings()
            };
            assert!(plan(&s).is_err(), "{bin:?}");
        }
        assert_eq!(
            under_prefix(Path::new("/srv/pkg"), Path::new("/etc/x")),
            PathBuf::from("/srv/pkg/etc/x")
        );
    }

    #[test]
    fn the_config_template_parses_and_names_both_camera_brands() {
        let config = crate::config::Config::parse(CONFIG_TEMPLATE).unwrap();
        assert!(config.cameras.is_empty());
        assert_eq!(config.storage.state_dir, PathBuf::from("/var/lib/matthan"));
        for s in [
            "/Streaming/Channels/101",
            "/Streaming/Channels/102",
            "/cam/realmonitor?channel=1&subtype=0",
            "subtype=1",
            "# [node]",
            "# advertise_url",
            "# # node = \"pc-2\"",
        ] {
            assert!(CONFIG_TEMPLATE.contains(s), "{s}");
        }
    }
}
