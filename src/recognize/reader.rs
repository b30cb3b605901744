//! Our own plate reader (`models/plate_reader.onnx`, trained by `training/`): a small CTC
//! network for plate characters, read beside or instead of PP-OCR's general text recogniser.
//!
//! Owns: its input (grey, `(x/255 - 0.5) / 0.5`, 128 px wide; 32 px high per text line),
//! its two ways of reading (each line the line finder cut, or the whole plate crop as one
//! image, 64 px high when it holds two lines), and turning its output into the same
//! per-position candidates PP-OCR's reads give ([`LineRead`]), so the grammar decodes either.

use image::imageops::FilterType;
use image::{GrayImage, Luma, RgbImage};
use ort::session::Session;
use ort::value::Tensor;

use super::ocr::{ctc_charset, ctc_decode, run_ctc, LineRead};
use super::RecognizeError;

/// The model file in the model directory.
pub const MODEL_FILE: &str = "plate_reader.onnx";
/// Height of one text line in the reader's input.
pub const LINE_HEIGHT: u32 = 32;
/// Width of every input.
pub const INPUT_WIDTH: u32 = 128;

/// What the reader is given of a plate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReaderInput {
    /// One text line, as the line finder cut and straightened it.
    Line,
    /// A whole one-line plate crop.
    OneLinePlate,
    /// A whole two-line plate crop, read as one image: its top line, then its bottom line.
    TwoLinePlate,
}

impl ReaderInput {
    fn height(self) -> u32 {
        match self {
            ReaderInput::TwoLinePlate => 2 * LINE_HEIGHT,
            _ => LINE_HEIGHT,
        }
    }
}

/// The plate reader's session and its characters.
pub struct PlateReader {
    /// `x` `[n, 1, h, 128]` → `probs` `[n, t, classes]` (softmax, class 0 the CTC blank).
    session: Session,
    /// Index → character; index 0 is the blank (`'\0'`).
    charset: Vec<char>,
}

impl PlateReader {
    /// Wraps a session of `plate_reader.onnx`, reading its characters from the metadata key
    /// `character` (one a line, the blank not included).
    pub fn new(session: Session) -> Result<PlateReader, RecognizeError> {
        let charset = ctc_charset(&session, "plate reader")?;
        Ok(PlateReader { session, charset })
    }

    /// Reads images of one kind in one batch: for each image its text lines, top to bottom
    /// (one, or two for [`ReaderInput::TwoLinePlate`]: the network reads each 32 px band of
    /// its input as a line of its own, so the rows of its output are decoded apart). Empty
    /// input gives empty output; an image of any size (1×1, all black) is read like any
    /// other and may give no characters.
    pub fn read(
        &mut self,
        images: &[RgbImage],
        kind: ReaderInput,
    ) -> Result<Vec<Vec<LineRead>>, RecognizeError> {
        if images.is_empty() {
            return Ok(Vec::new());
        }
        let h = kind.height();
        let one = (h * INPUT_WIDTH) as usize;
        let mut data = vec![0.0f32; one * images.len()];
        for (i, img) in images.iter().enumerate() {
            let grey = resize_grey(img, h);
            for (o, Luma([v])) in data[i * one..(i + 1) * one].iter_mut().zip(grey.pixels()) {
                *o = *v as f32 / 127.5 - 1.0;
            }
        }
        let input = Tensor::from_array(([images.len(), 1, h as usize, INPUT_WIDTH as usize], data))
            .map_err(RecognizeError::inference)?;
        let rows = (h / LINE_HEIGHT) as usize;
        let charset = &self.charset;
        let classes = charset.len();
        run_ctc(
            &mut self.session,
            input,
            images.len(),
            classes,
            "plate reader",
            |probs, steps| {
                let row_steps = steps / rows;
                (0..images.len())
                    .map(|i| {
                        let image = &probs[i * steps * classes..(i + 1) * steps * classes];
                        (0..rows)
                            .map(|r| {
                                let row =
                                    &image[r * row_steps * classes..(r + 1) * row_steps * classes];
                                ctc_decode(row, classes, charset)
                            })
                            .collect()
                    })
                    .collect()
            },
        )
    }
}

/// The image in grey (ITU-R 601 weights, as the training data was made) squeezed to
/// `height` × [`INPUT_WIDTH`].
fn resize_grey(img: &RgbImage, height: u32) -> GrayImage {
    let grey = GrayImage::from_fn(img.width().max(1), img.height().max(1), |x, y| {
        match img.get_pixel_checked(x, y) {
            Some(p) => {
                let [r, g, b] = p.0;
                let l = (r as u32 * 299 + g as u32 * 587 + b as u32 * 114 + 500) / 1000;
                Luma([l as u8])
            }
            None => Luma([0]),
        }
    });
    image::imageops::resize(&grey, INPUT_WIDTH, height, FilterType::Triangle)
}

/// Whether a plate crop holds two text lines, judged by its shape alone (for reading it
/// whole without the line finder): Vietnamese two-line plates are 1.3 to 2 times as wide as
/// high, one-line plates about 4.5 times.
pub fn looks_two_line(width: u32, height: u32) -> bool {
    (width as f32) < 2.6 * height.max(1) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_input_has_the_reader_size_whatever_the_crop() {
        for (w, h) in [(1, 1), (300, 60), (7, 200)] {
            let img = RgbImage::new(w, h);
            assert_eq!(resize_grey(&img, 32).dimensions(), (128, 32));
            assert_eq!(resize_grey(&img, 64).dimensions(), (128, 64));
        }
        let white = RgbImage::from_pixel(10, 10, image::Rgb([255, 255, 255]));
        assert!(resize_grey(&white, 32).pixels().all(|p| p.0[0] == 255));
    }

    #[test]
    fn plate_shape_tells_one_line_from_two() {
        assert!(looks_two_line(190, 140));
        assert!(looks_two_line(330, 165));
        assert!(!looks_two_line(520, 110));
        assert!(looks_two_line(1, 1));
        assert!(!looks_two_line(10, 0));
    }
}
