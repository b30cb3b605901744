//! Draws the frames of a made traffic video from its plan and photos.
//!
//! The road is drawn once (sky, a skyline, the road with its lines and stop lines, roadside);
//! every frame copies it and draws the vehicles in view from far to near, so nearer ones hide
//! farther ones. A vehicle is its cut-out scaled to its box (from the halving closest above the
//! box's size, sampled bilinearly), leaning a little with its distance from the picture's
//! centre, smeared along its motion by the distance it moves while the shutter is open
//! ([`exposure`]). Then sensor noise over the whole frame.
//! At night everything is dim and bluish, plates going away are lit by their plate lamp,
//! vehicles coming toward the camera have glaring headlights (and a flared plate, by their glare
//! strength), vehicles going away show red tail lights.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use super::camera::Camera;
use super::model::Model;
use super::photos::Sprite;
use super::plan::{Plan, PlannedVehicle};
use super::road::{Road, LANE_LINES_M, ROAD_EDGES_M};
use super::truth::{exposure, plate_box, MAX_GLARE};
use crate::scene::{BoxXyxy, VehicleClass};
use crate::track::Direction;

/// Colour gain of the night: dim, bluish.
const NIGHT: [f32; 3] = [0.30, 0.34, 0.48];
/// Sensor noise, standard deviation in 8-bit steps: day, night.
const NOISE_SIGMA: [f32; 2] = [2.5, 5.0];

/// Draws frames; holds the road and scratch space between frames.
pub struct Renderer<'a> {
    plan: &'a Plan,
    models: &'a [Model],
    sprites: &'a [Sprite],
    road: Vec<u8>,
    noise: Vec<i8>,
    scratch: Vec<[f32; 4]>,
}

impl<'a> Renderer<'a> {
    /// A renderer for a plan whose vehicles' `model` index `models` and `sprites`.
    pub fn new(plan: &'a Plan, models: &'a [Model], sprites: &'a [Sprite]) -> Renderer<'a> {
        let cam = plan.camera;
        let night = plan.params.night;
        let mut rng = ChaCha8Rng::seed_from_u64(plan.params.seed ^ 0x006E_6F69_7365);
        let sigma = NOISE_SIGMA[usize::from(night)];
        let n = (cam.width * cam.height * 3) as usize + 65536;
        let noise = (0..n)
            .map(|_| {
                // Sum of four uniforms: near enough to Gaussian.
                let s: f32 = (0..4).map(|_| rng.random::<f32>() - 0.5).sum();
                (s * sigma * 1.732).round().clamp(-127.0, 127.0) as i8
            })
            .collect();
        Renderer {
            plan,
            models,
            sprites,
            road: road(&cam, &plan.road, night),
            noise,
            scratch: Vec::new(),
        }
    }

    /// Frame `k` as packed RGB rows into `out`.
    pub fn frame(&mut self, k: usize, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.road);
        let cam = self.plan.camera;
        let mut in_view: Vec<(&PlannedVehicle, BoxXyxy, f32)> = self
            .plan
            .vehicles
            .iter()
            .filter_map(|v| {
                let b = v.screen_box(&cam, k)?;
                let on =
                    b.x2 > 0.0 && b.x1 < cam.width as f32 && b.y2 > 0.0 && b.y1 < cam.height as f32;
                (on && b.width() >= 2.0).then(|| (v, b, v.pose(k).map_or(0.0, |p| p.z)))
            })
            .collect();
        in_view.sort_by(|a, b| b.2.total_cmp(&a.2));
        let night = self.plan.params.night;
        for (v, b, _) in in_view {
            let (Some(sprite), Some(model)) = (self.sprites.get(v.model), self.models.get(v.model))
            else {
                continue;
            };
            let blur = v.blur_px(&cam, k, exposure(night));
            let lamp = (night && v.direction == Direction::Against).then(|| plate_box(&b, model));
            self.draw_sprite(out, sprite, &b, blur, lamp);
            if night {
                lights(out, &cam, v, model, &b);
            }
        }
        let off = (k.wrapping_mul(40_503) ^ (k >> 3).wrapping_mul(9_973)) % 65536;
        for (o, n) in out.iter_mut().zip(&self.noise[off..]) {
            *o = (i16::from(*o) + i16::from(*n)).clamp(0, 255) as u8;
        }
    }

    /// Draws one cut-out into box `b`, smeared vertically over `blur` pixels; `lamp` is a
    /// plate lit at night.
    fn draw_sprite(
        &mut self,
        out: &mut [u8],
        sprite: &Sprite,
        b: &BoxXyxy,
        blur: f32,
        lamp: Option<BoxXyxy>,
    ) {
        let cam = self.plan.camera;
        let (fw, fh) = (cam.width as i32, cam.height as i32);
        let (bw, bh) = (b.width(), b.height());
        let lean =
            0.06 * ((b.center().0 - fw as f32 / 2.0) / (fw as f32 / 2.0)).clamp(-1.0, 1.0) * bh;
        let reach = (blur / 2.0).ceil() as i32;
        let x0 = ((b.x1 + lean.min(0.0)).floor() as i32).max(0);
        let x1 = ((b.x2 + lean.max(0.0)).ceil() as i32).min(fw);
        let y0 = (b.y1.floor() as i32 - reach).max(0);
        let y1 = (b.y2.ceil() as i32 + reach).min(fh);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let (rw, rh) = ((x1 - x0) as usize, (y1 - y0) as usize);
        let level = sprite
            .levels
            .iter()
            .rev()
            .find(|l| l.width() as f32 >= bw)
            .unwrap_or(&sprite.levels[0]);
        let (lw, lh) = (level.width() as i32, level.height() as i32);
        let src = level.as_raw();
        self.scratch.clear();
        self.scratch.resize(rw * rh, [0.0; 4]);
        let step = lw as f32 / bw;
        let texel = |x: i32, y: i32| -> [f32; 4] {
            let i = ((y.clamp(0, lh - 1) * lw + x.clamp(0, lw - 1)) * 4) as usize;
            let p = &src[i..i + 4];
            [p[0], p[1], p[2], p[3]].map(f32::from)
        };
        for ry in 0..rh {
            let v = (y0 as f32 + ry as f32 + 0.5 - b.y1) / bh;
            if !(0.0..1.0).contains(&v) {
                continue;
            }
            let shift = lean * (1.0 - v);
            let sy = v * lh as f32 - 0.5;
            let (iy, fy) = (sy.floor() as i32, sy - sy.floor());
            // Columns whose centre falls inside the sprite: u = (x + 0.5 - left) / bw in [0, 1).
            let left = b.x1 + shift - x0 as f32;
            let first = ((left - 0.5).ceil().max(0.0) as usize).min(rw);
            let last = ((left + bw - 0.5).ceil().max(0.0) as usize).min(rw);
            let row = &mut self.scratch[ry * rw..(ry + 1) * rw];
            for (rx, px) in row.iter_mut().enumerate().take(last).skip(first) {
                let sx = (rx as f32 + 0.5 - left) * step - 0.5;
                let (ix, fx) = (sx.floor() as i32, sx - sx.floor());
                let (a, b2, c, d) = (
                    texel(ix, iy),
                    texel(ix + 1, iy),
                    texel(ix, iy + 1),
                    texel(ix + 1, iy + 1),
                );
                *px = std::array::from_fn(|k| {
                    let top = a[k] + (b2[k] - a[k]) * fx;
                    let bottom = c[k] + (d[k] - c[k]) * fx;
                    (top + (bottom - top) * fy) * (1.0 / 255.0)
                });
            }
        }
        let n = blur.round() as usize;
        if n >= 2 {
            smear_columns(&mut self.scratch, rw, rh, n);
        }
        let night = self.plan.params.night;
        let lamp = lamp.filter(|_| night).map(|p| {
            let (cx, cy) = p.center();
            (cx, cy, 1.0 / (p.width() * 0.75), 1.0 / (p.height() * 0.9))
        });
        let base = if night { NIGHT } else { [1.0; 3] };
        for ry in 0..rh {
            let y = y0 as usize + ry;
            let row = &self.scratch[ry * rw..(ry + 1) * rw];
            let out_row = &mut out[(y * fw as usize + x0 as usize) * 3..][..rw * 3];
            for (rx, (s, o)) in row.iter().zip(out_row.chunks_exact_mut(3)).enumerate() {
                let a = s[3];
                if a <= 0.002 {
                    continue;
                }
                let mut gain = base;
                if let Some((cx, cy, kx, ky)) = lamp {
                    let x = x0 as usize + rx;
                    let (dx, dy) = ((x as f32 + 0.5 - cx) * kx, (y as f32 + 0.5 - cy) * ky);
                    let d2 = dx * dx + dy * dy;
                    if d2 < 1.0 {
                        let lit = smooth(1.0, 0.6, d2.sqrt());
                        gain = base.map(|g| g + (0.8 - g) * lit);
                    }
                }
                for c in 0..3 {
                    let v = f32::from(o[c]) * (1.0 - a) + s[c] * 255.0 * gain[c];
                    o[c] = (v + 0.5) as u8;
                }
            }
        }
    }
}

/// Averages each column of a `w` x `h` buffer over `n` rows centred on each row (a vertical
/// motion smear; rows outside the buffer count as clear).
fn smear_columns(buf: &mut [[f32; 4]], w: usize, h: usize, n: usize) {
    let half = n / 2;
    let inv = 1.0 / n as f32;
    let mut prefix = vec![[0f32; 4]; h + 1];
    for x in 0..w {
        for y in 0..h {
            let p = buf[y * w + x];
            prefix[y + 1] = std::array::from_fn(|c| prefix[y][c] + p[c]);
        }
        for y in 0..h {
            let (lo, hi) = (y.saturating_sub(half), (y + n - half).min(h));
            buf[y * w + x] = std::array::from_fn(|c| (prefix[hi][c] - prefix[lo][c]) * inv);
        }
    }
}

/// Smooth step from 0 (at `a`) to 1 (at `b`); `a > b` steps down.
fn smooth(a: f32, b: f32, x: f32) -> f32 {
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

/// Adds a soft round light: `colour` times `strength` at the centre, Gaussian of `sigma` px.
fn blob(
    out: &mut [u8],
    cam: &Camera,
    (cx, cy): (f32, f32),
    sigma: f32,
    colour: [f32; 3],
    strength: f32,
) {
    if sigma < 0.3 || strength <= 0.0 {
        return;
    }
    let r = 3.0 * sigma;
    let (w, h) = (cam.width as i32, cam.height as i32);
    let (x0, x1) = (((cx - r) as i32).max(0), ((cx + r) as i32 + 1).min(w));
    let (y0, y1) = (((cy - r) as i32).max(0), ((cy + r) as i32 + 1).min(h));
    let k = -0.5 / (sigma * sigma);
    for y in y0..y1 {
        for x in x0..x1 {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let e = strength * ((dx * dx + dy * dy) * k).exp();
            if e < 0.004 {
                continue;
            }
            let o = &mut out[((y * w + x) * 3) as usize..][..3];
            for c in 0..3 {
                o[c] = (f32::from(o[c]) + colour[c] * e).min(255.0) as u8;
            }
        }
    }
}

/// Night lights of a vehicle: headlights with glare and plate flare coming toward the camera,
/// tail lights going away.
fn lights(out: &mut [u8], cam: &Camera, v: &PlannedVehicle, model: &Model, b: &BoxXyxy) {
    let (bw, bh) = (b.width(), b.height());
    let at = |u: f32, w: f32| (b.x1 + u * bw, b.y1 + w * bh);
    if v.direction == Direction::Along {
        let g = v.glare;
        for u in [0.18, 0.82] {
            let c = at(u, 0.55);
            blob(out, cam, c, bw * 0.05, [255.0, 250.0, 235.0], 1.6);
            blob(
                out,
                cam,
                c,
                bw * (0.08 + 0.12 * g),
                [255.0, 240.0, 210.0],
                0.9 * g,
            );
        }
        // A mild haze over the plate; from MAX_GLARE on (where the truth says unreadable) it is
        // washed out white.
        let flare = 0.15 * g + 2.5 * smooth(MAX_GLARE - 0.04, MAX_GLARE, g);
        let p = plate_box(b, model);
        blob(
            out,
            cam,
            p.center(),
            p.width() * 0.6,
            [255.0, 250.0, 240.0],
            flare,
        );
    } else {
        let red = [255.0, 40.0, 30.0];
        if v.class == VehicleClass::Motorbike {
            blob(out, cam, at(0.5, 0.3), bw * 0.05, red, 0.9);
        } else {
            for u in [0.15, 0.85] {
                blob(out, cam, at(u, 0.4), bw * 0.04, red, 0.9);
            }
        }
    }
}

/// Packed RGB of the empty road.
fn road(cam: &Camera, road: &Road, night: bool) -> Vec<u8> {
    let (w, h) = (cam.width as usize, cam.height as usize);
    let horizon = cam.horizon * h as f32;
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            // 2 x 2 samples per pixel: thin far lines fade instead of flickering.
            let mut c = [0f32; 3];
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let s = ground_colour(cam, road, x as f32 + sx, y as f32 + sy, horizon);
                for k in 0..3 {
                    c[k] += s[k] / 4.0;
                }
            }
            let o = &mut out[(y * w + x) * 3..][..3];
            for k in 0..3 {
                let g = if night { NIGHT[k] * 0.8 } else { 1.0 };
                o[k] = (c[k] * g).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Cheap repeatable texture value in [0, 1) for a point.
fn grain(a: f32, b: f32) -> f32 {
    let n = (a * 12.9898 + b * 78.233).sin() * 43_758.547;
    n - n.floor()
}

/// Colour of the scene at a point of the picture.
fn ground_colour(cam: &Camera, road: &Road, x: f32, y: f32, horizon: f32) -> [f32; 3] {
    let h = cam.height as f32;
    let skyline =
        horizon - h * (0.02 + 0.025 * (0.5 + 0.5 * (x * 0.013).sin() * (x * 0.0031).cos()));
    if y < skyline {
        let t = y / skyline.max(1.0);
        return [150.0 + 55.0 * t, 180.0 + 32.0 * t, 215.0 + 8.0 * t];
    }
    if y < horizon {
        let g = grain((x / 3.0).floor(), (y / 3.0).floor());
        return [60.0 + 20.0 * g, 78.0 + 20.0 * g, 62.0 + 10.0 * g];
    }
    let z = cam.z_at_row(y);
    let lateral = cam.centre_m + (x - cam.width as f32 / 2.0) / cam.scale(z);
    let g = value_noise(lateral * 6.0, z * 3.0) * 0.6 + grain(x, y) * 0.4;
    let [left, right] = ROAD_EDGES_M;
    let white = [225.0, 225.0, 220.0];
    let dashed = |at: f32| (lateral - at).abs() < 0.07 && z.rem_euclid(9.0) < 3.0;
    let [along, against] = road.stop_z;
    let stop = (lateral < 0.0 && lateral > left && (along - 0.5..along).contains(&z))
        || (lateral > 0.0 && lateral < right && (against..against + 0.5).contains(&z));
    if lateral > left && lateral < right {
        if (lateral.abs() - 0.1).abs() < 0.06 {
            return [215.0, 180.0, 60.0];
        }
        let edge = (lateral - left - 0.2).abs() < 0.08 || (right - lateral - 0.2).abs() < 0.08;
        if edge || stop || LANE_LINES_M.iter().any(|&l| dashed(l)) {
            return white;
        }
        return [88.0 + 16.0 * g, 89.0 + 16.0 * g, 94.0 + 16.0 * g];
    }
    let out = if lateral < left {
        left - lateral
    } else {
        lateral - right
    };
    if out < 0.25 {
        return [170.0, 168.0, 160.0];
    }
    if out < 2.5 {
        let tile = ((lateral * 2.0).floor() + (z * 2.0).floor()).rem_euclid(2.0);
        return [
            140.0 + 12.0 * tile + 10.0 * g,
            132.0 + 12.0 * tile + 10.0 * g,
            120.0 + 10.0 * g,
        ];
    }
    [78.0 + 25.0 * g, 104.0 + 25.0 * g, 58.0 + 15.0 * g]
}

/// Smooth repeatable noise in [0, 1): [`grain`] on a lattice, interpolated.
fn value_noise(a: f32, b: f32) -> f32 {
    let (ia, ib) = (a.floor(), b.floor());
    let (fa, fb) = (a - ia, b - ib);
    let (sa, sb) = (fa * fa * (3.0 - 2.0 * fa), fb * fb * (3.0 - 2.0 * fb));
    let top = grain(ia, ib) * (1.0 - sa) + grain(ia + 1.0, ib) * sa;
    let bottom = grain(ia, ib + 1.0) * (1.0 - sa) + grain(ia + 1.0, ib + 1.0) * sa;
    top * (1.0 - sb) + bottom * sb
}
