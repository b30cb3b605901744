-- Nodes and camera leases: several `matthan serve` processes (nodes) share one log and one
-- camera list. Each node registers itself, heartbeats, and runs the cameras it holds a lease on;
-- a node that stops heartbeating loses its leases and another node takes its cameras.
--
-- A lease has an epoch, bumped whenever the camera changes hands. Rows a node writes carry the
-- epoch they were made under, and the writer checks it in the committing transaction (fencing):
-- a node that comes back after its cameras were taken over cannot log them a second time.
-- `lease_epochs` keeps every epoch's holder and start, so rows made under an old epoch before
-- the camera changed hands (a batch held in a spool while the database was down) are still
-- taken, and only those made after it are refused.
--
-- Every clip segment and passage names the node whose disk holds its file (segment, snapshot):
-- any node's API serves any clip, streaming it from the owner node when it is not its own.
-- Rows logged before this migration, and by `matthan ingest`, have no node: their files are
-- on the disk of whoever reads them.

CREATE TABLE nodes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    -- Base URL other nodes reach this node's API at (e.g. http://10.0.0.11:8080).
    api_url      text NOT NULL,
    cores        integer NOT NULL CHECK (cores > 0),
    -- How many cameras the node runs at most (given in its config, or measured).
    capacity     integer NOT NULL CHECK (capacity >= 0),
    version      text NOT NULL,
    -- One run of the process: a second process with the same name while this one still
    -- heartbeats is refused.
    instance     uuid NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);

-- Cameras wired to one site run only on that node.
ALTER TABLE cameras ADD COLUMN pinned_node text;

-- The current lease of each camera that has ever been leased.
CREATE TABLE camera_leases (
    camera_id  bigint PRIMARY KEY REFERENCES cameras (id),
    node_id    bigint NOT NULL REFERENCES nodes (id),
    epoch      bigint NOT NULL,
    since      timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX camera_leases_node ON camera_leases (node_id);

-- Every epoch of every camera: who held it from when.
CREATE TABLE lease_epochs (
    camera_id bigint NOT NULL REFERENCES cameras (id),
    epoch     bigint NOT NULL,
    node_id   bigint NOT NULL REFERENCES nodes (id),
    since     timestamptz NOT NULL,
    PRIMARY KEY (camera_id, epoch)
);

-- Which node's disk holds the file: clips.path, passages.snapshot_path.
ALTER TABLE clips ADD COLUMN node_id bigint REFERENCES nodes (id);
ALTER TABLE passages ADD COLUMN node_id bigint;

-- The secret nodes sign their short-lived tokens with when they ask each other for files.
-- Made once, here, from the server's strong random source; readable by whoever can read the log.
CREATE TABLE cluster_secret (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    secret   bytea NOT NULL
);
INSERT INTO cluster_secret (secret)
VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));

-- How long this node's leases last (seconds): it counts as alive while its last heartbeat is
-- younger than that. Set when it registers.
ALTER TABLE nodes ADD COLUMN lease_sec integer NOT NULL DEFAULT 20 CHECK (lease_sec > 0);
-- Set when the node stopped cleanly (its leases released); NULL while it runs. A node that
-- stopped cleanly may be started again at once under the same name.
ALTER TABLE nodes ADD COLUMN stopped_at timestamptz;
