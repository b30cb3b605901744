//! `matthan models`: checks the model files against `models/MODELS.lock`, loads the
//! recognizer with the chosen graphs and says which ones each stage runs.

use std::process::ExitCode;

use matthan::recognize::{runtime, Recognizer};

use super::common::Globals;

/// Fails when a pinned model is missing, differs from its lock entry or does not load.
pub fn run(globals: &Globals) -> anyhow::Result<ExitCode> {
    let settings = globals.recognizer();
    let dir = settings.model_dir.clone();
    runtime::verify_model_dir(&dir)?;
    println!("models in {} match MODELS.lock", dir.display());
    let set = settings.models;
    let recognizer = Recognizer::load(settings)?;
    let (vehicles, plates) = recognizer.graphs();
    println!("model set         {set}");
    println!("vehicle detector  {}", vehicles.describe());
    println!("plate detector    {}", plates.describe());
    println!("plate text lines  text_det.onnx (float32)");
    println!("plate reader      text_rec.onnx (float32)");
    Ok(ExitCode::SUCCESS)
}
