//! PP-OCR text-line finding (PP-OCRv4's DB detector) and text recognition (CTC: PP-OCRv6
//! small, or any PP-OCR recogniser with a `character` metadata key), on plate crops.
//!
//! Owns: the pre/post-processing of the two PP-OCR models. [`TextDetector`] turns a plate crop
//! into straightened line images, top to bottom (it is both the line splitter for 2-line plates
//! and the deskewer); [`TextRecognizer`] reads a batch of line images into per-position
//! character candidates (top-k with probabilities) for the plate grammar.
//!
//! Both models expect BGR channel order normalised as `(x/255 - 0.5) / 0.5`.

use image::imageops::FilterType;
use image::{GrayImage, Luma, Rgb, RgbImage};
use imageproc::geometric_transformations::{warp_into, Interpolation, Projection};
use imageproc::point::Point;
use imageproc::region_labelling::{connected_components, Connectivity};
use ort::session::Session;
use ort::value::Tensor;

use super::RecognizeError;
use crate::plate::CharCandidates;

/// Height of the recogniser's input, fixed by the model.
const REC_HEIGHT: u32 = 48;
/// Minimum padded width of a recogniser batch (the model was trained on 320-wide inputs).
const REC_MIN_WIDTH: u32 = 160;
/// Widest line the recogniser accepts; wider lines are squeezed.
const REC_MAX_WIDTH: u32 = 960;
/// Alternatives kept per character position.
const TOP_K: usize = 5;

/// Converts an RGB image to the planar BGR, `(x/255-0.5)/0.5` layout both models want, writing
/// into `out` (`[3, h, out_w]`, already filled with the pad value) at column 0.
fn write_bgr_planes(img: &RgbImage, out: &mut [f32], out_w: u32, out_h: u32) {
    let plane = (out_w * out_h) as usize;
    for (x, y, Rgb(px)) in img.enumerate_pixels() {
        if x >= out_w || y >= out_h {
            continue;
        }
        let i = (y * out_w + x) as usize;
        out[i] = px[2] as f32 / 127.5 - 1.0;
        out[plane + i] = px[1] as f32 / 127.5 - 1.0;
        out[2 * plane + i] = px[0] as f32 / 127.5 - 1.0;
    }
}

/// A rotated rectangle: centre, size along its own axes, and angle of its width axis (radians).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    /// Centre x, pixels.
    pub cx: f32,
    /// Centre y, pixels.
    pub cy: f32,
    /// Extent along the text direction, pixels.
    pub width: f32,
    /// Extent across the text direction, pixels.
    pub height: f32,
    /// Angle of the text direction from the x axis, radians, in (-pi/4, pi/4].
    pub angle: f32,
}

impl RotatedRect {
    /// Builds the rectangle from the four corners `min_area_rect` returns, choosing the more
    /// horizontal side as the text direction.
    fn from_corners(c: &[(f32, f32); 4]) -> RotatedRect {
        let cx = c.iter().map(|p| p.0).sum::<f32>() / 4.0;
        let cy = c.iter().map(|p| p.1).sum::<f32>() / 4.0;
        let side = |a: (f32, f32), b: (f32, f32)| ((b.0 - a.0), (b.1 - a.1));
        let s1 = side(c[0], c[1]);
        let s2 = side(c[1], c[2]);
        let len = |s: (f32, f32)| (s.0 * s.0 + s.1 * s.1).sqrt();
        // The text direction is the side closer to horizontal.
        let (along, across) = if s1.0.abs() >= s1.1.abs() {
            (s1, s2)
        } else {
            (s2, s1)
        };
        let mut angle = along.1.atan2(along.0);
        if angle > std::f32::consts::FRAC_PI_2 {
            angle -= std::f32::consts::PI;
        } else if angle < -std::f32::consts::FRAC_PI_2 {
            angle += std::f32::consts::PI;
        }
        RotatedRect {
            cx,
            cy,
            width: len(along),
            height: len(across),
            angle,
        }
    }

    /// Corners in order top-left, top-right, bottom-right, bottom-left (relative to the text).
    pub fn corners(&self) -> [(f32, f32); 4] {
        let (s, c) = self.angle.sin_cos();
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let at = |u: f32, v: f32| (self.cx + u * c - v * s, self.cy + u * s + v * c);
        [at(-hw, -hh), at(hw, -hh), at(hw, hh), at(-hw, hh)]
    }

    /// The rectangle in image pixels, from map pixels scaled by `(sx, sy)` (the map may be
    /// scaled differently in x and y, so the corners are mapped).
    fn unscaled(&self, (sx, sy): (f32, f32)) -> RotatedRect {
        RotatedRect::from_corners(&self.corners().map(|(x, y)| (x / sx, y / sy)))
    }

    /// The rectangle grown by `d` pixels on every side.
    fn grown(&self, d: f32) -> RotatedRect {
        RotatedRect {
            width: self.width + 2.0 * d,
            height: self.height + 2.0 * d,
            ..*self
        }
    }
}

fn min_area_rect_f(points: &[Point<i32>]) -> RotatedRect {
    let c = imageproc::geometry::min_area_rect(points);
    RotatedRect::from_corners(&[
        (c[0].x as f32, c[0].y as f32),
        (c[1].x as f32, c[1].y as f32),
        (c[2].x as f32, c[2].y as f32),
        (c[3].x as f32, c[3].y as f32),
    ])
}

/// Settings of the line finder.
#[derive(Debug, Clone, Copy)]
pub struct LineFinderSettings {
    /// Probability above which a map pixel is text (PP-OCR's `thresh`).
    pub pixel_threshold: f32,
    /// Mean probability a region needs to count (PP-OCR's `box_thresh`).
    pub region_threshold: f32,
    /// How far regions are grown back out (PP-OCR's `unclip_ratio`).
    pub unclip_ratio: f32,
    /// The longer side of the detector input, pixels (rounded to a multiple of 32).
    pub input_side: u32,
}

impl Default for LineFinderSettings {
    fn default() -> Self {
        LineFinderSettings {
            pixel_threshold: 0.3,
            region_threshold: 0.5,
            unclip_ratio: 1.6,
            input_side: 256,
        }
    }
}

/// Finds text lines in a plate crop with the PP-OCR DB detector.
pub struct TextDetector {
    /// The DB text-detection session (`x` → probability map).
    session: Session,
    /// Thresholds and input size.
    settings: LineFinderSettings,
}

impl TextDetector {
    /// Wraps a session of `ch_PP-OCRv4_det_infer.onnx`.
    pub fn new(session: Session, settings: LineFinderSettings) -> TextDetector {
        TextDetector { session, settings }
    }

    /// Runs the detector with the longer side scaled to `side` and returns the probability
    /// map with its width and height.
    fn probability_map(
        &mut self,
        crop: &RgbImage,
        side: u32,
    ) -> Result<(Vec<f32>, u32, u32), RecognizeError> {
        let (w, h) = crop.dimensions();
        let side = side.max(32) as f32;
        let scale = side / w.max(h).max(1) as f32;
        let round32 = |v: f32| (((v / 32.0).round() as u32).max(1)) * 32;
        let in_w = round32(w as f32 * scale);
        let in_h = round32(h as f32 * scale);
        let resized = image::imageops::resize(crop, in_w, in_h, FilterType::Triangle);
        let mut data = vec![0.0f32; (3 * in_w * in_h) as usize];
        write_bgr_planes(&resized, &mut data, in_w, in_h);
        let input = Tensor::from_array(([1usize, 3, in_h as usize, in_w as usize], data))
            .map_err(RecognizeError::inference)?;
        let outputs = self
            .session
            .run(ort::inputs![input])
            .map_err(RecognizeError::inference)?;
        let (shape, map) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(RecognizeError::inference)?;
        let (map_h, map_w) = match shape.as_ref() {
            [_, _, mh, mw] => (*mh as u32, *mw as u32),
            _ => return Err(RecognizeError::OutputShape(format!("text det {shape:?}"))),
        };
        if map.len() < (map_w * map_h) as usize {
            return Err(RecognizeError::OutputShape(format!("text det {shape:?}")));
        }
        Ok((map.to_vec(), map_w, map_h))
    }

    /// Returns the crop's text lines, top to bottom, each straightened into its own image.
    /// An empty result means the detector saw no text.
    pub fn find_lines(&mut self, crop: &RgbImage) -> Result<Vec<RgbImage>, RecognizeError> {
        let rects = self.find_line_rects(crop)?;
        Ok(rects.iter().map(|r| straighten(crop, r)).collect())
    }

    /// Like [`find_lines`](Self::find_lines) but returns the rectangles in crop pixels.
    pub fn find_line_rects(&mut self, crop: &RgbImage) -> Result<Vec<RotatedRect>, RecognizeError> {
        let (w, h) = crop.dimensions();
        if w < 4 || h < 4 {
            return Ok(Vec::new());
        }
        let (regions, scale) = self.map_regions(crop, self.settings.input_side)?;
        Ok(group_into_lines(regions)
            .iter()
            .map(|r| r.unscaled(scale))
            .collect())
    }

    /// Text regions in detector-map pixels, with the map's (x, y) scale from the image.
    fn map_regions(
        &mut self,
        image: &RgbImage,
        side: u32,
    ) -> Result<(Vec<RotatedRect>, (f32, f32)), RecognizeError> {
        let (w, h) = image.dimensions();
        let (map, map_w, map_h) = self.probability_map(image, side)?;
        let scale = (map_w as f32 / w as f32, map_h as f32 / h as f32);
        Ok((regions_from_map(&map, map_w, map_h, &self.settings), scale))
    }

    /// Text regions of a whole frame (no grouping into lines), in frame pixels, with the
    /// detector's input scaled so the longer side is `side`. Used to find plates the plate
    /// detector missed (close-ups fill the frame, and it was trained on street scenes).
    pub fn find_text_regions(
        &mut self,
        frame: &RgbImage,
        side: u32,
    ) -> Result<Vec<RotatedRect>, RecognizeError> {
        let (w, h) = frame.dimensions();
        if w < 32 || h < 32 {
            return Ok(Vec::new());
        }
        let (regions, scale) = self.map_regions(frame, side)?;
        Ok(regions.iter().map(|r| r.unscaled(scale)).collect())
    }
}

/// Connected regions of the thresholded map whose mean probability passes, grown by the
/// unclip distance (area × ratio / perimeter, as PP-OCR does).
fn regions_from_map(map: &[f32], w: u32, h: u32, s: &LineFinderSettings) -> Vec<RotatedRect> {
    let bitmap = GrayImage::from_fn(w, h, |x, y| {
        Luma([u8::from(map[(y * w + x) as usize] > s.pixel_threshold)])
    });
    let labels = connected_components(&bitmap, Connectivity::Eight, Luma([0u8]));
    let mut by_label: Vec<(Vec<Point<i32>>, f32)> = Vec::new();
    for (x, y, Luma([l])) in labels.enumerate_pixels() {
        if *l == 0 {
            continue;
        }
        let i = *l as usize - 1;
        if by_label.len() <= i {
            by_label.resize_with(i + 1, || (Vec::new(), 0.0));
        }
        by_label[i].0.push(Point::new(x as i32, y as i32));
        by_label[i].1 += map[(y * w + x) as usize];
    }
    by_label
        .into_iter()
        .filter(|(pts, sum)| pts.len() >= 6 && sum / pts.len() as f32 >= s.region_threshold)
        .map(|(points, _)| {
            let rect = min_area_rect_f(&points);
            let (rw, rh) = (rect.width + 1.0, rect.height + 1.0);
            let d = rw * rh * s.unclip_ratio / (2.0 * (rw + rh));
            RotatedRect {
                width: rw,
                height: rh,
                ..rect
            }
            .grown(d)
        })
        .filter(|r| r.height >= 4.0 && r.width >= 4.0)
        .collect()
}

/// Merges regions that sit on the same text line (their vertical spans overlap by more than
/// half of the smaller) and re-fits one rectangle per line. Lines are returned top to bottom.
/// A single line that is nearly square is most likely two lines fused: it is split in two.
fn group_into_lines(mut regions: Vec<RotatedRect>) -> Vec<RotatedRect> {
    regions.sort_by(|a, b| a.cy.total_cmp(&b.cy));
    let span = |r: &RotatedRect| {
        let ys = r.corners().map(|c| c.1);
        let lo = ys.iter().cloned().fold(f32::MAX, f32::min);
        let hi = ys.iter().cloned().fold(f32::MIN, f32::max);
        (lo, hi)
    };
    let mut lines: Vec<Vec<RotatedRect>> = Vec::new();
    for r in regions {
        let (lo, hi) = span(&r);
        let joined = lines.iter_mut().find(|line| {
            let (llo, lhi) = line
                .iter()
                .map(span)
                .fold((f32::MAX, f32::MIN), |a, b| (a.0.min(b.0), a.1.max(b.1)));
            let overlap = hi.min(lhi) - lo.max(llo);
            overlap > 0.5 * (hi - lo).min(lhi - llo)
        });
        match joined {
            Some(line) => line.push(r),
            None => lines.push(vec![r]),
        }
    }
    let mut rects: Vec<RotatedRect> = lines
        .into_iter()
        .map(|line| {
            if line.len() == 1 {
                return line[0];
            }
            // Fit over the grown corners of all members.
            let pts: Vec<Point<i32>> = line
                .iter()
                .flat_map(|m| m.corners())
                .map(|(x, y)| Point::new(x.round() as i32, y.round() as i32))
                .collect();
            min_area_rect_f(&pts)
        })
        .collect();
    // Drop lines much smaller than the biggest (screws, stickers, frame text).
    let biggest = rects.iter().map(|r| r.height).fold(0.0f32, f32::max);
    rects.retain(|r| r.height >= 0.35 * biggest && r.width >= r.height * 0.8);
    if rects.len() == 1 && rects[0].width < 1.6 * rects[0].height {
        let r = rects[0];
        let (s, c) = r.angle.sin_cos();
        let off = r.height / 4.0;
        let half = |sign: f32| RotatedRect {
            cx: r.cx - sign * off * s,
            cy: r.cy + sign * off * c,
            height: r.height / 2.0,
            ..r
        };
        rects = vec![half(-1.0), half(1.0)];
    }
    rects.sort_by(|a, b| a.cy.total_cmp(&b.cy));
    rects
}

/// Cuts the rotated rectangle out of `img` into an upright image of the same size.
pub fn straighten(img: &RgbImage, rect: &RotatedRect) -> RgbImage {
    let out_w = rect.width.round().clamp(1.0, 4096.0) as u32;
    let out_h = rect.height.round().clamp(1.0, 4096.0) as u32;
    let mut out = RgbImage::new(out_w, out_h);
    let from = rect.corners();
    let to = [
        (0.0, 0.0),
        (out_w as f32, 0.0),
        (out_w as f32, out_h as f32),
        (0.0, out_h as f32),
    ];
    match Projection::from_control_points(from, to) {
        Some(p) => warp_into(img, &p, Interpolation::Bilinear, Rgb([0, 0, 0]), &mut out),
        None => {
            out = image::imageops::resize(img, out_w, out_h, FilterType::Triangle);
        }
    }
    out
}

/// Reads text lines with the PP-OCR CTC recogniser.
pub struct TextRecognizer {
    /// The CTC recognition session (`x` → softmax over the charset per time step).
    session: Session,
    /// Index → character; index 0 is the CTC blank (stored as `'\0'`).
    charset: Vec<char>,
}

/// One line as read: character positions and the mean of their top probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct LineRead {
    /// One entry per emitted character, alternatives best first.
    pub positions: Vec<CharCandidates>,
}

impl LineRead {
    /// The top-1 text, for logs and debugging.
    pub fn text(&self) -> String {
        self.positions
            .iter()
            .filter_map(|p| p.alternatives.first().map(|a| a.0))
            .collect()
    }
}

impl TextRecognizer {
    /// Wraps a session of a PP-OCR recogniser (`text_rec.onnx`), reading the charset from its
    /// metadata key `character` (one symbol a line; blank prepended, space appended).
    pub fn new(session: Session) -> Result<TextRecognizer, RecognizeError> {
        let mut charset = ctc_charset(&session, "text rec model")?;
        charset.push(' ');
        Ok(TextRecognizer { session, charset })
    }

    /// Reads every line in one batch, each padded to the widest. Empty input gives empty
    /// output. The recogniser's reads depend on that padding (it looks at the whole line at
    /// once), so lines read together must have the same [`batch_width`] to read as they would
    /// alone.
    pub fn read(&mut self, lines: &[RgbImage]) -> Result<Vec<LineRead>, RecognizeError> {
        if lines.is_empty() {
            return Ok(Vec::new());
        }
        let widths: Vec<u32> = lines.iter().map(line_width).collect();
        let batch_w = batch_width(lines);
        let one = (3 * REC_HEIGHT * batch_w) as usize;
        let mut data = vec![0.0f32; one * lines.len()];
        for (i, (line, w)) in lines.iter().zip(&widths).enumerate() {
            let resized = image::imageops::resize(line, *w, REC_HEIGHT, FilterType::Triangle);
            write_bgr_planes(
                &resized,
                &mut data[i * one..(i + 1) * one],
                batch_w,
                REC_HEIGHT,
            );
        }
        let input = Tensor::from_array((
            [lines.len(), 3, REC_HEIGHT as usize, batch_w as usize],
            data,
        ))
        .map_err(RecognizeError::inference)?;
        let charset = &self.charset;
        run_ctc(
            &mut self.session,
            input,
            lines.len(),
            charset.len(),
            "text rec",
            |probs, steps| {
                let one = steps * charset.len();
                (0..lines.len())
                    .map(|i| ctc_decode(&probs[i * one..(i + 1) * one], charset.len(), charset))
                    .collect()
            },
        )
    }
}

/// A CTC model's symbols from its metadata key `character` (one a line, an empty line a
/// space), with the blank (`'\0'`) prepended at index 0; `what` names the model in the error.
pub(super) fn ctc_charset(session: &Session, what: &str) -> Result<Vec<char>, RecognizeError> {
    let text = session
        .metadata()
        .ok()
        .and_then(|m| m.custom("character"))
        .ok_or_else(|| {
            RecognizeError::OutputShape(format!("{what} has no `character` metadata"))
        })?;
    let mut charset = vec!['\0'];
    charset.extend(text.lines().map(|l| l.chars().next().unwrap_or(' ')));
    Ok(charset)
}

/// Runs a CTC recogniser on a batch of `n` inputs and hands its probabilities
/// (`[n, steps, symbols]`, checked against `n` and `symbols`) and `steps` to `read`; `what`
/// names the model in the error.
pub(super) fn run_ctc<R>(
    session: &mut Session,
    input: Tensor<f32>,
    n: usize,
    symbols: usize,
    what: &str,
    read: impl FnOnce(&[f32], usize) -> R,
) -> Result<R, RecognizeError> {
    let outputs = session
        .run(ort::inputs![input])
        .map_err(RecognizeError::inference)?;
    let (shape, probs) = outputs[0]
        .try_extract_tensor::<f32>()
        .map_err(RecognizeError::inference)?;
    let (got_n, steps, classes) = match shape.as_ref() {
        [n, t, c] => (*n as usize, *t as usize, *c as usize),
        _ => return Err(RecognizeError::OutputShape(format!("{what} {shape:?}"))),
    };
    if got_n != n || classes != symbols || probs.len() < n * steps * classes {
        return Err(RecognizeError::OutputShape(format!(
            "{what} gave {got_n}×{steps}×{classes} for {n} inputs and {symbols} symbols"
        )));
    }
    Ok(read(probs, steps))
}

/// Greedy CTC decoding that keeps, for every emitted character, the top-k alternatives at the
/// time step where that character peaked. Blank (index 0) is never an alternative.
pub fn ctc_decode(probs: &[f32], classes: usize, charset: &[char]) -> LineRead {
    let steps = probs.len() / classes.max(1);
    let mut positions = Vec::new();
    let mut run: Option<(usize, usize, f32)> = None; // (class, best step, best prob)
    let flush = |run: Option<(usize, usize, f32)>, positions: &mut Vec<CharCandidates>| {
        if let Some((_, step, _)) = run {
            let row = &probs[step * classes..(step + 1) * classes];
            positions.push(top_k(row, charset));
        }
    };
    for t in 0..steps {
        let row = &probs[t * classes..(t + 1) * classes];
        let (best, p) =
            row.iter().enumerate().fold(
                (0, f32::MIN),
                |acc, (i, &v)| if v > acc.1 { (i, v) } else { acc },
            );
        match run {
            Some((c, _, bp)) if c == best => {
                if p > bp {
                    run = Some((c, t, p));
                }
            }
            _ => {
                flush(run.take(), &mut positions);
                if best != 0 {
                    run = Some((best, t, p));
                }
            }
        }
    }
    flush(run, &mut positions);
    LineRead { positions }
}

fn top_k(row: &[f32], charset: &[char]) -> CharCandidates {
    let mut best: Vec<(usize, f32)> = Vec::with_capacity(TOP_K + 1);
    for (i, &p) in row.iter().enumerate().skip(1) {
        if best.len() < TOP_K || p > best[best.len() - 1].1 {
            let at = best.partition_point(|b| b.1 >= p);
            best.insert(at, (i, p));
            best.truncate(TOP_K);
        }
    }
    CharCandidates {
        alternatives: best
            .into_iter()
            .filter_map(|(i, p)| charset.get(i).map(|c| (*c, p)))
            .collect(),
    }
}

/// A line's width in the recogniser's input, at its fixed height.
fn line_width(line: &RgbImage) -> u32 {
    let (w, h) = line.dimensions();
    ((REC_HEIGHT as f32 * w as f32 / h.max(1) as f32).ceil() as u32).clamp(8, REC_MAX_WIDTH)
}

/// The input width `lines` are padded to when read in one batch.
pub fn batch_width(lines: &[RgbImage]) -> u32 {
    let widest = lines.iter().map(line_width).max().unwrap_or(REC_MIN_WIDTH);
    widest.max(REC_MIN_WIDTH).div_ceil(8) * 8
}

#[cfg(test)]
mod tests;
