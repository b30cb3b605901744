//! `matthan migrate`: applies pending migrations (opening the log does) and lists what the
//! database has applied.

use std::path::PathBuf;
use std::process::ExitCode;

use matthan::store::{migrate, Database};

use super::common::{load_config, Globals};

/// Flags of `matthan migrate`.
#[derive(clap::Args)]
pub struct MigrateArgs {
    /// TOML config (for the state directory of the private cluster).
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Opens the log (which migrates it) and prints each applied migration and where the log is.
pub fn run(globals: &Globals, args: &MigrateArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args.config.as_deref())?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let db = Database::open(globals.database_url.as_deref(), &cfg.storage.state_dir).await?;
        // `open` applied whatever was pending; report the state.
        let client = db.store.client().await?;
        for m in migrate::applied(&client).await? {
            println!("{}  applied {}", m.name, m.applied_at.to_rfc3339());
        }
        drop(client);
        println!("database: {}", db.description);
        db.close().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}
