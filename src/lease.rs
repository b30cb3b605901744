//! PURE. The rules of camera leases between nodes (several `matthan serve` sharing one log):
//! their timings, how many free cameras a node takes, which of its running cameras it must
//! stop, and the fencing decision the writer makes on every row a node logs.
//!
//! No I/O and no clock of its own: times come in as arguments. The SQL that applies these
//! rules is in `store::query::nodes` and the writer; the loop that runs them is `app::node`.
//!
//! Invariants:
//! - a lease lasts `lease`; its holder renews it (and heartbeats) every `tick` = `lease / 4`, so
//!   three renewals in a row may fail before it expires;
//! - another node finds a camera free at its first tick after the lease expired, so a dead
//!   node's cameras are taken within [`LeaseTimings::takeover_bound`] = `lease + tick`
//!   (25 s with the default 20 s lease), plus the time the new holder needs to connect;
//! - every change of hands starts a new epoch; a row carries the epoch (and node) it was made
//!   under, and is taken only under the rule of [`fence`].

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How long leases last and how often they are renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How long a lease (and a node's heartbeat) stays valid without renewal.
    pub lease: Duration,
    /// How often the holder renews its leases, heartbeats and looks for free cameras.
    pub tick: Duration,
}

impl LeaseTimings {
    /// The shortest lease allowed (seconds): its tick is then half a second.
    pub const MIN_LEASE_SEC: u32 = 2;

    /// Leases of `lease_sec` seconds (at least [`Self::MIN_LEASE_SEC`]), renewed every quarter
    /// of that.
    pub fn from_lease_sec(lease_sec: u32) -> LeaseTimings {
        let lease = Duration::from_secs(u64::from(lease_sec.max(Self::MIN_LEASE_SEC)));
        LeaseTimings {
            lease,
            tick: lease / 4,
        }
    }

    /// The longest time from a holder's last renewal until another node holds the camera:
    /// the lease runs out, then the other node's next tick finds it free.
    pub fn takeover_bound(&self) -> Duration {
        self.lease + self.tick
    }
}

/// The default capacity of a node with `cores` CPU cores: two cameras per core (`matthan
/// bench streams` ran four gated cameras in real time on two cores, 0.59 CPU-seconds per
/// camera-second), at least one.
pub fn default_capacity(cores: usize) -> usize {
    (2 * cores).max(1)
}

/// What a node knows when it decides how many free cameras to take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    /// Most cameras this node runs.
    pub capacity: usize,
    /// Cameras it holds now.
    pub held: usize,
    /// Cameras pinned to it (held or not).
    pub pinned_here: usize,
    /// Cameras any node may run plus those pinned to it: what the alive nodes share.
    pub shared_cameras: usize,
    /// Nodes alive now, this one included.
    pub alive_nodes: usize,
}

/// How many free cameras to take now: up to an even share of the cameras among the alive
/// nodes (rounded up), never beyond capacity; cameras pinned here count in the share, which
/// is at least their number. A node started a tick after the others (its first look waits a
/// tick, see `app::node`) then finds them holding their shares and takes the rest.
pub fn room(share: Share) -> usize {
    let nodes = share.alive_nodes.max(1);
    let even = share.shared_cameras.div_ceil(nodes);
    let target = even.max(share.pinned_here).min(share.capacity);
    target.saturating_sub(share.held)
}

/// A camera this node runs under an epoch.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Held {
    /// Camera name.
    pub camera: String,
    /// The epoch of the lease it runs under.
    pub epoch: i64,
}

/// Which running cameras must stop after a renewal: those whose lease (at the epoch they run
/// under) the database did not renew, because another node holds it now. Call it only with
/// the database's answer: when the database cannot be reached nothing is stopped (the cameras
/// go on recording into the spool).
pub fn lost(running: &[Held], renewed: &[Held]) -> Vec<Held> {
    running
        .iter()
        .filter(|r| !renewed.contains(r))
        .cloned()
        .collect()
}

/// What a row carries to be fenced: made by which node, under which epoch of its camera's
/// lease, when (the node's clock, kept in step with the database's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fence {
    /// `nodes.id` of the node that made the row.
    pub node_id: i64,
    /// The epoch of the camera's lease it was made under.
    pub epoch: i64,
    /// When the node made it.
    pub made_at: DateTime<Utc>,
}

/// What the log says of a row's epoch, read in the committing transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EpochFacts {
    /// The node that held the row's epoch (`None`: the log has no such epoch).
    pub holder: Option<i64>,
    /// When the next epoch began (`None`: the row's epoch is the latest).
    pub next_since: Option<DateTime<Utc>>,
}

/// Why a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The log has no such epoch of this camera, or another node held it.
    UnknownEpoch,
    /// Made after the camera changed hands: the next holder logs that time.
    AfterHandover,
}

/// The fencing rule: a row made under the latest epoch of its camera is taken (also while the
/// lease has run out but nobody took it); a row of an older epoch is taken only if it was made
/// before the next epoch began (a batch that waited in the spool), and refused otherwise; a row
/// of an epoch its node never held is refused.
pub fn fence(row: &Fence, facts: &EpochFacts) -> Result<(), Refusal> {
    if facts.holder != Some(row.node_id) {
        return Err(Refusal::UnknownEpoch);
    }
    match facts.next_since {
        Some(since) if row.made_at >= since => Err(Refusal::AfterHandover),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + i64::from(s), 0).unwrap()
    }

    #[test]
    fn the_default_lease_is_taken_over_within_30_s() {
        let t = LeaseTimings::from_lease_sec(20);
        assert_eq!(t.tick, Duration::from_secs(5));
        assert_eq!(t.takeover_bound(), Duration::from_secs(25));
        // Too short a lease is raised to the shortest.
        let t = LeaseTimings::from_lease_sec(0);
        assert_eq!(
            (t.lease, t.tick),
            (Duration::from_secs(2), Duration::from_millis(500))
        );
    }

    #[test]
    fn capacity_is_two_cameras_per_core() {
        assert_eq!(default_capacity(0), 1);
        assert_eq!(default_capacity(2), 4);
        assert_eq!(default_capacity(16), 32);
    }

    fn share(capacity: usize, held: usize, shared: usize, alive: usize) -> Share {
        Share {
            capacity,
            held,
            pinned_here: 0,
            shared_cameras: shared,
            alive_nodes: alive,
        }
    }

    #[test]
    fn nodes_take_an_even_share_up_to_capacity() {
        // Six cameras, three nodes: two each.
        assert_eq!(room(share(3, 0, 6, 3)), 2);
        assert_eq!(room(share(3, 2, 6, 3)), 0);
        // One node dies: the two left take three each.
        assert_eq!(room(share(3, 2, 6, 2)), 1);
        // Alone: up to capacity.
        assert_eq!(room(share(3, 0, 6, 1)), 3);
        // Seven cameras over three nodes round up.
        assert_eq!(room(share(5, 0, 7, 3)), 3);
        // Holding more than the share (nodes came back) takes nothing and gives nothing up.
        assert_eq!(room(share(3, 3, 6, 3)), 0);
        // A node of capacity 0 runs no camera; nobody alive counts as this node alone.
        assert_eq!(room(share(0, 0, 6, 1)), 0);
        assert_eq!(room(share(2, 0, 6, 0)), 2);
    }

    #[test]
    fn pinned_cameras_are_taken_beyond_the_share_but_not_beyond_capacity() {
        let mut s = share(4, 0, 6, 3);
        s.pinned_here = 3;
        assert_eq!(room(s), 3);
        s.capacity = 1;
        assert_eq!(room(s), 1);
    }

    fn held(camera: &str, epoch: i64) -> Held {
        Held {
            camera: camera.into(),
            epoch,
        }
    }

    #[test]
    fn cameras_not_renewed_at_their_epoch_are_lost() {
        let running = [held("a", 1), held("b", 4), held("c", 2)];
        // b was taken over (and maybe taken back: a new epoch is a new lease).
        let renewed = [held("a", 1), held("b", 6), held("c", 2)];
        assert_eq!(lost(&running, &renewed), vec![held("b", 4)]);
        assert_eq!(lost(&running, &running), Vec::<Held>::new());
        assert_eq!(lost(&running, &[]).len(), 3);
    }

    #[test]
    fn the_fence_takes_the_latest_epoch_and_older_rows_made_before_the_handover() {
        let row = Fence {
            node_id: 7,
            epoch: 3,
            made_at: at(100),
        };
        // The latest epoch, held by the row's node: taken.
        let latest = EpochFacts {
            holder: Some(7),
            next_since: None,
        };
        assert_eq!(fence(&row, &latest), Ok(()));
        // The camera changed hands after the row was made (it waited in a spool): taken.
        let later = EpochFacts {
            holder: Some(7),
            next_since: Some(at(101)),
        };
        assert_eq!(fence(&row, &later), Ok(()));
        // ...at the very instant, or before: refused.
        for since in [at(100), at(50)] {
            let facts = EpochFacts {
                holder: Some(7),
                next_since: Some(since),
            };
            assert_eq!(fence(&row, &facts), Err(Refusal::AfterHandover));
        }
        // An epoch the log does not know, or another node's: refused.
        assert_eq!(
            fence(&row, &EpochFacts::default()),
            Err(Refusal::UnknownEpoch)
        );
        let other = EpochFacts {
            holder: Some(8),
            next_since: None,
        };
        assert_eq!(fence(&row, &other), Err(Refusal::UnknownEpoch));
    }
}
