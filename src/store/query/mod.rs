//! Every query the API runs, and the config → database sync. All parameterised.
//!
//! Owns the shapes the API returns ([`PassageView`], [`ClipView`], [`CountRow`], ...) and the
//! keyset [`Cursor`] of plate search:
//! - exact and wildcard results come newest first, the cursor is (best_at, id);
//! - fuzzy results come by likelihood ([`crate::plate::search::fuzzy_cost`]), then newest first; every hit is
//!   ranked in the database and the cursor is (cost, best_at, id).
//!   A new passage never shifts a page the user has seen.
//!
//! - [`passage`](mod@passage): the passage view, the columns every passage query reads, one
//!   passage and its snapshot.
//! - [`search`]: plate search (exact, wildcard) and recent passages, the cursor and filters.
//! - [`fuzzy`]: fuzzy plate search, ranked in SQL by the rule of `fuzzy_cost`.
//! - [`counts`](mod@counts): vehicles per bucket, class and direction.
//! - [`clips`](mod@clips): clip segments.
//! - [`catalog`]: cameras, junctions, one camera as configured, ids by name, the config sync.
//! - [`road`](mod@road): a plate's corridor (trips across junctions, recordings checked),
//!   plates travelling together.
//! - [`peers`]: the other nodes as a node asking them for files sees them (where their API
//!   is, how old their heartbeat), and the cluster's token secret.
//! - [`runs`]: analysis runs (a recorded window read again): open, lock, finish.
//! - [`health`]: the server's clock and the clips' volume (`matthan check`).
//! - [`nodes`](mod@nodes): nodes and camera leases: register, one tick (heartbeat, renew,
//!   take free cameras), release, the node list.

pub mod catalog;
pub mod clips;
pub mod counts;
pub mod fuzzy;
pub mod health;
pub mod nodes;
pub mod passage;
pub mod peers;
pub mod road;
pub mod runs;
pub mod search;

pub use catalog::{
    camera_id, camera_id_or_create, camera_record, cameras, junction_camera_ids, junction_id,
    junctions, redact_source, sync_config, CameraRecord, CameraView, JunctionRecord, JunctionView,
};
pub use clips::{clip, clips, ClipView};
pub use counts::{counts, Bucket, CountRow};
pub use fuzzy::{fuzzy_costs, CandidateRead};
pub use nodes::{
    lease_tick, nodes, register_node, release_node, NodeIdentity, NodeRegistration, NodeView,
    TickAnswer, TickRequest,
};
pub use passage::{
    passage, snapshot_path, Candidate, ClipLink, MatchInfo, PassageView, RunLink, SnapshotFile,
};
pub use peers::{cluster_secret, node, NodeRecord};
pub use road::{
    companions, corridor, recording_at, Companion, CompanionSearch, Corridor, VehicleCorridor,
};
pub use runs::AnalysisRun;
pub use search::{recent_passages, search_passages, Cursor, SearchFilter, SearchPage};
