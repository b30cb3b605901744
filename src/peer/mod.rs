//! Files on other nodes: several `matthan serve` processes (nodes) share one log, and each
//! keeps the clip segments and snapshots of its own cameras on its own disk. The log names
//! the node of every file (`clips.node_id`, `passages.node_id`; NULL: the disk of whoever
//! reads it, as for rows logged before there were nodes or by `matthan ingest`).
//!
//! Owns the client side of asking the owner node for a file and the checks of the owner
//! side's tokens:
//! - [`Peers::owner`]: whose disk holds a file: here (its node is this one, NULL, or every
//!   node shares one mount, `[storage] shared_clips`), or another node, read from the log. A
//!   node whose heartbeat is older than [`PeerSettings::stale_after`] is taken as down.
//! - [`Peers::get`]: GET of the file from the owner's internal route (`/internal/segments/
//!   {clip_id}`, `/internal/snapshots/{passage_id}`) with a fresh node token (see
//!   [`crate::node_token`]) and the caller's `Range`; the answer is streamed by the caller.
//! - [`Peers::copy`]: the file copied into a [`Scratch`] folder, its SHA-256 checked against
//!   the log's when there is one (a clip segment): a copy that differs is removed and is an
//!   error naming the node and the segment, never used.
//! - [`Peers::check`]: the owner side: a node token checked against the cluster secret.
//!
//! Connecting and waiting for an answer's head time out after [`PeerSettings::answer_timeout`],
//! and so does every wait for more of a body. Every failure names the file and the node.

mod client;
mod scratch;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

pub use scratch::Scratch;

use crate::node_token::{self, Claims, TokenError};
use crate::store::query::{self, NodeRecord};
use crate::store::{Store, StoreError};

/// The node this process runs as: set at start-up once it is registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// Its id in `nodes`.
    pub id: i64,
    /// Its name (the issuer of its node tokens).
    pub name: String,
}

/// The issuer a process that is not a registered node (`matthan evidence export`) names in
/// its node tokens.
pub const UNREGISTERED: &str = "(not a node)";

/// How the peers are asked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeerSettings {
    /// Longest wait to connect, for an answer's head, and for each piece of a body. Default 5 s.
    pub answer_timeout: Duration,
    /// A node whose last heartbeat is older than this is down and not asked. Default 60 s.
    pub stale_after: Duration,
    /// Every node sees every file at the same path (a shared mount): files are read from
    /// disk whatever their node. Default false (`[storage] shared_clips`).
    pub shared_clips: bool,
}

impl Default for PeerSettings {
    fn default() -> Self {
        PeerSettings {
            answer_timeout: Duration::from_secs(5),
            stale_after: Duration::from_secs(60),
            shared_clips: false,
        }
    }
}

/// A file a node serves to the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteFile {
    /// The segment file of clip `id`.
    Segment(i64),
    /// The snapshot of passage `id`.
    Snapshot(i64),
}

impl RemoteFile {
    /// The owner's internal route for it.
    pub fn route(&self) -> String {
        match self {
            RemoteFile::Segment(id) => format!("/internal/segments/{id}"),
            RemoteFile::Snapshot(id) => format!("/internal/snapshots/{id}"),
        }
    }
}

impl std::fmt::Display for RemoteFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RemoteFile::Segment(id) => write!(f, "clip {id}"),
            RemoteFile::Snapshot(id) => write!(f, "the snapshot of passage {id}"),
        }
    }
}

/// Whose disk holds a file.
#[derive(Debug, Clone, PartialEq)]
pub enum Owner {
    /// This process's: read it from disk.
    Here,
    /// Another node's: ask it.
    Node(NodeRecord),
}

/// Errors of asking other nodes for files, and of checking their tokens.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log names a node it does not hold.
    #[error("{file} is on node {node_id}, which the log does not know")]
    UnknownNode {
        /// What was asked for.
        file: RemoteFile,
        /// The node id the row names.
        node_id: i64,
    },
    /// The owner is down: no connection, no answer in time, or a stale heartbeat.
    #[error("{file} is on node {node} ({url}), which is not answering: {why}")]
    NotAnswering {
        /// What was asked for.
        file: RemoteFile,
        /// The owner's name.
        node: String,
        /// Its API.
        url: String,
        /// What happened.
        why: String,
    },
    /// The owner answered, but not with the file.
    #[error("{file} is on node {node} ({url}), which answered {status}: {detail}")]
    Refused {
        /// What was asked for.
        file: RemoteFile,
        /// The owner's name.
        node: String,
        /// Its API.
        url: String,
        /// Its HTTP status.
        status: u16,
        /// Its error's detail, or its body's start.
        detail: String,
    },
    /// A fetched segment is not the one the log holds.
    #[error(
        "{file} fetched from node {node} does not match the log: SHA-256 {expected} logged, \
         {actual} received; not used"
    )]
    Mismatch {
        /// The segment.
        file: RemoteFile,
        /// The owner's name.
        node: String,
        /// The log's SHA-256.
        expected: String,
        /// The received file's.
        actual: String,
    },
    /// A local file could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be made.
    #[error("HTTP client: {0}")]
    Client(String),
    /// A node token was refused (the owner side).
    #[error(transparent)]
    Token(#[from] TokenError),
}

/// Asking other nodes for files, and checking their tokens. Cheap to clone.
#[derive(Clone)]
pub struct Peers {
    /// The log (nodes, the cluster secret).
    store: Store,
    /// One HTTP client (its connection pool) for every peer.
    http: reqwest::Client,
    /// This process's node, once registered.
    identity: Option<Arc<NodeIdentity>>,
    settings: PeerSettings,
    /// The cluster secret, read once (it never changes).
    secret: Arc<OnceCell<Arc<[u8]>>>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers")
            .field("identity", &self.identity)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Peers {
    /// Peers of the log `store`, asked as no node until [`Peers::with_identity`].
    pub fn new(store: Store, settings: PeerSettings) -> Result<Peers, PeerError> {
        Ok(Peers {
            store,
            http: client::http(&settings)?,
            identity: None,
            settings,
            secret: Arc::new(OnceCell::new()),
        })
    }

    /// The same, as node `identity`.
    pub fn with_identity(mut self, identity: NodeIdentity) -> Peers {
        self.identity = Some(Arc::new(identity));
        self
    }

    /// The same with `settings`.
    pub fn with_settings(self, settings: PeerSettings) -> Result<Peers, PeerError> {
        Ok(Peers {
            http: client::http(&settings)?,
            settings,
            ..self
        })
    }

    /// This process's node, if it is one.
    pub fn identity(&self) -> Option<&NodeIdentity> {
        self.identity.as_deref()
    }

    /// The settings.
    pub fn settings(&self) -> &PeerSettings {
        &self.settings
    }

    /// The cluster secret.
    async fn secret(&self) -> Result<Arc<[u8]>, PeerError> {
        let secret = self
            .secret
            .get_or_try_init(|| async {
                let client = self.store.client().await?;
                let secret = query::cluster_secret(&client).await?;
                Ok::<_, StoreError>(Arc::from(secret))
            })
            .await?;
        Ok(secret.clone())
    }

    /// Whose disk holds `file`, which the log says is on node `node_id`. A node that is
    /// not this one and whose heartbeat is stale is an error: it is not asked.
    pub async fn owner(&self, file: RemoteFile, node_id: Option<i64>) -> Result<Owner, PeerError> {
        let Some(node_id) = node_id else {
            return Ok(Owner::Here);
        };
        if self.settings.shared_clips || self.identity.as_ref().is_some_and(|me| me.id == node_id) {
            return Ok(Owner::Here);
        }
        let client = self.store.client().await?;
        let node = query::node(&client, node_id)
            .await?
            .ok_or(PeerError::UnknownNode { file, node_id })?;
        if node.heartbeat_age_s > self.settings.stale_after.as_secs_f64() {
            return Err(PeerError::NotAnswering {
                file,
                why: format!(
                    "its last heartbeat was {:.0} s ago",
                    node.heartbeat_age_s.max(0.0)
                ),
                node: node.name,
                url: node.api_url,
            });
        }
        Ok(Owner::Node(node))
    }

    /// A fresh node token of this process.
    async fn token(&self) -> Result<String, PeerError> {
        let secret = self.secret().await?;
        let issuer = self.identity.as_ref().map_or(UNREGISTERED, |me| &me.name);
        Ok(node_token::issue(&secret, issuer, chrono::Utc::now()))
    }

    /// The claims of a node token sent to this process, if it is good now.
    pub async fn check(&self, token: &str) -> Result<Claims, PeerError> {
        let secret = self.secret().await?;
        Ok(node_token::verify(&secret, token, chrono::Utc::now())?)
    }
}
