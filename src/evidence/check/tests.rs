//! Packages made of plain bytes in memory, signed with fixed keys, changed one byte at a time.

use super::*;
use crate::evidence::manifest::{FileDigest, ManifestFile, FORMAT};

const FILES: [(&str, &[u8]); 3] = [
    ("passage.json", b"{\"id\": 7}\n"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypisom not really a video"),
    ("README.txt", b"how to verify\n"),
];

fn station() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn other() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

fn expecting(key: &SigningKey) -> ExpectedKey {
    ExpectedKey {
        key: key.verifying_key(),
        whose: "this station's".into(),
    }
}

/// A package of `files` as its builder makes it: manifest listing them, signed by `key`.
fn package(files: &[(&str, &[u8])], key: &SigningKey) -> (Manifest, Vec<(String, Vec<u8>)>) {
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: "2026-11-29T01:00:00Z".parse().unwrap(),
        station_key: hex(key.verifying_key().as_bytes()),
        passage_id: 7,
        exported_by: "alice".into(),
        reason: "case 12/2026".into(),
        files: files
            .iter()
            .map(|(name, bytes)| {
                let d = FileDigest::of(bytes);
                ManifestFile {
                    name: name.to_string(),
                    bytes: d.bytes,
                    sha256: d.sha256,
                }
            })
            .collect(),
        absent: vec![],
        clip: None,
    };
    let bytes = manifest.to_bytes();
    let mut all = vec![
        (MANIFEST.to_string(), bytes.clone()),
        (SIGNATURE.to_string(), sign_manifest(key, &bytes)),
    ];
    all.extend(files.iter().map(|(n, b)| (n.to_string(), b.to_vec())));
    (manifest, all)
}

/// What a reader would find in `files`.
fn contents(files: &[(String, Vec<u8>)]) -> Contents {
    let get = |name: &str| files.iter().find(|f| f.0 == name).map(|f| f.1.clone());
    Contents {
        found: files
            .iter()
            .map(|(name, bytes)| Found {
                name: name.clone(),
                content: Ok(FileDigest::of(bytes)),
            })
            .collect(),
        manifest: get(MANIFEST),
        signature: get(SIGNATURE),
    }
}

fn flip_one_byte(files: &mut [(String, Vec<u8>)], name: &str, at: usize) {
    let f = files.iter_mut().find(|f| f.0 == name).unwrap();
    f.1[at] ^= 0x01;
}

/// The one difference of `v`, which must be about `file` and of kind `problem`.
fn only(v: &Verdict, file: &str, problem: Problem) -> String {
    assert_eq!(v.differences.len(), 1, "{:#?}", v.differences);
    let d = &v.differences[0];
    assert_eq!((d.file.as_str(), d.problem), (file, problem), "{d}");
    d.to_string()
}

#[test]
fn an_untouched_package_verifies() {
    let (manifest, files) = package(&FILES, &station());
    let v = verify(&contents(&files), Some(&expecting(&station())));
    assert!(v.ok(), "{:#?}", v.differences);
    assert_eq!(v.files_matching, 3);
    assert!(v.key_compared);
    assert_eq!(v.manifest, Some(manifest));
    let v = verify(&contents(&files), None);
    assert!(v.ok() && !v.key_compared);
}

#[test]
fn one_byte_of_a_file_changed_names_the_file() {
    let (_, mut files) = package(&FILES, &station());
    flip_one_byte(&mut files, "clip.mp4", 10);
    let v = verify(&contents(&files), Some(&expecting(&station())));
    let line = only(&v, "clip.mp4", Problem::Differs);
    assert!(
        line.starts_with("clip.mp4: SHA-256 differs from the manifest"),
        "{line}"
    );
    assert_eq!(v.files_matching, 2);
}

#[test]
fn one_byte_of_the_manifest_changed_names_the_manifest() {
    let (_, mut files) = package(&FILES, &station());
    // Inside the reason: the manifest still parses, only the signature can tell.
    let at = String::from_utf8_lossy(&files[0].1)
        .find("case 12")
        .unwrap();
    flip_one_byte(&mut files, MANIFEST, at);
    let v = verify(&contents(&files), Some(&expecting(&station())));
    let line = only(&v, MANIFEST, Problem::BadSignature);
    assert!(line.contains("does not verify"), "{line}");
    // Or in its syntax: it no longer parses, and the station's key still shows the change.
    let (_, mut files) = package(&FILES, &station());
    flip_one_byte(&mut files, MANIFEST, 0);
    let v = verify(&contents(&files), Some(&expecting(&station())));
    assert!(v.differences.iter().all(|d| d.file == MANIFEST), "{v:?}");
    let problems: Vec<Problem> = v.differences.iter().map(|d| d.problem).collect();
    assert_eq!(problems, [Problem::Malformed, Problem::BadSignature]);
}

#[test]
fn a_changed_signature_or_none_is_named() {
    let (_, mut files) = package(&FILES, &station());
    flip_one_byte(&mut files, SIGNATURE, 5);
    let v = verify(&contents(&files), Some(&expecting(&station())));
    only(&v, MANIFEST, Problem::BadSignature);
    let (_, mut files) = package(&FILES, &station());
    files[1].1 = b"not hex\n".to_vec();
    only(
        &verify(&contents(&files), None),
        SIGNATURE,
        Problem::Malformed,
    );
    files.remove(1);
    only(
        &verify(&contents(&files), None),
        SIGNATURE,
        Problem::Missing,
    );
}

#[test]
fn a_package_signed_by_another_key_says_whose() {
    let (_, files) = package(&FILES, &other());
    let v = verify(&contents(&files), Some(&expecting(&station())));
    let line = only(&v, SIGNATURE, Problem::WrongKey);
    let theirs = fingerprint(other().verifying_key().as_bytes());
    let ours = fingerprint(station().verifying_key().as_bytes());
    assert_eq!(
        line,
        format!("manifest.sig: signed by key {theirs}, not by this station's key {ours}")
    );
    // Without an expected key it is intact, but nothing says whose it is.
    let v = verify(&contents(&files), None);
    assert!(v.ok() && !v.key_compared);
}

#[test]
fn a_key_swapped_in_the_manifest_breaks_the_signature() {
    // Someone rewrites the manifest to name the station's key over another key's signature.
    let (mut manifest, mut files) = package(&FILES, &other());
    manifest.station_key = hex(station().verifying_key().as_bytes());
    files[0].1 = manifest.to_bytes();
    let v = verify(&contents(&files), Some(&expecting(&station())));
    only(&v, MANIFEST, Problem::BadSignature);
}

#[test]
fn missing_extra_duplicate_and_unreadable_files_are_named() {
    let (_, mut files) = package(&FILES, &station());
    files.retain(|f| f.0 != "README.txt");
    files.push(("notes.txt".into(), b"added later".to_vec()));
    let v = verify(&contents(&files), Some(&expecting(&station())));
    let lines: Vec<String> = v.differences.iter().map(|d| d.to_string()).collect();
    assert_eq!(
        lines,
        [
            "README.txt: listed in the manifest but missing from the package",
            "notes.txt: in the package but not in the manifest",
        ]
    );

    let (_, mut files) = package(&FILES, &station());
    files.push(files[3].clone());
    only(
        &verify(&contents(&files), None),
        "clip.mp4",
        Problem::Duplicate,
    );

    let (_, files) = package(&FILES, &station());
    let mut c = contents(&files);
    c.found[3].content = Err("invalid checksum".into());
    let line = only(&verify(&c, None), "clip.mp4", Problem::Unreadable);
    assert!(line.ends_with("invalid checksum"), "{line}");
}

#[test]
fn a_package_without_a_readable_manifest_says_so() {
    let (_, files) = package(&FILES, &station());
    let mut c = contents(&files);
    c.manifest = None;
    c.found.remove(0);
    let v = verify(&c, None);
    assert_eq!(v.differences[0].file, MANIFEST);
    assert_eq!(v.differences[0].problem, Problem::Missing);
    assert_eq!(v.files_matching, 0);

    let mut c = contents(&files);
    c.manifest = None;
    c.found[0].content = Err("invalid checksum".into());
    let v = verify(&c, Some(&expecting(&station())));
    assert_eq!(v.differences[0].problem, Problem::Unreadable);
}

#[test]
fn a_manifest_naming_no_valid_key_is_malformed() {
    let (mut manifest, mut files) = package(&FILES, &station());
    manifest.station_key = "zz".repeat(32);
    files[0].1 = manifest.to_bytes();
    let v = verify(&contents(&files), None);
    let line = only(&v, MANIFEST, Problem::Malformed);
    assert!(line.contains("station_key"), "{line}");
}
