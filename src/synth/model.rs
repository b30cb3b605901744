//! What the plan knows of a vehicle photo: its class, its plate, the shape of its cut-out
//! and where the plate sits in it.
//!
//! PURE: plain data, made by `photos` from the labelled folders (or by hand in tests).

use crate::plate::PlateKey;
use crate::scene::VehicleClass;

/// Where the plate sits in a vehicle's cut-out, as shares of the cut-out's width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlateSpot {
    /// Centre, share of the width.
    pub cx: f32,
    /// Centre, share of the height.
    pub cy: f32,
    /// Width, share of the width.
    pub w: f32,
    /// Height, share of the height.
    pub h: f32,
}

/// One vehicle photo as the plan sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// What it shows.
    pub class: VehicleClass,
    /// Its plate.
    pub plate: Option<PlateKey>,
    /// Height over width of its cut-out.
    pub aspect: f32,
    /// Where its plate is in the cut-out.
    pub plate_spot: PlateSpot,
}
