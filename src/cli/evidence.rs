//! `matthan evidence …`: the station's public key (`key`), the signed evidence package of a
//! passage (`export`, audited like the API's), and checking a package (`verify`: each
//! difference on its own line, naming its file; exit 0 intact, 1 differs, 2 not a package).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use matthan::access;
use matthan::config::Config;
use matthan::evidence::{self, ExpectedKey, Folders, StationKey};
use matthan::peer::{PeerSettings, Peers};
use matthan::store::trust::{self, AuditEntry};
use matthan::store::Database;

use super::common::{load_config, Globals};

/// Flags of `matthan evidence`.
#[derive(clap::Args)]
pub struct EvidenceArgs {
    #[command(subcommand)]
    action: EvidenceAction,
    /// TOML config (for the state directory, which holds the station key, and the clips and
    /// snapshots folders).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

/// `matthan evidence …`.
#[derive(Subcommand)]
enum EvidenceAction {
    /// Print the station's public key (hex) and its fingerprint; makes the key if there is
    /// none (`<state_dir>/keys/evidence.ed25519`).
    Key,
    /// Write the evidence package of one passage (clip, snapshot, passage, camera, audit
    /// rows, signed manifest); the export is written to the audit log first.
    Export {
        /// The passage id.
        #[arg(long)]
        passage: i64,
        /// Why (a case or report number): 3 to 500 characters, kept in the audit log.
        #[arg(long)]
        reason: String,
        /// The ZIP to write (never overwritten).
        #[arg(long)]
        out: PathBuf,
    },
    /// Check a package's files against its manifest and the manifest's signature; prints
    /// each difference, naming its file.
    Verify {
        /// The package.
        file: PathBuf,
        /// The public key it must be signed with (64 hex digits, or a file starting with
        /// them); default: this station's key, when it has one.
        #[arg(long)]
        key: Option<String>,
    },
}

/// Runs `matthan evidence …`.
pub fn run(globals: &Globals, args: &EvidenceArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args.config.as_deref())?;
    let key_file = evidence::key_path(&cfg.storage.state_dir);
    match &args.action {
        EvidenceAction::Key => {
            let key = StationKey::load_or_create(&key_file)?;
            println!("{}", key.public_hex());
            println!("fingerprint {}", key.fingerprint());
            eprintln!("key file: {}", key.path().display());
            Ok(ExitCode::SUCCESS)
        }
        EvidenceAction::Export {
            passage,
            reason,
            out,
        } => export(globals, &cfg, &key_file, *passage, reason, out),
        EvidenceAction::Verify { file, key } => verify(&key_file, file, key.as_deref()),
    }
}

/// The name the audit log gives the command line's user.
fn user_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|u| access::valid_name(u))
        .unwrap_or_else(|| "cli".to_string())
}

fn export(
    globals: &Globals,
    cfg: &Config,
    key_file: &Path,
    id: i64,
    reason: &str,
    out: &Path,
) -> anyhow::Result<ExitCode> {
    if out.exists() {
        anyhow::bail!("{} exists; a package is never overwritten", out.display());
    }
    let key = StationKey::load_or_create(key_file)?;
    let state = &cfg.storage.state_dir;
    let entry = AuditEntry {
        user_name: Some(user_name()),
        method: "CLI".into(),
        path: "matthan evidence export".into(),
        params: serde_json::json!({ "passage": id.to_string(), "out": out.display().to_string() }),
        reason: Some(reason.trim().to_string()).filter(|r| !r.is_empty()),
        ..AuditEntry::default()
    };
    let rt = tokio::runtime::Runtime::new()?;
    let db = rt.block_on(Database::open(globals.database_url.as_deref(), state))?;
    // Segments and snapshots on other nodes are fetched from them, as the API does.
    let peers = Peers::new(
        db.store.clone(),
        PeerSettings {
            shared_clips: cfg.storage.shared_clips,
            ..PeerSettings::default()
        },
    )?;
    let folders = Folders {
        clips: canonical(&cfg.storage.clips_dir())?,
        snapshots: canonical(&cfg.storage.snapshots_dir())?,
        work: canonical(&state.join("exports"))?,
        peers,
    };
    // The row of how it ended: a refusal, a failure, or the package's SHA-256.
    let finish = |status: i16, target: Option<String>| {
        rt.block_on(async {
            let client = db.store.client().await?;
            let row = AuditEntry {
                action: evidence::ACTION.into(),
                status,
                target,
                ..entry.clone()
            };
            trust::append_audit(&client, &row).await?;
            anyhow::Ok(())
        })
    };
    let result = (|| {
        if let Err(e) = access::check_reason(Some(reason)) {
            finish(400, None)?;
            anyhow::bail!("--reason {e}");
        }
        let gathered = rt.block_on(async {
            let client = db.store.client().await?;
            anyhow::Ok(evidence::gather(&client, id, &folders, entry.clone()).await?)
        })?;
        let Some(gathered) = gathered else {
            finish(404, None)?;
            anyhow::bail!("no passage {id}");
        };
        let partial = out.with_extension("zip.partial");
        let built = evidence::build(&gathered, &key, &folders.work, &partial, chrono::Utc::now())
            .and_then(|b| {
                std::fs::rename(&partial, out)
                    .map(|()| b)
                    .map_err(|source| evidence::EvidenceError::Io {
                        what: format!("moving the package to {}", out.display()),
                        source,
                    })
            });
        let built = match built {
            Ok(b) => b,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                finish(500, Some(format!("passage:{id}")))?;
                return Err(e).context(format!("exporting passage {id}"));
            }
        };
        finish(
            200,
            Some(format!("passage:{id} evidence sha256:{}", built.zip.sha256)),
        )?;
        println!(
            "{}: {} bytes, sha256 {}",
            out.display(),
            built.zip.bytes,
            built.zip.sha256
        );
        let names: Vec<&str> = built
            .manifest
            .files
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        println!("files: {}", names.join(", "));
        for a in &built.manifest.absent {
            println!("absent: {}: {}", a.name, a.why);
        }
        println!("signed by the station key {}", key.fingerprint());
        anyhow::Ok(())
    })();
    rt.block_on(db.close());
    result.map(|()| ExitCode::SUCCESS)
}

/// `dir`, made if missing, canonical.
fn canonical(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("making {}", dir.display()))?;
    Ok(dir.canonicalize()?)
}

fn verify(key_file: &Path, file: &Path, given: Option<&str>) -> anyhow::Result<ExitCode> {
    let expected = match given {
        Some(text) => Some(ExpectedKey {
            key: evidence::parse_public_key(text)?,
            whose: "the given".into(),
        }),
        None => StationKey::load(key_file)?.map(|k| ExpectedKey {
            key: k.public(),
            whose: "this station's".into(),
        }),
    };
    let verdict = match evidence::verify_file(file, expected.as_ref()) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("matthan: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    for d in &verdict.differences {
        println!("{d}");
    }
    if !verdict.ok() {
        eprintln!(
            "FAILED: {} difference(s); {} listed file(s) match",
            verdict.differences.len(),
            verdict.files_matching
        );
        return Ok(ExitCode::FAILURE);
    }
    let m = verdict
        .manifest
        .as_ref()
        .context("an intact package has a manifest")?;
    let signer = evidence::parse_public_key(&m.station_key)?;
    let fp = evidence::fingerprint(signer.as_bytes());
    println!(
        "OK: {}: {} files match the manifest",
        file.display(),
        verdict.files_matching
    );
    match &expected {
        Some(e) => println!("signed by {} key {fp}", e.whose),
        None => println!(
            "signed by key {fp}, the one the package names (this station has no key to \
             compare it with: give --key to check whose it is)"
        ),
    }
    println!(
        "passage {}, exported {} by {}: {}",
        m.passage_id,
        m.created_at.to_rfc3339(),
        m.exported_by,
        m.reason
    );
    for a in &m.absent {
        println!("absent: {}: {}", a.name, a.why);
    }
    Ok(ExitCode::SUCCESS)
}
