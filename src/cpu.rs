//! CPU time and memory of this process, for the per-stage figures of `matthan bench streams`.
//!
//! Owns: reading the calling thread's CPU clock, the process's CPU time (user + system), and
//! its peak resident memory (Linux `/proc/self/status`, reset through `/proc/self/clear_refs`).

use std::time::Duration;

use nix::sys::resource::{getrusage, UsageWho};
use nix::time::{clock_gettime, ClockId};

/// CPU time the calling thread has used so far (zero where the clock is unavailable).
pub fn thread_time() -> Duration {
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(Duration::from)
        .unwrap_or_default()
}

/// Milliseconds from `earlier` to `later`.
pub fn ms_between(earlier: Duration, later: Duration) -> f64 {
    later.saturating_sub(earlier).as_secs_f64() * 1000.0
}

/// CPU time (user + system) the whole process has used so far.
pub fn process_time() -> Duration {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| {
                Duration::from_secs(t.tv_sec().max(0) as u64)
                    + Duration::from_micros(t.tv_usec().max(0) as u64)
            };
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => Duration::ZERO,
    }
}

/// Peak resident memory of the process since it started or since the last
/// [`reset_peak_memory`], in MiB; `None` where the kernel does not say.
pub fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Starts a new peak-memory measurement (Linux: writes 5 to `/proc/self/clear_refs`);
/// returns false where that is not possible (the peak then counts from process start).
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_time_grows_with_work() {
        let before = thread_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(thread_time() > before);
        assert!(process_time() >= thread_time());
        assert!(peak_memory_mib().is_some_and(|m| m > 1.0));
    }
}
