//! `matthan install`: writes the systemd unit, the journald drop-in, the service's user and
//! the config template ([`matthan::install`]), then says what to run next.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use matthan::api;
use matthan::install::{self, Action, InstallSettings};
use matthan::recognize::runtime;

use super::common::Globals;

/// Flags of `matthan install`.
#[derive(clap::Args)]
pub struct InstallArgs {
    /// Write everything under DIR instead of / (for packaging and tests); runs nothing.
    #[arg(long, value_name = "DIR")]
    prefix: Option<PathBuf>,
    /// Print what would be written, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// System user the service runs as.
    #[arg(long, value_name = "NAME", default_value = "matthan")]
    user: String,
    /// The binary the service starts (default: this one).
    #[arg(long, value_name = "PATH")]
    bin: Option<PathBuf>,
}

/// `path` made absolute against the working directory, symlinks resolved where it exists.
fn absolute(path: &Path) -> anyhow::Result<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Ok(p);
    }
    Ok(std::env::current_dir()?.join(path))
}

/// Writes (or, with `--dry-run`, prints) the files and prints the next steps.
pub fn run(globals: &Globals, args: &InstallArgs) -> anyhow::Result<ExitCode> {
    let bin = match &args.bin {
        Some(b) => absolute(b)?,
        None => std::env::current_exe().context("cannot tell where this binary is; give --bin")?,
    };
    let models = globals
        .models
        .clone()
        .unwrap_or_else(runtime::default_model_dir);
    let settings = InstallSettings {
        bin,
        user: args.user.clone(),
        models_dir: absolute(&models)?,
        web_dir: absolute(&api::default_web_dir())?,
    };
    let files = install::plan(&settings)?;
    let prefix = args.prefix.clone().unwrap_or_else(|| PathBuf::from("/"));
    for file in &files {
        let shown = install::under_prefix(&prefix, &file.path);
        if args.dry_run {
            let action = install::action(&prefix, file);
            println!(
                "--- {} (mode {:04o}, {})",
                shown.display(),
                file.mode,
                action.describe(true)
            );
            print!("{}", file.contents);
            println!();
        } else {
            let action = install::apply(&prefix, file)?;
            println!("{}: {}", shown.display(), action.describe(false));
            if action == Action::KeptExisting && file.path == Path::new(install::CONFIG_PATH) {
                println!(
                    "  (the template is in deploy/matthan.toml of the source, or `matthan install --dry-run`)"
                );
            }
        }
    }
    for dir in [&settings.models_dir, &settings.web_dir] {
        if dir.starts_with("/root") || dir.starts_with("/home") {
            println!(
                "note: user {} must be able to read {} (a home folder is usually private)",
                settings.user,
                dir.display()
            );
        }
    }
    let reloaded = !args.dry_run && args.prefix.is_none() && daemon_reload();
    print_next_steps(&settings.user, reloaded);
    Ok(ExitCode::SUCCESS)
}

/// Runs `systemctl daemon-reload` when we are root on a running systemd; whether it did.
fn daemon_reload() -> bool {
    let is_root =
        std::fs::metadata("/proc/self").is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0);
    if !is_root || !Path::new("/run/systemd/system").is_dir() {
        return false;
    }
    std::process::Command::new("systemctl")
        .arg("daemon-reload")
        .status()
        .is_ok_and(|s| s.success())
}

/// What to run after the files are in place.
fn print_next_steps(user: &str, reloaded: bool) {
    println!();
    println!("next steps (as root):");
    println!("  systemd-sysusers                 # creates user {user}");
    println!("  systemd-tmpfiles --create        # lets {user} read the config, and nobody else");
    println!("  systemctl restart systemd-journald   # applies the journal's disk limits");
    println!(
        "  edit {} (cameras, junctions) and {} (DATABASE_URL)",
        install::CONFIG_PATH,
        install::ENV_PATH
    );
    if !reloaded {
        println!("  systemctl daemon-reload");
    }
    println!("  systemctl enable --now matthan");
    println!("  matthan check                    # models, database, cameras, disk, clock");
    println!("  journalctl -u matthan -f         # the service's log");
}
