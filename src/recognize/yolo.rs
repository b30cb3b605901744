//! Ultralytics YOLO (detect/segment export) pre- and post-processing, without the session.
//!
//! Owns: letterboxing an RGB image into the model's square input, decoding the raw
//! `[1, 4 + classes + masks, anchors]` output into boxes in frame pixels, and non-maximum
//! suppression. Pure functions on plain data; unit-tested without a model.

use image::imageops::FilterType;
use image::{Rgb, RgbImage};

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

/// Resizes `img` to fit a `size`×`size` square (aspect kept, grey padding, centred) and returns
/// the planar RGB tensor data scaled to 0..1, `[3, size, size]`, with the placement.
pub fn letterbox(img: &RgbImage, size: u32) -> (Vec<f32>, Letterbox) {
    let (w, h) = img.dimensions();
    let scale = (size as f32 / w.max(1) as f32).min(size as f32 / h.max(1) as f32);
    let new_w = ((w as f32 * scale).round() as u32).clamp(1, size);
    let new_h = ((h as f32 * scale).round() as u32).clamp(1, size);
    let resized = if (new_w, new_h) == (w, h) {
        img.clone()
    } else {
        image::imageops::resize(img, new_w, new_h, FilterType::Triangle)
    };
    let pad_x = (size - new_w) / 2;
    let pad_y = (size - new_h) / 2;
    let plane = (size * size) as usize;
    let mut data = vec![114.0 / 255.0; 3 * plane];
    for (x, y, Rgb(px)) in resized.enumerate_pixels() {
        let i = ((y + pad_y) * size + x + pad_x) as usize;
        data[i] = px[0] as f32 / 255.0;
        data[plane + i] = px[1] as f32 / 255.0;
        data[2 * plane + i] = px[2] as f32 / 255.0;
    }
    (
        data,
        Letterbox {
            scale,
            pad_x: pad_x as f32,
            pad_y: pad_y as f32,
        },
    )
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
/// keeping anchors whose best class score is at least `min_score`.
pub fn decode(
    output: &[f32],
    anchors: usize,
    classes: usize,
    min_score: f32,
    placement: &Letterbox,
    frame_w: u32,
    frame_h: u32,
) -> Vec<RawDetection> {
    let rows: Vec<usize> = (0..classes).collect();
    decode_classes(
        output, anchors, &rows, min_score, placement, frame_w, frame_h,
    )
}

/// Like [`decode`], but only the classes listed in `classes` (indices into the model's
/// classes) compete for each anchor; a detection's `class` is its position in that list.
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
        let (x1, y1) = placement.frame_from_input(cx[a] - bw[a] / 2.0, cy[a] - bh[a] / 2.0);
        let (x2, y2) = placement.frame_from_input(cx[a] + bw[a] / 2.0, cy[a] + bh[a] / 2.0);
        let bbox = BoxXyxy {
            x1: x1.clamp(0.0, frame_w as f32),
            y1: y1.clamp(0.0, frame_h as f32),
            x2: x2.clamp(0.0, frame_w as f32),
            y2: y2.clamp(0.0, frame_h as f32),
        };
        if bbox.width() >= 1.0 && bbox.height() >= 1.0 {
            out.push(RawDetection {
                bbox,
                class: best,
                score,
            });
        }
    }
    out
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
        let (data, lb) = letterbox(&img, 64);
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
        let (data, lb) = letterbox(&img, 32);
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
        let dets = decode(&output, anchors, 2, 0.25, &lb, 128, 64);
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
        let all = decode(&output, 1, 3, 0.25, &lb, 100, 100);
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
        assert!(decode(&[1.0; 5], 2, 2, 0.1, &lb, 10, 10).is_empty());
        let nan = vec![f32::NAN; 6];
        assert!(decode(&nan, 1, 2, 0.1, &lb, 10, 10).is_empty());
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
