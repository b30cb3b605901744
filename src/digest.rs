//! SHA-256 of files: pinned models are checked with it, and every clip segment carries it as
//! evidence that the recording was not altered. Reads in 64 KiB blocks; no other I/O.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Size in bytes and SHA-256 (lowercase hex) of the file at `path`.
pub fn sha256_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        total += n as u64;
        hasher.update(&buf[..n]);
    }
    let hex = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((total, hex))
}

#[cfg(test)]
mod tests {
    #[test]
    fn hashes_a_known_file() {
        let path = std::env::temp_dir().join(format!("matthan-digest-{}", std::process::id()));
        std::fs::write(&path, b"abc").unwrap();
        let (n, hex) = super::sha256_file(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(n, 3);
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
