//! What decides the recognizer's reads, written out as text: the SHA-256 of every pinned file
//! (from the lock embedded in the binary, which [`super::Recognizer::load`] checks the model
//! folder against), the SHA-256 of a text recogniser named outside the lock, and every choice
//! and threshold of the settings. Where the files lie and how many threads run them are left
//! out: they do not change a read. Two recognizers with the same fingerprint read a frame the
//! same way; `matthan reread` names its runs by it.

use std::path::PathBuf;

use super::runtime::{locked_files, LockedFile};
use super::{RecognizeError, RecognizerSettings};

/// The version of the reading rules in code (plate grammar, raw-read rules, cut-text boxes,
/// where plates are searched): raise it with every change of code that changes reads, so that
/// a reread by the new build is a new run rather than more rows under the old one's name.
pub const READ_RULES: u32 = 2;

/// The fingerprint of `settings` (one line per part, stable across runs and machines).
pub fn fingerprint(settings: &RecognizerSettings) -> Result<String, RecognizeError> {
    let text_rec = match &settings.text_rec_model {
        Some(path) => Some(
            crate::digest::sha256_file(path)
                .map_err(|e| RecognizeError::ModelMissing {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
                .1,
        ),
        None => None,
    };
    Ok(fingerprint_of(
        &locked_files(),
        settings,
        text_rec.as_deref(),
    ))
}

/// The fingerprint of `settings` with the pinned files `locked` and, when one is named, the
/// outside text recogniser's SHA-256.
fn fingerprint_of(
    locked: &[LockedFile],
    settings: &RecognizerSettings,
    text_rec_sha256: Option<&str>,
) -> String {
    let mut lines: Vec<String> = locked
        .iter()
        .map(|f| format!("model {} {}", f.dest, f.sha256))
        .collect();
    lines.sort();
    if let Some(sha) = text_rec_sha256 {
        lines.push(format!("text_rec {sha}"));
    }
    let choices = RecognizerSettings {
        model_dir: PathBuf::new(),
        detector_threads: 0,
        text_rec_model: None,
        ..settings.clone()
    };
    lines.push(format!("settings {choices:?}"));
    lines.push(format!("plate threshold {}", settings.plate_min_score()));
    lines.push(format!("reading rules {READ_RULES}"));
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recognize::TextReader;

    #[test]
    fn the_fingerprint_follows_the_models_and_choices_not_the_folder_or_threads() {
        let locked = locked_files();
        assert!(locked.len() > 5, "the lock lists the pinned files");
        let base = RecognizerSettings::with_model_dir("models");
        let a = fingerprint_of(&locked, &base, None);
        assert!(a.contains("model vehicles.onnx "), "{a}");
        assert!(a.ends_with(&format!("reading rules {READ_RULES}")), "{a}");
        let elsewhere = RecognizerSettings {
            detector_threads: 7,
            ..RecognizerSettings::with_model_dir("/opt/other")
        };
        assert_eq!(fingerprint_of(&locked, &elsewhere, None), a);

        let reader = RecognizerSettings {
            reader: TextReader::PpOcr,
            ..base.clone()
        };
        assert_ne!(fingerprint_of(&locked, &reader, None), a);
        let threshold = RecognizerSettings {
            plate_min_score: Some(0.3),
            ..base.clone()
        };
        assert_ne!(fingerprint_of(&locked, &threshold, None), a);
        assert_ne!(fingerprint_of(&locked, &base, Some("ab12")), a);

        let mut upgraded = locked.clone();
        upgraded[0].sha256 = "0000000000000000000000000000000000000000000000000000000000000000";
        assert_ne!(fingerprint_of(&upgraded, &base, None), a);
    }
}
