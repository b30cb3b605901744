//! Plate boxes that cut their plate's text: the plate detector can box part of a plate (the
//! letters after an emblem, a plate half in shadow), and the line finder then finds a text
//! line that runs off the crop. The box is widened on that side and the lines found again, once.
//!
//! Owns: when a text line counts as cut (it reaches the crop's side and spans a good part of
//! its height), and how far the box grows. PURE.

use image::RgbImage;

use super::ocr::RotatedRect;
use super::plates::CROP_MARGIN;
use super::BoxXyxy;

/// Distance from the crop's side, in pixels, within which a text line runs off it.
const CUT_TEXT_EDGE_PX: f32 = 2.0;
/// Fewest of the crop's height a text line must span to count as cut (not a screw or a speck).
const CUT_TEXT_MIN_HEIGHT: f32 = 0.3;
/// How much of its width a plate box grows on each side its text runs off.
const CUT_TEXT_WIDEN: f32 = 0.5;

/// The plate box grown on each side where one of the crop's text lines `rects` runs off the
/// crop (`crop_width` wide) and the frame goes on; `None` when no line is cut so.
pub(super) fn widened(
    plate: &BoxXyxy,
    rects: &[RotatedRect],
    crop_width: u32,
    frame: &RgbImage,
) -> Option<BoxXyxy> {
    let crop_box = plate.expand(CROP_MARGIN.0, CROP_MARGIN.1, frame.width(), frame.height());
    let min_height = CUT_TEXT_MIN_HEIGHT * crop_box.height();
    let (mut left, mut right) = (false, false);
    for r in rects.iter().filter(|r| r.height >= min_height) {
        let xs = r.corners().map(|c| c.0);
        left |= xs.iter().copied().fold(f32::MAX, f32::min) <= CUT_TEXT_EDGE_PX;
        right |=
            xs.iter().copied().fold(f32::MIN, f32::max) >= crop_width as f32 - CUT_TEXT_EDGE_PX;
    }
    left &= crop_box.x1 > 0.0;
    right &= crop_box.x2 < frame.width() as f32;
    if !left && !right {
        return None;
    }
    let grow = CUT_TEXT_WIDEN * plate.width();
    Some(BoxXyxy {
        x1: if left {
            (plate.x1 - grow).max(0.0)
        } else {
            plate.x1
        },
        x2: if right {
            (plate.x2 + grow).min(frame.width() as f32)
        } else {
            plate.x2
        },
        ..*plate
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect(x1: f32, x2: f32, height: f32) -> RotatedRect {
        RotatedRect {
            cx: (x1 + x2) / 2.0,
            cy: 20.0,
            width: x2 - x1,
            height,
            angle: 0.0,
        }
    }

    const PLATE: BoxXyxy = BoxXyxy {
        x1: 300.0,
        y1: 200.0,
        x2: 600.0,
        y2: 300.0,
    };

    #[test]
    fn a_line_running_off_the_crop_widens_the_box_on_its_side() {
        let frame = RgbImage::new(800, 500);
        // The crop is 348 px wide (8 % margin each side) and 130 px high.
        let left = widened(&PLATE, &[rect(0.5, 300.0, 80.0)], 348, &frame).unwrap();
        assert_eq!((left.x1, left.x2, left.y1), (150.0, 600.0, 200.0));
        let right = widened(&PLATE, &[rect(40.0, 347.0, 80.0)], 348, &frame).unwrap();
        assert_eq!((right.x1, right.x2), (300.0, 750.0));
    }

    #[test]
    fn text_inside_the_crop_a_speck_or_the_frame_edge_widens_nothing() {
        let frame = RgbImage::new(800, 500);
        assert_eq!(
            widened(&PLATE, &[rect(20.0, 320.0, 80.0)], 348, &frame),
            None
        );
        // A screw or speck at the side is not a line of text.
        assert_eq!(widened(&PLATE, &[rect(0.0, 12.0, 10.0)], 348, &frame), None);
        // The crop already starts at the frame's left edge: nothing more to see there.
        let at_edge = BoxXyxy {
            x1: 10.0,
            x2: 310.0,
            ..PLATE
        };
        assert_eq!(
            widened(&at_edge, &[rect(0.0, 300.0, 80.0)], 334, &frame),
            None
        );
        assert_eq!(widened(&PLATE, &[], 348, &frame), None);
    }
}
