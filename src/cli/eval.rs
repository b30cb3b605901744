//! `matthan eval`: scores the recognizer on a labelled folder; a table, or JSON with
//! `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use matthan::eval::{self, EvalReport};
use matthan::recognize::{ModelSet, PlateSearch, Recognizer, RecognizerSettings, TextReader};

use super::common::{parse_plates_in, Globals};

/// Flags of `matthan eval`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// Folder with images and labels.csv (file,plate,x,y,w,h).
    dir: PathBuf,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Include per-image detail in the JSON.
    #[arg(long)]
    detail: bool,
    /// Also run the vehicle detector on every image (it is not scored; by default eval
    /// times the plate reader alone, like for like with a plate-only pipeline).
    #[arg(long)]
    vehicles: bool,
    /// Where the plate detector looks: `frame` (whole image), `vehicles` (inside each
    /// vehicle found) or `region` (the part of the image holding the vehicles found); the
    /// last two imply --vehicles.
    #[arg(long, default_value = "frame")]
    plates_in: String,
    /// Run the original detector graphs and the lean ones side by side, each image through
    /// both in turn, and print both reports (a table per set, or one JSON object keyed by set).
    #[arg(long)]
    compare_models: bool,
    /// Run every plate text reader side by side (pp-ocr, own, own-whole, both), each image
    /// through each in turn, and print every report.
    #[arg(long, conflicts_with = "compare_models")]
    compare_readers: bool,
    /// Also run each of these PP-OCR-style text recognisers (ONNX files with a `character`
    /// metadata key, outside the lock) in place of `text_rec.onnx` with the reader chosen
    /// (`--reader`), side by side with it (and with every reader when --compare-readers is
    /// given too).
    #[arg(long, num_args = 1..)]
    compare_text_rec: Vec<PathBuf>,
    /// Score only the images whose plates are all listed in this file (one key a line, or
    /// `set<TAB>key`), e.g. the plates the plate reader was not trained on
    /// (`models/plate_reader.holdout.tsv`).
    #[arg(long)]
    plates: Option<PathBuf>,
    /// Minimum plate-detector score, in place of the graph's own (to measure a threshold).
    #[arg(long)]
    plate_min_score: Option<f32>,
}

/// Scores the folder, with a progress bar on stderr while it runs.
pub fn run(globals: &Globals, args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let mut s = globals.recognizer();
    s.plate_search = parse_plates_in(&args.plates_in)?;
    s.find_vehicles = args.vehicles || s.plate_search != PlateSearch::Frame;
    if let Some(score) = args.plate_min_score {
        anyhow::ensure!(
            (0.0..=1.0).contains(&score),
            "--plate-min-score must lie in 0..=1, not {score}"
        );
        s.plate_min_score = Some(score);
    }
    let variants: Vec<(String, RecognizerSettings)> = if args.compare_models {
        ModelSet::ALL
            .iter()
            .map(|&models| {
                let name = format!("detector graphs: {models}");
                (
                    name,
                    RecognizerSettings {
                        models,
                        ..s.clone()
                    },
                )
            })
            .collect()
    } else if args.compare_readers || !args.compare_text_rec.is_empty() {
        let chosen = [s.reader];
        let readers = if args.compare_readers {
            &TextReader::ALL[..]
        } else {
            &chosen[..]
        };
        let readers = readers.iter().map(|&reader| {
            let name = format!("plate reader: {reader}");
            (
                name,
                RecognizerSettings {
                    reader,
                    ..s.clone()
                },
            )
        });
        let others = args.compare_text_rec.iter().map(|file| {
            let name = format!("plate reader: {} with {}", s.reader, file.display());
            let settings = RecognizerSettings {
                text_rec_model: Some(file.clone()),
                ..s.clone()
            };
            (name, settings)
        });
        readers.chain(others).collect()
    } else {
        vec![(String::new(), s)]
    };
    let mut recognizers = variants
        .iter()
        .map(|(_, settings)| Recognizer::load(settings.clone()))
        .collect::<Result<Vec<_>, _>>()?;
    let mut labelled = eval::read_labels(&args.dir)?;
    if let Some(list) = &args.plates {
        labelled = eval::only_plates(labelled, &eval::read_plate_list(list)?);
    }
    let total = labelled.len();
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos}/{len} images [{elapsed}] {wide_bar}")
            .context("progress style")?,
    );
    let mut reports = eval::evaluate_side_by_side(&mut recognizers, &args.dir, &labelled, |n| {
        bar.set_position(n as u64)
    })?;
    bar.finish_and_clear();
    if args.json && !args.detail {
        reports.iter_mut().for_each(|r| r.per_image.clear());
    }
    let compared = variants.len() > 1;
    match (args.json, compared) {
        (true, false) => println!("{}", serde_json::to_string(&reports[0])?),
        (true, true) => {
            let by_variant: serde_json::Map<String, serde_json::Value> = variants
                .iter()
                .zip(&reports)
                .map(|((name, _), r)| {
                    let key = name.rsplit(": ").next().unwrap_or(name).to_string();
                    Ok((key, serde_json::to_value(r)?))
                })
                .collect::<Result<_, serde_json::Error>>()?;
            println!("{}", serde_json::Value::Object(by_variant));
        }
        (false, _) => {
            for ((name, _), report) in variants.iter().zip(&reports) {
                if compared {
                    println!("== {name}");
                }
                print_table(report);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The report as a readable table: misses and errors first, then the totals.
fn print_table(r: &EvalReport) {
    for o in &r.per_image {
        if let Some(e) = &o.error {
            println!("  ERROR {}: {e}", o.file);
        } else if o.exact < o.labels.len() {
            println!(
                "  miss  {}: labels {:?} read {:?}",
                o.file, o.labels, o.reads
            );
        }
    }
    println!(
        "vehicle detector  {}",
        if r.vehicles {
            "on"
        } else {
            "off (plates only)"
        }
    );
    println!("images            {}", r.images);
    println!("labelled plates   {}", r.plates);
    println!("exact             {}", r.exact);
    println!("recall            {:.3}", r.recall);
    println!("unmatched reads   {}", r.unmatched_reads);
    println!("unreadable images {}", r.unreadable_images);
    println!("ms per image      {:.1}", r.ms_per_image);
    let s = &r.stages_ms;
    println!(
        "stages (ms)       decode {:.1}  vehicles {:.1}  plates {:.1}  lines {:.1}  ocr {:.1}  recognize {:.1}",
        s.image_decode_ms,
        s.recognizer.vehicles_ms,
        s.recognizer.plates_ms,
        s.recognizer.lines_ms,
        s.recognizer.ocr_ms,
        s.recognizer.total_ms
    );
}
