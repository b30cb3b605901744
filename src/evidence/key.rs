//! The station's Ed25519 signing key: one file under the state directory
//! (`keys/evidence.ed25519`, 64 hex digits of the secret seed, mode 0600), made on first use,
//! atomically, and never overwritten. A file that is not a key is an error, never replaced.
//! Also public keys given on the command line (hex, or a file holding it).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::{SigningKey, VerifyingKey};

use super::check::sign_manifest;
use super::manifest::{fingerprint, hex, unhex};
use super::EvidenceError;

/// Where the station key of `state_dir` lives.
pub fn key_path(state_dir: &Path) -> PathBuf {
    state_dir.join("keys").join("evidence.ed25519")
}

/// The station's signing key.
pub struct StationKey {
    signing: SigningKey,
    path: PathBuf,
}

impl std::fmt::Debug for StationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StationKey")
            .field("public", &self.public_hex())
            .field("path", &self.path)
            .finish()
    }
}

impl StationKey {
    /// The key at `path`, made there first if there is none.
    pub fn load_or_create(path: &Path) -> Result<StationKey, EvidenceError> {
        if let Some(key) = StationKey::load(path)? {
            return Ok(key);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| EvidenceError::Random(e.to_string()))?;
        let io = |what: &str, source| EvidenceError::Io {
            what: format!("{what} {}", path.display()),
            source,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(|e| io("making the folder of", e))?;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
        // Written whole under a temporary name, then linked into place: a reader never sees
        // half a key, and of two processes making one at once, the first link wins.
        let tmp = dir.join(format!(
            ".evidence.ed25519.{}.{}",
            std::process::id(),
            hex(&seed[..4])
        ));
        let written = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(format!("{}\n", hex(&seed)).as_bytes())?;
            f.sync_all()
        })();
        let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
        let _ = std::fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                tracing::info!("made the station's evidence key {}", path.display());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("writing the station key", e)),
        }
        StationKey::load(path)?.ok_or_else(|| EvidenceError::BadKey {
            path: path.to_path_buf(),
            reason: "vanished right after it was made".into(),
        })
    }

    /// The key at `path`; `None` if there is no file.
    pub fn load(path: &Path) -> Result<Option<StationKey>, EvidenceError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(EvidenceError::BadKey {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        let seed = unhex::<32>(&text).ok_or_else(|| EvidenceError::BadKey {
            path: path.to_path_buf(),
            reason: "not a station key (64 hex digits); it is left as it is".into(),
        })?;
        Ok(Some(StationKey {
            signing: SigningKey::from_bytes(&seed),
            path: path.to_path_buf(),
        }))
    }

    /// The file it is kept in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public key.
    pub fn public(&self) -> VerifyingKey {
        self.signing.verifying_key()
    }

    /// The public key in hex.
    pub fn public_hex(&self) -> String {
        hex(self.public().as_bytes())
    }

    /// The public key's fingerprint.
    pub fn fingerprint(&self) -> String {
        fingerprint(self.public().as_bytes())
    }

    /// `manifest.sig` for the bytes of `manifest.json`.
    pub fn sign(&self, manifest: &[u8]) -> Vec<u8> {
        sign_manifest(&self.signing, manifest)
    }
}

/// A public key given as 64 hex digits, or as a file whose first word is (what `matthan
/// evidence key` prints).
pub fn parse_public_key(given: &str) -> Result<VerifyingKey, EvidenceError> {
    let bad = |reason: String| EvidenceError::BadKey {
        path: PathBuf::from(given),
        reason,
    };
    let text = match unhex::<32>(given) {
        Some(_) => given.to_string(),
        None => std::fs::read_to_string(given)
            .map_err(|e| bad(format!("neither 64 hex digits nor a readable file ({e})")))?,
    };
    let word = text.split_whitespace().next().unwrap_or("");
    let bytes = unhex::<32>(word)
        .ok_or_else(|| bad("does not start with a public key (64 hex digits)".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| bad(format!("not an Ed25519 public key ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("matthan-key-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn a_key_is_made_once_private_and_then_kept() {
        let d = dir("made");
        let path = key_path(&d);
        assert!(StationKey::load(&path).unwrap().is_none());
        let a = StationKey::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = StationKey::load_or_create(&path).unwrap();
        assert_eq!(a.public(), b.public());
        assert_eq!(a.sign(b"m"), b.sign(b"m"));
        // Only the key is in the folder: no temporary file is left.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_corrupt_key_is_an_error_and_stays() {
        let d = dir("corrupt");
        let path = key_path(&d);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        let e = StationKey::load_or_create(&path).unwrap_err().to_string();
        assert!(e.contains("not a station key"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a key\n");
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn public_keys_come_as_hex_or_in_a_file() {
        let d = dir("public");
        let key = StationKey::load_or_create(&key_path(&d)).unwrap();
        let hex = key.public_hex();
        assert_eq!(parse_public_key(&hex).unwrap(), key.public());
        let file = d.join("station.pub");
        std::fs::write(&file, format!("{hex}\nfingerprint {}\n", key.fingerprint())).unwrap();
        assert_eq!(
            parse_public_key(file.to_str().unwrap()).unwrap(),
            key.public()
        );
        assert!(parse_public_key("abcd").is_err());
        std::fs::write(&file, "hello\n").unwrap();
        assert!(parse_public_key(file.to_str().unwrap()).is_err());
        std::fs::remove_dir_all(&d).ok();
    }
}
