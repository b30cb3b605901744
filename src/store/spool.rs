//! The on-disk spool: batches the database could not take, kept until it can.
//!
//! Owns the spool folder. When a batch fails to commit (the database is down or unreachable),
//! the writer appends it here as one file (`<sequence>.batch`, postcard; its versions are
//! described in [`super::rows`]), written to a temporary
//! name, fsync'd, renamed into place and the folder fsync'd, so a batch is either wholly in the
//! spool or not at all, even across a power cut. Files are only ever added, then removed once
//! their batch is committed; the log's natural keys make a replay of an already-written batch
//! add nothing, so a crash between commit and removal duplicates nothing.
//!
//! Each writer spools into its own folder under the spool root, held with an exclusive file
//! lock. A folder whose lock is free belongs to a process that died: the next writer adopts it
//! and replays it before its own batches. Batches replay in the order they were spooled.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::rows::WriteItem;

/// Errors of the spool.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file or folder of the spool could not be read or written.
    #[error("spool {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A spooled batch does not parse (it is moved aside, never deleted).
    #[error("spooled batch {path} is unreadable: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// One spooled batch.
#[derive(Debug)]
pub struct SpooledBatch {
    /// Its file.
    pub path: PathBuf,
    /// Its records.
    pub items: Vec<WriteItem>,
}

/// This writer's spool: its own folder plus the folders it adopted.
#[derive(Debug)]
pub struct Spool {
    /// The folder of every writer's spool.
    root: PathBuf,
    /// This writer's folder.
    dir: PathBuf,
    /// The lock file held open (locked) for this writer's life.
    _lock: File,
    /// Adopted folders of dead writers, replayed first, oldest first; each with its lock.
    adopted: Vec<(PathBuf, File)>,
    /// Next sequence number in `dir`.
    next_seq: u64,
    /// Batch files waiting, in replay order.
    pending: Vec<PathBuf>,
}

const LOCK: &str = "lock";
const EXT: &str = "batch";

impl Spool {
    /// Opens a new spool folder under `root` and adopts those of dead writers.
    pub fn open(root: &Path) -> Result<Spool, SpoolError> {
        fs::create_dir_all(root).map_err(io(root))?;
        let name = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.6f"),
            std::process::id()
        );
        // Made and locked under a hidden name that no other writer adopts, then renamed (the
        // lock stays with the file).
        let hidden = root.join(format!(".new-{name}"));
        fs::create_dir_all(&hidden).map_err(io(&hidden))?;
        let lock = lock_dir(&hidden)?.ok_or_else(|| SpoolError::Io {
            path: hidden.clone(),
            source: std::io::Error::other("a new spool folder is already locked"),
        })?;
        let dir = root.join(name);
        fs::rename(&hidden, &dir).map_err(io(&dir))?;
        let mut spool = Spool {
            root: root.to_path_buf(),
            dir,
            _lock: lock,
            adopted: Vec::new(),
            next_seq: 0,
            pending: Vec::new(),
        };
        spool.adopt_orphans()?;
        Ok(spool)
    }

    /// This writer's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes over the folders of writers that died (their lock is free), oldest first.
    fn adopt_orphans(&mut self) -> Result<(), SpoolError> {
        let mut dirs: Vec<PathBuf> = fs::read_dir(&self.root)
            .map_err(io(&self.root))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && *p != self.dir
                    && p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        n != "rejected" && !n.starts_with('.')
                    })
            })
            .collect();
        dirs.sort();
        for d in dirs {
            if let Some(lock) = lock_dir(&d)? {
                let files = batch_files(&d)?;
                if files.is_empty() {
                    drop(lock);
                    // A dead writer's empty folder goes; a brand-new one (its writer may not
                    // have locked it yet) is left alone.
                    let stale = fs::metadata(&d)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age > std::time::Duration::from_secs(60));
                    if stale {
                        let _ = fs::remove_dir_all(&d);
                    }
                    continue;
                }
                tracing::warn!(
                    "adopting {} spooled batch(es) of an earlier run from {}",
                    files.len(),
                    d.display()
                );
                self.pending.extend(files);
                self.adopted.push((d, lock));
            }
        }
        Ok(())
    }

    /// Whether no batch is waiting.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Batches waiting.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Appends a batch durably (fsync of the file and the folder) before returning.
    pub fn push(&mut self, items: &[WriteItem]) -> Result<(), SpoolError> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let path = self.dir.join(format!("{seq:012}.{EXT}"));
        let tmp = self.dir.join(format!("{seq:012}.tmp"));
        let bytes = postcard::to_stdvec(items).map_err(|e| SpoolError::Io {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
                .map_err(io(&tmp))?;
            f.write_all(&bytes).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io(&path))?;
        sync_dir(&self.dir)?;
        self.pending.push(path);
        Ok(())
    }

    /// The oldest waiting batch, read from disk. A file that does not parse is moved to
    /// `rejected/` (kept for a person to look at) and reported as an error.
    pub fn oldest(&mut self) -> Result<Option<SpooledBatch>, SpoolError> {
        let Some(path) = self.pending.first().cloned() else {
            return Ok(None);
        };
        let bytes = fs::read(&path).map_err(io(&path))?;
        match postcard::from_bytes::<Vec<WriteItem>>(&bytes) {
            Ok(items) => Ok(Some(SpooledBatch { path, items })),
            Err(e) => {
                let rejected = self.root.join("rejected");
                fs::create_dir_all(&rejected).map_err(io(&rejected))?;
                let to = rejected.join(format!(
                    "{}-{}",
                    path.parent()
                        .and_then(|p| p.file_name())
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ));
                fs::rename(&path, &to).map_err(io(&path))?;
                self.pending.remove(0);
                Err(SpoolError::Corrupt {
                    path: to,
                    reason: e.to_string(),
                })
            }
        }
    }

    /// Removes the oldest batch once it is committed.
    pub fn remove_oldest(&mut self) -> Result<(), SpoolError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let path = self.pending.remove(0);
        fs::remove_file(&path).map_err(io(&path))?;
        if let Some(parent) = path.parent() {
            sync_dir(parent)?;
        }
        // An adopted folder whose batches are all written is removed with its lock.
        let mut i = 0;
        while i < self.adopted.len() {
            let d = &self.adopted[i].0;
            if !self.pending.iter().any(|p| p.starts_with(d)) {
                let (d, lock) = self.adopted.remove(i);
                drop(lock);
                let _ = fs::remove_dir_all(&d);
            } else {
                i += 1;
            }
        }
        Ok(())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // An empty folder is no use to anyone; a full one waits for the next writer.
        if self.pending.iter().all(|p| !p.starts_with(&self.dir)) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Locks `dir`'s lock file; `None` when another process holds it.
fn lock_dir(dir: &Path) -> Result<Option<File>, SpoolError> {
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(fs::TryLockError::WouldBlock) => Ok(None),
        Err(fs::TryLockError::Error(e)) => Err(SpoolError::Io { path, source: e }),
    }
}

/// The batch files of `dir`, in sequence order.
fn batch_files(dir: &Path) -> Result<Vec<PathBuf>, SpoolError> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == EXT))
        .collect();
    files.sort();
    Ok(files)
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::rows::NewClip;
    use chrono::{TimeZone, Utc};

    fn clip(n: i64) -> WriteItem {
        WriteItem::Clip(NewClip {
            camera: "cam".into(),
            started_at: Utc.timestamp_opt(1_700_000_000 + n, 0).unwrap(),
            ended_at: Utc.timestamp_opt(1_700_000_004 + n, 0).unwrap(),
            path: format!("/clips/{n}.mp4"),
            bytes: n,
            sha256: "00".into(),
            fence: None,
        })
    }

    fn temp_root(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("matthan-spool-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn batches_come_back_in_order_and_go_when_removed() {
        let root = temp_root("order");
        let mut s = Spool::open(&root).unwrap();
        assert!(s.is_empty());
        s.push(&[clip(1), clip(2)]).unwrap();
        s.push(&[clip(3)]).unwrap();
        assert_eq!(s.len(), 2);
        let b = s.oldest().unwrap().unwrap();
        assert_eq!(b.items, vec![clip(1), clip(2)]);
        s.remove_oldest().unwrap();
        assert_eq!(s.oldest().unwrap().unwrap().items, vec![clip(3)]);
        s.remove_oldest().unwrap();
        assert!(s.oldest().unwrap().is_none());
        drop(s);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_dead_writers_batches_are_adopted_first() {
        let root = temp_root("adopt");
        let mut dead = Spool::open(&root).unwrap();
        dead.push(&[clip(1)]).unwrap();
        dead.push(&[clip(2)]).unwrap();
        // While its owner lives, a second writer leaves the folder alone.
        let other = Spool::open(&root).unwrap();
        assert!(other.is_empty());
        drop(other);
        // The owner dies without writing them (its lock goes with it; its folder stays).
        let dead_dir = dead.dir().to_path_buf();
        drop(dead);
        assert!(dead_dir.exists());
        let mut next = Spool::open(&root).unwrap();
        assert_eq!(next.len(), 2);
        next.push(&[clip(3)]).unwrap();
        let mut seen = Vec::new();
        while let Some(b) = next.oldest().unwrap() {
            seen.extend(b.items);
            next.remove_oldest().unwrap();
        }
        assert_eq!(seen, vec![clip(1), clip(2), clip(3)]);
        assert!(!dead_dir.exists());
        drop(next);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_batch_comes_back_exactly_even_with_odd_floats() {
        let root = temp_root("floats");
        let mut s = Spool::open(&root).unwrap();
        let at = Utc.timestamp_opt(1_700_000_000, 123_456_789).unwrap();
        let passage = WriteItem::Passage(Box::new(crate::store::NewPassage {
            camera: "Km 12/Yên Minh".into(),
            track_no: 7,
            facts: crate::store::PassageFacts {
                first_seen: at,
                last_seen: at,
                best_at: at,
                vehicle_class: crate::scene::VehicleClass::Car,
                plate_key: Some("29B125662".parse().unwrap()),
                plate_display: Some("29-B1 256.62".into()),
                plate_confidence: Some(f32::NAN),
                is_vietnamese: None,
                direction: crate::track::Direction::Along,
                crossed_line: Some(false),
                partial_plate: Some("N8100".parse().unwrap()),
                partial_confidence: Some(f32::NAN),
                gaps: vec![crate::store::UnseenSpan {
                    from: at,
                    to: at + chrono::TimeDelta::nanoseconds(1),
                }],
            },
            clip_started_at: None,
            clip_offset_ms: Some(-1),
            snapshot_path: None,
            bbox: vec![f32::INFINITY, -0.0, 1e-30, 3.5],
            frames_seen: 0,
            reads: vec![crate::store::NewPlateRead {
                rank: 1,
                key: "29B125662".parse().unwrap(),
                confidence: 0.1,
                char_confidences: vec![f32::NAN, 0.5],
            }],
            run_id: Some(3),
            fence: None,
        }));
        s.push(std::slice::from_ref(&passage)).unwrap();
        let back = s.oldest().unwrap().unwrap().items;
        // NaN is not equal to itself: compare the debug forms, which print it.
        assert_eq!(format!("{back:?}"), format!("{:?}", vec![passage]));
        s.remove_oldest().unwrap();
        drop(s);
        let _ = fs::remove_dir_all(&root);
    }

    #[test]
    fn a_corrupt_batch_is_set_aside_not_lost() {
        let root = temp_root("corrupt");
        let mut s = Spool::open(&root).unwrap();
        s.push(&[clip(1)]).unwrap();
        s.push(&[clip(2)]).unwrap();
        fs::write(&s.pending[0], b"\xff\xff\xff\xff not a batch").unwrap();
        assert!(matches!(s.oldest(), Err(SpoolError::Corrupt { .. })));
        assert_eq!(fs::read_dir(root.join("rejected")).unwrap().count(), 1);
        assert_eq!(s.oldest().unwrap().unwrap().items, vec![clip(2)]);
        drop(s);
        let _ = fs::remove_dir_all(&root);
    }
}
