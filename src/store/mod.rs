//! The log: PostgreSQL.
//!
//! Owns the connection pool, the schema migrations (`sql/`), the private cluster started when
//! no `DATABASE_URL` is given, the batched writer that the cameras feed, and every query the
//! API runs. All SQL with user input is parameterised; the statements live in
//! [`query`] and [`writer`], the schema in `sql/`.
//!
//! - [`Store`]: a pool of connections to one database.
//! - [`Database`]: a store plus, when matthan started it, the private cluster behind it
//!   (stopped by [`Database::close`]).
//! - [`migrate`]: applies `sql/*.sql` in order, once each, tracked in `schema_migrations`.
//! - [`cluster`]: `initdb` + `pg_ctl` under the state directory, Unix socket only.
//! - [`primary`]: read-write sessions only (a standby is refused), and which host is what when
//!   no primary answers.
//! - [`rows`]: what the cameras log ([`WriteItem`]: passages with their reads, clip segments),
//!   as the writer's queue and the spool carry it; and [`PassageFacts`], the passage fields
//!   the write row and the query view share.
//! - `range`: PostgreSQL's binary `tstzrange`, how a passage's unseen spans are written and
//!   read (`passages.gaps`).
//! - [`writer`]: passages and clips in batches (binary COPY), committed at least every second,
//!   each row a node made fenced by its camera's lease epoch.
//! - [`query`]: plate search, counts, clips, cameras, junctions, analysis runs, nodes and
//!   camera leases.
//! - [`trust`]: users and tokens, the audit log, the watchlist and alerts, retention deletes.
//! - [`spool`]: batches the database could not take, on disk until it can.
//! - [`scratch`]: fresh databases for tests and benchmarks.

pub mod cluster;
pub mod migrate;
pub mod primary;
pub mod query;
mod range;
pub mod rows;
pub mod scratch;
pub mod spool;
pub mod trust;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub use cluster::PrivateCluster;
pub use rows::{Fence, NewClip, NewPassage, NewPlateRead, PassageFacts, UnseenSpan, WriteItem};
pub use writer::{Writer, WriterSettings, WriterStats};

/// Everything that can go wrong with the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `DATABASE_URL` (or the config's URL) does not parse.
    #[error("bad database URL: {0}")]
    BadUrl(String),
    /// No connection could be made, or a statement failed.
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The pool could not hand out a connection (database down, pool closed).
    #[error("database unavailable: {0}")]
    Pool(String),
    /// No host of the connection string is a read-write primary (what each is: see
    /// [`primary::describe`]).
    #[error(
        "database unavailable, no primary to write to: {0} (promote the standby with \
         `pg_ctl promote`, or start the primary)"
    )]
    NoPrimary(String),
    /// The private cluster could not be set up or started.
    #[error("private PostgreSQL cluster: {0}")]
    Cluster(String),
    /// A migration failed; nothing of it was applied.
    #[error("migration {name} failed: {reason}")]
    Migration { name: String, reason: String },
    /// The database holds a migration this build does not know, or one that was changed.
    #[error("schema mismatch: {0}")]
    Schema(String),
    /// The writer has stopped and takes no more records.
    #[error("the database writer has stopped")]
    WriterClosed,
    /// A stored value is not what its column should hold (an unknown vehicle class or
    /// direction, a plate key that is not canonical).
    #[error("the database holds a bad {column}: {reason}")]
    BadValue {
        /// The column.
        column: &'static str,
        /// Why its value does not parse.
        reason: String,
    },
    /// Another process runs as this node: it heartbeated within its lease.
    #[error(
        "node {name} is already running: its last heartbeat was {age_sec:.1} s ago \
         ({heartbeat_at}); give this one another name ([node] name) or stop the other first"
    )]
    NodeRunning {
        /// The node's name.
        name: String,
        /// Its last heartbeat.
        heartbeat_at: chrono::DateTime<chrono::Utc>,
        /// Seconds since then.
        age_sec: f64,
    },
}

impl StoreError {
    /// `text` of `column` parsed as a `T`, or [`StoreError::BadValue`].
    pub(crate) fn parse_column<T>(column: &'static str, text: &str) -> Result<T, StoreError>
    where
        T: std::str::FromStr,
        T::Err: std::fmt::Display,
    {
        text.parse().map_err(|e: T::Err| StoreError::BadValue {
            column,
            reason: e.to_string(),
        })
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StoreError::Pool(e.to_string())
    }
}

/// A pool of connections to the log's database.
#[derive(Clone)]
pub struct Store {
    /// Connections are made on demand and reused; a broken one is dropped by the pool.
    pool: Pool,
    /// How to connect outside the pool (the alert listener holds its own connection).
    config: tokio_postgres::Config,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A pool for `config`, at most `max_size` connections. Connects lazily, and only to a
    /// read-write server (see [`primary::for_writing`]); with several hosts, to the first
    /// that is one.
    pub fn from_config(
        mut config: tokio_postgres::Config,
        max_size: usize,
    ) -> Result<Store, StoreError> {
        primary::for_writing(&mut config);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_application_name().is_none() {
            config.application_name("matthan");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_size.max(1))
            .wait_timeout(Some(Duration::from_secs(10)))
            .create_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Store { pool, config })
    }

    /// A connection of its own, outside the pool (for `LISTEN`): the client, and the
    /// connection future that must be polled (it yields notifications).
    pub async fn connect_unpooled(
        &self,
    ) -> Result<
        (
            tokio_postgres::Client,
            tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
        ),
        StoreError,
    > {
        match self.config.connect(NoTls).await {
            Ok(c) => Ok(c),
            Err(e) if primary::is_connect_failure(&e) => {
                Err(primary::explain(&self.config, e).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A pool for a `postgres://` URL or a `key=value` connection string.
    pub fn from_url(url: &str, max_size: usize) -> Result<Store, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| StoreError::BadUrl(e.to_string()))?;
        Store::from_config(config, max_size)
    }

    /// A connection from the pool; when none can be made for want of a primary,
    /// [`StoreError::NoPrimary`] says what each host is.
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        match self.pool.get().await {
            Ok(c) => Ok(c),
            Err(deadpool_postgres::PoolError::Backend(e)) if primary::is_connect_failure(&e) => {
                Err(primary::explain(&self.config, e).await)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        match self.client().await {
            Ok(c) => c.simple_query("SELECT 1").await.is_ok(),
            Err(_) => false,
        }
    }

    /// Applies pending migrations (see [`migrate`]).
    pub async fn migrate(&self) -> Result<Vec<String>, StoreError> {
        let mut client = self.client().await?;
        migrate::apply(&mut client).await
    }
}

/// The log's database as matthan uses it: a migrated store, and the private cluster when
/// matthan started one.
pub struct Database {
    /// The pool.
    pub store: Store,
    /// The private cluster this process started, stopped on [`Database::close`].
    cluster: Option<PrivateCluster>,
    /// Where the data lives, for messages (`DATABASE_URL` or the cluster's directory).
    pub description: String,
}

impl Database {
    /// Opens `url` if given, else starts (or joins) the private cluster under `state_dir`;
    /// then applies pending migrations.
    pub async fn open(url: Option<&str>, state_dir: &Path) -> Result<Database, StoreError> {
        let (store, cluster, description) = match url.filter(|u| !u.trim().is_empty()) {
            Some(url) => (Store::from_url(url, 16)?, None, "DATABASE_URL".to_string()),
            None => {
                let dir = state_dir.to_path_buf();
                let cluster = tokio::task::spawn_blocking(move || PrivateCluster::start(&dir))
                    .await
                    .map_err(|e| StoreError::Cluster(e.to_string()))??;
                let store = Store::from_config(cluster.client_config(), 16)?;
                let description = format!("private cluster in {}", cluster.data_dir().display());
                (store, Some(cluster), description)
            }
        };
        let db = Database {
            store,
            cluster,
            description,
        };
        if let Err(e) = db.store.migrate().await {
            db.close().await;
            return Err(e);
        }
        Ok(db)
    }

    /// Stops the private cluster if this process started it.
    pub async fn close(self) {
        if let Some(cluster) = self.cluster {
            drop(self.store);
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::VehicleClass;
    use crate::track::Direction;

    #[test]
    fn stored_names_parse_or_say_which_column_is_bad() {
        let class: VehicleClass = StoreError::parse_column("vehicle_class", "van").unwrap();
        assert_eq!(class, VehicleClass::Van);
        let err = StoreError::parse_column::<Direction>("direction", "up").unwrap_err();
        assert!(matches!(
            err,
            StoreError::BadValue {
                column: "direction",
                ..
            }
        ));
        assert!(err.to_string().contains("bad direction"), "{err}");
    }
}
