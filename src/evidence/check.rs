//! PURE. Signing a manifest, and checking a package against its manifest and signature: every
//! difference found, each naming the file it is about (a file whose SHA-256 or size differs,
//! one listed but missing, one not listed, one that cannot be read; a manifest whose signature
//! does not verify, or that another key signed).

use std::collections::HashSet;
use std::fmt;

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::manifest::{fingerprint, hex, unhex, FileDigest, Manifest, MANIFEST, SIGNATURE};

/// A file as found in a package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its name in the package.
    pub name: String,
    /// Its size and SHA-256, or why it could not be read.
    pub content: Result<FileDigest, String>,
}

/// What a package holds, read back.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// Every file, in package order (the manifest and its signature too).
    pub found: Vec<Found>,
    /// The bytes of `manifest.json`, when it could be read.
    pub manifest: Option<Vec<u8>>,
    /// The bytes of `manifest.sig`, when it could be read.
    pub signature: Option<Vec<u8>>,
}

/// The key a package is expected to be signed with.
#[derive(Debug, Clone)]
pub struct ExpectedKey {
    /// The public key.
    pub key: VerifyingKey,
    /// Whose it is, for the message: `this station's`, `the given`.
    pub whose: String,
}

/// What kind of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// The file's SHA-256 (or size) is not the manifest's.
    Differs,
    /// Listed in the manifest, not in the package.
    Missing,
    /// In the package, not in the manifest.
    NotListed,
    /// In the package twice.
    Duplicate,
    /// Could not be read out of the package (damaged).
    Unreadable,
    /// `manifest.json` is not a manifest, or `manifest.sig` not a signature.
    Malformed,
    /// The signature does not verify.
    BadSignature,
    /// The signature verifies, but with another key than the one expected.
    WrongKey,
}

/// One difference, about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The file it is about.
    pub file: String,
    /// What kind.
    pub problem: Problem,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.detail)
    }
}

/// The outcome of a check.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The manifest, when it parsed.
    pub manifest: Option<Manifest>,
    /// Whether the signer was compared with an expected key (else only the package's own key
    /// was used, which proves integrity, not origin).
    pub key_compared: bool,
    /// Listed files that match the manifest.
    pub files_matching: usize,
    /// Every difference found; empty when the package is intact.
    pub differences: Vec<Difference>,
}

impl Verdict {
    /// Whether nothing differs.
    pub fn ok(&self) -> bool {
        self.differences.is_empty()
    }
}

/// `manifest.sig` for `manifest` (the exact bytes of `manifest.json`): the Ed25519 signature
/// in hex, one line.
pub fn sign_manifest(key: &SigningKey, manifest: &[u8]) -> Vec<u8> {
    let mut text = hex(&key.sign(manifest).to_bytes()).into_bytes();
    text.push(b'\n');
    text
}

/// Checks `contents` against its manifest and signature, and the signer against `expected`.
pub fn verify(contents: &Contents, expected: Option<&ExpectedKey>) -> Verdict {
    let mut out = Vec::new();
    let diff = |out: &mut Vec<Difference>, file: &str, problem, detail: String| {
        out.push(Difference {
            file: file.to_string(),
            problem,
            detail,
        })
    };
    let mut seen = HashSet::new();
    for f in &contents.found {
        if !seen.insert(f.name.as_str()) {
            let detail = "is in the package more than once".to_string();
            if !out.iter().any(|d: &Difference| d.file == f.name) {
                diff(&mut out, &f.name, Problem::Duplicate, detail);
            }
        }
    }
    let unreadable = |name: &str| {
        contents
            .found
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.content.as_ref().err())
    };
    let manifest = match &contents.manifest {
        None => {
            let detail = match unreadable(MANIFEST) {
                Some(e) => format!("cannot be read from the package: {e}"),
                None => "missing: the package has no manifest".to_string(),
            };
            let problem = if unreadable(MANIFEST).is_some() {
                Problem::Unreadable
            } else {
                Problem::Missing
            };
            diff(&mut out, MANIFEST, problem, detail);
            None
        }
        Some(bytes) => match Manifest::parse(bytes) {
            Ok(m) => Some(m),
            Err(e) => {
                diff(
                    &mut out,
                    MANIFEST,
                    Problem::Malformed,
                    format!("not a manifest: {e}"),
                );
                None
            }
        },
    };
    let claimed = manifest.as_ref().and_then(|m| {
        let key = unhex::<32>(&m.station_key).and_then(|b| VerifyingKey::from_bytes(&b).ok());
        if key.is_none() {
            let detail = "station_key is not an Ed25519 public key in hex".to_string();
            diff(&mut out, MANIFEST, Problem::Malformed, detail);
        }
        key
    });
    check_signature(contents, claimed.as_ref(), expected, &mut out);
    let files_matching = manifest
        .as_ref()
        .map_or(0, |m| check_files(contents, m, &mut out));
    Verdict {
        manifest,
        key_compared: expected.is_some(),
        files_matching,
        differences: out,
    }
}

/// The signature of the manifest, by the key it names (or the expected one, when it names
/// none), and that key against the expected one.
fn check_signature(
    contents: &Contents,
    claimed: Option<&VerifyingKey>,
    expected: Option<&ExpectedKey>,
    out: &mut Vec<Difference>,
) {
    let mut push = |file: &str, problem, detail: String| {
        out.push(Difference {
            file: file.to_string(),
            problem,
            detail,
        })
    };
    if let (Some(c), Some(e)) = (claimed, expected) {
        if c != &e.key {
            push(
                SIGNATURE,
                Problem::WrongKey,
                format!(
                    "signed by key {}, not by {} key {}",
                    fingerprint(c.as_bytes()),
                    e.whose,
                    fingerprint(e.key.as_bytes())
                ),
            );
        }
    }
    let Some(sig_text) = &contents.signature else {
        let detail = match contents.found.iter().find(|f| f.name == SIGNATURE) {
            Some(Found {
                content: Err(e), ..
            }) => format!("cannot be read from the package: {e}"),
            _ => "missing: the manifest is not signed".to_string(),
        };
        return push(SIGNATURE, Problem::Missing, detail);
    };
    let Some(signature) = std::str::from_utf8(sig_text)
        .ok()
        .and_then(unhex::<64>)
        .map(|b| Signature::from_bytes(&b))
    else {
        let detail = "not an Ed25519 signature in hex".to_string();
        return push(SIGNATURE, Problem::Malformed, detail);
    };
    let (Some(key), Some(manifest)) = (claimed.or(expected.map(|e| &e.key)), &contents.manifest)
    else {
        return; // the manifest's own difference says why
    };
    if key.verify_strict(manifest, &signature).is_err() {
        push(
            MANIFEST,
            Problem::BadSignature,
            format!(
                "the signature in {SIGNATURE} does not verify with key {}: {MANIFEST} or \
                 {SIGNATURE} was changed after signing",
                fingerprint(key.as_bytes())
            ),
        );
    }
}

/// Each listed file against the package, and the package's files against the list; returns
/// how many listed files match.
fn check_files(contents: &Contents, m: &Manifest, out: &mut Vec<Difference>) -> usize {
    let mut matching = 0;
    for listed in &m.files {
        let found = contents.found.iter().find(|f| f.name == listed.name);
        let (problem, detail) = match found.map(|f| &f.content) {
            None => (
                Problem::Missing,
                "listed in the manifest but missing from the package".to_string(),
            ),
            Some(Err(e)) => (
                Problem::Unreadable,
                format!("cannot be read from the package: {e}"),
            ),
            Some(Ok(d)) if !d.sha256.eq_ignore_ascii_case(&listed.sha256) => (
                Problem::Differs,
                format!(
                    "SHA-256 differs from the manifest ({} in the package, {} listed{})",
                    d.sha256,
                    listed.sha256,
                    if d.bytes == listed.bytes {
                        String::new()
                    } else {
                        format!("; {} bytes, {} listed", d.bytes, listed.bytes)
                    }
                ),
            ),
            Some(Ok(d)) if d.bytes != listed.bytes => (
                Problem::Differs,
                format!(
                    "size differs from the manifest ({} bytes, {} listed)",
                    d.bytes, listed.bytes
                ),
            ),
            Some(Ok(_)) => {
                matching += 1;
                continue;
            }
        };
        out.push(Difference {
            file: listed.name.clone(),
            problem,
            detail,
        });
    }
    for f in &contents.found {
        let special = f.name == MANIFEST || f.name == SIGNATURE;
        if !special && m.file(&f.name).is_none() && !out.iter().any(|d| d.file == f.name) {
            out.push(Difference {
                file: f.name.clone(),
                problem: Problem::NotListed,
                detail: "in the package but not in the manifest".to_string(),
            });
        }
    }
    matching
}

#[cfg(test)]
mod tests;
