//! Scratch databases for tests and benchmarks: a fresh, migrated database on a real server.
//!
//! Owns finding a server: `$MATTHAN_TEST_DATABASE_URL`, else `$DATABASE_URL`, else a local
//! server at 127.0.0.1:5432 as user `postgres`, else the private cluster under a folder the
//! caller names (left running for the next test binary; `pg_ctl stop -D <dir>/postgres`
//! stops it).

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use tokio_postgres::config::Host;
use tokio_postgres::{Config, NoTls};

use super::{PrivateCluster, Store, StoreError};

/// A database made for one test (or one benchmark), dropped by [`ScratchDatabase::drop_database`].
pub struct ScratchDatabase {
    /// Pool on the scratch database.
    pub store: Store,
    /// Its name.
    pub name: String,
    /// Connection settings of the server's maintenance database, to drop it again.
    admin: Config,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

async fn reachable(config: &Config) -> bool {
    let mut c = config.clone();
    c.connect_timeout(Duration::from_secs(2));
    matches!(
        tokio::time::timeout(Duration::from_secs(3), c.connect(NoTls)).await,
        Ok(Ok(_))
    )
}

/// Settings of a server to make scratch databases on.
pub async fn admin_config(fallback_dir: &Path) -> Result<Config, StoreError> {
    for var in ["MATTHAN_TEST_DATABASE_URL", "DATABASE_URL"] {
        if let Some(url) = std::env::var(var).ok().filter(|u| !u.trim().is_empty()) {
            return url
                .parse()
                .map_err(|e: tokio_postgres::Error| StoreError::BadUrl(e.to_string()));
        }
    }
    let mut local = Config::new();
    local
        .host("127.0.0.1")
        .port(5432)
        .user("postgres")
        .dbname("postgres");
    if reachable(&local).await {
        return Ok(local);
    }
    let dir = fallback_dir.to_path_buf();
    let cluster = tokio::task::spawn_blocking(move || PrivateCluster::start(&dir))
        .await
        .map_err(|e| StoreError::Cluster(e.to_string()))??;
    let mut config = cluster.client_config();
    config.dbname("postgres");
    // Leave it running: other test binaries join it.
    std::mem::forget(cluster);
    Ok(config)
}

/// `config` as a `key=value` connection string (what `DATABASE_URL` takes).
pub fn connection_string(config: &Config) -> String {
    let mut parts = Vec::new();
    if let Some(host) = config.get_hosts().first() {
        match host {
            Host::Tcp(h) => parts.push(format!("host={h}")),
            Host::Unix(p) => parts.push(format!("host={}", p.display())),
        }
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(pw) = config.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(pw)));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    parts.join(" ")
}

/// Drops scratch databases left by test processes that died before dropping them (the pid in
/// the name no longer runs).
async fn drop_abandoned(client: &tokio_postgres::Client) {
    let Ok(rows) = client
        .query(
            "SELECT datname FROM pg_database WHERE datname LIKE 'mtest\\_%'",
            &[],
        )
        .await
    else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let pid = name.rsplit('_').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        }
    }
}

impl ScratchDatabase {
    /// Creates and migrates `mtest_<tag>_<pid>_<n>`.
    pub async fn create(tag: &str, fallback_dir: &Path) -> Result<ScratchDatabase, StoreError> {
        let admin = admin_config(fallback_dir).await?;
        let tag: String = tag
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(30)
            .collect();
        let name = format!(
            "mtest_{tag}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let (client, conn) = admin.connect(NoTls).await?;
        tokio::spawn(conn);
        drop_abandoned(&client).await;
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let mut config = admin.clone();
        config.dbname(&name);
        let store = Store::from_config(config, 8)?;
        store.migrate().await?;
        Ok(ScratchDatabase { store, name, admin })
    }

    /// Connection string of the scratch database, for child processes.
    pub fn connection_string(&self) -> String {
        let mut c = self.admin.clone();
        c.dbname(&self.name);
        connection_string(&c)
    }

    /// Drops the database (its connections are cut).
    pub async fn drop_database(self) -> Result<(), StoreError> {
        let ScratchDatabase { store, name, admin } = self;
        drop(store);
        let (client, conn) = admin.connect(NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        Ok(())
    }
}
