//! Shared helpers for the integration tests, one definition each: where the models, the eval
//! photos and the scratch folders are, and times written as text. The submodules hold the
//! rest and are re-exported here, so a test calls `common::scratch`, `common::passage`...:
//! `db` (scratch databases, API state, users), `road` (a generated multi-junction log),
//! `rows` (passage rows to write), `video` (test
//! videos, ffmpeg checks, live cameras, in-process ingests) and `cli` (the `matthan` binary).
#![allow(dead_code, unused_imports)]

mod cli;
mod db;
mod road;
mod rows;
mod video;

pub use cli::*;
pub use db::*;
pub use road::*;
pub use rows::*;
pub use video::*;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
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

/// A fresh temporary folder for one test, emptied if a previous run left it. It lies under
/// the system temp folder, which the `postgres` user can reach when the tests run as root, so
/// it can also hold a private PostgreSQL cluster's state.
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

/// A TCP port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An RFC 3339 time, such as `2026-11-29T01:00:00Z`.
pub fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}
