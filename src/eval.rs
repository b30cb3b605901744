//! Scores the recognizer against a labelled folder of images.
//!
//! Owns: reading `labels.csv` (`file,plate,x,y,w,h`, one row per labelled plate, `plate` a
//! canonical key), matching reads to labels (exact key match only, each read used once), and
//! the report: labelled plates, exact hits, recall, reads that match no label, and time per
//! image and per stage; scoring only some plates (those a model was not trained on). Unreadable or missing images are counted and listed, never fatal.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::recognize::{load_image, Recognizer, StageTimings};

/// Errors that stop an evaluation before it starts.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// `labels.csv` is missing or unreadable.
    #[error("cannot read labels {path}: {reason}")]
    Labels { path: PathBuf, reason: String },
    /// The recognizer failed on a blank frame, before any image was read.
    #[error("recognizer failed to warm up: {0}")]
    WarmUp(String),
}

/// One image and the plates labelled in it.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledImage {
    /// File name relative to the folder.
    pub file: String,
    /// Canonical keys of the labelled plates.
    pub plates: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct LabelRow {
    file: String,
    plate: String,
}

/// Reads `dir/labels.csv`, grouping rows by image in file order.
pub fn read_labels(dir: &Path) -> Result<Vec<LabelledImage>, EvalError> {
    let path = dir.join("labels.csv");
    let fail = |reason: String| EvalError::Labels {
        path: path.clone(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| fail(e.to_string()))?;
    let mut order: Vec<String> = Vec::new();
    let mut plates: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, row) in reader.deserialize::<LabelRow>().enumerate() {
        let row = row.map_err(|e| fail(format!("row {}: {e}", i + 2)))?;
        if !plates.contains_key(&row.file) {
            order.push(row.file.clone());
        }
        plates
            .entry(row.file)
            .or_default()
            .push(row.plate.to_ascii_uppercase());
    }
    Ok(order
        .into_iter()
        .map(|file| {
            let plates = plates.remove(&file).unwrap_or_default();
            LabelledImage { file, plates }
        })
        .collect())
}

/// Matches reads against labels: returns (exact hits, reads that matched nothing). Each read
/// can satisfy one label only, so two labels with the same key need two reads.
pub fn score(labels: &[String], reads: &[String]) -> (usize, usize) {
    let mut unused: Vec<&String> = reads.iter().collect();
    let mut hits = 0;
    for label in labels {
        if let Some(i) = unused.iter().position(|r| *r == label) {
            unused.remove(i);
            hits += 1;
        }
    }
    (hits, unused.len())
}

/// What happened with one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageOutcome {
    /// File name.
    pub file: String,
    /// Labelled keys.
    pub labels: Vec<String>,
    /// Keys read, best first.
    pub reads: Vec<String>,
    /// Labels matched exactly.
    pub exact: usize,
    /// Reads that matched no label.
    pub unmatched: usize,
    /// Why the image could not be read, if it could not.
    pub error: Option<String>,
    /// Wall time for this image (decode + recognise), milliseconds.
    pub ms: f64,
}

/// Stage times averaged over the images that were read.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EvalStages {
    /// Image file decoding.
    pub image_decode_ms: f64,
    /// Recognizer stages.
    #[serde(flatten)]
    pub recognizer: StageTimings,
}

/// The evaluation result.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Whether the vehicle detector ran (its time is in `stages_ms.vehicles_ms`).
    pub vehicles: bool,
    /// Images listed in `labels.csv`.
    pub images: usize,
    /// Labelled plates.
    pub plates: usize,
    /// Labelled plates read exactly.
    pub exact: usize,
    /// `exact / plates`.
    pub recall: f64,
    /// Reads that matched no label.
    pub unmatched_reads: usize,
    /// Images that could not be read (missing, corrupt).
    pub unreadable_images: usize,
    /// Mean wall time per readable image, milliseconds.
    pub ms_per_image: f64,
    /// Mean time per stage, milliseconds.
    pub stages_ms: EvalStages,
    /// Per-image detail.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_image: Vec<ImageOutcome>,
}

/// The images whose labelled plates are all in `keys` (a model's held-out plates: images
/// that also show a plate it was trained on are left out whole).
pub fn only_plates(labelled: Vec<LabelledImage>, keys: &HashSet<String>) -> Vec<LabelledImage> {
    labelled
        .into_iter()
        .filter(|l| !l.plates.is_empty() && l.plates.iter().all(|p| keys.contains(p)))
        .collect()
}

/// Reads a list of plate keys, one a line; `#` starts a comment, and a line may carry the
/// set's name before a tab (`vn-car<TAB>30E43502`).
pub fn read_plate_list(path: &Path) -> Result<HashSet<String>, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|e| EvalError::Labels {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.rsplit('\t')
                .next()
                .unwrap_or(l)
                .trim()
                .to_ascii_uppercase()
        })
        .collect())
}

/// Runs the recognizer over every labelled image in `dir`. `progress` is called after each
/// image with the number done.
pub fn evaluate(
    recognizer: &mut Recognizer,
    dir: &Path,
    progress: impl FnMut(usize),
) -> Result<EvalReport, EvalError> {
    let labelled = read_labels(dir)?;
    let mut reports =
        evaluate_side_by_side(std::slice::from_mut(recognizer), dir, &labelled, progress)?;
    Ok(reports.remove(0))
}

/// Runs several recognizers over the `labelled` images of `dir`, each image through each of
/// them in turn, so that a busy machine slows them alike: one report per recognizer, in
/// order. `progress` is called after each image with the number done.
pub fn evaluate_side_by_side(
    recognizers: &mut [Recognizer],
    dir: &Path,
    labelled: &[LabelledImage],
    mut progress: impl FnMut(usize),
) -> Result<Vec<EvalReport>, EvalError> {
    // Time warm recognizers, as a running service is.
    for r in recognizers.iter_mut() {
        r.warm_up().map_err(|e| EvalError::WarmUp(e.to_string()))?;
    }
    let mut sums: Vec<Sums> = recognizers.iter().map(|_| Sums::default()).collect();
    for (i, item) in labelled.iter().enumerate() {
        let start = Instant::now();
        let image = load_image(&dir.join(&item.file));
        let decoded_ms = start.elapsed().as_secs_f64() * 1000.0;
        for (recognizer, sum) in recognizers.iter_mut().zip(&mut sums) {
            let start = Instant::now();
            let result = image
                .as_ref()
                .map_err(|e| e.to_string())
                .and_then(|img| recognizer.recognize(img).map_err(|e| e.to_string()));
            let ms = start.elapsed().as_secs_f64() * 1000.0 + decoded_ms;
            sum.outcomes.push(match result {
                Ok(recognition) => {
                    sum.readable += 1;
                    sum.wall += ms;
                    sum.decode += decoded_ms;
                    sum.recognizer.add(&recognition.timings);
                    let reads: Vec<String> = recognition
                        .plates
                        .iter()
                        .map(|p| p.key.to_string())
                        .collect();
                    let (exact, unmatched) = score(&item.plates, &reads);
                    ImageOutcome {
                        file: item.file.clone(),
                        labels: item.plates.clone(),
                        reads,
                        exact,
                        unmatched,
                        error: None,
                        ms,
                    }
                }
                Err(e) => ImageOutcome {
                    file: item.file.clone(),
                    labels: item.plates.clone(),
                    reads: Vec::new(),
                    exact: 0,
                    unmatched: 0,
                    error: Some(e),
                    ms,
                },
            });
        }
        progress(i + 1);
    }
    let plates: usize = labelled.iter().map(|l| l.plates.len()).sum();
    Ok(recognizers
        .iter()
        .zip(sums)
        .map(|(r, sum)| sum.report(r, labelled.len(), plates))
        .collect())
}

/// One recognizer's running totals in [`evaluate_side_by_side`].
#[derive(Default)]
struct Sums {
    outcomes: Vec<ImageOutcome>,
    recognizer: StageTimings,
    decode: f64,
    wall: f64,
    readable: usize,
}

impl Sums {
    fn report(self, recognizer: &Recognizer, images: usize, plates: usize) -> EvalReport {
        let exact: usize = self.outcomes.iter().map(|o| o.exact).sum();
        let readable = self.readable.max(1) as f64;
        EvalReport {
            vehicles: recognizer.settings().find_vehicles,
            images,
            plates,
            exact,
            recall: if plates == 0 {
                0.0
            } else {
                exact as f64 / plates as f64
            },
            unmatched_reads: self.outcomes.iter().map(|o| o.unmatched).sum(),
            unreadable_images: self.outcomes.iter().filter(|o| o.error.is_some()).count(),
            ms_per_image: self.wall / readable,
            stages_ms: EvalStages {
                image_decode_ms: self.decode / readable,
                recognizer: self.recognizer.mean(self.readable),
            },
            per_image: self.outcomes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn score_counts_each_read_once() {
        assert_eq!(score(&s(&["A1", "B2"]), &s(&["B2", "C3"])), (1, 1));
        assert_eq!(score(&s(&["A1", "A1"]), &s(&["A1"])), (1, 0));
        assert_eq!(score(&s(&["A1"]), &s(&[])), (0, 0));
        assert_eq!(score(&s(&[]), &s(&["X"])), (0, 1));
    }

    #[test]
    fn labels_group_by_image_in_file_order() {
        let dir = std::env::temp_dir().join(format!("matthan-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("labels.csv"),
            "file,plate,x,y,w,h\nb.jpg,29b125662,,,,\na.jpg,30A12345,1,2,3,4\nb.jpg,30L90860,,,,\n",
        )
        .unwrap();
        let labels = read_labels(&dir).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(
            labels,
            vec![
                LabelledImage {
                    file: "b.jpg".into(),
                    plates: s(&["29B125662", "30L90860"])
                },
                LabelledImage {
                    file: "a.jpg".into(),
                    plates: s(&["30A12345"])
                },
            ]
        );
    }

    #[test]
    fn only_listed_plates_are_scored() {
        let img = |file: &str, plates: &[&str]| LabelledImage {
            file: file.into(),
            plates: s(plates),
        };
        let keys: HashSet<String> = s(&["30E43502", "59U139619"]).into_iter().collect();
        let kept = only_plates(
            vec![
                img("a.jpg", &["30E43502"]),
                img("b.jpg", &["30E43502", "29A12345"]),
                img("c.jpg", &[]),
                img("d.jpg", &["59U139619"]),
            ],
            &keys,
        );
        let files: Vec<&str> = kept.iter().map(|l| l.file.as_str()).collect();
        assert_eq!(files, vec!["a.jpg", "d.jpg"]);
        let dir = std::env::temp_dir().join(format!("matthan-list-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let list = dir.join("holdout.tsv");
        std::fs::write(&list, "# held out\nvn-car\t30e43502\n59U139619\n\n").unwrap();
        let read = read_plate_list(&list).unwrap();
        std::fs::remove_dir_all(&dir).ok();
        assert_eq!(read, keys);
    }

    #[test]
    fn missing_labels_is_a_clear_error() {
        let err = read_labels(Path::new("/nonexistent-matthan-dir")).unwrap_err();
        assert!(err.to_string().contains("labels.csv"));
    }
}
