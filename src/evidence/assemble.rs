//! Making the package of one passage: what the log holds about it (the passage with its plate
//! candidates, its camera and junction, the audit rows about it, the recorded segments of its
//! window and its snapshot), the audit row of this export, written before anything is built
//! so the package holds it, and then (blocking) the clip cut from the segments and the ZIP
//! signed with the station key.
//!
//! Segments and the snapshot on another node's disk are copied here first (see
//! [`crate::peer`]); each copied segment must have the SHA-256 the log holds (the one the
//! manifest carries), else the export fails naming the node and the clip.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::key::StationKey;
use super::manifest::{Absent, ClipSource, FileDigest, Manifest, ManifestFile, SegmentRecord};
use super::package::{write_zip, Content, Part};
use super::{readme, EvidenceError, ACTION, BEGUN_STATUS, FORMAT};
use crate::peer::{Owner, Peers, RemoteFile, Scratch};
use crate::store::query::{self, CameraRecord, ClipView, PassageView};
use crate::store::trust::{self, AuditEntry, AuditView};
use crate::video::export::{export_window, SegmentSource};
use crate::video::VideoError;

/// How much recording before the vehicle is first seen and after it is last seen.
pub const MARGIN: TimeDelta = TimeDelta::seconds(5);

/// Longest clip a package holds (from the start of its window).
pub const MAX_CLIP: TimeDelta = TimeDelta::hours(1);

/// Most audit rows a package holds.
const MAX_AUDIT_ROWS: i64 = 10_000;

/// Where the files come from and where scratch files go.
#[derive(Debug, Clone)]
pub struct Folders {
    /// Clip segments (canonical): no file outside it goes into a package.
    pub clips: PathBuf,
    /// Snapshots (canonical): likewise.
    pub snapshots: PathBuf,
    /// Scratch folder for the cut clip and the copies fetched from other nodes.
    pub work: PathBuf,
    /// The other nodes, asked for the files on their disks.
    pub peers: Peers,
}

/// What the log holds about one passage, read for its package.
#[derive(Debug, Clone)]
pub struct Gathered {
    /// The passage with its candidates.
    pub passage: PassageView,
    /// Its camera and junction.
    pub camera: Option<CameraRecord>,
    /// The audit rows about it, this export's included, oldest first.
    pub audit: Vec<AuditView>,
    /// Id of this export's audit row.
    pub audit_id: i64,
    /// Who exports it, and why.
    pub exported_by: String,
    /// The reason given.
    pub reason: String,
    /// The clip's window.
    pub window: (DateTime<Utc>, DateTime<Utc>),
    /// The window's segments whose files are inside the clips folder.
    pub segments: Vec<ClipView>,
    /// The window's segments logged but not on disk.
    pub segments_gone: usize,
    /// The snapshot file, or why there is none.
    pub snapshot: Result<PathBuf, String>,
    /// The copies of segments and snapshot fetched from other nodes (removed when the last
    /// clone of this is dropped).
    pub fetched: Arc<Scratch>,
}

/// What was built.
#[derive(Debug, Clone)]
pub struct Built {
    /// The ZIP's size and SHA-256.
    pub zip: FileDigest,
    /// Its manifest.
    pub manifest: Manifest,
}

/// `path` resolved, if it lies inside `root` (which is canonical).
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    let resolved = path.canonicalize().ok()?;
    resolved.starts_with(root).then_some(resolved)
}

/// Reads passage `id`; when there is one, appends `begun` as this export's audit row (action
/// `evidence_export`, target `passage:ID`, status 202: begun) and reads the rest. `None`, with
/// nothing written, when there is no such passage.
pub async fn gather(
    client: &tokio_postgres::Client,
    id: i64,
    folders: &Folders,
    begun: AuditEntry,
) -> Result<Option<Gathered>, EvidenceError> {
    let Some(passage) = query::passage(client, id).await? else {
        return Ok(None);
    };
    let target = format!("passage:{id}");
    let exported_by = begun.user_name.clone().unwrap_or_default();
    let reason = begun.reason.clone().unwrap_or_default();
    let entry = AuditEntry {
        action: ACTION.to_string(),
        target: Some(target.clone()),
        status: BEGUN_STATUS,
        ..begun
    };
    let audit_id = trust::append_audit(client, &entry).await?;
    let audit = trust::audit_of_target(client, &target, MAX_AUDIT_ROWS).await?;
    let camera = query::camera_record(client, &passage.camera).await?;
    let from = passage.facts.first_seen - MARGIN;
    let to = (passage.facts.last_seen + MARGIN).min(from + MAX_CLIP);
    let logged = match &camera {
        Some(c) => query::clips(client, c.id, from, to).await?,
        None => Vec::new(),
    };
    let total = logged.len();
    let fetched = Scratch::new(&folders.work).map_err(|source| EvidenceError::Io {
        what: format!("making a scratch folder in {}", folders.work.display()),
        source,
    })?;
    let peers = &folders.peers;
    let mut segments = Vec::with_capacity(total);
    for mut c in logged {
        let file = RemoteFile::Segment(c.id);
        let path = match peers.owner(file, c.node_id).await? {
            Owner::Here => match inside(&folders.clips, Path::new(&c.path)) {
                Some(path) => path,
                None => continue,
            },
            // Checked against the log's SHA-256 (what the manifest carries) before use.
            Owner::Node(node) => {
                let dest = fetched.file(&format!("clip-{}.mp4", c.id));
                peers.copy(&node, file, &dest, Some(&c.sha256)).await?;
                dest
            }
        };
        c.path = path.to_string_lossy().into_owned();
        segments.push(c);
    }
    let snapshot_node = query::snapshot_path(client, id)
        .await?
        .and_then(|s| s.node_id);
    let snapshot = match passage.snapshot_path.as_deref() {
        None => Err("no snapshot was saved for this passage".to_string()),
        Some(p) => match peers.owner(RemoteFile::Snapshot(id), snapshot_node).await? {
            Owner::Here => inside(&folders.snapshots, Path::new(p)).ok_or_else(|| {
                let name = Path::new(p)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                format!("the snapshot file {name} is not on disk (removed by retention?)")
            }),
            Owner::Node(node) => {
                let dest = fetched.file("snapshot.jpg");
                peers
                    .copy(&node, RemoteFile::Snapshot(id), &dest, None)
                    .await?;
                Ok(dest)
            }
        },
    };
    Ok(Some(Gathered {
        passage,
        camera,
        audit,
        audit_id,
        exported_by,
        reason,
        window: (from, to),
        segments_gone: total - segments.len(),
        segments,
        snapshot,
        fetched: Arc::new(fetched),
    }))
}

/// Scratch files of this process are numbered.
static NEXT: AtomicU64 = AtomicU64::new(1);

/// Pretty JSON with a final newline.
fn json(value: &impl serde::Serialize) -> Result<Vec<u8>, EvidenceError> {
    let mut bytes =
        serde_json::to_vec_pretty(value).map_err(|e| EvidenceError::Zip(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Cuts the clip, then writes the package of `g` to `out`, signed with `key` (blocking).
/// Nothing is left at `out` or in the scratch folder on error; the clip is removed either way.
pub fn build(
    g: &Gathered,
    key: &StationKey,
    work: &Path,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Built, EvidenceError> {
    let scratch = work.join(format!(
        "evidence-{}-{}.mp4",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let result = build_with(g, key, &scratch, out, now);
    let _ = std::fs::remove_file(&scratch);
    result
}

fn build_with(
    g: &Gathered,
    key: &StationKey,
    scratch: &Path,
    out: &Path,
    now: DateTime<Utc>,
) -> Result<Built, EvidenceError> {
    let (from, to) = g.window;
    let mut absent = Vec::new();
    let mut clip = None;
    let span = format!("{} and {}", from.to_rfc3339(), to.to_rfc3339());
    if g.segments.is_empty() {
        let why = match g.segments_gone {
            0 => format!(
                "no recording of camera `{}` between {span}",
                g.passage.camera
            ),
            n => format!("the recording between {span} is not on disk ({n} segment(s) logged)"),
        };
        absent.push(Absent {
            name: "clip.mp4".into(),
            why,
        });
    } else {
        let sources: Vec<SegmentSource> = g
            .segments
            .iter()
            .map(|c| SegmentSource {
                path: PathBuf::from(&c.path),
                started_at: c.started_at,
            })
            .collect();
        match export_window(&sources, from, to, scratch) {
            Ok(e) => {
                clip = Some(ClipSource {
                    window_from: from,
                    window_to: to,
                    started_at: e.started_at,
                    ended_at: e.ended_at,
                    segments: g
                        .segments
                        .iter()
                        .map(|c| SegmentRecord {
                            started_at: c.started_at,
                            ended_at: c.ended_at,
                            sha256: c.sha256.clone(),
                        })
                        .collect(),
                })
            }
            Err(VideoError::NothingToExport { reason }) => absent.push(Absent {
                name: "clip.mp4".into(),
                why: reason,
            }),
            Err(e) => return Err(e.into()),
        }
    }
    if let Err(why) = &g.snapshot {
        absent.push(Absent {
            name: "snapshot.jpg".into(),
            why: why.clone(),
        });
    }
    let mut parts = vec![
        part("passage.json", json(&g.passage)?),
        part("camera.json", json(&g.camera)?),
        part("audit.json", json(&g.audit)?),
    ];
    if let Ok(path) = &g.snapshot {
        parts.push(Part {
            name: "snapshot.jpg".into(),
            content: Content::File(path.clone()),
        });
    }
    if clip.is_some() {
        parts.push(Part {
            name: "clip.mp4".into(),
            content: Content::File(scratch.to_path_buf()),
        });
    }
    let readme = readme::text(g.passage.id, &key.public_hex(), &key.fingerprint(), &absent);
    parts.insert(0, part("README.txt", readme.into_bytes()));
    let files = parts
        .iter()
        .map(|p| {
            p.digest().map(|d| ManifestFile {
                name: p.name.clone(),
                bytes: d.bytes,
                sha256: d.sha256,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        format: FORMAT.into(),
        created_at: now,
        station_key: key.public_hex(),
        passage_id: g.passage.id,
        exported_by: g.exported_by.clone(),
        reason: g.reason.clone(),
        files,
        absent,
        clip,
    };
    let bytes = manifest.to_bytes();
    let zip = write_zip(out, &bytes, &key.sign(&bytes), &parts, now)?;
    Ok(Built { zip, manifest })
}

fn part(name: &str, bytes: Vec<u8>) -> Part {
    Part {
        name: name.into(),
        content: Content::Bytes(bytes),
    }
}
