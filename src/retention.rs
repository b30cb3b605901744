//! Retention: what is deleted, and when, so the disk never fills and nothing is kept longer
//! than allowed.
//!
//! Owns the policy ([`RetentionPolicy`], from `[retention]` in the config), the pure plan of
//! which clip segments go ([`plan_clip_deletions`]: those past their age first, then, while
//! the disk is short of its reserve, the oldest), and one run over the disk and the log
//! ([`run_once`]): clip files and their rows, snapshot files past their age, and whole months
//! of passages (partition drops). Every deletion is logged, and each run that deleted anything
//! leaves a row in the audit log.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::RetentionConfig;
use crate::store::trust::{self, AuditEntry, StoredClip};
use crate::store::{Store, StoreError};

/// Errors of a retention run.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// The log could not be read or changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The disk's free space could not be read.
    #[error("free space of {path}: {reason}")]
    Disk {
        /// The folder.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// How long each kind of record is kept, and the disk reserve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetentionPolicy {
    /// Clip segments; `None` keeps them (until the disk needs the room).
    pub clips: Option<TimeDelta>,
    /// Snapshot files.
    pub snapshots: Option<TimeDelta>,
    /// Passages (by whole months).
    pub passages: Option<TimeDelta>,
    /// Free space the clips disk must keep, as a fraction of its size.
    pub min_free_ratio: f64,
    /// The node this process runs as: it deletes only the segments on its own disk (rows of
    /// this node, and rows of no node); other nodes' segments are theirs to delete. `None`:
    /// only rows of no node.
    pub node: Option<i64>,
}

impl RetentionPolicy {
    /// The policy of a `[retention]` section (0 days = keep forever).
    pub fn from_config(c: &RetentionConfig) -> RetentionPolicy {
        let days = |d: u32| (d > 0).then(|| TimeDelta::days(i64::from(d)));
        RetentionPolicy {
            clips: days(c.clips_days),
            snapshots: days(c.snapshots_days),
            passages: days(c.passages_days),
            min_free_ratio: c.min_free_percent / 100.0,
            node: None,
        }
    }
}

/// Size and free space of a file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskSpace {
    /// Bytes available to us.
    pub free: u64,
    /// Bytes in all.
    pub total: u64,
}

/// Reads the free space of the file system holding `path`.
pub fn disk_space(path: &Path) -> Result<DiskSpace, RetentionError> {
    let s = nix::sys::statvfs::statvfs(path).map_err(|e| RetentionError::Disk {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let unit = s.fragment_size() as u64;
    Ok(DiskSpace {
        free: s.blocks_available() as u64 * unit,
        total: s.blocks() as u64 * unit,
    })
}

/// Why a segment is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Older than the clips' retention.
    Age,
    /// The disk was short of its reserve and this was the oldest left.
    DiskFull,
}

/// Which segments to delete (indexes into `clips`, which is oldest first), and why: every one
/// past its age, then the oldest others while the disk stays short of `min_free_ratio`.
pub fn plan_clip_deletions(
    clips: &[StoredClip],
    now: DateTime<Utc>,
    policy: &RetentionPolicy,
    disk: DiskSpace,
) -> Vec<(usize, DeleteReason)> {
    let want_free = (disk.total as f64 * policy.min_free_ratio).ceil() as u64;
    let mut free = disk.free;
    let mut plan = Vec::new();
    for (i, c) in clips.iter().enumerate() {
        let old = policy.clips.is_some_and(|keep| c.ended_at < now - keep);
        let reason = if old {
            DeleteReason::Age
        } else if free < want_free {
            DeleteReason::DiskFull
        } else {
            continue;
        };
        free = free.saturating_add(c.bytes.max(0) as u64);
        plan.push((i, reason));
    }
    plan
}

/// What one run deleted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RetentionReport {
    /// Clip segments deleted for age.
    pub clips_aged: usize,
    /// Clip segments deleted for disk space.
    pub clips_for_space: usize,
    /// Bytes of clips freed.
    pub clip_bytes: u64,
    /// Snapshot files deleted.
    pub snapshots: usize,
    /// Partitions dropped (passages and plate reads, by month).
    pub partitions: Vec<String>,
}

/// One retention run at `now`: clips (by age, then by disk space), snapshots, passage months.
pub async fn run_once(
    store: &Store,
    clips_dir: &Path,
    snapshots_dir: &Path,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> Result<RetentionReport, RetentionError> {
    let mut report = RetentionReport::default();
    let client = store.client().await?;
    let clips = trust::clips_oldest_first(&client, policy.node).await?;
    let disk = disk_space(clips_dir)?;
    let plan = plan_clip_deletions(&clips, now, policy, disk);
    let root = clips_dir.canonicalize().ok();
    let mut gone = Vec::with_capacity(plan.len());
    for (i, reason) in plan {
        let c = &clips[i];
        let path = Path::new(&c.path);
        // Only files inside the clips folder are ever deleted; a row pointing elsewhere is
        // forgotten with its file left alone.
        let inside = match (path.canonicalize(), &root) {
            (Ok(p), Some(r)) => p.starts_with(r),
            _ => false,
        };
        if inside {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::error!("retention: cannot delete {}: {e}", path.display());
                continue;
            }
        }
        tracing::warn!(
            "retention: deleted clip {} (ended {}, {} bytes): {}",
            c.path,
            c.ended_at.to_rfc3339(),
            c.bytes,
            match reason {
                DeleteReason::Age => "older than the clip retention",
                DeleteReason::DiskFull => "disk short of its free-space reserve, oldest first",
            }
        );
        match reason {
            DeleteReason::Age => report.clips_aged += 1,
            DeleteReason::DiskFull => report.clips_for_space += 1,
        }
        report.clip_bytes += c.bytes.max(0) as u64;
        gone.push(c.id);
    }
    if !gone.is_empty() {
        trust::delete_clip_rows(&client, &gone).await?;
    }
    if let Some(keep) = policy.snapshots {
        report.snapshots = delete_files_older(snapshots_dir, now - keep);
        if report.snapshots > 0 {
            tracing::warn!(
                "retention: deleted {} snapshot(s) older than {} days",
                report.snapshots,
                keep.num_days()
            );
        }
    }
    if let Some(keep) = policy.passages {
        report.partitions = trust::drop_months_before(&client, now - keep).await?;
        for p in &report.partitions {
            tracing::warn!(
                "retention: dropped {p} (passages older than {} days)",
                keep.num_days()
            );
        }
    }
    if report != RetentionReport::default() {
        let entry = AuditEntry {
            user_name: Some("matthan".into()),
            action: "retention".into(),
            method: "-".into(),
            path: "-".into(),
            params: serde_json::to_value(&report).unwrap_or_default(),
            reason: Some("retention policy".into()),
            status: 200,
            ..AuditEntry::default()
        };
        trust::append_audit(&client, &entry).await?;
    }
    Ok(report)
}

/// Deletes regular files under `dir` (recursively) last modified before `cutoff`.
fn delete_files_older(dir: &Path, cutoff: DateTime<Utc>) -> usize {
    let mut deleted = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                let old = e
                    .metadata()
                    .and_then(|m| m.modified())
                    .map(|t| DateTime::<Utc>::from(t) < cutoff)
                    .unwrap_or(false);
                if old && std::fs::remove_file(e.path()).is_ok() {
                    deleted += 1;
                }
            }
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn clip(id: i64, days_ago: i64, bytes: i64, now: DateTime<Utc>) -> StoredClip {
        StoredClip {
            id,
            path: format!("/c/{id}.mp4"),
            bytes,
            ended_at: now - TimeDelta::days(days_ago),
        }
    }

    fn policy(clip_days: Option<i64>, min_free_ratio: f64) -> RetentionPolicy {
        RetentionPolicy {
            clips: clip_days.map(TimeDelta::days),
            snapshots: None,
            passages: None,
            min_free_ratio,
            node: None,
        }
    }

    #[test]
    fn old_segments_go_for_age() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let clips = [
            clip(1, 40, 10, now),
            clip(2, 31, 10, now),
            clip(3, 2, 10, now),
        ];
        let disk = DiskSpace {
            free: 900,
            total: 1000,
        };
        let plan = plan_clip_deletions(&clips, now, &policy(Some(30), 0.1), disk);
        assert_eq!(plan, vec![(0, DeleteReason::Age), (1, DeleteReason::Age)]);
        assert!(plan_clip_deletions(&clips, now, &policy(None, 0.1), disk).is_empty());
    }

    #[test]
    fn a_full_disk_loses_the_oldest_first_and_only_as_many_as_needed() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 0, 0, 0).unwrap();
        let clips: Vec<_> = (0..6).map(|i| clip(i, 6 - i, 30, now)).collect();
        // 10 % of 1000 wanted free, 45 free: two segments of 30 bring it to 105.
        let disk = DiskSpace {
            free: 45,
            total: 1000,
        };
        let plan = plan_clip_deletions(&clips, now, &policy(Some(30), 0.1), disk);
        assert_eq!(
            plan,
            vec![(0, DeleteReason::DiskFull), (1, DeleteReason::DiskFull)]
        );
        // Aged segments count towards the space freed.
        let mut aged = clips.clone();
        aged[0].ended_at = now - TimeDelta::days(90);
        let plan = plan_clip_deletions(&aged, now, &policy(Some(30), 0.1), disk);
        assert_eq!(
            plan,
            vec![(0, DeleteReason::Age), (1, DeleteReason::DiskFull)]
        );
        // Enough free space: nothing goes.
        let roomy = DiskSpace {
            free: 500,
            total: 1000,
        };
        assert!(plan_clip_deletions(&clips, now, &policy(Some(30), 0.1), roomy).is_empty());
    }

    #[test]
    fn zero_days_keeps_forever() {
        let p = RetentionPolicy::from_config(&RetentionConfig {
            clips_days: 0,
            snapshots_days: 7,
            passages_days: 0,
            min_free_percent: 5.0,
            interval_sec: 60,
        });
        assert_eq!(p.clips, None);
        assert_eq!(p.snapshots, Some(TimeDelta::days(7)));
        assert_eq!(p.passages, None);
        assert!((p.min_free_ratio - 0.05).abs() < 1e-12);
    }

    #[test]
    fn free_space_is_read() {
        let d = disk_space(Path::new(".")).unwrap();
        assert!(d.total > 0 && d.free <= d.total);
    }
}
