//! PURE. The manifest of an evidence package: what it holds (each file's name, size and
//! SHA-256), what it lacks and why, who exported it and why, which station key signs it; its
//! exact bytes (what `manifest.sig` signs); hex and key fingerprints.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The `format` of manifests this build writes and reads.
pub const FORMAT: &str = "matthan-evidence/1";

/// Name of the manifest inside the package.
pub const MANIFEST: &str = "manifest.json";

/// Name of the manifest's signature inside the package (hex, one line).
pub const SIGNATURE: &str = "manifest.sig";

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// When the package was made.
    pub created_at: DateTime<Utc>,
    /// The signing station's Ed25519 public key, lowercase hex.
    pub station_key: String,
    /// The passage the package is about.
    pub passage_id: i64,
    /// Who exported it (a user name, or the system user of the command line).
    pub exported_by: String,
    /// Why (the reason given, as in the audit log).
    pub reason: String,
    /// Every file of the package but the manifest and its signature, in package order.
    pub files: Vec<ManifestFile>,
    /// Files a package can hold that this one does not, and why.
    #[serde(default)]
    pub absent: Vec<Absent>,
    /// Where `clip.mp4` comes from, when there is one.
    #[serde(default)]
    pub clip: Option<ClipSource>,
}

/// One file of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Name inside the package.
    pub name: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

/// A file the package lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absent {
    /// The name it would have had.
    pub name: String,
    /// Why it is not there.
    pub why: String,
}

/// The recording `clip.mp4` was cut from (remuxed, never re-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipSource {
    /// The window asked for: from 5 s before the vehicle was first seen ...
    pub window_from: DateTime<Utc>,
    /// ... to 5 s after it was last seen (at most an hour).
    pub window_to: DateTime<Utc>,
    /// Wall-clock time of the clip's first frame (a keyframe at or before `window_from`).
    pub started_at: DateTime<Utc>,
    /// Wall-clock time where its last frame ends.
    pub ended_at: DateTime<Utc>,
    /// The recorded segments it was cut from, with the SHA-256 logged when each was closed.
    pub segments: Vec<SegmentRecord>,
}

/// A recorded segment as the log holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRecord {
    /// Segment start.
    pub started_at: DateTime<Utc>,
    /// Segment end.
    pub ended_at: DateTime<Utc>,
    /// SHA-256 of the segment file, logged when it closed.
    pub sha256: String,
}

/// Size and SHA-256 of a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, lowercase hex.
    pub sha256: String,
}

impl FileDigest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> FileDigest {
        FileDigest {
            bytes: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        }
    }
}

impl Manifest {
    /// The bytes written as `manifest.json` (and signed): pretty JSON with a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings, numbers and times always serializes.
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Parses `manifest.json`; the error says why it is not one.
    pub fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!(
                "format `{}` is not one this build reads ({FORMAT})",
                m.format
            ));
        }
        Ok(m)
    }

    /// The entry of file `name`.
    pub fn file(&self, name: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.name == name)
    }
}

/// SHA-256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of hex text (either case, surrounding whitespace ignored); `None` if it is not
/// exactly `N` bytes of hex.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let text = text.trim().as_bytes();
    if text.len() != 2 * N || !text.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        let s = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// A short, readable fingerprint of a public key: the first 8 bytes of its SHA-256 as four
/// groups of hex, `3f2a:91bc:07de:4410`.
pub fn fingerprint(public_key: &[u8; 32]) -> String {
    let h = sha256_hex(public_key);
    h.as_bytes()[..16]
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            created_at: "2026-11-29T01:00:00Z".parse().unwrap(),
            station_key: "ab".repeat(32),
            passage_id: 7,
            exported_by: "alice".into(),
            reason: "case 12/2026".into(),
            files: vec![ManifestFile {
                name: "passage.json".into(),
                bytes: 3,
                sha256: sha256_hex(b"abc"),
            }],
            absent: vec![Absent {
                name: "snapshot.jpg".into(),
                why: "no snapshot was saved".into(),
            }],
            clip: None,
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let m = sample();
        let bytes = m.to_bytes();
        assert!(bytes.ends_with(b"}\n"));
        assert_eq!(Manifest::parse(&bytes).unwrap(), m);
        assert_eq!(m.to_bytes(), bytes, "the same manifest, the same bytes");
        assert_eq!(m.file("passage.json").unwrap().bytes, 3);
        assert!(m.file("clip.mp4").is_none());
    }

    #[test]
    fn other_formats_and_other_json_are_refused() {
        let mut m = sample();
        m.format = "matthan-evidence/9".into();
        let e = Manifest::parse(&m.to_bytes()).unwrap_err();
        assert!(e.contains("matthan-evidence/9"), "{e}");
        assert!(Manifest::parse(b"{\"files\": []}").is_err());
        assert!(Manifest::parse(b"\xff\xfe").is_err());
    }

    #[test]
    fn hex_round_trips_and_refuses_what_is_not_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let bytes: [u8; 3] = [0x00, 0xab, 0xff];
        assert_eq!(hex(&bytes), "00abff");
        assert_eq!(unhex::<3>(" 00ABff\n"), Some(bytes));
        assert_eq!(unhex::<3>("00abf"), None);
        assert_eq!(unhex::<3>("00abfg"), None);
        assert_eq!(unhex::<3>("+0abff"), None);
        assert_eq!(unhex::<3>("é0abf"), None);
    }

    #[test]
    fn fingerprints_are_short_and_differ_between_keys() {
        let a = fingerprint(&[1; 32]);
        assert_eq!(a.len(), 19);
        assert_eq!(a.matches(':').count(), 3);
        assert_ne!(a, fingerprint(&[2; 32]));
        assert_eq!(a, fingerprint(&[1; 32]));
    }
}
