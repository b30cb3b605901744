//! Evidence packages: one ZIP per passage holding the clip of its window (remuxed, never
//! re-encoded), its snapshot, the passage with its plate candidates, its camera and junction,
//! the audit rows about it (this export's included), a README, and a manifest of every file's
//! size and SHA-256 signed with the station's Ed25519 key. Made by `GET
//! /api/passages/{id}/evidence` and `matthan evidence export`, checked by `matthan evidence
//! verify`, which names every file that differs.
//!
//! - [`manifest`]: PURE. The manifest, its exact bytes, hex and key fingerprints.
//! - [`check`]: PURE. Signing a manifest; checking a package's files, manifest and signature,
//!   every difference naming its file.
//! - [`readme`]: PURE. The package's README.txt.
//! - [`key`]: the station key file (made on first use, 0600, never overwritten), public keys
//!   given by hand.
//! - [`package`]: writing the ZIP, reading one back (sizes and SHA-256, never extracted).
//! - [`assemble`]: what the log holds about a passage, this export's audit row, and the build.

pub mod assemble;
pub mod check;
pub mod key;
pub mod manifest;
pub mod package;
pub mod readme;

use std::path::{Path, PathBuf};

pub use assemble::{build, gather, Built, Folders, Gathered};
pub use check::{verify, Contents, Difference, ExpectedKey, Problem, Verdict};
pub use key::{key_path, parse_public_key, StationKey};
pub use manifest::{fingerprint, Manifest, FORMAT};
pub use package::read_package;

use crate::peer::PeerError;
use crate::store::StoreError;
use crate::video::VideoError;

/// The audit action of an export (the route's, and the command line's).
pub const ACTION: &str = "evidence_export";

/// Status of the audit row an export writes before it builds (202: accepted, begun); the
/// request's own row, written after, has the answer's status.
pub const BEGUN_STATUS: i16 = 202;

/// Errors of evidence packages.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The log could not be read or the audit row written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A recorded segment could not be read or the clip written.
    #[error(transparent)]
    Video(#[from] VideoError),
    /// A segment or snapshot on another node could not be had, or was not the logged one.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// A file could not be read or written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The ZIP could not be written.
    #[error("writing the package: {0}")]
    Zip(String),
    /// A key file or key that is not one.
    #[error("key {path}: {reason}")]
    BadKey {
        /// The file (or the text given).
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The system's random source failed.
    #[error("no randomness for a key: {0}")]
    Random(String),
    /// Not a ZIP archive.
    #[error("{path} is not a ZIP archive ({reason})")]
    NotAZip {
        /// The file.
        path: PathBuf,
        /// What the ZIP reader said.
        reason: String,
    },
    /// A ZIP archive whose end (its list of files) is missing.
    #[error("{path} is a ZIP archive cut short: its end is missing ({reason})")]
    CutShort {
        /// The file.
        path: PathBuf,
        /// What the ZIP reader said.
        reason: String,
    },
    /// A ZIP that is not an evidence package.
    #[error("{path} is not an evidence package: {reason}")]
    NotAPackage {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// The file name a package of passage `id` made at `at` is offered under.
pub fn file_name(id: i64, at: chrono::DateTime<chrono::Utc>) -> String {
    format!("evidence-passage-{id}-{}.zip", at.format("%Y%m%dT%H%M%SZ"))
}

/// Reads the package at `path` and checks it against `expected` (see [`check::verify`]).
pub fn verify_file(path: &Path, expected: Option<&ExpectedKey>) -> Result<Verdict, EvidenceError> {
    Ok(verify(&read_package(path)?, expected))
}
