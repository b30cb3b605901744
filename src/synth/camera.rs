//! The fixed roadside camera of a made traffic video: where a point of the road lands in the
//! picture and how big things are there.
//!
//! PURE. A pinhole camera over a flat road, looking along it, its horizon level (the horizon's
//! row may lie above the picture: the camera looks down). A point at distance `z` metres lands
//! at `y = horizon + (bottom - horizon) * near_z / z`, and things there are
//! `px_per_m * near_z / z` pixels per metre: scale is linear in the distance below the
//! horizon. `lateral` is metres across the road (positive to the right of the picture);
//! the picture's centre column looks at `centre_m`.

use crate::scene::BoxXyxy;

/// Share of a box's area inside a `width` x `height` frame (0 for an empty box).
pub fn inside_share(b: &BoxXyxy, width: u32, height: u32) -> f32 {
    let area = b.area();
    if area <= 0.0 {
        return 0.0;
    }
    let frame = BoxXyxy {
        x1: 0.0,
        y1: 0.0,
        x2: width as f32,
        y2: height as f32,
    };
    b.intersection(&frame) / area
}

/// The camera.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Camera {
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// The horizon's row, as a share of the height.
    pub horizon: f32,
    /// Distance (m) of the road seen at the bottom row.
    pub near_z: f32,
    /// Pixels per metre at the bottom row.
    pub px_per_m: f32,
    /// Lateral position (m) the centre column looks at.
    pub centre_m: f32,
}

impl Camera {
    /// The default camera for a frame size: looking down the road from about 3.9 m up, the
    /// horizon a quarter of the height above the picture, the bottom row 10 m away and 5.5 m
    /// wide (near vehicles are big, as the vehicle detector needs), centred 1.4 m right of the
    /// centre line (between the lanes going each way).
    pub fn for_frame(width: u32, height: u32) -> Camera {
        Camera {
            width,
            height,
            horizon: -0.25,
            near_z: 10.0,
            px_per_m: width as f32 / 5.5,
            centre_m: 1.4,
        }
    }

    /// Perspective factor at distance `z`: 1 at the bottom row, 0 at the horizon.
    pub fn depth_factor(&self, z: f32) -> f32 {
        self.near_z / z.max(0.01)
    }

    /// The row where the road at distance `z` shows.
    pub fn ground_y(&self, z: f32) -> f32 {
        let h = self.height as f32;
        h * self.horizon + h * (1.0 - self.horizon) * self.depth_factor(z)
    }

    /// The distance of the road shown at row `y` (below the horizon).
    pub fn z_at_row(&self, y: f32) -> f32 {
        let h = self.height as f32;
        let below = (y - h * self.horizon).max(0.01);
        self.near_z * h * (1.0 - self.horizon) / below
    }

    /// Pixels per metre at distance `z`.
    pub fn scale(&self, z: f32) -> f32 {
        self.px_per_m * self.depth_factor(z)
    }

    /// The column where lateral position `lateral` shows at distance `z`.
    pub fn x(&self, lateral: f32, z: f32) -> f32 {
        self.width as f32 / 2.0 + (lateral - self.centre_m) * self.scale(z)
    }

    /// The box of an upright face `width_m` x `height_m` standing on the road at distance `z`,
    /// centred on `lateral`.
    pub fn face_box(&self, lateral: f32, z: f32, width_m: f32, height_m: f32) -> BoxXyxy {
        let s = self.scale(z);
        let cx = self.x(lateral, z);
        let bottom = self.ground_y(z);
        BoxXyxy {
            x1: cx - width_m * s / 2.0,
            y1: bottom - height_m * s,
            x2: cx + width_m * s / 2.0,
            y2: bottom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_is_linear_below_the_horizon() {
        let c = Camera::for_frame(1280, 720);
        assert_eq!(c.ground_y(c.near_z), 720.0);
        assert!((c.scale(c.near_z) - 1280.0 / 5.5).abs() < 1e-3);
        let horizon = 720.0 * c.horizon;
        for z in [12.0, 25.0, 80.0] {
            let ratio = c.scale(z) / (c.ground_y(z) - horizon);
            let near = c.scale(c.near_z) / (720.0 - horizon);
            assert!((ratio - near).abs() < 1e-4, "{z}: {ratio} vs {near}");
            assert!((c.z_at_row(c.ground_y(z)) - z).abs() < 1e-3);
        }
        // Farther is higher and smaller.
        assert!(c.ground_y(40.0) < c.ground_y(20.0));
        assert!(c.scale(40.0) < c.scale(20.0));
    }

    #[test]
    fn boxes_stand_on_the_road() {
        let c = Camera::for_frame(1280, 720);
        let b = c.face_box(c.centre_m, 20.0, 2.0, 1.5);
        assert_eq!(b.y2, c.ground_y(20.0));
        let s = c.scale(20.0);
        assert!((b.width() - 2.0 * s).abs() < 1e-3);
        assert!((b.height() - 1.5 * s).abs() < 1e-3);
        assert!((b.center().0 - 640.0).abs() < 1e-3);
        assert_eq!(inside_share(&b, 1280, 720), 1.0);
        let half_out = BoxXyxy {
            x1: -50.0,
            y1: 0.0,
            x2: 50.0,
            y2: 10.0,
        };
        assert!((inside_share(&half_out, 1280, 720) - 0.5).abs() < 1e-6);
    }
}
