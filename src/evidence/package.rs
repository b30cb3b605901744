//! The package as a ZIP file: writing one (manifest and signature first, then each file,
//! pictures and video stored as they are, text deflated) and reading one back into what
//! [`check::verify`](super::check::verify) takes (each file's size and SHA-256, or why it
//! cannot be read). Nothing is ever extracted to disk, so names inside the ZIP are only
//! compared, never used as paths.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike, Utc};
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::check::{Contents, Found};
use super::manifest::{hex, FileDigest, MANIFEST, SIGNATURE};
use super::EvidenceError;

/// Most bytes read for `manifest.json` or `manifest.sig` (both are small).
const SMALL_LIMIT: u64 = 4 << 20;

/// What a file of the package holds.
#[derive(Debug, Clone)]
pub enum Content {
    /// These bytes.
    Bytes(Vec<u8>),
    /// The bytes of this file (the clip, the snapshot).
    File(PathBuf),
}

/// One file to put in a package.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its name in the package.
    pub name: String,
    /// What it holds.
    pub content: Content,
}

impl Part {
    /// Its size and SHA-256.
    pub fn digest(&self) -> Result<FileDigest, EvidenceError> {
        match &self.content {
            Content::Bytes(b) => Ok(FileDigest::of(b)),
            Content::File(path) => {
                let (bytes, sha256) = crate::digest::sha256_file(path)
                    .map_err(|e| io_error(format!("reading {}", path.display()), e))?;
                Ok(FileDigest { bytes, sha256 })
            }
        }
    }
}

fn io_error(what: String, source: std::io::Error) -> EvidenceError {
    EvidenceError::Io { what, source }
}

/// Writes the package to `out`: `manifest.json`, `manifest.sig`, then `parts` in order, each
/// dated `at`. Returns the ZIP's size and SHA-256. On error nothing is left at `out`.
pub fn write_zip(
    out: &Path,
    manifest: &[u8],
    signature: &[u8],
    parts: &[Part],
    at: DateTime<Utc>,
) -> Result<FileDigest, EvidenceError> {
    let result = write_all(out, manifest, signature, parts, at);
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result
}

fn write_all(
    out: &Path,
    manifest: &[u8],
    signature: &[u8],
    parts: &[Part],
    at: DateTime<Utc>,
) -> Result<FileDigest, EvidenceError> {
    let file = File::create(out).map_err(|e| io_error(format!("creating {}", out.display()), e))?;
    let mut zip = ZipWriter::new(BufWriter::new(file));
    let stamp = zip::DateTime::from_date_and_time(
        u16::try_from(at.year()).unwrap_or(1980),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )
    .unwrap_or_default();
    let zip_err = |e: zip::result::ZipError| EvidenceError::Zip(format!("{}: {e}", out.display()));
    let mut put = |name: &str, reader: &mut dyn Read, bytes: u64| {
        let stored = name.ends_with(".mp4") || name.ends_with(".jpg");
        let options = SimpleFileOptions::default()
            .compression_method(if stored {
                CompressionMethod::Stored
            } else {
                CompressionMethod::Deflated
            })
            .last_modified_time(stamp)
            .unix_permissions(0o644)
            .large_file(bytes >= u64::from(u32::MAX));
        zip.start_file(name, options).map_err(zip_err)?;
        std::io::copy(reader, &mut zip)
            .map_err(|e| io_error(format!("writing {name} into {}", out.display()), e))?;
        Ok::<(), EvidenceError>(())
    };
    put(MANIFEST, &mut &manifest[..], manifest.len() as u64)?;
    put(SIGNATURE, &mut &signature[..], signature.len() as u64)?;
    for part in parts {
        match &part.content {
            Content::Bytes(b) => put(&part.name, &mut &b[..], b.len() as u64)?,
            Content::File(path) => {
                let f = File::open(path)
                    .map_err(|e| io_error(format!("reading {}", path.display()), e))?;
                let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                put(&part.name, &mut BufReader::new(f), len)?;
            }
        }
    }
    let mut inner = zip.finish().map_err(zip_err)?;
    inner
        .flush()
        .map_err(|e| io_error(format!("writing {}", out.display()), e))?;
    let file = inner
        .into_inner()
        .map_err(|e| io_error(format!("writing {}", out.display()), e.into_error()))?;
    file.sync_all()
        .map_err(|e| io_error(format!("writing {}", out.display()), e))?;
    let (bytes, sha256) = crate::digest::sha256_file(out)
        .map_err(|e| io_error(format!("reading {}", out.display()), e))?;
    Ok(FileDigest { bytes, sha256 })
}

/// Reads the package at `path`: every file's size and SHA-256 (a damaged one says why), and
/// the manifest and signature bytes. A file that is not a ZIP, one cut short, or a ZIP
/// without `manifest.json` is an error.
pub fn read_package(path: &Path) -> Result<Contents, EvidenceError> {
    let mut file =
        File::open(path).map_err(|e| io_error(format!("opening {}", path.display()), e))?;
    let mut magic = [0u8; 4];
    let starts_like_a_zip = file.read_exact(&mut magic).is_ok() && magic == *b"PK\x03\x04";
    file.seek(SeekFrom::Start(0))
        .map_err(|e| io_error(format!("reading {}", path.display()), e))?;
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
        let (path, reason) = (path.to_path_buf(), e.to_string());
        if starts_like_a_zip {
            EvidenceError::CutShort { path, reason }
        } else {
            EvidenceError::NotAZip { path, reason }
        }
    })?;
    let mut contents = Contents::default();
    for i in 0..zip.len() {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                contents.found.push(Found {
                    name: format!("(file #{})", i + 1),
                    content: Err(e.to_string()),
                });
                continue;
            }
        };
        let name = match entry.name() {
            Ok(n) => n.into_owned(),
            Err(_) => String::from_utf8_lossy(entry.name_raw()).into_owned(),
        };
        let keep = name == MANIFEST || name == SIGNATURE;
        let content = digest_entry(&mut entry, keep);
        let content = content.map(|(digest, bytes)| {
            if name == MANIFEST {
                contents.manifest = bytes;
            } else if name == SIGNATURE {
                contents.signature = bytes;
            }
            digest
        });
        contents.found.push(Found { name, content });
    }
    let has_manifest = contents.found.iter().any(|f| f.name == MANIFEST);
    if !has_manifest {
        return Err(EvidenceError::NotAPackage {
            path: path.to_path_buf(),
            reason: format!(
                "a ZIP of {} file(s) without {MANIFEST}",
                contents.found.len()
            ),
        });
    }
    Ok(contents)
}

/// Size and SHA-256 of one entry, read to its end (which checks its CRC), and its bytes when
/// `keep` (up to [`SMALL_LIMIT`]).
fn digest_entry(
    entry: &mut impl Read,
    keep: bool,
) -> Result<(FileDigest, Option<Vec<u8>>), String> {
    let mut hasher = Sha256::new();
    let mut kept = keep.then(Vec::new);
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = entry.read(&mut buf).map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
        if let Some(k) = kept.as_mut() {
            if total > SMALL_LIMIT {
                return Err(format!("larger than {SMALL_LIMIT} bytes"));
            }
            k.extend_from_slice(&buf[..n]);
        }
    }
    let digest = FileDigest {
        bytes: total,
        sha256: hex(&hasher.finalize()),
    };
    Ok((digest, kept))
}
