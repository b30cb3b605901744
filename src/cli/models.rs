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
    let reader = settings.reader;
    let text_rec = settings.text_rec_model.as_ref().map_or(
        "text_rec.onnx (PP-OCRv6 small, float32)".to_string(),
        |p| {
            format!(
                "{} (named on the command line, not in the lock)",
                p.display()
            )
        },
    );
    let recognizer = Recognizer::load(settings)?;
    let (vehicles, plates) = recognizer.graphs();
    println!("model set         {set}");
    println!("vehicle detector  {}", vehicles.describe());
    println!("plate detector    {}", plates.describe());
    println!("plate text lines  text_det.onnx (float32)");
    println!("plate text reader {reader}");
    println!("  PP-OCR          {text_rec}");
    println!("  ours            plate_reader.onnx (trained here, float32; training/)");
    Ok(ExitCode::SUCCESS)
}
