//! The vehicle photos of a made traffic video: the labelled folders read into soft-edged
//! cut-outs, each with the [`Model`] the plan uses.
//!
//! The photo folder holds `vn-motorbike/` (rear views of motorbikes with the plate's box in
//! `labels.csv`: `file,plate,x,y,w,h`) and `vn-car/` (fronts and rears of cars filling the
//! photo, `labels.csv` with the plate but no box). A photo that cannot be read, or a row that
//! cannot be used, is skipped with a warning; only when no photo is left is it an error.
//!
//! Cut-outs: a motorbike is the column [`BIKE_CUT_PLATES`] plate widths wide centred on its
//! plate, from the top of the photo to a little below the plate (the rear wheel), narrowing
//! toward the bottom. A car is the photo's full width down to [`CAR_CUT_HEIGHT`] of its height
//! (the car, above the ground and the burned-in time); its plate is taken where it sits in most
//! of these photos ([`CAR_PLATE`], measured with `matthan read` on the folder: median centre
//! 0.49 x 0.39 of the photo, median width 0.35 of it; a narrower 0.30 is used so that the
//! readable rule errs toward "no"). Alpha fades over the cut-out's edges (feathered), more at
//! the bottom, where the vehicle meets the road.

use std::path::{Path, PathBuf};

use image::imageops::{self, FilterType};
use image::RgbaImage;

use super::model::{Model, PlateSpot};
use super::SynthError;
use crate::plate::PlateKey;
use crate::scene::VehicleClass;

/// A motorbike cut-out is this many plate widths wide.
pub const BIKE_CUT_PLATES: f32 = 2.6;
/// A car cut-out keeps this share of the photo's height, from the top.
pub const CAR_CUT_HEIGHT: f32 = 0.62;
/// Where a car's plate is taken to be, as shares of the photo (centre x, centre y, width,
/// height).
pub const CAR_PLATE: [f32; 4] = [0.5, 0.39, 0.30, 0.11];
/// Widest a car cut-out is kept, pixels (about its width at the bottom row of a 1280-wide
/// video); wider photos are scaled down once.
const MAX_CAR_WIDTH: u32 = 500;
/// How soft a car cut-out's edges are, against a motorbike's (1): cars fill their photos, and
/// a ghostly border makes the vehicle detector miss them even more.
const CAR_SOFT: f32 = 0.35;

/// One vehicle photo ready to draw: the cut-out with its alpha (colours premultiplied by it),
/// and smaller copies (each half the one before, down to about 8 pixels wide) for drawing it
/// small without aliasing.
pub struct Sprite {
    /// Full size first.
    pub levels: Vec<RgbaImage>,
}

/// The photos read: models for the plan and sprites for the render, index for index.
pub struct Photos {
    /// What the plan needs of each photo.
    pub models: Vec<Model>,
    /// The cut-outs.
    pub sprites: Vec<Sprite>,
    /// One line per photo or row skipped, and why.
    pub skipped: Vec<String>,
}

/// One usable row of a `labels.csv`.
struct Row {
    file: String,
    plate: PlateKey,
    plate_box: Option<[f32; 4]>,
}

/// Reads `dir/vn-motorbike` and `dir/vn-car`.
pub fn load(dir: &Path) -> Result<Photos, SynthError> {
    let mut photos = Photos {
        models: Vec::new(),
        sprites: Vec::new(),
        skipped: Vec::new(),
    };
    for (sub, class) in [
        ("vn-motorbike", VehicleClass::Motorbike),
        ("vn-car", VehicleClass::Car),
    ] {
        let folder = dir.join(sub);
        let rows = match read_rows(&folder, &mut photos.skipped) {
            Ok(rows) => rows,
            Err(why) => {
                photos.skipped.push(format!("{}: {why}", folder.display()));
                continue;
            }
        };
        for row in rows {
            let path = folder.join(&row.file);
            match cut_out(&path, class, &row) {
                Ok((model, sprite)) => {
                    photos.models.push(model);
                    photos.sprites.push(sprite);
                }
                Err(why) => photos.skipped.push(format!("{}: {why}", path.display())),
            }
        }
    }
    if photos.models.is_empty() {
        return Err(SynthError::NoPhotos(format!(
            "none could be read from {} (vn-motorbike/ and vn-car/ with labels.csv){}",
            dir.display(),
            photos
                .skipped
                .first()
                .map(|s| format!("; first problem: {s}"))
                .unwrap_or_default()
        )));
    }
    Ok(photos)
}

/// The usable rows of `folder/labels.csv`; bad rows go to `skipped`.
fn read_rows(folder: &Path, skipped: &mut Vec<String>) -> Result<Vec<Row>, String> {
    let path: PathBuf = folder.join("labels.csv");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(&path)
        .map_err(|e| e.to_string())?;
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                skipped.push(format!("{} line {line}: {e}", path.display()));
                continue;
            }
        };
        let cell = |k: usize| rec.get(k).unwrap_or("");
        let plate = match PlateKey::parse(cell(1)) {
            Ok(p) => p,
            Err(e) => {
                skipped.push(format!(
                    "{} line {line}: plate {:?}: {e}",
                    path.display(),
                    cell(1)
                ));
                continue;
            }
        };
        let nums: Vec<Option<f32>> = (2..6).map(|k| cell(k).parse::<f32>().ok()).collect();
        let plate_box = match nums.as_slice() {
            [Some(x), Some(y), Some(w), Some(h)] if *w > 0.0 && *h > 0.0 => Some([*x, *y, *w, *h]),
            _ => None,
        };
        rows.push(Row {
            file: cell(0).to_string(),
            plate,
            plate_box,
        });
    }
    Ok(rows)
}

/// Reads one photo and cuts its vehicle out.
fn cut_out(path: &Path, class: VehicleClass, row: &Row) -> Result<(Model, Sprite), String> {
    let img = image::open(path).map_err(|e| e.to_string())?.to_rgba8();
    let (w, h) = (img.width() as f32, img.height() as f32);
    if w < 32.0 || h < 32.0 {
        return Err(format!("too small ({w}x{h})"));
    }
    let (rect, spot, narrowing) = match class {
        VehicleClass::Motorbike => {
            let [px, py, pw, ph] = row.plate_box.ok_or("no plate box in labels.csv")?;
            if px < 0.0 || py < 0.0 || px + pw > w || py + ph > h {
                return Err("plate box outside the photo".into());
            }
            let cw = (BIKE_CUT_PLATES * pw).min(w);
            let x0 = (px + pw / 2.0 - cw / 2.0).clamp(0.0, w - cw);
            let y1 = (py + ph * 2.3).min(h);
            let spot = PlateSpot {
                cx: (px + pw / 2.0 - x0) / cw,
                cy: (py + ph / 2.0) / y1,
                w: pw / cw,
                h: ph / y1,
            };
            ([x0, 0.0, cw, y1], spot, 0.45)
        }
        _ => {
            let ch = (h * CAR_CUT_HEIGHT).round();
            let [cx, cy, pw, ph] = CAR_PLATE;
            let spot = PlateSpot {
                cx,
                cy: cy * h / ch,
                w: pw,
                h: ph * h / ch,
            };
            ([0.0, 0.0, w, ch], spot, 0.0)
        }
    };
    let [x0, y0, cw, ch] = rect.map(|v| v.round() as u32);
    let mut cut = imageops::crop_imm(&img, x0, y0, cw.max(1), ch.max(1)).to_image();
    if class != VehicleClass::Motorbike && cut.width() > MAX_CAR_WIDTH {
        let nh = (cut.height() as f32 * MAX_CAR_WIDTH as f32 / cut.width() as f32).round() as u32;
        cut = imageops::resize(&cut, MAX_CAR_WIDTH, nh.max(1), FilterType::Triangle);
    }
    let soft = if class == VehicleClass::Motorbike {
        1.0
    } else {
        CAR_SOFT
    };
    feather(&mut cut, narrowing, soft);
    let model = Model {
        class,
        plate: Some(row.plate.clone()),
        aspect: cut.height() as f32 / cut.width() as f32,
        plate_spot: spot,
    };
    Ok((
        model,
        Sprite {
            levels: levels(cut),
        },
    ))
}

/// Smooth step from 0 (at `a`) to 1 (at `b`).
fn smooth(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Fades alpha over the edges: the sides over 8 % of the width, the top over 5 % and the
/// bottom over 14 % of the height, all times `soft`; `narrowing` pulls the sides in toward the
/// bottom (0: none, 0.45: the bottom row is 55 % as wide), the shape of a wheel under a rider.
fn feather(img: &mut RgbaImage, narrowing: f32, soft: f32) {
    let (w, h) = (img.width() as f32, img.height() as f32);
    for (x, y, p) in img.enumerate_pixels_mut() {
        let u = (x as f32 + 0.5) / w;
        let v = (y as f32 + 0.5) / h;
        let half = 0.5 * (1.0 - narrowing * smooth(0.45, 1.0, v));
        let side = (half - (u - 0.5).abs()) / (0.08 * soft);
        let a = smooth(0.0, 1.0, side)
            * smooth(0.0, 0.05 * soft, v)
            * smooth(1.0, 1.0 - 0.14 * soft, v);
        p.0[3] = (f32::from(p.0[3]) * a).round() as u8;
    }
}

/// The cut-out, premultiplied, and its halvings (2 x 2 averages).
fn levels(mut full: RgbaImage) -> Vec<RgbaImage> {
    for p in full.pixels_mut() {
        let a = u16::from(p.0[3]);
        for c in 0..3 {
            p.0[c] = ((u16::from(p.0[c]) * a + 127) / 255) as u8;
        }
    }
    let mut out = vec![full];
    while let Some(last) = out.last() {
        let (w, h) = (last.width() / 2, last.height() / 2);
        if w < 8 || h < 8 {
            break;
        }
        let half = RgbaImage::from_fn(w, h, |x, y| {
            let mut sum = [0u16; 4];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = last.get_pixel(2 * x + dx, 2 * y + dy).0;
                for c in 0..4 {
                    sum[c] += u16::from(p[c]);
                }
            }
            image::Rgba(sum.map(|s| ((s + 2) / 4) as u8))
        });
        out.push(half);
    }
    out
}
