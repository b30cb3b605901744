//! The `matthan` command line: parses the flags and calls the command asked for.
//!
//! Each command lives in its own file under `cli/` (its flags and its body): `read`, `eval`,
//! `eval-video`, `models`, `bench`, `ingest`, `reread`, `migrate`, `serve`, `user`, `evidence`,
//! `demo`, `make_traffic`, `install`, `check`;
//! `cli/common.rs` holds the global flags and what several commands share. Everything `serve`
//! runs is the library's `app`. Errors are printed here, once, with their causes.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cli::common::Globals;

#[derive(Parser)]
#[command(
    name = "matthan",
    version,
    about = "Road cameras to a searchable vehicle and licence-plate log"
)]
struct Cli {
    #[command(flatten)]
    globals: Globals,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read vehicles and plates in images; prints one JSON object per image.
    Read(cli::read::ReadArgs),
    /// Score the recognizer on a folder with labels.csv.
    Eval(cli::eval::EvalArgs),
    /// Cut out every plate box of a labelled folder as the plate reader sees it (crop,
    /// lines, PP-OCR's reads) with an index, to train a plate reader on (`training/`).
    Crops(cli::crops::CropsArgs),
    /// Run the pipeline on a video and score its passages against the video's truth file
    /// (recall, merges, duplicates, plates, classes, counts, speed); prints a table, or
    /// JSON with --json.
    EvalVideo(cli::eval_video::EvalVideoArgs),
    /// Check the model files against models/MODELS.lock.
    Models,
    /// Measure throughput on real video.
    Bench(cli::bench::BenchArgs),
    /// Ingest one camera (file or rtsp:// URL): record MP4 segments, track vehicles, print
    /// clip segments and passages as JSON lines on stdout; a summary goes to stderr.
    Ingest(cli::ingest::IngestArgs),
    /// Read a camera's recorded segments of a window (at most 24 h) again with the current
    /// recognizer, and log the passages as a new analysis run beside the live ones; again
    /// with the same models it adds nothing. One JSON summary goes to stdout.
    Reread(cli::reread::RereadArgs),
    /// Apply pending database migrations (they are also applied at every start).
    Migrate(cli::migrate::MigrateArgs),
    /// Serve the API and the web page, and record and analyse the config's live (rtsp://,
    /// http://...) cameras into the log. Files are ingested with `ingest`.
    Serve(cli::serve::ServeArgs),
    /// Manage the people who may use the API.
    User(cli::user::UserArgs),
    /// Evidence packages: the station's public key, a passage's signed package, and checking
    /// one (`evidence verify FILE.zip` names every file that differs).
    Evidence(cli::evidence::EvidenceArgs),
    /// The demo: videos made from the eval photos are ingested as two cameras at two
    /// junctions into the log, then the page is served (`make demo` runs it).
    Demo(cli::demo::DemoArgs),
    /// Make a traffic video from the eval photos (vehicles driving, following, stopping,
    /// overtaking, day or night) and its truth file of what passed.
    MakeTraffic(cli::make_traffic::MakeTrafficArgs),
    /// Install as a systemd service: the unit (restarts, journald), a journald drop-in that
    /// bounds the log's disk, the service's user and the config template (an existing
    /// config is never overwritten); then prints the next steps.
    Install(cli::install::InstallArgs),
    /// Check this machine: models, database and schema, each enabled camera (a first frame),
    /// disk and retention headroom, clock. One line per item; exits 1 when any FAILs.
    Check(cli::check::CheckArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("matthan: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Calls the command's `run`.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let g = &cli.globals;
    match &cli.command {
        Command::Read(args) => cli::read::run(g, args),
        Command::Eval(args) => cli::eval::run(g, args),
        Command::EvalVideo(args) => cli::eval_video::run(g, args),
        Command::Crops(args) => cli::crops::run(g, args),
        Command::Models => cli::models::run(g),
        Command::Bench(args) => cli::bench::run(g, args),
        Command::Ingest(args) => cli::ingest::run(g, args),
        Command::Reread(args) => cli::reread::run(g, args),
        Command::Migrate(args) => cli::migrate::run(g, args),
        Command::Serve(args) => cli::serve::run(g, args),
        Command::User(args) => cli::user::run(g, args),
        Command::Evidence(args) => cli::evidence::run(g, args),
        Command::Demo(args) => cli::demo::run(g, args),
        Command::MakeTraffic(args) => cli::make_traffic::run(args),
        Command::Install(args) => cli::install::run(g, args),
        Command::Check(args) => cli::check::run(g, args),
    }
}
