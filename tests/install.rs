//! `matthan install` under a temporary prefix: the unit, the journald drop-in and the config
//! are written, a second run keeps the edited config and replaces the unit, the written
//! config loads with the real parser, and `systemd-analyze verify` accepts the unit.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use matthan::config::Config;

fn install(prefix: &Path, extra: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_matthan"))
        .arg("--models")
        .arg(common::model_dir())
        .arg("install")
        .arg("--prefix")
        .arg(prefix)
        .args(["--bin", env!("CARGO_BIN_EXE_matthan"), "--user", "matthan"])
        .args(extra)
        .output()
        .unwrap();
    common::assert_success(&out);
    out
}

fn file(prefix: &Path, path: &str) -> PathBuf {
    prefix.join(path.trim_start_matches('/'))
}

#[test]
fn install_writes_the_unit_drop_in_and_config_and_keeps_an_edited_config() {
    let prefix = common::temp_dir("install");
    let out = install(&prefix, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();

    let unit_path = file(&prefix, "/etc/systemd/system/matthan.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    let exec = format!(
        "ExecStart={} serve --config /etc/matthan/matthan.toml",
        env!("CARGO_BIN_EXE_matthan")
    );
    for line in [
        exec.as_str(),
        "User=matthan",
        "Restart=on-failure",
        "RestartSec=5",
        "StartLimitBurst=5",
        "StandardOutput=journal",
        "StandardError=journal",
        "SyslogIdentifier=matthan",
        "KillSignal=SIGINT",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    let journald =
        std::fs::read_to_string(file(&prefix, "/etc/systemd/journald.conf.d/matthan.conf"))
            .unwrap();
    assert!(journald.contains("[Journal]") && journald.contains("SystemMaxUse="));
    assert!(journald.contains("MaxRetentionSec="));
    let sysusers = std::fs::read_to_string(file(&prefix, "/etc/sysusers.d/matthan.conf")).unwrap();
    assert!(sysusers.lines().any(|l| l.starts_with("u matthan ")));

    // The config template loads with the real parser, as written.
    let config_path = file(&prefix, "/etc/matthan/matthan.toml");
    let config = Config::load(&config_path).unwrap();
    assert_eq!(config.storage.state_dir, PathBuf::from("/var/lib/matthan"));
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(text.contains("rtsp://USER:PASS@192.168.1.64:554/Streaming/Channels/101"));
    assert!(text.contains("/cam/realmonitor?channel=1&subtype=0"));
    assert!(text.contains("# [node]"));
    for step in [
        "systemctl daemon-reload",
        "systemctl enable --now matthan",
        "matthan check",
        "journalctl -u matthan",
    ] {
        assert!(stdout.contains(step), "{step} missing from:\n{stdout}");
    }

    // The operator adds a camera; the unit is damaged. A second run keeps the one and
    // replaces the other.
    let edited =
        format!("{text}\n[[cameras]]\nname = \"gate\"\nsource = \"rtsp://10.0.0.5/stream\"\n");
    std::fs::write(&config_path, &edited).unwrap();
    std::fs::write(&unit_path, "broken").unwrap();
    let again = String::from_utf8_lossy(&install(&prefix, &[]).stdout).into_owned();
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), edited);
    assert!(
        again.contains("matthan.toml: kept: it exists and is never overwritten"),
        "{again}"
    );
    assert_eq!(std::fs::read_to_string(&unit_path).unwrap(), unit);
    assert_eq!(Config::load(&config_path).unwrap().cameras.len(), 1);

    verify_unit(&unit_path);
    std::fs::remove_dir_all(&prefix).ok();
}

/// `systemd-analyze verify` on the written unit, when the tool is installed.
fn verify_unit(unit: &Path) {
    let out = match Command::new("systemd-analyze")
        .arg("verify")
        .arg(unit)
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("systemd-analyze is not installed ({e}): the unit was not verified");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "systemd-analyze verify refused the unit:\n{stderr}"
    );
    // Warnings about this unit (not about the host's other units) count as failures too.
    let ours: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("matthan.service"))
        .collect();
    assert!(ours.is_empty(), "systemd-analyze verify: {ours:?}");
}

#[test]
fn a_dry_run_prints_every_file_and_writes_nothing() {
    let prefix = common::temp_dir("install-dry");
    let out = install(&prefix, &["--dry-run"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    for path in [
        "/etc/systemd/system/matthan.service",
        "/etc/systemd/journald.conf.d/matthan.conf",
        "/etc/matthan/matthan.toml",
        "/etc/matthan/matthan.env",
    ] {
        let shown = file(&prefix, path);
        assert!(
            stdout.contains(&format!("--- {} (mode", shown.display())),
            "{path} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("would write"));
    assert!(stdout.contains("[Service]") && stdout.contains("[Journal]"));
    let written: Vec<_> = std::fs::read_dir(&prefix).unwrap().collect();
    assert!(written.is_empty(), "a dry run wrote {written:?}");
    std::fs::remove_dir_all(&prefix).ok();
}
