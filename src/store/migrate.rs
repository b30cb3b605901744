//! Schema migrations: the files of `sql/`, embedded in the binary, applied in order.
//!
//! Owns the `schema_migrations` table. Each migration runs once, in its own transaction,
//! under an advisory lock so two processes starting together do not both apply it. A
//! migration's SHA-256 is recorded; a database whose applied migration differs from this
//! build's, or that holds one this build does not know, is refused rather than guessed at.

use sha2::{Digest, Sha256};

use super::StoreError;

/// The migrations, in order: file name and text.
pub const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init.sql", include_str!("../../sql/0001_init.sql")),
    (
        "0002_search_speed.sql",
        include_str!("../../sql/0002_search_speed.sql"),
    ),
    (
        "0003_suffix_search.sql",
        include_str!("../../sql/0003_suffix_search.sql"),
    ),
    (
        "0004_fuzzy_rank.sql",
        include_str!("../../sql/0004_fuzzy_rank.sql"),
    ),
    ("0005_trust.sql", include_str!("../../sql/0005_trust.sql")),
    (
        "0006_partial_plates.sql",
        include_str!("../../sql/0006_partial_plates.sql"),
    ),
    (
        "0007_analysis_runs.sql",
        include_str!("../../sql/0007_analysis_runs.sql"),
    ),
    ("0008_nodes.sql", include_str!("../../sql/0008_nodes.sql")),
];

/// Advisory lock key held while migrating.
const LOCK_KEY: i64 = 0x006d_6174_7468_616e; // "matthan"

fn digest(text: &str) -> String {
    let hash = Sha256::digest(text.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// Applies every migration not yet applied; returns the names applied now.
pub async fn apply(client: &mut tokio_postgres::Client) -> Result<Vec<String>, StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 name text PRIMARY KEY,
                 sha256 text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .or_else(|e| {
            // Two processes creating the table at once: the loser sees a unique violation.
            if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    let mut applied_now = Vec::new();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
        .await?;
    let rows = tx
        .query(
            "SELECT name, sha256 FROM schema_migrations ORDER BY name",
            &[],
        )
        .await?;
    let known: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    for (name, sha) in &known {
        match MIGRATIONS.iter().find(|(n, _)| n == name) {
            None => {
                return Err(StoreError::Schema(format!(
                    "the database has migration {name}, which this build of matthan does not know (a newer version wrote it)"
                )))
            }
            Some((_, text)) if digest(text) != *sha => {
                return Err(StoreError::Schema(format!(
                    "migration {name} in the database differs from this build's"
                )))
            }
            Some(_) => {}
        }
    }
    for (name, text) in MIGRATIONS {
        if known.iter().any(|(n, _)| n == name) {
            continue;
        }
        tx.batch_execute(text)
            .await
            .map_err(|e| StoreError::Migration {
                name: name.to_string(),
                reason: e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string()),
            })?;
        tx.execute(
            "INSERT INTO schema_migrations (name, sha256) VALUES ($1, $2)",
            &[name, &digest(text)],
        )
        .await?;
        applied_now.push(name.to_string());
    }
    tx.commit().await?;
    Ok(applied_now)
}

/// A migration the database has applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedMigration {
    /// File name in `sql/`.
    pub name: String,
    /// When it was applied.
    pub applied_at: chrono::DateTime<chrono::Utc>,
}

/// The migrations applied to the database, by name (what `matthan migrate` reports).
pub async fn applied(client: &tokio_postgres::Client) -> Result<Vec<AppliedMigration>, StoreError> {
    let rows = client
        .query(
            "SELECT name, applied_at FROM schema_migrations ORDER BY name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AppliedMigration {
            name: r.get(0),
            applied_at: r.get(1),
        })
        .collect())
}

/// How a database's applied migrations stand against this build's (what `matthan check`
/// reports; [`apply`] refuses the same unknown and changed ones).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchemaState {
    /// This build's migrations the database has not applied, in order.
    pub pending: Vec<String>,
    /// Applied migrations this build does not know (a newer build wrote them).
    pub unknown: Vec<String>,
    /// Applied migrations whose text differs from this build's.
    pub changed: Vec<String>,
    /// Applied migrations that match this build's.
    pub matching: usize,
}

/// Compares `applied` (name, SHA-256) with [`MIGRATIONS`]. Pure.
pub fn compare(applied: &[(String, String)]) -> SchemaState {
    let mut state = SchemaState::default();
    for (name, sha) in applied {
        match MIGRATIONS.iter().find(|(n, _)| n == name) {
            None => state.unknown.push(name.clone()),
            Some((_, text)) if digest(text) != *sha => state.changed.push(name.clone()),
            Some(_) => state.matching += 1,
        }
    }
    state.pending = MIGRATIONS
        .iter()
        .filter(|(n, _)| !applied.iter().any(|(a, _)| a == n))
        .map(|(n, _)| n.to_string())
        .collect();
    state
}

/// How the database's schema stands, without changing anything (a database never migrated
/// has every migration pending).
pub async fn state(client: &tokio_postgres::Client) -> Result<SchemaState, StoreError> {
    let table: Option<String> = client
        .query_one("SELECT to_regclass('schema_migrations')::text", &[])
        .await?
        .get(0);
    if table.is_none() {
        return Ok(compare(&[]));
    }
    let rows = client
        .query(
            "SELECT name, sha256 FROM schema_migrations ORDER BY name",
            &[],
        )
        .await?;
    let applied: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(compare(&applied))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_state_names_pending_unknown_and_changed_migrations() {
        assert_eq!(compare(&[]).pending.len(), MIGRATIONS.len());
        let all: Vec<(String, String)> = MIGRATIONS
            .iter()
            .map(|(n, t)| (n.to_string(), digest(t)))
            .collect();
        let up = compare(&all);
        assert_eq!(up.matching, MIGRATIONS.len());
        assert!(up.pending.is_empty() && up.unknown.is_empty() && up.changed.is_empty());
        let mut odd = all[..1].to_vec();
        odd[0].1 = "0".repeat(64);
        odd.push(("9999_future.sql".into(), "x".into()));
        let s = compare(&odd);
        assert_eq!(s.changed, ["0001_init.sql"]);
        assert_eq!(s.unknown, ["9999_future.sql"]);
        assert_eq!(s.pending.len(), MIGRATIONS.len() - 1);
    }

    #[test]
    fn every_sql_file_is_embedded_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let embedded: Vec<String> = MIGRATIONS.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(files, embedded);
    }
}
