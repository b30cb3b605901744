//! The database probes of `matthan check`: reaching the log (`DATABASE_URL`, or the private
//! cluster under the state directory, which is joined and never started), its schema against
//! this build's migrations, the server's clock, and the clips' volume.
//!
//! Must not: migrate, start a cluster, or name a password (places are host, port and
//! database, or the cluster's folder).

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use tokio_postgres::config::Host;
use tokio_postgres::{Client, NoTls};

use crate::store::query::health::{self, ClipVolume};
use crate::store::{cluster, migrate};

use super::report::{self, Line, SchemaFinding, Status};

/// What the database probes found.
pub struct DatabaseFindings {
    /// The database line (and any line before the connection, such as a bad URL).
    pub lines: Vec<Line>,
    /// This machine's clock minus the server's, seconds, when it answered.
    pub clock_offset_s: Option<f64>,
    /// The clips' volume, when the log said.
    pub clips: Option<ClipVolume>,
}

/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// `host:port/dbname` of `config`, for messages.
fn place(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

/// `e` and its causes, `: ` between (tokio-postgres says "error connecting to server" and
/// keeps the reason in its source).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

/// Connects to `config` within [`CONNECT_TIMEOUT`]; the connection is driven by a task.
async fn connect(config: &tokio_postgres::Config) -> Result<Client, String> {
    let mut c = config.clone();
    c.connect_timeout(CONNECT_TIMEOUT);
    c.application_name("matthan check");
    match tokio::time::timeout(CONNECT_TIMEOUT + Duration::from_secs(1), c.connect(NoTls)).await {
        Err(_) => Err(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(with_causes(&e)),
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            Ok(client)
        }
    }
}

/// Probes the log at `url`, else the private cluster of `state_dir`.
pub async fn probe(url: Option<&str>, state_dir: &Path) -> DatabaseFindings {
    let mut found = DatabaseFindings {
        lines: Vec::new(),
        clock_offset_s: None,
        clips: None,
    };
    let (place, client) = match url {
        Some(url) => {
            let config: tokio_postgres::Config = match url.parse() {
                Ok(c) => c,
                Err(_) => {
                    found.lines.push(Line::not_ok(
                        Status::Fail,
                        "database",
                        "DATABASE_URL does not parse",
                        "write it as postgres://USER:PASSWORD@HOST:PORT/DB or host=... dbname=...",
                    ));
                    return found;
                }
            };
            let place = format!("postgres at {}", place(&config));
            match connect(&config).await {
                Ok(c) => (place, c),
                Err(e) => {
                    found.lines.push(report::database_unreachable(
                        &place,
                        &e,
                        "start PostgreSQL there, or fix DATABASE_URL (/etc/matthan/matthan.env for the service)",
                    ));
                    return found;
                }
            }
        }
        None => {
            let clusters = cluster::existing(state_dir);
            let Some((data_dir, config)) = clusters.first() else {
                found.lines.push(Line::not_ok(
                    Status::Warn,
                    "database",
                    format!(
                        "no DATABASE_URL and no private cluster under {} yet",
                        state_dir.join("postgres").display()
                    ),
                    "start the service (systemctl enable --now matthan): serve creates it; or set DATABASE_URL",
                ));
                return found;
            };
            let place = format!("private cluster in {}", data_dir.display());
            match connect(config).await {
                Ok(c) => (place, c),
                Err(e) => {
                    found.lines.push(Line::not_ok(
                        Status::Warn,
                        "database",
                        format!("{place} is not running ({e})"),
                        "start the service (systemctl start matthan): serve starts the cluster; nothing else was checked there",
                    ));
                    return found;
                }
            }
        }
    };
    let schema = match migrate::state(&client).await {
        Ok(s) => s,
        Err(e) => {
            found.lines.push(Line::not_ok(
                Status::Fail,
                "database",
                format!("{place} reachable, but its migrations cannot be read: {e}"),
                "check the database's permissions for this user",
            ));
            return found;
        }
    };
    let finding = SchemaFinding {
        pending: schema.pending,
        unknown: schema.unknown,
        changed: schema.changed,
        applied: schema.matching,
    };
    found.lines.push(report::database(&place, &finding));
    let before = Utc::now();
    if let Ok(server) = health::server_now(&client).await {
        let after = Utc::now();
        let local = before + (after - before) / 2;
        // Whole milliseconds: the query's round trip blurs anything finer.
        let offset_ms = (local - server).num_milliseconds();
        found.clock_offset_s = Some(offset_ms as f64 / 1e3);
    }
    if finding.unknown.is_empty() && finding.pending.len() < migrate::MIGRATIONS.len() {
        found.clips = health::clip_volume(&client).await.ok();
    }
    found
}
