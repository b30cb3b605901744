//! The truth file of a traffic video: what really passed the camera, one row per vehicle.
//!
//! PURE: text in, text out. Written by the traffic video maker, and by hand for a real clip;
//! read by `matthan eval-video`, which scores passages against it.
//!
//! Format: CSV with `#` lines first. A `# key=value` line sets a header field; other `#` lines
//! are comments. Header fields (all optional):
//! - `video_s=60.000`: length of the video, seconds;
//! - `frame=1280x720`: frame size, pixels;
//! - `road_direction=0,1`: the camera's road direction (normalised x, y), as in the config;
//! - `counting_line=0,0.55,1,0.55`: the counting line's two points (normalised).
//!
//! Then the column header line and one row per vehicle:
//!
//! ```text
//! id,class,plate,direction,line_s,first_s,last_s,first_x,first_y,last_x,last_y,readable
//! 7,motorbike,59U139619,against,12.400,10.000,15.800,0.4100,0.9000,0.4500,0.3000,yes
//! ```
//!
//! - `id`: unique within the file; `class`: a [`VehicleClass`] name; `plate`: a plate key or
//!   empty (no plate shows); `direction`: a [`Direction`] name;
//! - `line_s`: when the box centre crosses the counting line, seconds from the start of the
//!   video, empty when it does not; `first_s`, `last_s`: first and last time visible;
//! - `first_x` .. `last_y`: normalised box centre when first and last visible, or all four
//!   empty (matching then goes by time and plate only);
//! - `readable`: `yes` when the plate is big and sharp enough in the video to be read.
//!
//! Errors name the line (1-based) of the file they were found on.

use std::fmt::Write as _;
use std::str::FromStr;

use crate::plate::PlateKey;
use crate::scene::VehicleClass;
use crate::track::Direction;

/// The column header line.
pub const COLUMNS: &str =
    "id,class,plate,direction,line_s,first_s,last_s,first_x,first_y,last_x,last_y,readable";

/// A truth file that cannot be used, with the line it was found on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("truth file line {line}: {message}")]
pub struct TruthError {
    /// 1-based line number (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl TruthError {
    fn at(line: usize, message: impl Into<String>) -> TruthError {
        TruthError {
            line,
            message: message.into(),
        }
    }
}

/// One vehicle that really passed.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthVehicle {
    /// Id, unique within the file.
    pub id: u32,
    /// What it is.
    pub class: VehicleClass,
    /// Its plate, when one shows.
    pub plate: Option<PlateKey>,
    /// Which way it went.
    pub direction: Direction,
    /// When its box centre crossed the counting line, seconds from the start of the video.
    pub line_s: Option<f64>,
    /// First time visible, seconds.
    pub first_s: f64,
    /// Last time visible, seconds.
    pub last_s: f64,
    /// Normalised box centre when first and last visible.
    pub path: Option<[(f32, f32); 2]>,
    /// Whether its plate can be read in the video.
    pub readable: bool,
    /// Line of the file it came from (0 when made in code).
    pub line: usize,
}

/// A whole truth file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Truth {
    /// Length of the video, seconds.
    pub video_s: Option<f64>,
    /// Frame size, pixels.
    pub frame: Option<(u32, u32)>,
    /// Road direction, normalised.
    pub road_direction: Option<(f32, f32)>,
    /// Counting line, normalised.
    pub counting_line: Option<[(f32, f32); 2]>,
    /// The vehicles, in file order.
    pub vehicles: Vec<TruthVehicle>,
}

/// Numbers separated by commas, exactly `N` of them, all finite.
fn numbers<const N: usize>(line: usize, key: &str, value: &str) -> Result<[f32; N], TruthError> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    if parts.len() != N {
        return Err(TruthError::at(
            line,
            format!("{key} needs {N} numbers separated by commas, got {value:?}"),
        ));
    }
    let mut out = [0f32; N];
    for (o, p) in out.iter_mut().zip(&parts) {
        *o = p
            .parse::<f32>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| TruthError::at(line, format!("{key}: {p:?} is not a number")))?;
    }
    Ok(out)
}

impl Truth {
    /// Parses a truth file.
    pub fn parse(text: &str) -> Result<Truth, TruthError> {
        let mut truth = Truth::default();
        let mut header_seen = false;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(comment) = trimmed.strip_prefix('#') {
                if let Some((key, value)) = comment.split_once('=') {
                    truth.header_field(line, key.trim(), value.trim())?;
                }
                continue;
            }
            if !header_seen {
                let got: Vec<&str> = trimmed.split(',').map(str::trim).collect();
                let want: Vec<&str> = COLUMNS.split(',').collect();
                if got != want {
                    return Err(TruthError::at(
                        line,
                        format!("expected the column header {COLUMNS:?}, got {trimmed:?}"),
                    ));
                }
                header_seen = true;
                continue;
            }
            let vehicle = parse_row(line, trimmed)?;
            if let Some(dup) = truth.vehicles.iter().find(|v| v.id == vehicle.id) {
                return Err(TruthError::at(
                    line,
                    format!("id {} is already used on line {}", vehicle.id, dup.line),
                ));
            }
            truth.vehicles.push(vehicle);
        }
        if !header_seen {
            return Err(TruthError::at(
                0,
                format!("no column header line {COLUMNS:?}: not a truth file"),
            ));
        }
        Ok(truth)
    }

    /// Applies one `# key=value` header line; unknown keys are comments.
    fn header_field(&mut self, line: usize, key: &str, value: &str) -> Result<(), TruthError> {
        match key {
            "video_s" => {
                let [s] = numbers::<1>(line, key, value)?;
                if s <= 0.0 {
                    return Err(TruthError::at(line, "video_s must be above 0"));
                }
                self.video_s = Some(f64::from(s));
            }
            "frame" => {
                let (w, h) = value
                    .split_once('x')
                    .and_then(|(w, h)| Some((w.trim().parse().ok()?, h.trim().parse().ok()?)))
                    .filter(|&(w, h): &(u32, u32)| w > 0 && h > 0)
                    .ok_or_else(|| {
                        TruthError::at(line, format!("frame must be WIDTHxHEIGHT, got {value:?}"))
                    })?;
                self.frame = Some((w, h));
            }
            "road_direction" => {
                let [x, y] = numbers::<2>(line, key, value)?;
                self.road_direction = Some((x, y));
            }
            "counting_line" => {
                let [x1, y1, x2, y2] = numbers::<4>(line, key, value)?;
                self.counting_line = Some([(x1, y1), (x2, y2)]);
            }
            _ => {}
        }
        Ok(())
    }

    /// Checks every time against the video's length: a clear error naming the first line with
    /// a time past the end (plus a little slack for rounding).
    pub fn check_times(&self, video_s: f64) -> Result<(), TruthError> {
        const SLACK_S: f64 = 0.5;
        for v in &self.vehicles {
            let latest = v.last_s.max(v.line_s.unwrap_or(0.0));
            if latest > video_s + SLACK_S {
                return Err(TruthError::at(
                    v.line,
                    format!(
                        "vehicle {} is visible until {latest:.3} s but the video is only \
                         {video_s:.3} s long",
                        v.id
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The file's text: header fields, the column line and one row per vehicle.
    pub fn to_csv(&self, comment: &str) -> String {
        let mut out = String::new();
        for c in comment.lines() {
            let _ = writeln!(out, "# {c}");
        }
        if let Some(s) = self.video_s {
            let _ = writeln!(out, "# video_s={s:.3}");
        }
        if let Some((w, h)) = self.frame {
            let _ = writeln!(out, "# frame={w}x{h}");
        }
        if let Some((x, y)) = self.road_direction {
            let _ = writeln!(out, "# road_direction={x},{y}");
        }
        if let Some([(x1, y1), (x2, y2)]) = self.counting_line {
            let _ = writeln!(out, "# counting_line={x1},{y1},{x2},{y2}");
        }
        let _ = writeln!(out, "{COLUMNS}");
        for v in &self.vehicles {
            let opt = |x: Option<f64>| x.map(|x| format!("{x:.3}")).unwrap_or_default();
            let path = match v.path {
                Some([(a, b), (c, d)]) => format!("{a:.4},{b:.4},{c:.4},{d:.4}"),
                None => ",,,".to_string(),
            };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{:.3},{:.3},{},{}",
                v.id,
                v.class.as_str(),
                v.plate.as_ref().map(PlateKey::as_str).unwrap_or(""),
                v.direction.as_str(),
                opt(v.line_s),
                v.first_s,
                v.last_s,
                path,
                if v.readable { "yes" } else { "no" },
            );
        }
        out
    }
}

/// One vehicle row.
fn parse_row(line: usize, row: &str) -> Result<TruthVehicle, TruthError> {
    let cells: Vec<&str> = row.split(',').map(str::trim).collect();
    let want = COLUMNS.split(',').count();
    if cells.len() != want {
        return Err(TruthError::at(
            line,
            format!("expected {want} columns, got {}", cells.len()),
        ));
    }
    let time = |name: &str, cell: &str| -> Result<f64, TruthError> {
        cell.parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| {
                TruthError::at(
                    line,
                    format!("{name} must be seconds (0 or more), got {cell:?}"),
                )
            })
    };
    let id = cells[0].parse::<u32>().map_err(|_| {
        TruthError::at(
            line,
            format!("id must be a whole number, got {:?}", cells[0]),
        )
    })?;
    let class = VehicleClass::from_str(cells[1]).map_err(|_| {
        TruthError::at(
            line,
            format!(
                "unknown class {:?} (one of {})",
                cells[1],
                VehicleClass::names().join(", ")
            ),
        )
    })?;
    let plate = match cells[2] {
        "" => None,
        p => Some(
            PlateKey::parse(p).map_err(|e| TruthError::at(line, format!("plate {p:?}: {e}")))?,
        ),
    };
    let direction = Direction::from_str(cells[3]).map_err(|_| {
        TruthError::at(
            line,
            format!(
                "unknown direction {:?} (one of {})",
                cells[3],
                Direction::names().join(", ")
            ),
        )
    })?;
    let line_s = match cells[4] {
        "" => None,
        c => Some(time("line_s", c)?),
    };
    let first_s = time("first_s", cells[5])?;
    let last_s = time("last_s", cells[6])?;
    if last_s < first_s {
        return Err(TruthError::at(
            line,
            format!("last_s {last_s} is before first_s {first_s}"),
        ));
    }
    let path = if cells[7..11].iter().all(|c| c.is_empty()) {
        None
    } else {
        let mut xy = [0f32; 4];
        for (o, (name, c)) in xy.iter_mut().zip(
            ["first_x", "first_y", "last_x", "last_y"]
                .iter()
                .zip(&cells[7..11]),
        ) {
            *o = c
                .parse::<f32>()
                .ok()
                .filter(|x| (-0.5..=1.5).contains(x))
                .ok_or_else(|| {
                    TruthError::at(
                        line,
                        format!("{name} must be a normalised position (0..1), got {c:?}"),
                    )
                })?;
        }
        Some([(xy[0], xy[1]), (xy[2], xy[3])])
    };
    let readable = match cells[11] {
        "yes" => true,
        "no" => false,
        c => {
            return Err(TruthError::at(
                line,
                format!("readable must be yes or no, got {c:?}"),
            ))
        }
    };
    Ok(TruthVehicle {
        id,
        class,
        plate,
        direction,
        line_s,
        first_s,
        last_s,
        path,
        readable,
        line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "# made by hand\n# video_s=18.7\n# frame=1280x720\n\
        # road_direction=0,1\n# counting_line=0,0.5,1,0.5\n\
        id,class,plate,direction,line_s,first_s,last_s,first_x,first_y,last_x,last_y,readable\n\
        1,car,34A36837,along,2.5,0,8.4,0.5,0.4,0.5,0.8,yes\n\
        2,motorbike,,against,,3,4,,,,,no\n";

    #[test]
    fn parses_header_and_rows() {
        let t = Truth::parse(GOOD).unwrap();
        assert_eq!(t.video_s, Some(18.700000762939453));
        assert_eq!(t.frame, Some((1280, 720)));
        assert_eq!(t.counting_line, Some([(0.0, 0.5), (1.0, 0.5)]));
        assert_eq!(t.vehicles.len(), 2);
        let a = &t.vehicles[0];
        assert_eq!(a.plate.as_ref().unwrap().as_str(), "34A36837");
        assert_eq!(a.class, VehicleClass::Car);
        assert_eq!(a.line_s, Some(2.5));
        assert_eq!(a.path, Some([(0.5, 0.4), (0.5, 0.8)]));
        assert_eq!(a.line, 7);
        let b = &t.vehicles[1];
        assert_eq!((b.plate.clone(), b.path, b.readable), (None, None, false));
        assert_eq!(b.direction, Direction::Against);
    }

    #[test]
    fn round_trips_through_csv() {
        let t = Truth::parse(GOOD).unwrap();
        let again = Truth::parse(&t.to_csv("again")).unwrap();
        assert_eq!(again.vehicles.len(), 2);
        for (a, b) in t.vehicles.iter().zip(&again.vehicles) {
            assert_eq!(
                (a.id, a.class, &a.plate, a.direction),
                (b.id, b.class, &b.plate, b.direction)
            );
            assert_eq!(
                (a.line_s, a.first_s, a.last_s, a.path),
                (b.line_s, b.first_s, b.last_s, b.path)
            );
        }
        assert_eq!(again.counting_line, t.counting_line);
    }

    #[test]
    fn errors_name_the_line() {
        let bad_class = GOOD.replace("2,motorbike", "2,tank");
        let e = Truth::parse(&bad_class).unwrap_err();
        assert_eq!(e.line, 8);
        assert!(
            e.to_string()
                .starts_with("truth file line 8: unknown class \"tank\""),
            "{e}"
        );

        let e = Truth::parse(&GOOD.replace("0,8.4", "9,8.4")).unwrap_err();
        assert_eq!(e.line, 7, "{e}");
        let e = Truth::parse(&GOOD.replace("# frame=1280x720", "# frame=wide")).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        let e = Truth::parse(&GOOD.replace(",yes", ",maybe")).unwrap_err();
        assert!(e.to_string().contains("readable must be yes or no"), "{e}");
        let e = Truth::parse(&GOOD.replace("2,motorbike", "1,motorbike")).unwrap_err();
        assert!(e.to_string().contains("already used on line 7"), "{e}");
        let e = Truth::parse("hello,world\n").unwrap_err();
        assert_eq!(e.line, 1);
        let e = Truth::parse("# only comments\n").unwrap_err();
        assert!(e.to_string().contains("not a truth file"), "{e}");
    }

    #[test]
    fn times_past_the_end_are_refused() {
        let t = Truth::parse(GOOD).unwrap();
        assert!(t.check_times(18.7).is_ok());
        let e = t.check_times(5.0).unwrap_err();
        assert_eq!(e.line, 7);
        assert!(e.to_string().contains("only 5.000 s long"), "{e}");
    }
}
