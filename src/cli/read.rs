//! `matthan read`: vehicles and plates in image files, one JSON object per image on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use matthan::recognize::Recognizer;

use super::common::Globals;

/// Flags of `matthan read`.
#[derive(clap::Args)]
pub struct ReadArgs {
    /// Image files (JPEG, PNG, BMP).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    /// Only plates that fit the Vietnamese grammar.
    #[arg(long)]
    strict: bool,
}

/// Reads every image; exits with 2 when any could not be read (the others are still printed).
pub fn run(globals: &Globals, args: &ReadArgs) -> anyhow::Result<ExitCode> {
    let mut s = globals.recognizer();
    s.decode.strict = args.strict;
    let mut recognizer = Recognizer::load(s)?;
    let mut failed = 0;
    let stdout = std::io::stdout();
    for path in &args.images {
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
