//! Nodes and camera leases in the log: a node registers (refused while another process of the
//! same name still heartbeats), heartbeats and renews its leases and takes free cameras in one
//! transaction per tick, releases everything when it stops, and the node list the API shows.
//!
//! The rules (timings, how many cameras to take, which to stop) are [`crate::lease`]'s; this
//! file only applies them in SQL. Free cameras are taken with `FOR NO KEY UPDATE ... SKIP
//! LOCKED` on their `cameras` row (two nodes never take the same camera, and neither waits for
//! the other), and a lease changes hands only if it has run out, checked again on the row
//! itself (`ON CONFLICT ... WHERE`), so a renewal that commits first wins. Every change of
//! hands is a new epoch, written to `lease_epochs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::lease::{room, Held, Share};
use crate::store::StoreError;

/// What a node says of itself when it registers.
#[derive(Debug, Clone)]
pub struct NodeRegistration {
    /// Unique name (the host name unless the config gives one).
    pub name: String,
    /// Base URL other nodes reach its API at.
    pub api_url: String,
    /// CPU cores of its machine.
    pub cores: usize,
    /// Most cameras it runs.
    pub capacity: usize,
    /// Its build's version.
    pub version: String,
    /// How long its leases last.
    pub lease: Duration,
}

/// A registered node: this run of the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeIdentity {
    /// `nodes.id`.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// This run's `nodes.instance`: a later process registering under the same name changes it.
    pub instance: String,
}

/// Registers `node`, or takes over its name when the process that had it stopped cleanly or
/// has not heartbeated within its lease. Refused ([`StoreError::NodeRunning`]) while that
/// process still heartbeats.
pub async fn register_node(
    client: &tokio_postgres::Client,
    node: &NodeRegistration,
) -> Result<NodeIdentity, StoreError> {
    let cores = i32::try_from(node.cores).unwrap_or(i32::MAX).max(1);
    let capacity = i32::try_from(node.capacity).unwrap_or(i32::MAX);
    let lease_sec = i32::try_from(node.lease.as_secs())
        .unwrap_or(i32::MAX)
        .max(1);
    let row = client
        .query_opt(
            "INSERT INTO nodes (name, api_url, cores, capacity, version, instance, lease_sec)
             VALUES ($1, $2, $3, $4, $5, gen_random_uuid(), $6)
             ON CONFLICT (name) DO UPDATE
             SET api_url = EXCLUDED.api_url, cores = EXCLUDED.cores,
                 capacity = EXCLUDED.capacity, version = EXCLUDED.version,
                 instance = EXCLUDED.instance, lease_sec = EXCLUDED.lease_sec,
                 started_at = now(), heartbeat_at = now(), stopped_at = NULL
             WHERE nodes.stopped_at IS NOT NULL
                OR nodes.heartbeat_at < now() - make_interval(secs => nodes.lease_sec)
             RETURNING id, instance::text",
            &[
                &node.name,
                &node.api_url,
                &cores,
                &capacity,
                &node.version,
                &lease_sec,
            ],
        )
        .await?;
    if let Some(row) = row {
        return Ok(NodeIdentity {
            id: row.get(0),
            name: node.name.clone(),
            instance: row.get(1),
        });
    }
    let row = client
        .query_one(
            "SELECT heartbeat_at, extract(epoch FROM now() - heartbeat_at)::float8
             FROM nodes WHERE name = $1",
            &[&node.name],
        )
        .await?;
    Err(StoreError::NodeRunning {
        name: node.name.clone(),
        heartbeat_at: row.get(0),
        age_sec: row.get(1),
    })
}

/// What a node asks at each tick.
#[derive(Debug, Clone, Copy)]
pub struct TickRequest<'a> {
    /// The node.
    pub node: &'a NodeIdentity,
    /// How long a renewed or new lease lasts.
    pub lease: Duration,
    /// The cameras it runs, under the epoch each runs under.
    pub running: &'a [Held],
    /// The cameras it can run (enabled, live in its config), by name.
    pub runnable: &'a [String],
    /// Most cameras it runs.
    pub capacity: usize,
    /// Whether to look for free cameras this tick (else only heartbeat and renew).
    pub take: bool,
}

/// The database's answer to a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickAnswer {
    /// Heartbeat and leases renewed.
    Leases {
        /// The running cameras whose lease was renewed at the epoch they run under (the others
        /// are lost: another node holds them now).
        renewed: Vec<Held>,
        /// Free cameras taken, each under its new epoch.
        won: Vec<Held>,
    },
    /// Another process registered under this node's name (this one was taken for dead): it
    /// holds nothing and must run nothing.
    Superseded,
}

/// One tick of a node, in one transaction: heartbeat, renew the leases of the cameras it runs,
/// and (when `take`) take free cameras up to [`room`]: cameras pinned to it first, never one
/// pinned to another node.
pub async fn lease_tick(
    client: &mut tokio_postgres::Client,
    req: TickRequest<'_>,
) -> Result<TickAnswer, StoreError> {
    let lease_sec = req.lease.as_secs_f64();
    let node = req.node;
    let tx = client.transaction().await?;
    let beat = tx
        .execute(
            "UPDATE nodes SET heartbeat_at = now(), stopped_at = NULL
             WHERE id = $1 AND instance::text = $2",
            &[&node.id, &node.instance],
        )
        .await?;
    if beat == 0 {
        tx.rollback().await?;
        return Ok(TickAnswer::Superseded);
    }
    let (names, epochs): (Vec<&str>, Vec<i64>) = req
        .running
        .iter()
        .map(|h| (h.camera.as_str(), h.epoch))
        .unzip();
    let renewed: Vec<Held> = tx
        .query(
            "UPDATE camera_leases l SET expires_at = now() + make_interval(secs => $2)
             FROM cameras c, unnest($3::text[], $4::bigint[]) AS r(name, epoch)
             WHERE c.name = r.name AND l.camera_id = c.id AND l.epoch = r.epoch
               AND l.node_id = $1
             RETURNING c.name, l.epoch",
            &[&node.id, &lease_sec, &names, &epochs],
        )
        .await?
        .iter()
        .map(|r| Held {
            camera: r.get(0),
            epoch: r.get(1),
        })
        .collect();
    let mut won = Vec::new();
    if req.take {
        let facts = tx
            .query_one(
                "SELECT (SELECT count(*) FROM nodes
                         WHERE stopped_at IS NULL
                           AND heartbeat_at > now() - make_interval(secs => lease_sec)),
                        count(*) FILTER (WHERE pinned_node IS NULL OR pinned_node = $2),
                        count(*) FILTER (WHERE pinned_node = $2)
                 FROM cameras WHERE enabled AND name = ANY($1)",
                &[&req.runnable, &node.name],
            )
            .await?;
        let count = |i: usize| usize::try_from(facts.get::<_, i64>(i)).unwrap_or(0);
        let take = room(Share {
            capacity: req.capacity,
            held: renewed.len(),
            pinned_here: count(2),
            shared_cameras: count(1),
            alive_nodes: count(0),
        });
        if take > 0 {
            won = take_free(&tx, req, take).await?;
        }
    }
    tx.commit().await?;
    Ok(TickAnswer::Leases { renewed, won })
}

/// Takes up to `take` free cameras the node can run, each under a new epoch.
async fn take_free(
    tx: &tokio_postgres::Transaction<'_>,
    req: TickRequest<'_>,
    take: usize,
) -> Result<Vec<Held>, StoreError> {
    let limit = i64::try_from(take).unwrap_or(i64::MAX);
    let rows = tx
        .query(
            "WITH free AS (
                SELECT c.id FROM cameras c LEFT JOIN camera_leases l ON l.camera_id = c.id
                WHERE c.enabled AND c.name = ANY($3)
                  AND (c.pinned_node IS NULL OR c.pinned_node = $4)
                  AND (l.camera_id IS NULL OR l.expires_at < now())
                ORDER BY c.pinned_node IS NULL, c.id
                LIMIT $5
                FOR NO KEY UPDATE OF c SKIP LOCKED
             ), won AS (
                INSERT INTO camera_leases (camera_id, node_id, epoch, since, expires_at)
                SELECT free.id, $1,
                       coalesce((SELECT max(e.epoch) FROM lease_epochs e
                                 WHERE e.camera_id = free.id), 0) + 1,
                       now(), now() + make_interval(secs => $2)
                FROM free
                ON CONFLICT (camera_id) DO UPDATE
                SET node_id = EXCLUDED.node_id, epoch = camera_leases.epoch + 1,
                    since = EXCLUDED.since, expires_at = EXCLUDED.expires_at
                WHERE camera_leases.expires_at < now()
                RETURNING camera_id, epoch, since
             ), logged AS (
                INSERT INTO lease_epochs (camera_id, epoch, node_id, since)
                SELECT camera_id, epoch, $1, since FROM won
             )
             SELECT c.name, won.epoch FROM won JOIN cameras c ON c.id = won.camera_id
             ORDER BY c.name",
            &[
                &req.node.id,
                &req.lease.as_secs_f64(),
                &req.runnable,
                &req.node.name,
                &limit,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Held {
            camera: r.get(0),
            epoch: r.get(1),
        })
        .collect())
}

/// A node stopping cleanly: its leases run out now (other nodes may take its cameras at
/// their next tick) and it is marked stopped (its name may be registered again at once).
/// Nothing happens if another process has taken the name over meanwhile.
pub async fn release_node(
    client: &mut tokio_postgres::Client,
    node: &NodeIdentity,
) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    let mine = tx
        .execute(
            "UPDATE nodes SET stopped_at = now() WHERE id = $1 AND instance::text = $2",
            &[&node.id, &node.instance],
        )
        .await?;
    if mine == 1 {
        tx.execute(
            "UPDATE camera_leases SET expires_at = now()
             WHERE node_id = $1 AND expires_at > now()",
            &[&node.id],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// A node as `GET /api/nodes` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// `nodes.id`.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Base URL of its API.
    pub api_url: String,
    /// CPU cores.
    pub cores: i32,
    /// Most cameras it runs.
    pub capacity: i32,
    /// Its build's version.
    pub version: String,
    /// When its current run started.
    pub started_at: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat_at: DateTime<Utc>,
    /// Seconds since then (the database's clock).
    pub heartbeat_age_sec: f64,
    /// Whether it runs: not stopped, and heartbeated within its lease.
    pub alive: bool,
    /// When it stopped cleanly; `None` while it runs (or died).
    pub stopped_at: Option<DateTime<Utc>>,
    /// The cameras it holds a lease on now, by name.
    pub cameras: Vec<String>,
}

/// Every node, by name.
pub async fn nodes(client: &tokio_postgres::Client) -> Result<Vec<NodeView>, StoreError> {
    let rows = client
        .query(
            "SELECT n.id, n.name, n.api_url, n.cores, n.capacity, n.version, n.started_at,
                    n.heartbeat_at, extract(epoch FROM now() - n.heartbeat_at)::float8,
                    n.stopped_at IS NULL
                        AND n.heartbeat_at > now() - make_interval(secs => n.lease_sec),
                    n.stopped_at,
                    coalesce((SELECT array_agg(c.name ORDER BY c.name)
                              FROM camera_leases l JOIN cameras c ON c.id = l.camera_id
                              WHERE l.node_id = n.id AND l.expires_at > now()), '{}')
             FROM nodes n ORDER BY n.name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NodeView {
            id: r.get(0),
            name: r.get(1),
            api_url: r.get(2),
            cores: r.get(3),
            capacity: r.get(4),
            version: r.get(5),
            started_at: r.get(6),
            heartbeat_at: r.get(7),
            heartbeat_age_sec: r.get(8),
            alive: r.get(9),
            stopped_at: r.get(10),
            cameras: r.get(11),
        })
        .collect())
}
