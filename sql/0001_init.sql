-- matthan: the vehicle and plate log.
--
-- Times are timestamptz (UTC inside, shown in Asia/Ho_Chi_Minh by the page).
-- Passages and their plate reads are partitioned by month on best_at, so a month can be
-- dropped whole by retention; partitions are created on demand by matthan_ensure_month().

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A place on the road (a junction or a house) where one or more cameras look.
CREATE TABLE junctions (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name      text NOT NULL UNIQUE,
    km_marker double precision,
    lat       double precision,
    lon       double precision
);

-- A camera as configured; the source is stored with any password removed.
CREATE TABLE cameras (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    junction_id    bigint REFERENCES junctions (id),
    source         text,
    road_direction real[] NOT NULL DEFAULT '{0,1}',
    counting_line  real[],
    enabled        boolean NOT NULL DEFAULT true
);

-- One MP4 segment on disk. Re-recording the same start (a re-ingested file) replaces the row.
CREATE TABLE clips (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id   bigint NOT NULL REFERENCES cameras (id),
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz NOT NULL,
    path        text NOT NULL,
    bytes       bigint NOT NULL,
    sha256      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (camera_id, started_at),
    CHECK (ended_at >= started_at)
);
CREATE INDEX clips_camera_end ON clips (camera_id, ended_at);

CREATE SEQUENCE passages_id_seq AS bigint;

-- One vehicle's passage past a camera. The natural key (camera, best frame, first frame,
-- track number) makes writing idempotent: replaying a batch or re-ingesting a file adds nothing.
-- The clip is linked by its natural key (camera_id, clip_started_at): the segment row is written
-- when the segment closes, which is after the passages it holds.
CREATE TABLE passages (
    id               bigint NOT NULL DEFAULT nextval('passages_id_seq'),
    camera_id        bigint NOT NULL REFERENCES cameras (id),
    track_no         bigint NOT NULL,
    first_seen       timestamptz NOT NULL,
    last_seen        timestamptz NOT NULL,
    best_at          timestamptz NOT NULL,
    vehicle_class    text NOT NULL,
    plate_key        text COLLATE "C",
    plate_display    text,
    plate_confidence real,
    is_vietnamese    boolean,
    direction        text NOT NULL,
    crossed_line     boolean,
    clip_started_at  timestamptz,
    clip_offset_ms   bigint,
    snapshot_path    text,
    bbox             real[],
    frames_seen      integer NOT NULL DEFAULT 0,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (id, best_at),
    UNIQUE (camera_id, best_at, first_seen, track_no),
    CHECK (vehicle_class IN ('motorbike', 'bus', 'car', 'truck', 'tuktuk', 'van', 'other')),
    CHECK (direction IN ('along', 'against', 'unknown'))
) PARTITION BY RANGE (best_at);
ALTER SEQUENCE passages_id_seq OWNED BY passages.id;
CREATE INDEX passages_camera_time ON passages (camera_id, best_at);
CREATE INDEX passages_best_at_brin ON passages USING brin (best_at);

-- The top-N plate candidates of a passage (rank 1 is the voted plate). Search runs here, so a
-- plate the vote ranked second is still found. `plate_folded` maps look-alike characters
-- (0/O/D/Q, 8/B, 1/I/J, 5/S, 2/Z, 6/G) to one, for confusion-aware fuzzy search.
CREATE TABLE plate_reads (
    passage_id       bigint NOT NULL,
    best_at          timestamptz NOT NULL,
    camera_id        bigint NOT NULL,
    rank             smallint NOT NULL,
    plate_key        text COLLATE "C" NOT NULL,
    plate_folded     text COLLATE "C" NOT NULL,
    confidence       real NOT NULL,
    char_confidences real[],
    PRIMARY KEY (passage_id, best_at, rank),
    FOREIGN KEY (passage_id, best_at) REFERENCES passages (id, best_at) ON DELETE CASCADE,
    CHECK (rank >= 1)
) PARTITION BY RANGE (best_at);
CREATE INDEX plate_reads_key ON plate_reads (plate_key, best_at);
CREATE INDEX plate_reads_folded ON plate_reads (plate_folded, best_at);
CREATE INDEX plate_reads_key_trgm ON plate_reads USING gin (plate_key gin_trgm_ops);

-- Creates the monthly partitions of passages and plate_reads covering [from_ts, to_ts].
CREATE FUNCTION matthan_ensure_months(from_ts timestamptz, to_ts timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', from_ts AT TIME ZONE 'UTC')::date;
    last_m date := date_trunc('month', to_ts AT TIME ZONE 'UTC')::date;
    suffix text;
BEGIN
    -- One creator at a time: two writers may meet a new month together.
    PERFORM pg_advisory_xact_lock(hashtext('matthan_ensure_months'));
    WHILE m <= last_m LOOP
        suffix := to_char(m, '"y"YYYY"m"MM');
        IF to_regclass('passages_' || suffix) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF passages FOR VALUES FROM (%L) TO (%L)',
                'passages_' || suffix,
                (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        END IF;
        IF to_regclass('plate_reads_' || suffix) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF plate_reads FOR VALUES FROM (%L) TO (%L)',
                'plate_reads_' || suffix,
                (m::timestamp AT TIME ZONE 'UTC'),
                ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
        END IF;
        m := m + interval '1 month';
    END LOOP;
END;
$$;
