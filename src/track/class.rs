//! A passage's vehicle class from the detector's votes and its plate: in Vietnam the plate
//! series says two wheels or four ([`PlateKey::wheels`]), which the detector, trained on
//! another country's traffic, often gets wrong (generated day traffic: 27 of 109 passages
//! classed right from the detector alone). PURE.

use crate::plate::{PlateKey, Wheels};
use crate::scene::VehicleClass;

/// The class of a passage whose detector votes gave `detected` and whose voted plate is
/// `plate`: a motorbike series makes it a motorbike; a car series makes a vehicle the
/// detector called a motorbike, a tuktuk or nothing a car, and keeps bus, truck, van and car
/// (which the series does not tell apart). Without a Vietnamese plate the detector's class
/// stands.
pub(super) fn class_with_plate(detected: VehicleClass, plate: Option<&PlateKey>) -> VehicleClass {
    match plate.and_then(PlateKey::wheels) {
        Some(Wheels::Two) => VehicleClass::Motorbike,
        Some(Wheels::Four)
            if matches!(
                detected,
                VehicleClass::Motorbike | VehicleClass::Tuktuk | VehicleClass::Other
            ) =>
        {
            VehicleClass::Car
        }
        _ => detected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PlateKey {
        PlateKey::parse(s).unwrap()
    }

    #[test]
    fn the_plate_series_settles_two_wheels_or_four() {
        use VehicleClass::*;
        // Motorbike series: a letter and a digit, or MĐ and a digit.
        assert_eq!(class_with_plate(Car, Some(&key("59P125512"))), Motorbike);
        assert_eq!(class_with_plate(Other, Some(&key("29MD112345"))), Motorbike);
        // Car series: one letter; what the detector says of four wheels stands.
        assert_eq!(class_with_plate(Motorbike, Some(&key("30A12345"))), Car);
        assert_eq!(class_with_plate(Tuktuk, Some(&key("30A12345"))), Car);
        assert_eq!(class_with_plate(Other, Some(&key("30A12345"))), Car);
        assert_eq!(class_with_plate(Truck, Some(&key("89C20339"))), Truck);
        assert_eq!(class_with_plate(Bus, Some(&key("51B12345"))), Bus);
        // Two-letter series, foreign plates and no plate: the detector's class.
        assert_eq!(
            class_with_plate(Motorbike, Some(&key("51LD12345"))),
            Motorbike
        );
        assert_eq!(class_with_plate(Tuktuk, Some(&key("RK161AG"))), Tuktuk);
        assert_eq!(class_with_plate(Van, None), Van);
    }
}
