//! Which packets of one segment an export keeps: from the last keyframe shown at or before
//! the window start to the last packet decoded before its end.
//!
//! Pure: times are plain segment ticks and the packet is a type parameter, so the rule is
//! tested without FFmpeg.

/// Decides, in decode order, which packets of one segment the clip keeps. Times are in the
/// segment's ticks; the window is `[from, to)`. Generic over the packet so the rule is tested
/// without FFmpeg.
pub(super) struct Picker<T> {
    /// Window start, segment ticks.
    from: i64,
    /// Window end (excluded), segment ticks.
    to: i64,
    /// Copying: every packet until one decoded at or after `to`.
    copying: bool,
    /// No more packets wanted from this segment.
    pub(super) done: bool,
    /// Packets since the last keyframe shown at or before `from`, held until it is certain
    /// no later keyframe is: `(packet, pts, dts)`.
    gop: Vec<(T, i64, i64)>,
}

impl<T> Picker<T> {
    pub(super) fn new(from: i64, to: i64) -> Picker<T> {
        Picker {
            from,
            to,
            copying: false,
            done: false,
            gop: Vec::new(),
        }
    }

    /// Takes the next packet; returns those to write now, in decode order.
    pub(super) fn feed(&mut self, item: T, key: bool, pts: i64, dts: i64) -> Vec<(T, i64, i64)> {
        if self.done {
            return Vec::new();
        }
        if dts >= self.to {
            return self.finish();
        }
        if self.copying {
            return vec![(item, pts, dts)];
        }
        if key && pts <= self.from {
            self.gop.clear();
            self.gop.push((item, pts, dts));
        } else if key {
            // A keyframe shown after the start: what is held leads up to it.
            self.copying = true;
            let mut out = std::mem::take(&mut self.gop);
            out.push((item, pts, dts));
            return out;
        } else if !self.gop.is_empty() {
            self.gop.push((item, pts, dts));
        } else {
            // Nothing before its keyframe can be decoded.
            return Vec::new();
        }
        if dts >= self.from {
            // Every later keyframe is shown after the start: the held one is the last before.
            self.copying = true;
            return std::mem::take(&mut self.gop);
        }
        Vec::new()
    }

    /// End of the segment (or of the window): returns held packets if one of them is shown
    /// inside the window.
    pub(super) fn finish(&mut self) -> Vec<(T, i64, i64)> {
        self.done = true;
        let gop = std::mem::take(&mut self.gop);
        if gop
            .iter()
            .any(|&(_, pts, _)| pts >= self.from && pts < self.to)
        {
            gop
        } else {
            Vec::new()
        }
    }
}
