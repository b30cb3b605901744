//! `matthan crops`: every plate box of a labelled folder cut out as the plate reader sees it
//! (crop, straightened lines, PP-OCR's reads), with a `crops.csv` index, for `training/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use matthan::eval;
use matthan::recognize::{load_image, Recognizer};

use super::common::Globals;

/// Flags of `matthan crops`.
#[derive(clap::Args)]
pub struct CropsArgs {
    /// Folder with images and labels.csv (file,plate,x,y,w,h).
    dir: PathBuf,
    /// Folder the PNG crops and crops.csv are written to (made if absent).
    out: PathBuf,
}

/// Copies `labels.csv` and writes `out/crops.csv` (`file,labels,x1,y1,x2,y2,crop,lines,raw_lines,key`: labels and
/// line files `;`-separated, raw lines `|`-separated) and one PNG per crop and line. An
/// image that cannot be read is reported and skipped.
pub fn run(globals: &Globals, args: &CropsArgs) -> anyhow::Result<ExitCode> {
    let mut recognizer = Recognizer::load(globals.recognizer())?;
    let labelled = eval::read_labels(&args.dir)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot make {}", args.out.display()))?;
    // The labels go along, so the hold-out can be chosen among all plates of the set.
    std::fs::copy(args.dir.join("labels.csv"), args.out.join("labels.csv"))?;
    let mut index = csv::Writer::from_path(args.out.join("crops.csv"))?;
    index.write_record([
        "file",
        "labels",
        "x1",
        "y1",
        "x2",
        "y2",
        "crop",
        "lines",
        "raw_lines",
        "key",
    ])?;
    let mut skipped = 0;
    for item in &labelled {
        let frame = match load_image(&args.dir.join(&item.file)) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("skipped: {e}");
                skipped += 1;
                continue;
            }
        };
        let stem = item.file.rsplit_once('.').map_or(&*item.file, |s| s.0);
        for (k, c) in recognizer.plate_crops(&frame)?.into_iter().enumerate() {
            let crop = format!("{stem}_{k}.png");
            c.crop.save(args.out.join(&crop))?;
            let mut lines = Vec::new();
            for (i, line) in c.lines.iter().enumerate() {
                let name = format!("{stem}_{k}_line{i}.png");
                line.save(args.out.join(&name))?;
                lines.push(name);
            }
            let b = c.bbox;
            index.write_record([
                item.file.clone(),
                item.plates.join(";"),
                format!("{:.0}", b.x1),
                format!("{:.0}", b.y1),
                format!("{:.0}", b.x2),
                format!("{:.0}", b.y2),
                crop,
                lines.join(";"),
                c.raw_lines.join("|"),
                c.key.unwrap_or_default(),
            ])?;
        }
    }
    index.flush()?;
    Ok(if skipped == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
