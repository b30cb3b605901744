//! Unit tests of the OCR steps that need no model: CTC decoding, rotated boxes, grouping
//! regions into lines, straightening.

use super::*;

#[test]
fn ctc_collapses_repeats_and_skips_blanks() {
    let charset = vec!['\0', 'A', 'B', '1'];
    // steps: A A blank A B B blank
    let hot = |c: usize, p: f32| {
        let mut row = vec![(1.0 - p) / 3.0; 4];
        row[c] = p;
        row
    };
    let probs: Vec<f32> = [
        hot(1, 0.6),
        hot(1, 0.9),
        hot(0, 0.9),
        hot(1, 0.7),
        hot(2, 0.8),
        hot(2, 0.5),
        hot(0, 0.9),
    ]
    .concat();
    let read = ctc_decode(&probs, 4, &charset);
    assert_eq!(read.text(), "AAB");
    // The first A peaked at 0.9; blank is never an alternative.
    assert!((read.positions[0].alternatives[0].1 - 0.9).abs() < 1e-6);
    assert!(read
        .positions
        .iter()
        .all(|p| p.alternatives.iter().all(|a| a.0 != '\0')));
    assert_eq!(read.positions[0].alternatives.len(), 3);
}

#[test]
fn ctc_of_all_blanks_is_empty() {
    let charset = vec!['\0', 'A'];
    let probs = vec![0.9, 0.1, 0.8, 0.2];
    assert!(ctc_decode(&probs, 2, &charset).positions.is_empty());
}

#[test]
fn rotated_rect_round_trips_through_corners() {
    let r = RotatedRect {
        cx: 50.0,
        cy: 20.0,
        width: 80.0,
        height: 20.0,
        angle: 0.1,
    };
    let back = RotatedRect::from_corners(&r.corners());
    assert!((back.cx - r.cx).abs() < 1e-3 && (back.cy - r.cy).abs() < 1e-3);
    assert!((back.width - r.width).abs() < 1e-3 && (back.height - r.height).abs() < 1e-3);
    assert!((back.angle - r.angle).abs() < 1e-4);
}

#[test]
fn two_stacked_regions_become_two_lines_top_first() {
    let mut map = vec![0.0f32; 64 * 64];
    for y in 8..20 {
        for x in 10..50 {
            map[y * 64 + x] = 0.9;
        }
    }
    for y in 36..50 {
        for x in 6..58 {
            map[y * 64 + x] = 0.9;
        }
    }
    let regions = regions_from_map(&map, 64, 64, &LineFinderSettings::default());
    assert_eq!(regions.len(), 2);
    let lines = group_into_lines(regions);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].cy < lines[1].cy);
    assert!(lines[1].width > lines[0].width);
}

#[test]
fn words_on_one_line_merge() {
    let mut map = vec![0.0f32; 96 * 32];
    for y in 10..22 {
        for x in (5..30).chain(40..90) {
            map[y * 96 + x] = 0.9;
        }
    }
    let regions = regions_from_map(&map, 96, 32, &LineFinderSettings::default());
    assert_eq!(regions.len(), 2);
    let lines = group_into_lines(regions);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].width > 80.0);
}

#[test]
fn straighten_keeps_size() {
    let img = RgbImage::from_pixel(100, 50, Rgb([200, 10, 10]));
    let r = RotatedRect {
        cx: 50.0,
        cy: 25.0,
        width: 60.0,
        height: 20.0,
        angle: 0.05,
    };
    let out = straighten(&img, &r);
    assert_eq!(out.dimensions(), (60, 20));
    assert_eq!(out.get_pixel(30, 10), &Rgb([200, 10, 10]));
}
