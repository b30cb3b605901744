//! Stages 3 to 5 of the cascade: from plate boxes to plate reads. Crops each plate, finds
//! and straightens its text lines, reads them with the reader the settings name
//! ([`TextReader`]: PP-OCR, ours, or both) and decodes them with the plate grammar; when the
//! detector finds nothing readable, looks for plate-shaped text in the whole frame (the
//! text fallback, read by PP-OCR).
//!
//! Owns: which plates are read in a frame (wanted vehicles, the [`PlateMemory`] of the
//! previous frame, one read per key), which plate a vehicle holds, which of two readers'
//! reads wins, the text fallback's thresholds, and cutting plates out for training
//! ([`PlateCrop`]).

use std::time::Instant;

use image::RgbImage;

use super::cut_text;
use super::detect::{DetectorInput, REGION_MARGIN};
use super::ocr::{self, LineRead, RotatedRect};
use super::reader::{self, ReaderInput};
use super::yolo::{self, RawDetection};
use super::{
    memory, ms_since, BoxXyxy, PlateMemory, PlateRead, PlateSearch, PreparedFrame, RecognizeError,
    Recognizer, StageTimings, TextFallback, TextReader, VehicleDetection,
};
use crate::plate::{self, DecodeOptions, PlateKey, PlateLayout};

/// How many times larger a vehicle must come out letterboxed on its own than in the frame's
/// letterbox to be worth a second plate search ([`PlateSearch::FrameThenVehicles`]).
pub const SMALL_VEHICLE_GAIN: f32 = 1.5;

impl Recognizer {
    /// The cascade's second step: plates of the vehicles with `wanted[i]` set (and plates
    /// held by no vehicle), read unless `memory` holds a read of the very same crop from the
    /// previous frame. Plates of unwanted vehicles (their track's plate is settled) are not
    /// read at all. `prepared` is the frame's letterbox from [`Recognizer::find_vehicles`].
    /// Stage times are added to `timings`.
    pub fn read_plates(
        &mut self,
        frame: &RgbImage,
        prepared: Option<&PreparedFrame>,
        vehicles: &[VehicleDetection],
        wanted: &[bool],
        memory: &mut PlateMemory,
        timings: &mut StageTimings,
    ) -> Result<Vec<PlateRead>, RecognizeError> {
        let is_wanted = |i: usize| wanted.get(i).copied().unwrap_or(true);
        let t = Instant::now();
        let plate_boxes = self.find_plate_boxes(frame, prepared, vehicles, is_wanted)?;
        timings.plates_ms += ms_since(t);
        let mut plates =
            self.read_plate_boxes(frame, &plate_boxes, vehicles, is_wanted, memory, timings)?;
        if plates.is_empty() && self.wants_text_fallback(vehicles, is_wanted) {
            // The plate detector saw nothing readable on a frame with vehicles: look for
            // plate-shaped text directly (close-ups of plates at gates fill the frame).
            let t = Instant::now();
            plates = self.plates_from_text(frame)?;
            timings.lines_ms += ms_since(t);
        }
        if self.settings.plate_search == PlateSearch::FrameThenVehicles {
            let found =
                self.plates_in_small_vehicles(frame, vehicles, is_wanted, &plates, timings)?;
            plates.extend(found);
        }
        for p in &mut plates {
            p.vehicle = holder_of(&p.bbox, vehicles);
        }
        // One physical plate can be detected twice (e.g. each line of a 2-line plate): keep the
        // better read of reads with the same key.
        plates.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        let mut seen = std::collections::HashSet::new();
        plates.retain(|p| seen.insert(p.key.clone()));
        Ok(plates)
    }

    /// The second look of [`PlateSearch::FrameThenVehicles`]: plates inside each wanted
    /// vehicle that holds none of the frame's reads `found`, the vehicle letterboxed on its
    /// own when that enlarges it at least [`SMALL_VEHICLE_GAIN`] times over the frame's pass.
    /// Boxes that overlap a plate read already are not read again; only whole plates are
    /// kept ([`PlateKey::is_whole`]). Its reads are not kept in the plate memory (which holds
    /// the frame's pass).
    fn plates_in_small_vehicles(
        &mut self,
        frame: &RgbImage,
        vehicles: &[VehicleDetection],
        is_wanted: impl Fn(usize) -> bool,
        found: &[PlateRead],
        timings: &mut StageTimings,
    ) -> Result<Vec<PlateRead>, RecognizeError> {
        let frame_side = frame.width().max(frame.height()) as f32;
        let holders: Vec<Option<usize>> =
            found.iter().map(|p| holder_of(&p.bbox, vehicles)).collect();
        let mut boxes = Vec::new();
        let t = Instant::now();
        for (i, v) in vehicles.iter().enumerate() {
            // The side the plate search letterboxes: the box with its margin on both sides.
            let side = v.bbox.width().max(v.bbox.height()) * (1.0 + 2.0 * REGION_MARGIN);
            if !is_wanted(i) || holders.contains(&Some(i)) || side * SMALL_VEHICLE_GAIN > frame_side
            {
                continue;
            }
            for det in self.detect_plates_in_region(frame, &v.bbox, true)? {
                if found.iter().all(|p| p.bbox.iou(&det.bbox) < 0.3) {
                    boxes.push(det);
                }
            }
        }
        timings.plates_ms += ms_since(t);
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let boxes = yolo::nms(boxes, self.settings.nms_iou, self.settings.max_plates);
        let mut scratch = PlateMemory::default();
        let mut reads =
            self.read_plate_boxes(frame, &boxes, vehicles, is_wanted, &mut scratch, timings)?;
        // A piece of a plate seen up close is more often a sticker or a sign than the plate
        // the frame's pass missed.
        reads.retain(|r| r.key.is_whole());
        Ok(reads)
    }

    /// Plate boxes where `plate_search` says to look: inside each wanted vehicle, or in the
    /// whole frame (its letterbox `prepared`, made here when absent).
    fn find_plate_boxes(
        &mut self,
        frame: &RgbImage,
        prepared: Option<&PreparedFrame>,
        vehicles: &[VehicleDetection],
        is_wanted: impl Fn(usize) -> bool,
    ) -> Result<Vec<RawDetection>, RecognizeError> {
        match self.settings.plate_search {
            PlateSearch::Vehicles if !vehicles.is_empty() => {
                let mut raw = Vec::new();
                let boxes: Vec<BoxXyxy> = (0..vehicles.len())
                    .filter(|&i| is_wanted(i))
                    .map(|i| vehicles[i].bbox)
                    .collect();
                for b in &boxes {
                    raw.extend(self.detect_plates_in_region(frame, b, true)?);
                }
                Ok(yolo::nms(
                    raw,
                    self.settings.nms_iou,
                    self.settings.max_plates,
                ))
            }
            PlateSearch::Region if !vehicles.is_empty() => {
                let region = (0..vehicles.len())
                    .filter(|&i| is_wanted(i))
                    .map(|i| vehicles[i].bbox)
                    .reduce(|a, b| a.union(&b));
                match region {
                    Some(region) => self.detect_plates_in_region(frame, &region, false),
                    None => Ok(Vec::new()),
                }
            }
            _ => {
                let owned;
                let input = match prepared {
                    Some(p) => &p.input,
                    None => {
                        owned = DetectorInput::new(frame, self.plates.graph().input);
                        &owned
                    }
                };
                self.detect_plates_in(input)
            }
        }
    }

    /// Reads each plate box not held by an unwanted vehicle, or recalls its read from
    /// `memory` when the crop has not changed; `memory` then holds this frame's reads. The
    /// reader chosen in the settings reads the plates ([`TextReader`]).
    fn read_plate_boxes(
        &mut self,
        frame: &RgbImage,
        plate_boxes: &[RawDetection],
        vehicles: &[VehicleDetection],
        is_wanted: impl Fn(usize) -> bool,
        memory: &mut PlateMemory,
        timings: &mut StageTimings,
    ) -> Result<Vec<PlateRead>, RecognizeError> {
        let reader = self.settings.reader;
        let mut plates = Vec::new();
        let mut remembered = Vec::new();
        let mut to_read = Vec::new();
        for det in plate_boxes {
            if holder_of(&det.bbox, vehicles).is_some_and(|i| !is_wanted(i)) {
                continue;
            }
            let look = memory::CropLook::of(frame, &det.bbox);
            if let Some(previous) = memory.recall(&det.bbox, &look) {
                remembered.push((det.bbox, look, previous.clone()));
                plates.extend(previous.map(|read| PlateRead {
                    bbox: det.bbox,
                    detector_score: det.score,
                    ..read
                }));
                continue;
            }
            let t = Instant::now();
            let images = if reader == TextReader::OwnWhole {
                vec![plate_crop(frame, &det.bbox)]
            } else {
                self.plate_lines(frame, &det.bbox)?
            };
            timings.lines_ms += ms_since(t);
            to_read.push(ToRead { det, look, images });
        }
        let t = Instant::now();
        let mut reads = self.read_boxes(&to_read)?;
        if reader != TextReader::OwnWhole {
            self.second_look(frame, &to_read, &mut reads)?;
        }
        for (item, read) in to_read.into_iter().zip(reads) {
            remembered.push((item.det.bbox, item.look, read.clone()));
            plates.extend(read);
        }
        timings.ocr_ms += ms_since(t);
        memory.replace(remembered);
        Ok(plates)
    }

    /// The reads of each plate box by the reader chosen in the settings ([`TextReader`]).
    fn read_boxes(
        &mut self,
        to_read: &[ToRead<'_>],
    ) -> Result<Vec<Option<PlateRead>>, RecognizeError> {
        let reader = self.settings.reader;
        let own = match reader {
            TextReader::PpOcr => vec![None; to_read.len()],
            TextReader::OwnWhole => self.read_whole_with_own(to_read)?,
            TextReader::Own | TextReader::Both | TextReader::OwnFirst => {
                self.read_lines_with_own(to_read)?
            }
        };
        let needs_pp_ocr: Vec<bool> = match reader {
            TextReader::PpOcr | TextReader::Both => vec![true; to_read.len()],
            TextReader::OwnFirst => own.iter().map(|r| !is_sure(r)).collect(),
            TextReader::Own | TextReader::OwnWhole => vec![false; to_read.len()],
        };
        let pp = self.read_with_pp_ocr(to_read, &needs_pp_ocr)?;
        Ok(pp
            .into_iter()
            .zip(own)
            .map(|(pp, own)| match reader {
                TextReader::PpOcr => pp,
                TextReader::Own | TextReader::OwnWhole => own,
                TextReader::Both | TextReader::OwnFirst => better_read(pp, own),
            })
            .collect())
    }

    /// A second look at the plate boxes that gave no read: their crop read as it is (one
    /// line, or two halves for a two-line shape, as when the line finder finds nothing). The
    /// line finder can lock onto a piece of the plate (a flag, a screw, half the text) and
    /// does so or not after a one-pixel shift of the box; the plain crop then still holds
    /// the whole text. Only failed boxes pay for it.
    fn second_look(
        &mut self,
        frame: &RgbImage,
        to_read: &[ToRead<'_>],
        reads: &mut [Option<PlateRead>],
    ) -> Result<(), RecognizeError> {
        let mut failed = Vec::new();
        let mut again = Vec::new();
        for (i, item) in to_read.iter().enumerate() {
            if reads[i].is_some() {
                continue;
            }
            let images = fallback_lines(&plate_crop(frame, &item.det.bbox));
            // Where the line finder found nothing, the crop was what it read already.
            if images != item.images {
                failed.push(i);
                again.push(ToRead {
                    det: item.det,
                    look: item.look.clone(),
                    images,
                });
            }
        }
        if again.is_empty() {
            return Ok(());
        }
        for (i, read) in failed.into_iter().zip(self.read_boxes(&again)?) {
            reads[i] = read;
        }
        Ok(())
    }

    /// PP-OCR reads of the lines of each `wanted` plate (`None` for the others). Lines of plates whose lines pad to the same
    /// width are recognised in one batch (one batch a width: each line then reads exactly as
    /// with its plate alone).
    fn read_with_pp_ocr(
        &mut self,
        to_read: &[ToRead<'_>],
        wanted: &[bool],
    ) -> Result<Vec<Option<PlateRead>>, RecognizeError> {
        let widths_of: Vec<Option<u32>> = to_read
            .iter()
            .zip(wanted)
            .map(|(p, &w)| w.then(|| ocr::batch_width(&p.images)))
            .collect();
        let mut widths: Vec<u32> = widths_of.iter().flatten().copied().collect();
        widths.sort_unstable();
        widths.dedup();
        let mut reads: Vec<Option<PlateRead>> = vec![None; to_read.len()];
        for width in widths {
            let batch: Vec<usize> = (0..to_read.len())
                .filter(|&i| widths_of[i] == Some(width))
                .collect();
            let lines: Vec<RgbImage> = batch
                .iter()
                .flat_map(|&i| to_read[i].images.iter().cloned())
                .collect();
            let read = self.read_lines(&lines)?;
            let mut next = 0;
            for i in batch {
                let n = to_read[i].images.len();
                reads[i] = self.decode_plate(to_read[i].det, &read[next..next + n]);
                next += n;
            }
        }
        Ok(reads)
    }

    /// Our reader's reads of the lines of each plate, all lines of the frame in one batch
    /// (its input has one size, so batching changes nothing).
    fn read_lines_with_own(
        &mut self,
        to_read: &[ToRead<'_>],
    ) -> Result<Vec<Option<PlateRead>>, RecognizeError> {
        let lines: Vec<RgbImage> = to_read
            .iter()
            .flat_map(|p| p.images.iter().cloned())
            .collect();
        let read: Vec<LineRead> = self
            .own_reader()?
            .read(&lines, ReaderInput::Line)?
            .into_iter()
            .flatten()
            .collect();
        let mut next = 0;
        Ok(to_read
            .iter()
            .map(|p| {
                let n = p.images.len();
                next += n;
                self.decode_plate(p.det, &read[next - n..next])
            })
            .collect())
    }

    /// Our reader's reads of whole plate crops: two-line and one-line plates (by the crop's
    /// shape) in a batch each.
    fn read_whole_with_own(
        &mut self,
        to_read: &[ToRead<'_>],
    ) -> Result<Vec<Option<PlateRead>>, RecognizeError> {
        let mut reads: Vec<Option<PlateRead>> = vec![None; to_read.len()];
        for kind in [ReaderInput::OneLinePlate, ReaderInput::TwoLinePlate] {
            let batch: Vec<usize> = (0..to_read.len())
                .filter(|&i| {
                    let (w, h) = to_read[i].images[0].dimensions();
                    (kind == ReaderInput::TwoLinePlate) == reader::looks_two_line(w, h)
                })
                .collect();
            let crops: Vec<RgbImage> = batch
                .iter()
                .map(|&i| to_read[i].images[0].clone())
                .collect();
            let read = self.own_reader()?.read(&crops, kind)?;
            for (i, lines) in batch.into_iter().zip(read) {
                reads[i] = self.decode_plate(to_read[i].det, &lines);
            }
        }
        Ok(reads)
    }

    /// Our plate reader; loaded with the recognizer whenever the settings ask for it.
    fn own_reader(&mut self) -> Result<&mut reader::PlateReader, RecognizeError> {
        self.own.as_mut().ok_or_else(|| {
            RecognizeError::OutputShape("the plate reader was not loaded for these settings".into())
        })
    }

    /// Whether `text_fallback` allows looking for plates in the frame's text.
    fn wants_text_fallback(
        &self,
        vehicles: &[VehicleDetection],
        is_wanted: impl Fn(usize) -> bool,
    ) -> bool {
        match self.settings.text_fallback {
            TextFallback::Never => false,
            TextFallback::WithVehicles => (0..vehicles.len()).any(is_wanted),
            TextFallback::Always => true,
        }
    }

    /// Every plate box the detector finds in the whole frame, cut out as the reader sees it
    /// (crop with margin, its straightened lines, what PP-OCR reads in them), for making
    /// training data for a plate reader (`matthan crops`).
    pub fn plate_crops(&mut self, frame: &RgbImage) -> Result<Vec<PlateCrop>, RecognizeError> {
        let input = DetectorInput::new(frame, self.plates.graph().input);
        let boxes = self.detect_plates_in(&input)?;
        let mut crops = Vec::new();
        for det in boxes {
            let lines = self.plate_lines(frame, &det.bbox)?;
            let reads = self.read_lines(&lines)?;
            crops.push(PlateCrop {
                bbox: det.bbox,
                crop: plate_crop(frame, &det.bbox),
                key: self.decode_plate(&det, &reads).map(|r| r.key.to_string()),
                raw_lines: reads.iter().map(LineRead::text).collect(),
                lines,
            });
        }
        Ok(crops)
    }

    /// Stage 3: the straightened text lines of one plate box, top to bottom.
    pub fn plate_lines(
        &mut self,
        frame: &RgbImage,
        plate: &BoxXyxy,
    ) -> Result<Vec<RgbImage>, RecognizeError> {
        let mut crop = plate_crop(frame, plate);
        let mut rects = self.lines.find_line_rects(&crop)?;
        if let Some(wider) = cut_text::widened(plate, &rects, crop.width(), frame) {
            // The detector boxed part of the plate: the text runs on past the crop.
            crop = plate_crop(frame, &wider);
            rects = self.lines.find_line_rects(&crop)?;
        }
        let mut lines: Vec<RgbImage> = rects.iter().map(|r| ocr::straighten(&crop, r)).collect();
        if lines.is_empty() {
            lines = fallback_lines(&crop);
        }
        if lines.len() > 2 {
            // Plates have at most two lines of text: keep the two largest, in reading order.
            let mut by_size: Vec<(usize, u32)> = lines
                .iter()
                .enumerate()
                .map(|(i, l)| (i, l.width() * l.height()))
                .collect();
            by_size.sort_by_key(|b| std::cmp::Reverse(b.1));
            let mut keep: Vec<usize> = by_size.iter().take(2).map(|(i, _)| *i).collect();
            keep.sort_unstable();
            lines = keep.into_iter().map(|i| lines[i].clone()).collect();
        }
        Ok(lines)
    }

    /// Stage 4: reads straightened lines.
    pub fn read_lines(&mut self, lines: &[RgbImage]) -> Result<Vec<LineRead>, RecognizeError> {
        self.text.read(lines)
    }

    /// The fallback: text regions of the whole frame, alone or stacked in pairs, read and
    /// kept only when they decode as a Vietnamese plate.
    fn plates_from_text(&mut self, frame: &RgbImage) -> Result<Vec<PlateRead>, RecognizeError> {
        let regions = self.plate_shaped_regions(frame)?;
        if regions.is_empty() {
            return Ok(Vec::new());
        }
        let images: Vec<RgbImage> = regions.iter().map(|r| ocr::straighten(frame, r)).collect();
        let reads = self.read_lines(&images)?;
        let strict = DecodeOptions {
            strict: true,
            ..self.settings.decode
        };
        let found: Vec<(Vec<usize>, PlateRead)> = line_groups(&regions)
            .into_iter()
            .filter_map(|lines| {
                let read = read_line_group(frame, &regions, &reads, &lines, &strict)?;
                Some((lines, read))
            })
            .collect();
        Ok(best_disjoint_reads(found))
    }

    /// The frame's text regions that could be plate lines: wider than tall, the largest few.
    fn plate_shaped_regions(
        &mut self,
        frame: &RgbImage,
    ) -> Result<Vec<RotatedRect>, RecognizeError> {
        let mut regions = self.lines.find_text_regions(frame, TEXT_FALLBACK_SIDE)?;
        regions.retain(|r| r.width >= 1.2 * r.height && r.height >= 8.0);
        regions.sort_by(|a, b| (b.width * b.height).total_cmp(&(a.width * a.height)));
        regions.truncate(TEXT_FALLBACK_MAX_REGIONS);
        Ok(regions)
    }

    /// Stage 5 for one plate box: its read lines, top to bottom, decoded with the grammar,
    /// extra text around the plate (a city name, a dealer's frame) stripped
    /// ([`plate::decode_box`]): a Vietnamese read if any, else the best raw read flagged
    /// not-Vietnamese; `None` when no line is a plate or all read too unsure. `raw_lines`
    /// keeps every line as read, extra text included.
    fn decode_plate(&self, det: &RawDetection, reads: &[LineRead]) -> Option<PlateRead> {
        let positions: Vec<Vec<plate::CharCandidates>> =
            reads.iter().map(|r| r.positions.clone()).collect();
        let d = plate::decode_box(
            &positions,
            &self.settings.decode,
            self.settings.min_read_confidence,
        )?;
        Some(plate_read(
            det.bbox,
            det.score,
            d,
            reads.iter().map(LineRead::text).collect(),
        ))
    }
}

/// A plate box waiting for a reader: its detection, its crop's look (for [`PlateMemory`]),
/// and what the reader is given (its text lines, or the whole crop).
struct ToRead<'a> {
    det: &'a RawDetection,
    look: memory::CropLook,
    images: Vec<RgbImage>,
}

/// Whether our reader's read of a plate stands without PP-OCR's: a Vietnamese key read
/// with at least [`OWN_SURE_CONFIDENCE`] whose serial has 5 digits. A 4-digit serial gets a
/// second opinion: it is rarer, and it is also what a CTC reader makes of a 5-digit serial
/// when it runs two repeated digits together (`33833` read `3333`).
fn is_sure(read: &Option<PlateRead>) -> bool {
    read.as_ref().is_some_and(|r| {
        let trailing_digits = r
            .key
            .as_str()
            .bytes()
            .rev()
            .take_while(u8::is_ascii_digit)
            .count();
        r.key.is_vietnamese() && r.confidence >= OWN_SURE_CONFIDENCE && trailing_digits >= 5
    })
}

/// The better of PP-OCR's read `pp` and our reader's read `own` of one plate: a Vietnamese
/// key over a raw one; of two Vietnamese keys the one with more support from both readers'
/// grammar-scored candidates ([`support`]); of two raw reads PP-OCR's (ours was trained on
/// Vietnamese plates, and reads foreign ones worse). The other read's key, when it differs,
/// joins the winner's candidates, so a search still finds the plate by it.
fn better_read(pp: Option<PlateRead>, own: Option<PlateRead>) -> Option<PlateRead> {
    let (pp, own) = match (pp, own) {
        (Some(a), Some(b)) => (a, b),
        (a, b) => return a.or(b),
    };
    let own_wins = match (pp.key.is_vietnamese(), own.key.is_vietnamese()) {
        (false, true) => true,
        (true, true) => {
            let both = [pp.candidates.as_slice(), own.candidates.as_slice()];
            support(&own.key, &both) > support(&pp.key, &both)
        }
        _ => false,
    };
    let (mut win, lose) = if own_wins { (own, pp) } else { (pp, own) };
    if !win.candidates.iter().any(|(k, _)| *k == lose.key) {
        win.candidates.push((lose.key, lose.confidence));
    }
    Some(win)
}

/// A key's support from several readers: the sum of the scores each reader's candidates
/// give it (a reader whose top-k lacks the key adds nothing), so a key that both readers
/// propose beats one that only one reader proposes, however sure.
fn support(key: &PlateKey, candidates: &[&[(PlateKey, f32)]]) -> f32 {
    candidates
        .iter()
        .filter_map(|list| list.iter().find(|(k, _)| k == key).map(|(_, s)| *s))
        .sum()
}

/// One plate box cut out as the reader sees it (see [`Recognizer::plate_crops`]).
pub struct PlateCrop {
    /// The detector's box, frame pixels.
    pub bbox: BoxXyxy,
    /// The box with the reader's margin.
    pub crop: RgbImage,
    /// Its straightened text lines, top to bottom.
    pub lines: Vec<RgbImage>,
    /// PP-OCR's top-1 text of each line.
    pub raw_lines: Vec<String>,
    /// The key the grammar decodes from them, if any.
    pub key: Option<String>,
}

/// The margin around a plate box that the line finder wants: (of its width, of its height).
pub(super) const CROP_MARGIN: (f32, f32) = (0.08, 0.15);

/// The plate box with the margin the line finder wants.
fn plate_crop(frame: &RgbImage, plate: &BoxXyxy) -> RgbImage {
    let crop_box = plate.expand(CROP_MARGIN.0, CROP_MARGIN.1, frame.width(), frame.height());
    let (x, y, w, h) = crop_box.crop_rect(frame.width(), frame.height());
    image::imageops::crop_imm(frame, x, y, w, h).to_image()
}

/// A plate read from a decoding.
fn plate_read(
    bbox: BoxXyxy,
    detector_score: f32,
    d: plate::PlateDecoding,
    raw_lines: Vec<String>,
) -> PlateRead {
    PlateRead {
        bbox,
        detector_score,
        province: d.key.province().map(|p| p.name.to_string()),
        key: d.key,
        display: d.display,
        layout: d.layout,
        confidence: d.confidence,
        char_confidences: d.char_confidences,
        candidates: d.candidates,
        vehicle: None,
        raw_lines,
    }
}

/// The fallback's candidate plates, as indices into `regions`: each region alone, and each
/// region with one just below it of similar size and position (the two lines of a square
/// plate).
fn line_groups(regions: &[RotatedRect]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = (0..regions.len()).map(|i| vec![i]).collect();
    for (i, a) in regions.iter().enumerate() {
        for (j, b) in regions.iter().enumerate() {
            let dy = b.cy - a.cy;
            let similar = b.height > 0.6 * a.height && b.height < 1.6 * a.height;
            if i != j
                && similar
                && dy > 0.7 * a.height
                && dy < 2.2 * a.height
                && (b.cx - a.cx).abs() < 0.35 * a.width.max(b.width)
            {
                groups.push(vec![i, j]);
            }
        }
    }
    groups
}

/// Decodes one group of read lines with the strict grammar; `None` unless it is a plate
/// read with at least the fallback's confidence.
fn read_line_group(
    frame: &RgbImage,
    regions: &[RotatedRect],
    reads: &[LineRead],
    lines: &[usize],
    strict: &DecodeOptions,
) -> Option<PlateRead> {
    let positions: Vec<Vec<plate::CharCandidates>> =
        lines.iter().map(|&i| reads[i].positions.clone()).collect();
    let layout = if lines.len() == 2 {
        PlateLayout::TwoLine
    } else {
        PlateLayout::OneLine
    };
    let d = plate::decode(&positions, layout, strict)?;
    if d.confidence < TEXT_FALLBACK_MIN_CONFIDENCE {
        return None;
    }
    let corners: Vec<(f32, f32)> = lines.iter().flat_map(|&i| regions[i].corners()).collect();
    let bbox = bounds_in_frame(&corners, frame.width(), frame.height());
    let raw_lines = lines.iter().map(|&i| reads[i].text()).collect();
    Some(plate_read(bbox, 0.0, d, raw_lines))
}

/// The axis-aligned box around `corners`, clipped to a `width`×`height` frame.
fn bounds_in_frame(corners: &[(f32, f32)], width: u32, height: u32) -> BoxXyxy {
    BoxXyxy {
        x1: corners
            .iter()
            .map(|c| c.0)
            .fold(f32::MAX, f32::min)
            .max(0.0),
        y1: corners
            .iter()
            .map(|c| c.1)
            .fold(f32::MAX, f32::min)
            .max(0.0),
        x2: corners
            .iter()
            .map(|c| c.0)
            .fold(f32::MIN, f32::max)
            .min(width as f32),
        y2: corners
            .iter()
            .map(|c| c.1)
            .fold(f32::MIN, f32::max)
            .min(height as f32),
    }
}

/// Best read first; a region serves one plate.
fn best_disjoint_reads(mut found: Vec<(Vec<usize>, PlateRead)>) -> Vec<PlateRead> {
    found.sort_by(|a, b| b.1.confidence.total_cmp(&a.1.confidence));
    let mut used = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (lines, read) in found {
        if lines.iter().all(|i| !used.contains(i)) {
            used.extend(lines);
            out.push(read);
        }
    }
    out
}

/// Confidence from which our reader's Vietnamese read is taken without asking PP-OCR
/// ([`TextReader::OwnFirst`]).
const OWN_SURE_CONFIDENCE: f32 = 0.9;
/// Longer side of the frame for the text fallback's detector input.
const TEXT_FALLBACK_SIDE: u32 = 960;
/// Text regions read at most by the fallback.
const TEXT_FALLBACK_MAX_REGIONS: usize = 12;
/// Fallback reads below this confidence are dropped (no plate detector backs them).
const TEXT_FALLBACK_MIN_CONFIDENCE: f32 = 0.5;

/// When the line finder sees nothing, read the crop as it is: one line if wide, else two halves.
fn fallback_lines(crop: &RgbImage) -> Vec<RgbImage> {
    let (w, h) = crop.dimensions();
    if h >= 2 && (w as f32) < 2.0 * h as f32 {
        vec![
            image::imageops::crop_imm(crop, 0, 0, w, h / 2).to_image(),
            image::imageops::crop_imm(crop, 0, h / 2, w, h - h / 2).to_image(),
        ]
    } else {
        vec![crop.clone()]
    }
}

/// The vehicle whose box holds the plate's centre; the smallest such box wins (a motorbike in
/// front of a truck).
fn holder_of(plate: &BoxXyxy, vehicles: &[VehicleDetection]) -> Option<usize> {
    let c = plate.center();
    vehicles
        .iter()
        .enumerate()
        .filter(|(_, v)| v.bbox.contains(c))
        .min_by(|a, b| a.1.bbox.area().total_cmp(&b.1.bbox.area()))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::VehicleClass;

    #[test]
    fn plate_goes_to_the_smallest_vehicle_holding_it() {
        let v = |x1, y1, x2, y2| VehicleDetection {
            class: VehicleClass::Car,
            bbox: BoxXyxy { x1, y1, x2, y2 },
            score: 0.9,
        };
        let vehicles = vec![
            v(0., 0., 500., 500.),
            v(100., 100., 200., 300.),
            v(600., 0., 700., 100.),
        ];
        let plate = BoxXyxy {
            x1: 120.,
            y1: 250.,
            x2: 180.,
            y2: 280.,
        };
        assert_eq!(holder_of(&plate, &vehicles), Some(1));
        let outside = BoxXyxy {
            x1: 550.,
            y1: 550.,
            x2: 560.,
            y2: 560.,
        };
        assert_eq!(holder_of(&outside, &vehicles), None);
    }

    #[test]
    fn a_key_both_readers_propose_outweighs_a_surer_key_of_one() {
        let k = |s: &str| PlateKey::parse(s).unwrap();
        let pp = [(k("59V23815"), 0.9), (k("59V234815"), 0.3)];
        let own = [(k("59V234815"), 0.8)];
        let both = [&pp[..], &own[..]];
        assert!(support(&k("59V234815"), &both) > support(&k("59V23815"), &both));
        assert_eq!(support(&k("30A12345"), &both), 0.0);
    }

    #[test]
    fn square_crops_fall_back_to_two_lines() {
        assert_eq!(fallback_lines(&RgbImage::new(100, 80)).len(), 2);
        assert_eq!(fallback_lines(&RgbImage::new(300, 60)).len(), 1);
        assert_eq!(fallback_lines(&RgbImage::new(1, 1)).len(), 1);
    }
}
