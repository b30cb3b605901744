//! Stages 1 and 2 of the cascade: the two YOLO detectors (vehicles, plates) on a frame
//! letterboxed once for both (again for the vehicle model when it takes another input), and
//! plate boxes searched inside a region of the frame.
//!
//! Owns: [`Detector`] (a session with its [`Graph`]: feeding it, checking and decoding its
//! output back into frame pixels), [`PreparedFrame`] (the frame letterboxed for the plate
//! detector, shared with the vehicle detector when it takes the same input) and the region
//! search. Boxes only: reading plates is in `plates.rs`.

use std::time::Instant;

use half::f16;
use image::RgbImage;
use ort::session::Session;
use ort::value::Tensor;

use super::graphs::{Graph, Head};
use super::yolo::{self, InputShape, LeanLayout, RawDetection};
use super::{
    ms_since, BoxXyxy, RecognizeError, Recognizer, StageTimings, VehicleClass, VehicleDetection,
};

/// A frame letterboxed for the detectors: made once by [`Recognizer::find_vehicles`], reused
/// by the plate detector.
pub struct PreparedFrame {
    /// The detector input.
    pub(super) input: DetectorInput,
}

/// An image letterboxed for one input shape.
pub(super) struct DetectorInput {
    /// Planar RGB in 0..1, `[3, height, width]`.
    data: Vec<f32>,
    /// The shape it was made for.
    shape: InputShape,
    /// Input width and height.
    size: (u32, u32),
    /// How the image sits in the input.
    placement: yolo::Letterbox,
    /// Image size, to clip boxes.
    frame_size: (u32, u32),
}

impl DetectorInput {
    /// `frame` letterboxed for `shape`.
    pub(super) fn new(frame: &RgbImage, shape: InputShape) -> DetectorInput {
        let (data, w, h, placement) = yolo::letterbox_to(frame, shape);
        DetectorInput {
            data,
            shape,
            size: (w, h),
            placement,
            frame_size: frame.dimensions(),
        }
    }
}

/// One detector: its session and the graph it was loaded from.
pub(super) struct Detector {
    session: Session,
    graph: Graph,
}

impl Detector {
    pub(super) fn new(session: Session, graph: Graph) -> Detector {
        Detector { session, graph }
    }

    /// The graph it runs.
    pub(super) fn graph(&self) -> &Graph {
        &self.graph
    }

    /// `frame` letterboxed for this detector, or `shared` when that was made for the same
    /// input.
    fn input_for<'a>(
        &self,
        frame: &RgbImage,
        shared: &'a DetectorInput,
        own: &'a mut Option<DetectorInput>,
    ) -> &'a DetectorInput {
        if shared.shape == self.graph.input {
            shared
        } else {
            own.insert(DetectorInput::new(frame, self.graph.input))
        }
    }

    /// Boxes of the listed `classes` (indices into the model's `class_count` classes) scoring
    /// at least `min_score`, in the input image's pixels, before non-maximum suppression.
    pub(super) fn detect(
        &mut self,
        input: &DetectorInput,
        classes: &[usize],
        class_count: usize,
        min_score: f32,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let (w, h) = input.size;
        let dims = [1usize, 3, h as usize, w as usize];
        let outputs = if self.graph.half {
            let data: Vec<f16> = input.data.iter().map(|v| f16::from_f32(*v)).collect();
            let t = Tensor::from_array((dims, data)).map_err(RecognizeError::inference)?;
            self.session.run(ort::inputs![t])
        } else {
            let t = Tensor::from_array((dims, input.data.clone()))
                .map_err(RecognizeError::inference)?;
            self.session.run(ort::inputs![t])
        }
        .map_err(RecognizeError::inference)?;
        if self.graph.half {
            let (shape, out) = outputs[0]
                .try_extract_tensor::<f16>()
                .map_err(RecognizeError::inference)?;
            let out: Vec<f32> = out.iter().map(|v| v.to_f32()).collect();
            decode(
                &self.graph,
                input,
                shape,
                &out,
                classes,
                class_count,
                min_score,
            )
        } else {
            let (shape, out) = outputs[0]
                .try_extract_tensor::<f32>()
                .map_err(RecognizeError::inference)?;
            decode(
                &self.graph,
                input,
                shape,
                out,
                classes,
                class_count,
                min_score,
            )
        }
    }
}

/// `graph`'s output `out` of `shape` for `input`, decoded into boxes in the input image's
/// pixels.
fn decode(
    graph: &Graph,
    input: &DetectorInput,
    shape: &[i64],
    out: &[f32],
    classes: &[usize],
    class_count: usize,
    min_score: f32,
) -> Result<Vec<RawDetection>, RecognizeError> {
    let (w, h) = input.size;
    let (fw, fh) = input.frame_size;
    match graph.head {
        Head::Decoded => {
            let anchors = anchors_of(shape, 4 + class_count)?;
            Ok(yolo::decode_classes(
                out,
                anchors,
                classes,
                min_score,
                &input.placement,
                fw,
                fh,
            ))
        }
        Head::Dfl => {
            let anchors = anchors_of(shape, 4 * yolo::DFL_BINS + class_count)?;
            if anchors != yolo::anchor_count(w, h) {
                return Err(RecognizeError::OutputShape(format!(
                    "{}: {anchors} anchors for a {w}×{h} input, expected {}",
                    graph.file,
                    yolo::anchor_count(w, h)
                )));
            }
            let layout = LeanLayout {
                input: (w, h),
                placement: input.placement,
                frame: (fw, fh),
            };
            Ok(yolo::decode_dfl(out, &layout, classes, min_score))
        }
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
            input: DetectorInput::new(frame, self.plates.graph().input),
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

    /// Plate boxes inside `region` of the frame (a vehicle's box, or the union of several),
    /// with a margin; the crop is letterboxed on its own and boxes mapped back to frame
    /// pixels. With `enlarge` off, a lean graph takes a small crop at its own size; a square
    /// graph always fills its side.
    pub(super) fn detect_plates_in_region(
        &mut self,
        frame: &RgbImage,
        region: &BoxXyxy,
        enlarge: bool,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let (fw, fh) = frame.dimensions();
        let (x, y, w, h) = region
            .expand(REGION_MARGIN, REGION_MARGIN, fw, fh)
            .crop_rect(fw, fh);
        if w < 8 || h < 8 {
            return Ok(Vec::new());
        }
        let crop = image::imageops::crop_imm(frame, x, y, w, h).to_image();
        let shape = self.plates.graph().input;
        let shape = if enlarge {
            shape
        } else {
            shape.without_enlarging()
        };
        let input = DetectorInput::new(&crop, shape);
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
        let input = DetectorInput::new(frame, self.vehicles.graph().input);
        self.detect_vehicles_in(frame, &input)
    }

    /// Stage 1, reusing the frame's letterbox when the vehicle model takes the same input.
    pub(super) fn detect_vehicles_in(
        &mut self,
        frame: &RgbImage,
        prepared: &DetectorInput,
    ) -> Result<Vec<VehicleDetection>, RecognizeError> {
        let mut own = None;
        let input = self.vehicles.input_for(frame, prepared, &mut own);
        let rows: Vec<usize> = self.vehicle_rows.iter().map(|(i, _)| *i).collect();
        let raw = self.vehicles.detect(
            input,
            &rows,
            self.vehicle_class_count,
            self.settings.vehicle_min_score,
        )?;
        let (fw, fh) = frame.dimensions();
        Ok(yolo::nms(raw, self.settings.nms_iou, 100)
            .into_iter()
            .filter(|d| !(self.settings.drop_scene_boxes && fills_the_frame(&d.bbox, fw, fh)))
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
        let input = DetectorInput::new(frame, self.plates.graph().input);
        self.detect_plates_in(&input)
    }

    /// Stage 2 on an already letterboxed frame.
    pub(super) fn detect_plates_in(
        &mut self,
        prepared: &DetectorInput,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        let min_score = self.settings.plate_min_score();
        let raw = self.plates.detect(prepared, &[0], 1, min_score)?;
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

/// Margin added on each side of a region the plate detector searches on its own, as a share
/// of the region's width and height.
pub(super) const REGION_MARGIN: f32 = 0.05;

/// Share of the frame's width and of its height beyond which a vehicle box is the scene
/// itself, not a vehicle in it.
const SCENE_BOX_SHARE: f32 = 0.9;

/// Whether a vehicle box covers at least [`SCENE_BOX_SHARE`] of both the frame's width and
/// its height (dropped from camera frames: `drop_scene_boxes`). A fixed camera's vehicles
/// enter and leave the picture; a box of the whole frame is the road, a wall or the sky read
/// as one vehicle (every graph of the default model calls an empty generated road a truck,
/// score 0.66–0.76, in about half its frames), and as the largest box it would hold every
/// plate no smaller box holds. A vehicle that really fills the picture (a truck stopped at a
/// gate camera's lens) still has its plate found by the plate search, which follows plates
/// that no vehicle holds.
fn fills_the_frame(b: &BoxXyxy, width: u32, height: u32) -> bool {
    b.width() >= SCENE_BOX_SHARE * width as f32 && b.height() >= SCENE_BOX_SHARE * height as f32
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

    #[test]
    fn a_box_of_the_whole_frame_is_not_a_vehicle() {
        let b = |x1, y1, x2, y2| BoxXyxy { x1, y1, x2, y2 };
        assert!(fills_the_frame(&b(1.0, 0.0, 1273.0, 720.0), 1280, 720));
        // Wide but not tall (a bus across the road), tall but not wide (a truck in the near
        // lane), and most of the frame but not all: vehicles.
        assert!(!fills_the_frame(&b(0.0, 200.0, 1280.0, 600.0), 1280, 720));
        assert!(!fills_the_frame(&b(700.0, 0.0, 1280.0, 720.0), 1280, 720));
        assert!(!fills_the_frame(&b(100.0, 60.0, 1200.0, 700.0), 1280, 720));
    }
}
