//! `matthan models`: checks the model files against `models/MODELS.lock`.

use std::process::ExitCode;

use matthan::recognize::runtime;

use super::common::Globals;

/// Fails when a pinned model is missing or differs from its lock entry.
pub fn run(globals: &Globals) -> anyhow::Result<ExitCode> {
    let dir = globals.recognizer().model_dir;
    runtime::verify_model_dir(&dir)?;
    println!("models in {} match MODELS.lock", dir.display());
    Ok(ExitCode::SUCCESS)
}
