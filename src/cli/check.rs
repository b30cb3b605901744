//! `matthan check`: one line per item (config, models, database, cameras, disk, clock), status
//! first; exits 1 when any line is `FAIL` ([`matthan::check`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use matthan::check::{self, CheckSettings};
use matthan::install;
use matthan::recognize::runtime;

use super::common::Globals;

/// Flags of `matthan check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// TOML config (default: /etc/matthan/matthan.toml when it exists, else the defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seconds each enabled camera has to give a first decoded frame.
    #[arg(long, value_name = "SECS", default_value_t = 10.0)]
    camera_timeout: f64,
    /// The service's environment file, read for DATABASE_URL when neither the environment
    /// nor --database-url gives one (default: /etc/matthan/matthan.env when it exists).
    #[arg(long, value_name = "FILE")]
    env_file: Option<PathBuf>,
}

/// Prints the lines; exit code 1 when any failed.
pub fn run(globals: &Globals, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    if !(args.camera_timeout.is_finite() && args.camera_timeout > 0.0) {
        anyhow::bail!("--camera-timeout must be a positive number of seconds");
    }
    let installed = Path::new(install::CONFIG_PATH);
    let config = args
        .config
        .clone()
        .or_else(|| installed.is_file().then(|| installed.to_path_buf()));
    let mut database_url = globals
        .database_url
        .clone()
        .filter(|u| !u.trim().is_empty());
    if database_url.is_none() {
        let env_file = args
            .env_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(install::ENV_PATH));
        if let Ok(text) = std::fs::read_to_string(&env_file) {
            database_url = check::env_file_value(&text, "DATABASE_URL");
        }
    }
    let settings = CheckSettings {
        config,
        database_url,
        models_dir: globals
            .models
            .clone()
            .unwrap_or_else(runtime::default_model_dir),
        camera_timeout: Duration::from_secs_f64(args.camera_timeout),
    };
    let rt = tokio::runtime::Runtime::new()?;
    let lines = rt.block_on(check::run(&settings));
    for line in &lines {
        println!("{}", line.render());
    }
    // Camera probes still blocked in FFmpeg are not waited for.
    rt.shutdown_background();
    Ok(ExitCode::from(check::exit_code(&lines)))
}
