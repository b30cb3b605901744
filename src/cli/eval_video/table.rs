//! The readable table of `matthan eval-video`: one row per figure, one column per run (gate
//! on, gate off), then the failures of each run with the times and snapshots to look at.

use std::fmt::Write as _;

use matthan::scene::VehicleClass;
use matthan::track::Direction;
use matthan::traffic::failures::{Failure, PassageRef, VehicleRef};
use matthan::traffic::score::{Count, PlateScore, TOP_N};

use super::{Evaluation, Run};

/// The whole table.
pub fn render(e: &Evaluation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "video {}  ({}, {}x{})",
        e.video.display(),
        e.video_s
            .map_or("length unknown".into(), |s| format!("{s:.2} s")),
        e.frame.0,
        e.frame.1
    );
    let _ = writeln!(
        out,
        "truth {}  ({} vehicles)",
        e.truth.display(),
        e.truth_vehicles
    );
    for note in &e.notes {
        let _ = writeln!(out, "note: {note}");
    }
    let _ = writeln!(out);
    let rows = rows(&e.runs);
    let header: Vec<String> = e
        .runs
        .iter()
        .map(|r| format!("gating {}", r.gating))
        .collect();
    let label_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for (_, values) in &rows {
        for (w, v) in widths.iter_mut().zip(values) {
            *w = (*w).max(v.chars().count());
        }
    }
    let line = |label: &str, values: &[String]| {
        let mut s = format!("{label:<label_w$}");
        for (v, w) in values.iter().zip(&widths) {
            let _ = write!(s, "  {v:>w$}");
        }
        s
    };
    let _ = writeln!(out, "{}", line("", &header));
    for (label, values) in &rows {
        let _ = writeln!(out, "{}", line(label, values));
    }
    for run in &e.runs {
        let _ = writeln!(out);
        if run.score.failures.is_empty() {
            let _ = writeln!(out, "failures (gating {}): none", run.gating);
            continue;
        }
        let _ = writeln!(out, "failures (gating {}):", run.gating);
        for f in &run.score.failures {
            let _ = writeln!(out, "  {}", failure(f));
        }
    }
    out
}

/// `n/d` as a rate with its parts, or why there is none.
fn rate(n: usize, d: usize, none: &str) -> String {
    match matthan::traffic::score::ratio(n, d) {
        Some(r) => format!("{r:.3} ({n}/{d})"),
        None => none.to_string(),
    }
}

/// `logged of truth (error, relative error)`.
fn count(c: &Count) -> String {
    let rel = c
        .relative_error
        .map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
    format!("{} of {} ({:+}, {rel})", c.logged, c.truth, c.error)
}

fn plates(p: &PlateScore, top: bool) -> String {
    if top {
        rate(p.in_top_n, p.vehicles, "no plates")
    } else {
        rate(p.exact, p.vehicles, "no plates")
    }
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map_or("-".into(), |x| format!("{x:.digits$}"))
}

/// Every row: a label and one value per run.
fn rows(runs: &[Run]) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let mut add = |label: &str, f: &dyn Fn(&Run) -> String| {
        rows.push((label.to_string(), runs.iter().map(f).collect()));
    };
    add("passages logged", &|r| r.score.passages.to_string());
    add("vehicle recall (logged once)", &|r| {
        let s = &r.score;
        rate(s.matched_once, s.vehicles, "undefined (no vehicles)")
    });
    add("missed vehicles", &|r| r.score.missed.to_string());
    add("merged vehicles", &|r| r.score.merged.to_string());
    add("duplicate passages", &|r| {
        let s = &r.score;
        format!(
            "{} ({} vehicles)",
            s.duplicate_passages, s.duplicated_vehicles
        )
    });
    add("false passages", &|r| r.score.false_passages.to_string());
    add("plate exact, all plated", &|r| {
        plates(&r.score.plates, false)
    });
    add("plate exact, readable", &|r| {
        plates(&r.score.readable_plates, false)
    });
    add(&format!("plate in top {TOP_N}, all plated"), &|r| {
        plates(&r.score.plates, true)
    });
    add(&format!("plate in top {TOP_N}, readable"), &|r| {
        plates(&r.score.readable_plates, true)
    });
    add("plate exact per passage", &|r| {
        let p = &r.score.plates;
        format!("{}/{}", p.passages_exact, p.passages)
    });
    add("fragment plates", &|r| r.score.fragments.to_string());
    add("class accuracy", &|r| {
        let c = &r.score.classes;
        rate(c.correct, c.passages, "no matches")
    });
    let mut cells: Vec<(VehicleClass, VehicleClass)> = Vec::new();
    for r in runs {
        for c in &r.score.classes.confusion {
            if !cells.contains(&(c.truth, c.logged)) {
                cells.push((c.truth, c.logged));
            }
        }
    }
    for (t, l) in cells {
        add(&format!("  class {} logged as {}", t, l), &|r| {
            let c = r.score.classes.confusion.iter();
            c.filter(|c| c.truth == t && c.logged == l)
                .map(|c| c.passages)
                .sum::<usize>()
                .to_string()
        });
    }
    add("count, all", &|r| count(&r.score.total));
    let mut keys: Vec<(VehicleClass, Direction)> = Vec::new();
    for r in runs {
        for c in &r.score.counts {
            if !keys.contains(&(c.class, c.direction)) {
                keys.push((c.class, c.direction));
            }
        }
    }
    for (class, direction) in keys {
        add(&format!("  count {class} {direction}"), &|r| {
            let row = r.score.counts.iter();
            row.filter(|c| c.class == class && c.direction == direction)
                .map(|c| count(&c.count))
                .next()
                .unwrap_or_default()
        });
    }
    add("counting-line crossings", &|r| {
        r.score
            .crossings
            .as_ref()
            .map_or("no counting line".into(), count)
    });
    add("video seconds", &|r| {
        format!("{:.2}", r.performance.video_s)
    });
    add("wall seconds", &|r| format!("{:.2}", r.performance.wall_s));
    add("real-time factor (wall/video)", &|r| {
        opt(r.performance.realtime_factor, 3)
    });
    add("CPU ms per camera-second", &|r| {
        opt(r.performance.cpu_ms_per_video_s, 0)
    });
    add("frames decoded", &|r| {
        r.performance.frames_decoded.to_string()
    });
    add("frames analysed", &|r| {
        r.performance.frames_analysed.to_string()
    });
    add("frames held by the gate", &|r| {
        r.performance.frames_gated.to_string()
    });
    add("vehicle passes", &|r| {
        r.performance.vehicle_passes.to_string()
    });
    add("plate passes run", &|r| {
        r.performance.plate_passes.to_string()
    });
    add("plate passes saved", &|r| {
        r.performance.plate_passes_saved.to_string()
    });
    add("plate reads recalled", &|r| {
        r.performance.reads_recalled.to_string()
    });
    add("quiet frames skipped", &|r| {
        r.performance.quiet_skipped.to_string()
    });
    rows
}

fn vehicle(v: &VehicleRef) -> String {
    format!(
        "vehicle {} ({} {}, {:.2}–{:.2} s)",
        v.id,
        v.class,
        v.plate.as_ref().map_or("no plate", |p| p.as_str()),
        v.first_s,
        v.last_s
    )
}

fn passage(p: &PassageRef) -> String {
    format!(
        "track {} ({} {}, {:.2}–{:.2} s, best {:.2} s, snapshot {})",
        p.track_id,
        p.class,
        p.plate.as_ref().map_or("no plate", |k| k.as_str()),
        p.first_s,
        p.last_s,
        p.best_s,
        p.snapshot
            .as_ref()
            .map_or("-".into(), |s| s.display().to_string())
    )
}

/// One failure on one line (a duplicate lists its passages after it).
fn failure(f: &Failure) -> String {
    let kind = f.kind();
    match f {
        Failure::Missed { vehicle: v } => format!("{kind:<13} {}", vehicle(v)),
        Failure::Merged {
            vehicle: v,
            into_vehicle,
            passage: p,
        } => format!(
            "{kind:<13} {} into vehicle {into_vehicle}'s passage {}",
            vehicle(v),
            passage(p)
        ),
        Failure::Duplicate {
            vehicle: v,
            passages,
            gaps_s,
        } => {
            let mut s = format!("{kind:<13} {} logged {} times", vehicle(v), passages.len());
            for (i, p) in passages.iter().enumerate() {
                let _ = write!(s, "\n                {}", passage(p));
                if let Some(gap) = gaps_s.get(i) {
                    let _ = write!(s, "\n                  gap {gap:.2} s");
                }
            }
            s
        }
        Failure::WrongPlate {
            vehicle: v,
            passage: p,
        }
        | Failure::Fragment {
            vehicle: v,
            passage: p,
        } => format!("{kind:<13} {} as {}", vehicle(v), passage(p)),
        Failure::FalsePassage { passage: p } => format!("{kind:<13} {}", passage(p)),
    }
}
