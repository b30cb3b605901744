-- Access control, the audit log, the watchlist and its alerts, and retention.
--
-- Plates are personal data and the log is evidence: every API request is made by a known user
-- with a role, and leaves one row in the append-only audit log.

-- A person who may use the API. Roles nest: viewer < investigator < admin.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE,
    role          text NOT NULL,
    -- argon2id PHC string; NULL = token-only user (no page login).
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz,
    CHECK (role IN ('viewer', 'investigator', 'admin')),
    CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$')
);

-- A bearer token. Only its SHA-256 is stored: a copy of this table grants nothing.
-- Tokens are 256-bit random, so a fast hash is enough (passwords get argon2).
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    token_sha256 bytea NOT NULL UNIQUE,
    label        text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- NULL = until revoked (tokens made by `matthan user`); page logins expire.
    expires_at   timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One row per API request: who, when, what, with which parameters, why, and the answer's status.
-- Append-only: the triggers below refuse UPDATE, DELETE and TRUNCATE.
CREATE TABLE audit_log (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        timestamptz NOT NULL DEFAULT now(),
    user_id   bigint REFERENCES users (id),
    -- The name as given (also for failed logins and unknown tokens, where user_id is NULL).
    user_name text,
    role      text,
    action    text NOT NULL,
    method    text NOT NULL,
    path      text NOT NULL,
    params    jsonb NOT NULL DEFAULT '{}',
    reason    text,
    -- What the request touched (a passage id, a clip, a watchlist entry), when known.
    target    text,
    status    smallint NOT NULL,
    client    text
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_user_at ON audit_log (user_name, at);

CREATE FUNCTION matthan_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION matthan_audit_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION matthan_audit_append_only();

-- A plate pattern to watch for. The match columns are what `PlateQuery::parse` made of the
-- pattern, so a watch matches exactly what the same search would find.
CREATE TABLE watchlist (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pattern     text NOT NULL,
    mode        text NOT NULL,
    -- exact: the key; wildcard: the LIKE pattern; fuzzy: the key as typed.
    match_key   text COLLATE "C" NOT NULL,
    reason      text NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    removed_by  text,
    CHECK (mode IN ('exact', 'wildcard', 'fuzzy')),
    CHECK (length(reason) > 0)
);

-- The keys a watch matches by equality, so new reads are matched with a hash join, not by
-- scanning every watch: `key` entries are compared with a read's key (exact watches), `folded`
-- entries with its folded key (a fuzzy watch has about 500: its folded key and every one within
-- one edit). Wildcard watches are matched by LIKE on `watchlist.match_key`.
CREATE TABLE watch_keys (
    watch_id bigint NOT NULL REFERENCES watchlist (id),
    kind     text NOT NULL,
    key      text COLLATE "C" NOT NULL,
    PRIMARY KEY (kind, key, watch_id),
    CHECK (kind IN ('key', 'folded'))
);

-- A passage that matched a watchlist entry: at most one per (entry, passage).
CREATE TABLE alerts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    watch_id        bigint NOT NULL REFERENCES watchlist (id),
    passage_id      bigint NOT NULL,
    best_at         timestamptz NOT NULL,
    camera_id       bigint NOT NULL REFERENCES cameras (id),
    -- The candidate that matched, and its rank among the passage's candidates.
    plate_key       text NOT NULL,
    rank            smallint NOT NULL,
    raised_at       timestamptz NOT NULL DEFAULT now(),
    -- Webhook delivery (an outbox): attempts so far, when to try next, when it succeeded.
    webhook_attempts integer NOT NULL DEFAULT 0,
    webhook_next_at  timestamptz NOT NULL DEFAULT now(),
    webhook_done_at  timestamptz,
    webhook_error    text,
    UNIQUE (watch_id, passage_id)
);
CREATE INDEX alerts_best_at ON alerts (best_at);
CREATE INDEX alerts_webhook_due ON alerts (webhook_next_at) WHERE webhook_done_at IS NULL;

-- Drops the monthly partitions of passages and plate_reads that end on or before `cutoff`,
-- and the alerts of those months. Returns the dropped tables' names.
CREATE FUNCTION matthan_drop_months_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('matthan_ensure_months'));
    FOR part IN
        SELECT c.relname AS name
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        WHERE p.relname IN ('passages', 'plate_reads')
          AND c.relname ~ '_y[0-9]{4}m[0-9]{2}$'
          AND (to_date(right(c.relname, 8), '"y"YYYY"m"MM') + interval '1 month')::timestamp
              AT TIME ZONE 'UTC' <= cutoff
        ORDER BY c.relname
    LOOP
        EXECUTE format('DROP TABLE %I', part.name);
        RETURN NEXT part.name;
    END LOOP;
    DELETE FROM alerts
    WHERE best_at < date_trunc('month', cutoff AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
END;
$$;
