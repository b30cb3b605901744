//! What a frame shows, in plain data shared by the recognizer and the tracker: boxes in frame
//! pixels and vehicle classes. Pure: no I/O.
//!
//! [`VehicleClass`] is the one source of the class names (`motorbike`, `car`, ...) that JSON,
//! the database and the API use: [`VehicleClass::as_str`], its [`FromStr`] and serde forms
//! and [`VehicleClass::ALL`] agree, which the tests hold.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An axis-aligned box in frame pixels (x right, y down), corners inclusive-exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxXyxy {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge.
    pub x2: f32,
    /// Bottom edge.
    pub y2: f32,
}

impl BoxXyxy {
    /// Width, never negative.
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }
    /// Height, never negative.
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }
    /// Area in square pixels.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }
    /// Centre point.
    pub fn center(&self) -> (f32, f32) {
        ((self.x1 + self.x2) * 0.5, (self.y1 + self.y2) * 0.5)
    }
    /// Area of the overlap with `other`.
    pub fn intersection(&self, other: &BoxXyxy) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        w * h
    }
    /// Intersection over union; 0 for empty boxes.
    pub fn iou(&self, other: &BoxXyxy) -> f32 {
        let inter = self.intersection(other);
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
    /// The smallest box holding both.
    pub fn union(&self, other: &BoxXyxy) -> BoxXyxy {
        BoxXyxy {
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
            x2: self.x2.max(other.x2),
            y2: self.y2.max(other.y2),
        }
    }
    /// Whether the point lies inside the box.
    pub fn contains(&self, (x, y): (f32, f32)) -> bool {
        x >= self.x1 && x <= self.x2 && y >= self.y1 && y <= self.y2
    }
    /// The box grown by fractions of its own size on each side, clipped to a `w`×`h` frame.
    pub fn expand(&self, frac_x: f32, frac_y: f32, w: u32, h: u32) -> BoxXyxy {
        let dx = self.width() * frac_x;
        let dy = self.height() * frac_y;
        BoxXyxy {
            x1: (self.x1 - dx).max(0.0),
            y1: (self.y1 - dy).max(0.0),
            x2: (self.x2 + dx).min(w as f32),
            y2: (self.y2 + dy).min(h as f32),
        }
    }
    /// Integer crop rectangle `(x, y, w, h)` inside a `w`×`h` frame, at least 1×1.
    pub fn crop_rect(&self, w: u32, h: u32) -> (u32, u32, u32, u32) {
        let x1 = (self.x1.floor().max(0.0) as u32).min(w.saturating_sub(1));
        let y1 = (self.y1.floor().max(0.0) as u32).min(h.saturating_sub(1));
        let x2 = (self.x2.ceil().max(0.0) as u32).clamp(x1 + 1, w.max(x1 + 1));
        let y2 = (self.y2.ceil().max(0.0) as u32).clamp(y1 + 1, h.max(y1 + 1));
        (x1, y1, x2 - x1, y2 - y1)
    }
}

/// Text that names no vehicle class.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("unknown vehicle class `{0}` (one of {names})", names = VehicleClass::names().join(", "))]
pub struct UnknownVehicleClass(pub String);

/// Vehicle classes, mapped from the detector's own names (`bike`→motorbike, `lorry`→truck).
/// Ordered as listed, for sorted tallies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleClass {
    Motorbike,
    Bus,
    Car,
    Truck,
    Tuktuk,
    Van,
    Other,
}

impl VehicleClass {
    /// Every class, in the order the API lists them.
    pub const ALL: [VehicleClass; 7] = [
        VehicleClass::Motorbike,
        VehicleClass::Bus,
        VehicleClass::Car,
        VehicleClass::Truck,
        VehicleClass::Tuktuk,
        VehicleClass::Van,
        VehicleClass::Other,
    ];

    /// The names of [`VehicleClass::ALL`], in order.
    pub fn names() -> [&'static str; 7] {
        VehicleClass::ALL.map(VehicleClass::as_str)
    }

    /// Maps a detector class name to our class.
    pub fn from_model_name(name: &str) -> VehicleClass {
        match name.trim().to_ascii_lowercase().as_str() {
            "bike" | "bick" | "motorbike" | "motorcycle" => VehicleClass::Motorbike,
            "bus" => VehicleClass::Bus,
            "car" => VehicleClass::Car,
            "lorry" | "truck" => VehicleClass::Truck,
            "tuktuk" => VehicleClass::Tuktuk,
            "van" => VehicleClass::Van,
            _ => VehicleClass::Other,
        }
    }

    /// The name used in JSON, the database and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleClass::Motorbike => "motorbike",
            VehicleClass::Bus => "bus",
            VehicleClass::Car => "car",
            VehicleClass::Truck => "truck",
            VehicleClass::Tuktuk => "tuktuk",
            VehicleClass::Van => "van",
            VehicleClass::Other => "other",
        }
    }
}

impl fmt::Display for VehicleClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VehicleClass {
    type Err = UnknownVehicleClass;

    /// One of the names of [`VehicleClass::as_str`], exactly (case and spaces count); the
    /// detector's own names go through [`VehicleClass::from_model_name`] instead.
    fn from_str(s: &str) -> Result<VehicleClass, UnknownVehicleClass> {
        VehicleClass::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| UnknownVehicleClass(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_round_trip_through_every_form() {
        assert_eq!(
            VehicleClass::names(),
            ["motorbike", "bus", "car", "truck", "tuktuk", "van", "other"]
        );
        for class in VehicleClass::ALL {
            let name = class.as_str();
            assert_eq!(name.parse::<VehicleClass>(), Ok(class));
            assert_eq!(class.to_string(), name);
            assert_eq!(
                serde_json::to_string(&class).unwrap(),
                format!("\"{name}\"")
            );
            let back: VehicleClass = serde_json::from_str(&format!("\"{name}\"")).unwrap();
            assert_eq!(back, class);
            assert_eq!(VehicleClass::from_model_name(name), class);
        }
    }

    #[test]
    fn unknown_class_names_are_refused() {
        for bad in ["", "Car", " car", "bike", "lorry", "tank"] {
            assert_eq!(
                bad.parse::<VehicleClass>(),
                Err(UnknownVehicleClass(bad.to_string())),
                "{bad:?}"
            );
        }
        assert_eq!(
            "tank".parse::<VehicleClass>().unwrap_err().to_string(),
            "unknown vehicle class `tank` (one of motorbike, bus, car, truck, tuktuk, van, other)"
        );
        assert!(serde_json::from_str::<VehicleClass>("\"tank\"").is_err());
    }
}
