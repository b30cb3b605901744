//! The plate reads of a camera's previous analysed frame, so an unchanged plate crop is not
//! read again.
//!
//! Owns: the "look" of a plate crop (a 24×8 grey thumbnail) and the rule that two crops are
//! the same picture: boxes overlapping by IoU ≥ 0.8 and thumbnails differing by at most 3 grey
//! levels on average. A car waiting at a booth shows the same plate for seconds; its OCR is
//! paid once. PURE apart from reading pixels of the frame it is given.

use image::RgbImage;

use super::PlateRead;
use crate::motion::GreyThumb;
use crate::scene::BoxXyxy;

/// Boxes must overlap at least this much to be the same crop.
const SAME_BOX_IOU: f32 = 0.8;
/// Mean absolute difference of the thumbnails, grey levels, at or under which two crops are
/// the same picture.
const SAME_LOOK_MAD: f32 = 3.0;
/// Thumbnail width of a plate crop, cells.
const LOOK_WIDTH: u32 = 24;

/// What a plate crop looks like, small.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CropLook(GreyThumb);

impl CropLook {
    /// The look of `bbox` in `frame`.
    pub fn of(frame: &RgbImage, bbox: &BoxXyxy) -> CropLook {
        let (fw, fh) = frame.dimensions();
        let (x, y, w, h) = bbox.crop_rect(fw, fh);
        if w == 0 || h == 0 {
            return CropLook(GreyThumb {
                width: 0,
                height: 0,
                cells: Vec::new(),
            });
        }
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        // Resize to a fixed grid first so crops of slightly different sizes compare.
        let grid = image::imageops::resize(
            &crop,
            LOOK_WIDTH * 2,
            16,
            image::imageops::FilterType::Triangle,
        );
        CropLook(GreyThumb::from_rgb(
            grid.as_raw(),
            grid.width(),
            grid.height(),
            LOOK_WIDTH,
        ))
    }

    /// Whether `self` and `other` show the same picture.
    pub fn same_as(&self, other: &CropLook) -> bool {
        let (a, b) = (&self.0, &other.0);
        if a.cells.is_empty() || a.width != b.width || a.height != b.height {
            return false;
        }
        let total: u32 = a
            .cells
            .iter()
            .zip(&b.cells)
            .map(|(p, q)| u32::from(p.abs_diff(*q)))
            .sum();
        total as f32 / a.cells.len() as f32 <= SAME_LOOK_MAD
    }
}

/// The previous analysed frame's plate crops and what they read as (`None`: unreadable).
#[derive(Debug, Default, Clone)]
pub struct PlateMemory {
    /// Box, look and read of each plate crop of the previous frame.
    crops: Vec<(BoxXyxy, CropLook, Option<PlateRead>)>,
    /// Reads skipped because the crop had not changed, since the start.
    pub recalled: u64,
}

impl PlateMemory {
    /// What the same crop read as in the previous frame: `None` when the previous frame
    /// had no such crop, `Some(None)` when it had it and it did not read.
    pub fn recall(&mut self, bbox: &BoxXyxy, look: &CropLook) -> Option<Option<PlateRead>> {
        let hit = self
            .crops
            .iter()
            .find(|(b, l, _)| b.iou(bbox) >= SAME_BOX_IOU && l.same_as(look))?;
        self.recalled += 1;
        Some(hit.2.clone())
    }

    /// This frame's crops become the memory.
    pub fn replace(&mut self, crops: Vec<(BoxXyxy, CropLook, Option<PlateRead>)>) {
        self.crops = crops;
    }

    /// Forgets everything (a new stream).
    pub fn clear(&mut self) {
        self.crops.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame_with_plate(x: u32, shade: u8) -> RgbImage {
        let mut img = RgbImage::from_pixel(200, 100, image::Rgb([40, 40, 40]));
        for yy in 40..60 {
            for xx in x..x + 60 {
                let v = if (xx / 6) % 2 == 0 { shade } else { 20 };
                img.put_pixel(xx, yy, image::Rgb([v, v, v]));
            }
        }
        img
    }

    #[test]
    fn the_same_crop_is_recognised_and_a_changed_one_is_not() {
        let b = BoxXyxy {
            x1: 50.0,
            y1: 40.0,
            x2: 110.0,
            y2: 60.0,
        };
        let a = CropLook::of(&frame_with_plate(50, 230), &b);
        assert!(a.same_as(&CropLook::of(&frame_with_plate(50, 230), &b)));
        // Moved by half a stripe: a different picture in the same box.
        assert!(!a.same_as(&CropLook::of(&frame_with_plate(53, 230), &b)));
        // Another plate in the same place.
        assert!(!a.same_as(&CropLook::of(&frame_with_plate(50, 120), &b)));
    }
}
