//! `matthan serve`: the API, the web page and the config's live cameras, until Ctrl-C
//! (everything it runs is [`matthan::app`]).

use std::path::PathBuf;
use std::process::ExitCode;

use matthan::api;
use matthan::app::{self, ApiSettings, ServeSettings};

use super::common::{load_config, Globals};

/// Flags of `matthan serve`.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// TOML config with storage, junctions and cameras.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Folder of the web page (default: ./web).
    #[arg(long)]
    web: Option<PathBuf>,
    /// Do not run the config's live cameras (serve the log only).
    #[arg(long)]
    no_cameras: bool,
}

/// Serves until Ctrl-C, then stops the cameras, writes what is queued and closes the log.
pub fn run(globals: &Globals, args: &ServeArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args.config.as_deref())?;
    let settings = ServeSettings {
        database_url: globals.database_url.clone(),
        api: ApiSettings {
            listen: args.listen.clone(),
            web_dir: args.web.clone().unwrap_or_else(api::default_web_dir),
        },
        run_cameras: !args.no_cameras,
        recognizer: globals.recognizer(),
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(app::serve(&cfg, &settings, print_listening, ctrl_c()))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on Ctrl-C (or when the signal cannot be listened for).
pub async fn ctrl_c() {
    let _ = tokio::signal::ctrl_c().await;
}

/// Tells the user where the API is.
pub fn print_listening(at: app::Listening<'_>) {
    println!(
        "matthan: serving http://{} (log: {}); Ctrl-C stops",
        at.addr, at.log
    );
}
