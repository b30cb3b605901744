//! Shared helpers for the integration tests: where the models and the eval photos are.
#![allow(dead_code)]

use std::path::PathBuf;

use matthan::recognize::{Recognizer, RecognizerSettings};

/// The project's model folder (filled by `make setup`).
pub fn model_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// The shared evaluation photos: `$MATTHAN_EVAL_DIR`, else `../shared/eval` beside the project.
pub fn eval_dir() -> PathBuf {
    std::env::var_os("MATTHAN_EVAL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/eval"))
}

/// A recognizer with the default settings on the real models.
pub fn recognizer() -> Recognizer {
    Recognizer::load(RecognizerSettings::with_model_dir(model_dir()))
        .expect("models missing: run `make setup`")
}

/// A fresh temporary folder for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("matthan-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Where a private PostgreSQL cluster for the tests lives when no server is reachable.
pub fn test_pg_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-postgres")
}
