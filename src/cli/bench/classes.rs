//! `matthan bench classes`: class accuracy and speed of vehicle detectors on folders of photos
//! whose class is known (every photo in `car=DIR` shows a car), several models side by side.
//!
//! Per model and folder: photos with no vehicle found, the class of the largest vehicle found
//! (a confusion row), and milliseconds per photo for the vehicle detector alone (letterbox,
//! inference, decoding; not the JPEG decoding, not plates), as wall time and as the process's
//! CPU time (which other work on the machine does not inflate). The tally is pure and tested
//! here; the rest reads images and runs the detectors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use matthan::cpu::{ms_between, process_time};
use matthan::recognize::{
    load_image, Recognizer, RecognizerSettings, VehicleClass, VehicleDetection, VehicleModel,
};
use serde::Serialize;

/// What to compare.
pub struct ClassesBench {
    /// Models, in the order their rows are printed.
    pub models: Vec<VehicleModel>,
    /// `(true class, folder)` pairs.
    pub folders: Vec<(VehicleClass, PathBuf)>,
    /// Settings shared by every model (model directory, threads, thresholds).
    pub recognizer: RecognizerSettings,
}

/// One model on one folder.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tally {
    /// Photos read.
    pub images: usize,
    /// Photos in which no vehicle was found.
    pub none: usize,
    /// Class of the largest vehicle found, counted per photo.
    pub largest: BTreeMap<VehicleClass, usize>,
    /// Photos that could not be read.
    pub unreadable: usize,
    /// Vehicle detector wall time, summed over the photos read.
    pub detect_ms: f64,
    /// Process CPU time while detecting, summed over the photos read.
    pub cpu_ms: f64,
}

impl Tally {
    /// Counts one photo's vehicles.
    pub fn add(&mut self, vehicles: &[VehicleDetection], ms: f64, cpu_ms: f64) {
        self.images += 1;
        self.detect_ms += ms;
        self.cpu_ms += cpu_ms;
        match vehicles
            .iter()
            .max_by(|a, b| a.bbox.area().total_cmp(&b.bbox.area()))
        {
            Some(v) => *self.largest.entry(v.class).or_default() += 1,
            None => self.none += 1,
        }
    }

    /// Photos whose largest vehicle has the true class.
    pub fn correct(&self, truth: VehicleClass) -> usize {
        self.largest.get(&truth).copied().unwrap_or(0)
    }

    /// Mean detector wall time per photo read.
    pub fn ms_per_image(&self) -> f64 {
        self.detect_ms / self.images.max(1) as f64
    }

    /// Mean process CPU time per photo read.
    pub fn cpu_ms_per_image(&self) -> f64 {
        self.cpu_ms / self.images.max(1) as f64
    }
}

/// `CLASS=DIR`, e.g. `car=../shared/eval/vn-car`.
pub fn parse_folder(s: &str) -> Result<(VehicleClass, PathBuf), String> {
    let (class, dir) = s
        .split_once('=')
        .ok_or_else(|| format!("expected CLASS=DIR, got {s:?}"))?;
    let class = class.parse::<VehicleClass>().map_err(|e| e.to_string())?;
    if dir.is_empty() {
        return Err(format!("no folder after `{class}=`"));
    }
    Ok((class, PathBuf::from(dir)))
}

/// The JPEG and PNG files of a folder, sorted.
fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| matches!(x.to_ascii_lowercase().as_str(), "jpg" | "jpeg" | "png"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Runs every model on every folder; a table to stderr, JSON to stdout.
pub fn run(bench: &ClassesBench) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for &model in &bench.models {
        let mut recognizer = Recognizer::load(RecognizerSettings {
            vehicle_model: model,
            find_vehicles: true,
            ..bench.recognizer.clone()
        })?;
        recognizer.warm_up()?;
        for (truth, dir) in &bench.folders {
            let mut tally = Tally::default();
            for path in images_in(dir)? {
                let Ok(img) = load_image(&path) else {
                    tally.unreadable += 1;
                    continue;
                };
                let (t, cpu) = (Instant::now(), process_time());
                let vehicles = recognizer.detect_vehicles(&img)?;
                let cpu_ms = ms_between(cpu, process_time());
                tally.add(&vehicles, t.elapsed().as_secs_f64() * 1000.0, cpu_ms);
            }
            eprintln!(
                "{:<10} {:<10} {:>4} photos  correct {:>4} ({:>5.1}%)  none {:>4}  largest {:?}  {:.0} ms/photo ({:.0} ms CPU)",
                model.as_str(),
                truth.as_str(),
                tally.images,
                tally.correct(*truth),
                100.0 * tally.correct(*truth) as f64 / tally.images.max(1) as f64,
                tally.none,
                tally.largest,
                tally.ms_per_image(),
                tally.cpu_ms_per_image()
            );
            rows.push(serde_json::json!({
                "model": model,
                "truth": truth,
                "folder": dir,
                "correct": tally.correct(*truth),
                "ms_per_image": tally.ms_per_image(),
                "cpu_ms_per_image": tally.cpu_ms_per_image(),
                "tally": tally,
            }));
        }
    }
    println!("{}", serde_json::to_string_pretty(&rows)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use matthan::recognize::BoxXyxy;

    fn v(class: VehicleClass, side: f32) -> VehicleDetection {
        VehicleDetection {
            class,
            bbox: BoxXyxy {
                x1: 0.0,
                y1: 0.0,
                x2: side,
                y2: side,
            },
            score: 0.9,
        }
    }

    #[test]
    fn the_largest_vehicle_decides_and_empty_photos_count_as_none() {
        let mut t = Tally::default();
        t.add(
            &[v(VehicleClass::Bus, 50.0), v(VehicleClass::Car, 80.0)],
            10.0,
            5.0,
        );
        t.add(&[v(VehicleClass::Car, 20.0)], 20.0, 5.0);
        t.add(&[], 30.0, 20.0);
        assert_eq!(t.images, 3);
        assert_eq!(t.none, 1);
        assert_eq!(t.correct(VehicleClass::Car), 2);
        assert_eq!(t.correct(VehicleClass::Bus), 0);
        assert_eq!(t.ms_per_image(), 20.0);
        assert_eq!(t.cpu_ms_per_image(), 10.0);
        assert_eq!(Tally::default().ms_per_image(), 0.0);
    }

    #[test]
    fn folders_are_class_equals_dir() {
        assert_eq!(
            parse_folder("car=a/b").unwrap(),
            (VehicleClass::Car, PathBuf::from("a/b"))
        );
        assert!(parse_folder("car").is_err());
        assert!(parse_folder("lorry=a").is_err());
        assert!(parse_folder("car=").is_err());
    }
}
