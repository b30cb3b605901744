//! The `matthan` command line: read images, evaluate the recognizer, and (as the pipeline
//! grows) ingest video, serve the API and run the demo.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use matthan::eval;
use matthan::recognize::{runtime, Recognizer, RecognizerSettings};

#[derive(Parser)]
#[command(
    name = "matthan",
    version,
    about = "Road cameras to a searchable vehicle and licence-plate log"
)]
struct Cli {
    /// Directory with the pinned models (default: $MATTHAN_MODELS, else ./models).
    #[arg(long, global = true)]
    models: Option<PathBuf>,
    /// Intra-op threads for the detectors (default: number of cores, at most 4).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read vehicles and plates in images; prints one JSON object per image.
    Read {
        /// Image files (JPEG, PNG, BMP).
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Only plates that fit the Vietnamese grammar.
        #[arg(long)]
        strict: bool,
    },
    /// Score the recognizer on a folder with labels.csv.
    Eval {
        /// Folder with images and labels.csv (file,plate,x,y,w,h).
        dir: PathBuf,
        /// Print one JSON object instead of a table.
        #[arg(long)]
        json: bool,
        /// Include per-image detail in the JSON.
        #[arg(long)]
        detail: bool,
    },
    /// Check the model files against models/MODELS.lock.
    Models,
    /// The demo (video ingest, log and web page) arrives with the video and log work.
    Demo,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("matthan: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> RecognizerSettings {
    let dir = cli
        .models
        .clone()
        .unwrap_or_else(runtime::default_model_dir);
    let mut s = RecognizerSettings::with_model_dir(dir);
    if let Some(t) = cli.threads {
        s.detector_threads = t.max(1);
    }
    s
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Read { images, strict } => {
            let mut s = settings(&cli);
            s.decode.strict = *strict;
            let mut recognizer = Recognizer::load(s)?;
            let mut failed = 0;
            let stdout = std::io::stdout();
            for path in images {
                let line = match recognizer.recognize_file(path) {
                    Ok(r) => serde_json::json!({ "image": path, "result": r }),
                    Err(e) => {
                        failed += 1;
                        eprintln!("matthan: {e}");
                        serde_json::json!({ "image": path, "error": e.to_string() })
                    }
                };
                writeln!(stdout.lock(), "{line}")?;
            }
            Ok(if failed > 0 {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            })
        }
        Command::Eval { dir, json, detail } => {
            let mut recognizer = Recognizer::load(settings(&cli))?;
            let total = eval::read_labels(dir)?.len();
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{spinner} {pos}/{len} images [{elapsed}] {wide_bar}")
                    .context("progress style")?,
            );
            let mut report = eval::evaluate(&mut recognizer, dir, |n| bar.set_position(n as u64))?;
            bar.finish_and_clear();
            if *json {
                if !*detail {
                    report.per_image.clear();
                }
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_table(&report);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Models => {
            let dir = settings(&cli).model_dir;
            runtime::verify_model_dir(&dir)?;
            println!("models in {} match MODELS.lock", dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            println!(
                "The demo (ingest a video, log passages in PostgreSQL, serve the search page) is not built yet.\n\
                 Today: `matthan read IMAGE...` and `matthan eval DIR` show the recognizer."
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn print_table(r: &eval::EvalReport) {
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
