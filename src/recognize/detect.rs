//! Stages 1 and 2 of the cascade: the two YOLO detectors (vehicles, plates) on a frame
//! letterboxed once to 640×640 (again to the vehicle model's own side when it takes
//! another), and plate boxes searched inside one vehicle's crop.
//!
//! Owns: [`PreparedFrame`] (the letterbox shared by both detectors) and the decoding of the
//! detectors' outputs back into frame pixels. Boxes only: reading plates is in
//! `plates.rs`.

use std::time::Instant;

use half::f16;
use image::RgbImage;
use ort::value::Tensor;

use super::yolo::{self, RawDetection};
use super::{
    ms_since, BoxXyxy, RecognizeError, Recognizer, StageTimings, VehicleClass, VehicleDetection,
};

/// A frame letterboxed for the detectors: made once by [`Recognizer::find_vehicles`], reused
/// by the plate detector.
pub struct PreparedFrame {
    /// The detector input.
    pub(super) input: DetectorInput,
}

/// Square input side of the plate detector and of the default vehicle model.
const DETECTOR_SIDE: u32 = 640;

/// A frame letterboxed for a square detector (640×640 for the plates, shared by the vehicle
/// model when it takes the same side).
pub(super) struct DetectorInput {
    /// Planar RGB in 0..1, `[3, side, side]`.
    data: Vec<f32>,
    /// Side of the square.
    side: u32,
    /// How the frame sits in the square.
    placement: yolo::Letterbox,
    /// Frame size, to clip boxes.
    frame_size: (u32, u32),
}

impl DetectorInput {
    pub(super) fn new(frame: &RgbImage) -> DetectorInput {
        DetectorInput::with_side(frame, DETECTOR_SIDE)
    }

    /// The frame letterboxed to `side`×`side`.
    fn with_side(frame: &RgbImage, side: u32) -> DetectorInput {
        let (data, placement) = yolo::letterbox(frame, side);
        DetectorInput {
            data,
            side,
            placement,
            frame_size: frame.dimensions(),
        }
    }

    /// The input as a `[1, 3, side, side]` tensor.
    fn tensor(&self) -> Result<Tensor<f32>, RecognizeError> {
        let side = self.side as usize;
        Tensor::from_array(([1usize, 3, side, side], self.data.clone()))
            .map_err(RecognizeError::inference)
    }

    /// Decodes a detector's output back into this frame's pixels.
    fn decode(
        &self,
        out: &[f32],
        anchors: usize,
        classes: usize,
        min_score: f32,
    ) -> Vec<RawDetection> {
        let (w, h) = self.frame_size;
        yolo::decode(out, anchors, classes, min_score, &self.placement, w, h)
    }
}

impl Recognizer {
    /// The cascade's first step: vehicles in the frame (none when `find_vehicles` is off),
    /// and the frame letterboxed for the detectors, to hand to [`Recognizer::read_plates`].
    pub fn find_vehicles(
        &mut self,
        frame: &RgbImage,
    ) -> Result<(Vec<VehicleDetection>, PreparedFrame, StageTimings), RecognizeError> {
        let mut timings = StageTimings::default();
        let t = Instant::now();
        let prepared = PreparedFrame {
            input: DetectorInput::new(frame),
        };
        let letterbox_ms = ms_since(t);
        let vehicles = if self.settings.find_vehicles {
            let t = Instant::now();
            let v = self.detect_vehicles_in(frame, &prepared.input)?;
            timings.vehicles_ms = ms_since(t) + letterbox_ms;
            v
        } else {
            timings.plates_ms = letterbox_ms;
            Vec::new()
        };
        Ok((vehicles, prepared, timings))
    }

    /// Plate boxes inside one vehicle: the vehicle's box with a margin, letterboxed on its
    /// own (small, far vehicles are enlarged), boxes mapped back to frame pixels.
    pub(super) fn detect_plates_in_box(
        &mut self,
        frame: &RgbImage,
        vehicle: &BoxXyxy,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let (fw, fh) = frame.dimensions();
        let (x, y, w, h) = vehicle.expand(0.05, 0.05, fw, fh).crop_rect(fw, fh);
        if w < 8 || h < 8 {
            return Ok(Vec::new());
        }
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        let input = DetectorInput::new(&crop);
        let mut found = self.detect_plates_in(&input)?;
        for d in &mut found {
            d.bbox.x1 += x as f32;
            d.bbox.x2 += x as f32;
            d.bbox.y1 += y as f32;
            d.bbox.y2 += y as f32;
        }
        Ok(found)
    }

    /// Stage 1: vehicles in the frame, best first.
    pub fn detect_vehicles(
        &mut self,
        frame: &RgbImage,
    ) -> Result<Vec<VehicleDetection>, RecognizeError> {
        let input = DetectorInput::new(frame);
        self.detect_vehicles_in(frame, &input)
    }

    /// Stage 1, reusing the frame's 640×640 letterbox when the vehicle model takes that side.
    pub(super) fn detect_vehicles_in(
        &mut self,
        frame: &RgbImage,
        prepared: &DetectorInput,
    ) -> Result<Vec<VehicleDetection>, RecognizeError> {
        let side = self.settings.vehicle_model.input_side();
        let own;
        let prepared = if prepared.side == side {
            prepared
        } else {
            own = DetectorInput::with_side(frame, side);
            &own
        };
        let outputs = self
            .vehicles
            .run(ort::inputs![prepared.tensor()?])
            .map_err(RecognizeError::inference)?;
        let (shape, out) = outputs[0]
            .try_extract_tensor::<f32>()
            .map_err(RecognizeError::inference)?;
        let anchors = anchors_of(shape.as_ref(), 4 + self.vehicle_class_count)?;
        let rows: Vec<usize> = self.vehicle_rows.iter().map(|(i, _)| *i).collect();
        let (w, h) = prepared.frame_size;
        let raw = yolo::decode_classes(
            out,
            anchors,
            &rows,
            self.settings.vehicle_min_score,
            &prepared.placement,
            w,
            h,
        );
        Ok(yolo::nms(raw, self.settings.nms_iou, 100)
            .into_iter()
            .map(|d| VehicleDetection {
                class: self
                    .vehicle_rows
                    .get(d.class)
                    .map_or(VehicleClass::Other, |(_, c)| *c),
                bbox: d.bbox,
                score: d.score,
            })
            .collect())
    }

    /// Stage 2: plate boxes in the frame, best first.
    pub fn detect_plates(&mut self, frame: &RgbImage) -> Result<Vec<RawDetection>, RecognizeError> {
        let input = DetectorInput::new(frame);
        self.detect_plates_in(&input)
    }

    /// Stage 2 on an already letterboxed frame.
    pub(super) fn detect_plates_in(
        &mut self,
        prepared: &DetectorInput,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let side = prepared.side as usize;
        let data: Vec<f16> = prepared.data.iter().map(|v| f16::from_f32(*v)).collect();
        let input = Tensor::from_array(([1usize, 3, side, side], data))
            .map_err(RecognizeError::inference)?;
        let outputs = self
            .plates
            .run(ort::inputs![input])
            .map_err(RecognizeError::inference)?;
        let (shape, out) = outputs[0]
            .try_extract_tensor::<f16>()
            .map_err(RecognizeError::inference)?;
        let anchors = anchors_of(shape.as_ref(), 5)?;
        let out: Vec<f32> = out.iter().map(|v| v.to_f32()).collect();
        let raw = prepared.decode(&out, anchors, 1, self.settings.plate_min_score);
        Ok(yolo::nms(
            raw,
            self.settings.nms_iou,
            self.settings.max_plates,
        ))
    }
}

/// Number of anchors in a `[1, rows, anchors]` output with at least `min_rows` rows.
fn anchors_of(shape: &[i64], min_rows: usize) -> Result<usize, RecognizeError> {
    match shape {
        [1, rows, anchors] if *rows as usize >= min_rows => Ok(*anchors as usize),
        _ => Err(RecognizeError::OutputShape(format!(
            "detector output {shape:?}, expected [1, >={min_rows}, N]"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_need_the_expected_shape() {
        assert_eq!(anchors_of(&[1, 42, 8400], 10).unwrap(), 8400);
        assert!(anchors_of(&[1, 4, 8400], 10).is_err());
        assert!(anchors_of(&[42, 8400], 10).is_err());
    }
}
