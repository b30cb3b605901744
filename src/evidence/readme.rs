//! PURE. The `README.txt` of a package: what each file is and how to check it, with or
//! without matthan.

use super::manifest::{Absent, MANIFEST, SIGNATURE};

/// The README of the package of passage `passage_id`, signed by the key `key_hex`.
pub fn text(passage_id: i64, key_hex: &str, fingerprint: &str, absent: &[Absent]) -> String {
    let mut t = format!(
        "Evidence package of passage {passage_id}, made by a matthan station.

Files
  {MANIFEST}    every other file's name, size and SHA-256; who exported the package,
                   when and why; what is absent and why; the recording the clip was cut from
  {SIGNATURE}     Ed25519 signature of the exact bytes of {MANIFEST}, in hex
  passage.json     the passage as logged, with every plate candidate
  camera.json      the camera as configured, and its junction
  audit.json       the audit log's rows about this passage, this export's included
  snapshot.jpg     the best frame, as saved when the passage was logged
  clip.mp4         the recording from 5 s before the vehicle was first seen to 5 s after it
                   was last seen, cut from the recorded segments by remuxing (never
                   re-encoded): it starts on the keyframe at or before that time
  README.txt       this file

Signed by the station key
  {key_hex}
  fingerprint {fingerprint}

To check it
  matthan evidence verify THIS.zip [--key PUBLIC_KEY]
checks every file against the manifest and the manifest's signature, and says which file
differs. Without matthan: compare `sha256sum` of each file with {MANIFEST}, and verify
{SIGNATURE} (hex) over {MANIFEST} with the Ed25519 public key in its station_key field;
compare that key with the station's published key (`matthan evidence key` on the station).
"
    );
    if !absent.is_empty() {
        t.push_str("\nAbsent from this package\n");
        for a in absent {
            t.push_str(&format!("  {}: {}\n", a.name, a.why));
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_names_the_key_and_what_is_absent() {
        let absent = [Absent {
            name: "snapshot.jpg".into(),
            why: "no snapshot was saved".into(),
        }];
        let t = text(7, "ab12", "aaaa:bbbb:cccc:dddd", &absent);
        assert!(t.starts_with("Evidence package of passage 7"));
        assert!(t.contains("  ab12\n  fingerprint aaaa:bbbb:cccc:dddd\n"));
        assert!(t.ends_with("  snapshot.jpg: no snapshot was saved\n"));
        assert!(!text(7, "ab12", "f", &[]).contains("Absent"));
    }
}
