//! The other nodes as a node asking them for a file sees them: where a node's API is and how
//! long ago it last heartbeat (by the database's clock, so the nodes' clocks do not matter),
//! and the secret every node signs its node tokens with. Read only: registering and
//! heartbeating are the nodes' own business.

use crate::store::StoreError;

/// A node, as one that wants a file from it needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRecord {
    /// Id (what `clips.node_id` and `passages.node_id` hold).
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Base URL of its API.
    pub api_url: String,
    /// Seconds since its last heartbeat, by the database's clock.
    pub heartbeat_age_s: f64,
}

/// Node `id`, if there is one.
pub async fn node(
    client: &tokio_postgres::Client,
    id: i64,
) -> Result<Option<NodeRecord>, StoreError> {
    Ok(client
        .query_opt(
            "SELECT id, name, api_url,
                    extract(epoch FROM clock_timestamp() - heartbeat_at)::float8
             FROM nodes WHERE id = $1",
            &[&id],
        )
        .await?
        .map(|r| NodeRecord {
            id: r.get(0),
            name: r.get(1),
            api_url: r.get(2),
            heartbeat_age_s: r.get(3),
        }))
}

/// The cluster's token secret (made by the migration; one row).
pub async fn cluster_secret(client: &tokio_postgres::Client) -> Result<Vec<u8>, StoreError> {
    Ok(client
        .query_one("SELECT secret FROM cluster_secret", &[])
        .await?
        .get(0))
}
