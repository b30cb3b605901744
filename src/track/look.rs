//! What a vehicle looks like, small: the mean colour of a 4×4 grid over the inner part of its
//! box. A settled track compares the vehicle in its box with the look it had when its plate
//! was last read; a clearly different look (a red car stopping where a white one stood) means
//! the plate must be read again.
//!
//! PURE: pixels come in through a closure, so the tracker never sees an image.

use serde::{Deserialize, Serialize};

use crate::scene::BoxXyxy;

/// Cells per side of the grid.
const GRID: usize = 4;
/// Share of the box left out on each side (background shows at the corners of a box).
const INSET: f32 = 0.15;
/// Most pixels sampled per cell side.
const SAMPLES: usize = 6;

/// Mean RGB of each cell of a 4×4 grid over a vehicle box, row by row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleLook(pub [[u8; 3]; GRID * GRID]);

impl VehicleLook {
    /// The look of `bbox` in a frame of `size` whose pixel at (x, y) is `pixel(x, y)`;
    /// `None` when the box has fewer than two pixels a side inside the frame.
    pub fn of(
        bbox: &BoxXyxy,
        size: (u32, u32),
        pixel: impl Fn(u32, u32) -> [u8; 3],
    ) -> Option<VehicleLook> {
        let (w, h) = (size.0 as f32, size.1 as f32);
        if ![bbox.x1, bbox.y1, bbox.x2, bbox.y2]
            .iter()
            .all(|v| v.is_finite())
        {
            return None;
        }
        let (bw, bh) = (bbox.width(), bbox.height());
        let x1 = (bbox.x1 + bw * INSET).clamp(0.0, w);
        let x2 = (bbox.x2 - bw * INSET).clamp(0.0, w);
        let y1 = (bbox.y1 + bh * INSET).clamp(0.0, h);
        let y2 = (bbox.y2 - bh * INSET).clamp(0.0, h);
        if x2 - x1 < 2.0 || y2 - y1 < 2.0 {
            return None;
        }
        let (cw, ch) = ((x2 - x1) / GRID as f32, (y2 - y1) / GRID as f32);
        let mut cells = [[0u8; 3]; GRID * GRID];
        for (i, cell) in cells.iter_mut().enumerate() {
            let (gx, gy) = ((i % GRID) as f32, (i / GRID) as f32);
            let mut sum = [0u32; 3];
            let mut n = 0u32;
            for sy in 0..SAMPLES {
                for sx in 0..SAMPLES {
                    let x = x1 + cw * (gx + (sx as f32 + 0.5) / SAMPLES as f32);
                    let y = y1 + ch * (gy + (sy as f32 + 0.5) / SAMPLES as f32);
                    let (px, py) = (x as u32, y as u32);
                    if px >= size.0 || py >= size.1 {
                        continue;
                    }
                    let p = pixel(px, py);
                    for c in 0..3 {
                        sum[c] += u32::from(p[c]);
                    }
                    n += 1;
                }
            }
            let n = n.max(1);
            *cell = sum.map(|s| (s / n) as u8);
        }
        Some(VehicleLook(cells))
    }

    /// Mean absolute difference of the two looks, grey levels per colour channel (0..255).
    pub fn distance(&self, other: &VehicleLook) -> f32 {
        let total: u32 = self
            .0
            .iter()
            .zip(&other.0)
            .flat_map(|(a, b)| (0..3).map(move |c| u32::from(a[c].abs_diff(b[c]))))
            .sum();
        total as f32 / (GRID * GRID * 3) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x1: f32, y1: f32, x2: f32, y2: f32) -> BoxXyxy {
        BoxXyxy { x1, y1, x2, y2 }
    }

    #[test]
    fn a_red_car_does_not_look_like_a_white_one() {
        let white = |_, _| [230, 230, 225];
        let red = |_, _| [190, 30, 35];
        let bx = b(100.0, 100.0, 300.0, 250.0);
        let a = VehicleLook::of(&bx, (640, 480), white).unwrap();
        let c = VehicleLook::of(&bx, (640, 480), red).unwrap();
        assert!(a.distance(&c) > 100.0, "{}", a.distance(&c));
        assert_eq!(a.distance(&a), 0.0);
    }

    #[test]
    fn the_same_vehicle_a_little_bigger_looks_the_same() {
        // A car: dark windscreen on top, body below, on grey road.
        let car = |x: u32, y: u32, s: f32| {
            let (cx, cy) = (320.0, 240.0);
            let (dx, dy) = ((x as f32 - cx) / s, (y as f32 - cy) / s);
            if dx.abs() > 100.0 || dy.abs() > 80.0 {
                [120, 120, 120]
            } else if dy < -20.0 {
                [30, 35, 40]
            } else {
                [200, 40, 40]
            }
        };
        let near = VehicleLook::of(&b(220.0, 160.0, 420.0, 320.0), (640, 480), |x, y| {
            car(x, y, 1.0)
        })
        .unwrap();
        let nearer = VehicleLook::of(&b(210.0, 152.0, 430.0, 328.0), (640, 480), |x, y| {
            car(x, y, 1.1)
        })
        .unwrap();
        assert!(near.distance(&nearer) < 15.0, "{}", near.distance(&nearer));
    }

    #[test]
    fn boxes_outside_or_degenerate_have_no_look() {
        let grey = |_, _| [100, 100, 100];
        assert!(VehicleLook::of(&b(700.0, 10.0, 800.0, 50.0), (640, 480), grey).is_none());
        assert!(VehicleLook::of(&b(10.0, 10.0, 11.0, 11.0), (640, 480), grey).is_none());
        let nan = b(f32::NAN, 0.0, 10.0, 10.0);
        assert!(VehicleLook::of(&nan, (640, 480), grey).is_none());
        // Half outside: sampled inside only.
        assert!(VehicleLook::of(&b(600.0, 400.0, 700.0, 520.0), (640, 480), grey).is_some());
    }
}
