//! Ultralytics YOLO (detect/segment export) pre- and post-processing, without the session.
//!
//! Owns: letterboxing an RGB image into the model's input (a square, or the smallest
//! rectangle of multiples of 32 that holds it), decoding the two output layouts into boxes in
//! frame pixels, and non-maximum suppression:
//! - the export's own `[1, 4 + classes + masks, anchors]` (boxes already decoded: cx, cy, w, h);
//! - the lean graphs' `[1, 64 + classes, anchors]` (`scripts/lean-models`): per anchor the
//!   four sides' 16-bin distance distributions (DFL logits) and the class scores, decoded here
//!   for the anchors that pass the score only, with the anchor grid rebuilt for any input size.
//!
//! Pure functions on plain data; unit-tested without a model.

use image::imageops::FilterType;
use image::RgbImage;

pub use crate::scene::BoxXyxy;

/// How a frame was placed into the square model input: `input = frame * scale + pad`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Letterbox {
    /// Frame pixels to input pixels.
    pub scale: f32,
    /// Horizontal padding in input pixels (left side).
    pub pad_x: f32,
    /// Vertical padding in input pixels (top side).
    pub pad_y: f32,
}

impl Letterbox {
    /// Maps a point in model input pixels back to frame pixels.
    pub fn frame_from_input(&self, x: f32, y: f32) -> (f32, f32) {
        ((x - self.pad_x) / self.scale, (y - self.pad_y) / self.scale)
    }
}

/// The shape of a detector's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputShape {
    /// A fixed `side`×`side` square (the exports as shipped).
    Square(u32),
    /// Any width and height that are multiples of 32 (the lean graphs): the image is scaled
    /// so its longer side is `max_side` (or kept at its own size when `enlarge` is off and it
    /// is smaller), then padded up to multiples of 32.
    Fit {
        /// Longest side of the input.
        max_side: u32,
        /// Whether a smaller image is enlarged to `max_side` (the plate detector finds small
        /// plates in small pictures only enlarged, as it was trained).
        enlarge: bool,
    },
}

/// The multiple that every side of a lean graph's input must be (its largest stride).
pub const SIDE_MULTIPLE: u32 = 32;

impl InputShape {
    /// The same shape, but never enlarging (a square stays a square).
    pub fn without_enlarging(self) -> InputShape {
        match self {
            InputShape::Fit { max_side, .. } => InputShape::Fit {
                max_side,
                enlarge: false,
            },
            square => square,
        }
    }

    /// Input `(width, height)` and the scale for an image of `w`×`h`.
    pub fn fit(self, w: u32, h: u32) -> (u32, u32, f32) {
        let (w, h) = (w.max(1) as f32, h.max(1) as f32);
        match self {
            InputShape::Square(side) => (side, side, (side as f32 / w).min(side as f32 / h)),
            InputShape::Fit { max_side, enlarge } => {
                let max_side = max_side.max(SIDE_MULTIPLE) as f32;
                let scale = max_side / w.max(h);
                let scale = if enlarge { scale } else { scale.min(1.0) };
                let up = |v: f32| {
                    let v = (v * scale).round().max(1.0) as u32;
                    v.div_ceil(SIDE_MULTIPLE) * SIDE_MULTIPLE
                };
                (up(w), up(h), scale)
            }
        }
    }
}

/// Resizes `img` into an input of `shape` (aspect kept, grey padding, centred) and returns the
/// planar RGB tensor data scaled to 0..1, `[3, height, width]`, the input's width and height,
/// and the placement. The resize is `fast_image_resize`'s bilinear convolution (the same
/// filter as `image`'s `Triangle`, in SIMD: about a tenth of its time on a 720p frame).
pub fn letterbox_to(img: &RgbImage, shape: InputShape) -> (Vec<f32>, u32, u32, Letterbox) {
    let (w, h) = img.dimensions();
    let (in_w, in_h, scale) = shape.fit(w, h);
    let new_w = ((w as f32 * scale).round() as u32).clamp(1, in_w);
    let new_h = ((h as f32 * scale).round() as u32).clamp(1, in_h);
    let resized = if (new_w, new_h) == (w, h) {
        None
    } else {
        Some(resize_bilinear(img, new_w, new_h))
    };
    let resized = resized.as_ref().unwrap_or(img);
    let pad_x = (in_w - new_w) / 2;
    let pad_y = (in_h - new_h) / 2;
    let plane = (in_w * in_h) as usize;
    let mut data = vec![114.0 / 255.0; 3 * plane];
    let (r, rest) = data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    let row_len = 3 * new_w as usize;
    for (y, row) in resized.as_raw().chunks_exact(row_len).enumerate() {
        let start = (y as u32 + pad_y) as usize * in_w as usize + pad_x as usize;
        let end = start + new_w as usize;
        let px = row.chunks_exact(3);
        for (((px, r), g), b) in px
            .zip(&mut r[start..end])
            .zip(&mut g[start..end])
            .zip(&mut b[start..end])
        {
            *r = f32::from(px[0]) / 255.0;
            *g = f32::from(px[1]) / 255.0;
            *b = f32::from(px[2]) / 255.0;
        }
    }
    let placement = Letterbox {
        scale,
        pad_x: pad_x as f32,
        pad_y: pad_y as f32,
    };
    (data, in_w, in_h, placement)
}

/// `img` resized to `w`×`h` with a bilinear (triangle) filter.
fn resize_bilinear(img: &RgbImage, w: u32, h: u32) -> RgbImage {
    use fast_image_resize::{FilterType as Filter, ResizeAlg, ResizeOptions, Resizer};
    let mut out = RgbImage::new(w, h);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(Filter::Bilinear));
    match Resizer::new().resize(img, &mut out, &options) {
        Ok(()) => out,
        // Both are 8-bit RGB buffers of their own sizes, so this does not happen; were it to,
        // the plain resize gives the same picture, slower.
        Err(_) => image::imageops::resize(img, w, h, FilterType::Triangle),
    }
}

/// One raw detection before any grouping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawDetection {
    /// Box in frame pixels, clipped to the frame.
    pub bbox: BoxXyxy,
    /// Index of the best class.
    pub class: usize,
    /// Score of the best class.
    pub score: f32,
}

/// Decodes a YOLO output laid out as `[rows, anchors]` (row-major, `rows = 4 + classes + extra`),
/// keeping anchors whose best class score is at least `min_score`. Only the classes listed in
/// `classes` (indices into the model's classes) compete for each anchor; a detection's `class`
/// is its position in that list.
/// A model that knows people and dogs as well as cars thus keeps the car an anchor also
/// calls a person.
pub fn decode_classes(
    output: &[f32],
    anchors: usize,
    classes: &[usize],
    min_score: f32,
    placement: &Letterbox,
    frame_w: u32,
    frame_h: u32,
) -> Vec<RawDetection> {
    let mut out = Vec::new();
    let rows_needed = 4 + classes.iter().map(|c| c + 1).max().unwrap_or(0);
    if anchors == 0 || classes.is_empty() || output.len() < rows_needed * anchors {
        return out;
    }
    let row = |r: usize| &output[r * anchors..(r + 1) * anchors];
    let (cx, cy, bw, bh) = (row(0), row(1), row(2), row(3));
    for a in 0..anchors {
        let mut best = 0;
        let mut score = f32::MIN;
        for (i, c) in classes.iter().enumerate() {
            let s = output[(4 + c) * anchors + a];
            if s > score {
                score = s;
                best = i;
            }
        }
        if score.is_nan() || score < min_score {
            continue;
        }
        let corners = (
            cx[a] - bw[a] / 2.0,
            cy[a] - bh[a] / 2.0,
            cx[a] + bw[a] / 2.0,
            cy[a] + bh[a] / 2.0,
        );
        if let Some(bbox) = frame_box(corners, placement, (frame_w, frame_h)) {
            out.push(RawDetection {
                bbox,
                class: best,
                score,
            });
        }
    }
    out
}

/// Bins of each side's distance distribution in the lean graphs' output.
pub const DFL_BINS: usize = 16;

/// The strides of the three detection scales, in the order their anchors are laid out.
const STRIDES: [u32; 3] = [8, 16, 32];

/// Number of anchors of a lean graph for an input of `w`×`h`.
pub fn anchor_count(w: u32, h: u32) -> usize {
    STRIDES.iter().map(|s| ((w / s) * (h / s)) as usize).sum()
}

/// Where a lean graph's output sits: its input size and how the frame was placed in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeanLayout {
    /// Input width and height (multiples of 32).
    pub input: (u32, u32),
    /// How the frame sits in the input.
    pub placement: Letterbox,
    /// Frame width and height, to clip boxes.
    pub frame: (u32, u32),
}

/// Decodes a lean graph's `[64 + classes, anchors]` output (row-major): per anchor the four
/// sides' (left, top, right, bottom) DFL logits, 16 bins each, then the class scores (after
/// sigmoid). Only `classes` compete, as in [`decode_classes`]; the box of an anchor is decoded
/// only when its best score is at least `min_score`. Anchors run scale by scale (strides 8,
/// 16, 32), row by row, at cell centres. Output that does not fit the input size decodes to
/// nothing.
pub fn decode_dfl(
    output: &[f32],
    layout: &LeanLayout,
    classes: &[usize],
    min_score: f32,
) -> Vec<RawDetection> {
    let (in_w, in_h) = layout.input;
    let anchors = anchor_count(in_w, in_h);
    let box_rows = 4 * DFL_BINS;
    let rows_needed = box_rows + classes.iter().map(|c| c + 1).max().unwrap_or(0);
    let mut out = Vec::new();
    if anchors == 0 || classes.is_empty() || output.len() < rows_needed * anchors {
        return out;
    }
    let mut first = 0;
    for stride in STRIDES {
        let (gw, gh) = (in_w / stride, in_h / stride);
        for a in first..first + (gw * gh) as usize {
            let mut best = 0;
            let mut score = f32::MIN;
            for (i, c) in classes.iter().enumerate() {
                let s = output[(box_rows + c) * anchors + a];
                if s > score {
                    score = s;
                    best = i;
                }
            }
            if score.is_nan() || score < min_score {
                continue;
            }
            let cell = (a - first) as u32;
            let ax = (cell % gw) as f32 + 0.5;
            let ay = (cell / gw) as f32 + 0.5;
            let side = |k: usize| expected_bin(output, anchors, a, k);
            let s = stride as f32;
            let (l, t, r, b) = (side(0), side(1), side(2), side(3));
            if let Some(bbox) = frame_box(
                ((ax - l) * s, (ay - t) * s, (ax + r) * s, (ay + b) * s),
                &layout.placement,
                layout.frame,
            ) {
                out.push(RawDetection {
                    bbox,
                    class: best,
                    score,
                });
            }
        }
        first += (gw * gh) as usize;
    }
    out
}

/// The expected value (in grid cells) of side `k`'s 16-bin distribution at anchor `a`: the
/// softmax of its logits weighted by the bin index.
fn expected_bin(output: &[f32], anchors: usize, a: usize, k: usize) -> f32 {
    let logit = |bin: usize| output[(k * DFL_BINS + bin) * anchors + a];
    let max = (0..DFL_BINS).map(logit).fold(f32::MIN, f32::max);
    let (mut sum, mut weighted) = (0.0f32, 0.0f32);
    for bin in 0..DFL_BINS {
        let e = (logit(bin) - max).exp();
        sum += e;
        weighted += e * bin as f32;
    }
    if sum > 0.0 && sum.is_finite() {
        weighted / sum
    } else {
        0.0
    }
}

/// A box in input pixels `(x1, y1, x2, y2)` mapped to frame pixels and clipped; `None` when
/// less than a pixel is left.
fn frame_box(
    (x1, y1, x2, y2): (f32, f32, f32, f32),
    placement: &Letterbox,
    (frame_w, frame_h): (u32, u32),
) -> Option<BoxXyxy> {
    let (x1, y1) = placement.frame_from_input(x1, y1);
    let (x2, y2) = placement.frame_from_input(x2, y2);
    let bbox = BoxXyxy {
        x1: x1.clamp(0.0, frame_w as f32),
        y1: y1.clamp(0.0, frame_h as f32),
        x2: x2.clamp(0.0, frame_w as f32),
        y2: y2.clamp(0.0, frame_h as f32),
    };
    (bbox.width() >= 1.0 && bbox.height() >= 1.0).then_some(bbox)
}

/// Greedy non-maximum suppression across classes: the best-scoring box wins, and any box
/// overlapping a kept one by more than `max_iou` is dropped. Returns at most `limit` boxes,
/// best first.
pub fn nms(mut dets: Vec<RawDetection>, max_iou: f32, limit: usize) -> Vec<RawDetection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut kept: Vec<RawDetection> = Vec::new();
    for d in dets {
        if kept.len() >= limit {
            break;
        }
        if kept.iter().all(|k| k.bbox.iou(&d.bbox) <= max_iou) {
            kept.push(d);
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn letterbox_resizes_like_the_triangle_filter() {
        // A 16:9 frame with detail in both directions, fitted into 640×384.
        let img = RgbImage::from_fn(1280, 720, |x, y| {
            Rgb([
                (x % 251) as u8,
                (y * 3 % 241) as u8,
                ((x / 7 + y / 5) % 256) as u8,
            ])
        });
        let (data, w, h, placement) = letterbox_to(
            &img,
            InputShape::Fit {
                max_side: 640,
                enlarge: true,
            },
        );
        assert_eq!((w, h, placement.pad_y), (640, 384, 12.0));
        let plain = image::imageops::resize(&img, 640, 360, FilterType::Triangle);
        let plane = (w * h) as usize;
        let mut worst = 0.0f32;
        for (x, y, Rgb(px)) in plain.enumerate_pixels() {
            let i = ((y + 12) * w + x) as usize;
            for (c, v) in px.iter().enumerate() {
                worst = worst.max((data[c * plane + i] - f32::from(*v) / 255.0).abs());
            }
        }
        assert!(worst <= 2.0 / 255.0, "largest difference {}", worst * 255.0);
        // The padding rows stay grey.
        assert_eq!(data[0], 114.0 / 255.0);
        assert_eq!(data[plane - 1], 114.0 / 255.0);
    }

    fn b(x1: f32, y1: f32, x2: f32, y2: f32) -> BoxXyxy {
        BoxXyxy { x1, y1, x2, y2 }
    }

    #[test]
    fn iou_of_identical_disjoint_and_half_boxes() {
        assert_eq!(b(0., 0., 10., 10.).iou(&b(0., 0., 10., 10.)), 1.0);
        assert_eq!(b(0., 0., 10., 10.).iou(&b(20., 20., 30., 30.)), 0.0);
        let half = b(0., 0., 10., 10.).iou(&b(5., 0., 15., 10.));
        assert!((half - 50.0 / 150.0).abs() < 1e-6);
        assert_eq!(b(0., 0., 0., 0.).iou(&b(0., 0., 0., 0.)), 0.0);
    }

    #[test]
    fn letterbox_places_wide_image_in_the_middle() {
        let img = RgbImage::from_pixel(200, 100, Rgb([255, 0, 0]));
        let (data, _, _, lb) = letterbox_to(&img, InputShape::Square(64));
        assert_eq!(data.len(), 3 * 64 * 64);
        assert!((lb.scale - 0.32).abs() < 1e-6);
        assert_eq!(lb.pad_x, 0.0);
        assert_eq!(lb.pad_y, 16.0);
        // Top row is padding, middle row is the red image.
        assert!((data[0] - 114.0 / 255.0).abs() < 1e-6);
        assert_eq!(data[32 * 64 + 10], 1.0);
        assert_eq!(data[64 * 64 + 32 * 64 + 10], 0.0);
        assert_eq!(lb.frame_from_input(32.0, 32.0), (100.0, 50.0));
    }

    #[test]
    fn letterbox_survives_a_one_pixel_image() {
        let img = RgbImage::from_pixel(1, 1, Rgb([0, 0, 0]));
        let (data, _, _, lb) = letterbox_to(&img, InputShape::Square(32));
        assert_eq!(data.len(), 3 * 32 * 32);
        assert_eq!(lb.scale, 32.0);
    }

    #[test]
    fn decode_maps_boxes_back_to_the_frame_and_filters_by_score() {
        // Two anchors, two classes: rows cx, cy, w, h, c0, c1.
        let anchors = 2;
        let output = vec![
            32.0, 10.0, // cx
            32.0, 10.0, // cy
            16.0, 4.0, // w
            8.0, 4.0, // h
            0.1, 0.05, // class 0
            0.9, 0.2, // class 1
        ];
        let lb = Letterbox {
            scale: 0.5,
            pad_x: 0.0,
            pad_y: 16.0,
        };
        let dets = decode_classes(&output, anchors, &[0, 1], 0.25, &lb, 128, 64);
        assert_eq!(dets.len(), 1);
        assert_eq!(dets[0].class, 1);
        assert_eq!(dets[0].bbox, b(48.0, 24.0, 80.0, 40.0));
    }

    #[test]
    fn decode_classes_lets_only_the_listed_classes_compete() {
        // One anchor, three classes: person 0.9, car 0.6, dog 0.1.
        let output = vec![10.0, 10.0, 4.0, 4.0, 0.9, 0.6, 0.1];
        let lb = Letterbox {
            scale: 1.0,
            pad_x: 0.0,
            pad_y: 0.0,
        };
        let all = decode_classes(&output, 1, &[0, 1, 2], 0.25, &lb, 100, 100);
        assert_eq!(all[0].class, 0);
        let cars = decode_classes(&output, 1, &[1], 0.25, &lb, 100, 100);
        assert_eq!(cars.len(), 1);
        assert_eq!((cars[0].class, cars[0].score), (0, 0.6));
        assert!(decode_classes(&output, 1, &[2], 0.25, &lb, 100, 100).is_empty());
        // A listed class past the end of the output decodes nothing.
        assert!(decode_classes(&output, 1, &[3], 0.0, &lb, 100, 100).is_empty());
        assert!(decode_classes(&output, 1, &[], 0.0, &lb, 100, 100).is_empty());
    }

    #[test]
    fn decode_ignores_short_or_nan_output() {
        let lb = Letterbox {
            scale: 1.0,
            pad_x: 0.0,
            pad_y: 0.0,
        };
        assert!(decode_classes(&[1.0; 5], 2, &[0, 1], 0.1, &lb, 10, 10).is_empty());
        let nan = vec![f32::NAN; 6];
        assert!(decode_classes(&nan, 1, &[0, 1], 0.1, &lb, 10, 10).is_empty());
    }

    #[test]
    fn fit_shapes_are_multiples_of_32() {
        let fit = InputShape::Fit {
            max_side: 640,
            enlarge: true,
        };
        assert_eq!(fit.fit(1280, 720), (640, 384, 0.5));
        assert_eq!(fit.fit(1920, 1080), (640, 384, 1.0 / 3.0));
        assert_eq!(fit.fit(320, 240), (640, 480, 2.0));
        // Without enlarging, a small region keeps its own pixels, padded up to the next
        // multiple of 32; a big one still shrinks to fit.
        let region = fit.without_enlarging();
        assert_eq!(region.fit(100, 50), (128, 64, 1.0));
        assert_eq!(region.fit(1, 1), (32, 32, 1.0));
        assert_eq!(region.fit(1280, 720), (640, 384, 0.5));
        assert_eq!(
            InputShape::Square(640).without_enlarging(),
            InputShape::Square(640)
        );
        assert_eq!(InputShape::Square(640).fit(1280, 720), (640, 640, 0.5));
    }

    #[test]
    fn rectangular_letterbox_pads_only_to_the_multiple() {
        let img = RgbImage::from_pixel(1280, 720, Rgb([255, 0, 0]));
        let shape = InputShape::Fit {
            max_side: 640,
            enlarge: true,
        };
        let (data, w, h, lb) = letterbox_to(&img, shape);
        assert_eq!((w, h), (640, 384));
        assert_eq!(data.len(), 3 * 640 * 384);
        assert_eq!((lb.pad_x, lb.pad_y), (0.0, 12.0));
        assert!((data[0] - 114.0 / 255.0).abs() < 1e-6);
        assert_eq!(data[12 * 640], 1.0);
        assert_eq!(lb.frame_from_input(320.0, 192.0), (640.0, 360.0));
    }

    /// A lean graph's layout with the frame scaled by `scale` and no padding.
    fn lean_layout(input: (u32, u32), scale: f32, frame: (u32, u32)) -> LeanLayout {
        LeanLayout {
            input,
            placement: Letterbox {
                scale,
                pad_x: 0.0,
                pad_y: 0.0,
            },
            frame,
        }
    }

    /// A lean output for a 64×32 input (anchors 32 + 8 + 2 = 42), all logits flat (every
    /// side's expected distance is 7.5 cells) and every score 0.
    fn flat_lean_output(classes: usize) -> Vec<f32> {
        vec![0.0; (64 + classes) * anchor_count(64, 32)]
    }

    #[test]
    fn dfl_decoding_rebuilds_the_anchor_grid_for_the_input_size() {
        assert_eq!(anchor_count(640, 640), 8400);
        assert_eq!(anchor_count(640, 384), 3840 + 960 + 240);
        let anchors = anchor_count(64, 32);
        let mut out = flat_lean_output(2);
        // Stride-16 anchor at cell (x 2, y 1): index 32 + 1*4 + 2 = 38. Class 1 scores 0.8.
        let a = 38;
        out[(64 + 1) * anchors + a] = 0.8;
        // Its left side: all weight in bin 1; top: bin 0; right: bin 2; bottom: bin 1.
        for (side, bin) in [(0, 1), (1, 0), (2, 2), (3, 1)] {
            out[(side * 16 + bin) * anchors + a] = 50.0;
        }
        let layout = lean_layout((64, 32), 0.5, (256, 128));
        let dets = decode_dfl(&out, &layout, &[0, 1], 0.25);
        assert_eq!(dets.len(), 1);
        assert_eq!((dets[0].class, dets[0].score), (1, 0.8));
        // Centre (2.5, 1.5) cells × 16 = (40, 24) input px; l 1, t 0, r 2, b 1 cells.
        let b = dets[0].bbox;
        let want = [
            (40.0 - 16.0) * 2.0,
            24.0 * 2.0,
            (40.0 + 32.0) * 2.0,
            (24.0 + 16.0) * 2.0,
        ];
        for (got, want) in [b.x1, b.y1, b.x2, b.y2].iter().zip(want) {
            assert!((got - want).abs() < 1e-3, "{b:?}");
        }
        // Only the listed classes compete; the others are not decoded.
        assert!(decode_dfl(&out, &layout, &[0], 0.25).is_empty());
    }

    #[test]
    fn dfl_decoding_refuses_output_of_another_size() {
        let layout = lean_layout((64, 64), 1.0, (64, 64));
        // Made for 64×32: too short for 64×64.
        assert!(decode_dfl(&flat_lean_output(1), &layout, &[0], 0.0).is_empty());
        let nan = vec![f32::NAN; 65 * anchor_count(64, 64)];
        assert!(decode_dfl(&nan, &layout, &[0], 0.0).is_empty());
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_and_respects_the_limit() {
        let d = |x: f32, score: f32| RawDetection {
            bbox: b(x, 0., x + 10., 10.),
            class: 0,
            score,
        };
        let kept = nms(
            vec![d(0., 0.5), d(1., 0.9), d(50., 0.7), d(100., 0.6)],
            0.5,
            2,
        );
        assert_eq!(kept.len(), 2);
        assert_eq!(kept[0].score, 0.9);
        assert_eq!(kept[1].score, 0.7);
    }
}
