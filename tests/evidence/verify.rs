//! `matthan evidence verify` on a package, and on the package with one byte of the clip or of
//! the manifest changed, signed by another key, cut short, or no package at all.

use crate::fixture::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_the_file_that_was_changed() {
    let e = exported("tamper").await;
    let (db, dir, zip, files) = (&e.db, &e.dir, &e.zip, &e.files);
    let cfg = config(dir);
    let package = dir.join("package.zip");
    std::fs::write(&package, zip).unwrap();
    let (code, stdout, stderr) = verify(db, &cfg, &package, &[]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("OK: ") && stdout.contains("signed by this station's key"),
        "{stdout}"
    );

    // One byte of the clip changed, repacked: the clip is named.
    let changed = dir.join("changed.zip");
    let mut copy = files.clone();
    copy[7].1[1000] ^= 1;
    rezip(&copy, &changed);
    let (code, stdout, _) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("clip.mp4: SHA-256 differs from the manifest"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 1, "{stdout}");

    // One byte of the clip changed inside the ZIP itself: its checksum names it.
    let mut raw = zip.clone();
    let needle = &file(files, "clip.mp4")[2000..2032];
    let at = raw.windows(needle.len()).position(|w| w == needle).unwrap();
    raw[at + 5] ^= 1;
    std::fs::write(&changed, &raw).unwrap();
    let (code, stdout, _) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("clip.mp4: cannot be read from the package"),
        "{stdout}"
    );

    // One byte of the manifest changed (in the reason): the signature no longer verifies.
    let mut copy = files.clone();
    let at = String::from_utf8_lossy(&copy[0].1).find("case 17").unwrap();
    copy[0].1[at] ^= 1;
    rezip(&copy, &changed);
    let (code, stdout, _) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with("manifest.json: the signature in manifest.sig does not verify"),
        "{stdout}"
    );

    // Signed by another key: said so, naming both keys; with that key given, it verifies.
    let other = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
    let other_hex: String = other
        .verifying_key()
        .as_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut m: matthan::evidence::Manifest = serde_json::from_slice(&files[0].1).unwrap();
    m.station_key = other_hex.clone();
    let mut copy = files.clone();
    copy[0].1 = m.to_bytes();
    copy[1].1 = matthan::evidence::check::sign_manifest(&other, &copy[0].1);
    rezip(&copy, &changed);
    let (code, stdout, _) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 1, "{stdout}");
    let fp = matthan::evidence::fingerprint(other.verifying_key().as_bytes());
    assert!(
        stdout.starts_with(&format!(
            "manifest.sig: signed by key {fp}, not by this station's key"
        )),
        "{stdout}"
    );
    let (code, stdout, _) = verify(db, &cfg, &changed, &["--key", &other_hex]);
    assert_eq!(code, 0, "{stdout}");

    // Files that are no package: a clear error, exit 2.
    std::fs::write(&changed, b"hello, not a zip").unwrap();
    let (code, _, stderr) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a ZIP archive"), "{stderr}");
    std::fs::write(&changed, &zip[..zip.len() / 2]).unwrap();
    let (code, _, stderr) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is a ZIP archive cut short"), "{stderr}");
    rezip(&files[2..4], &changed);
    let (code, _, stderr) = verify(db, &cfg, &changed, &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not an evidence package"), "{stderr}");

    e.clean_up().await;
}
