-- Analysis runs: a camera's recorded segments of a time window read again by the recognizer
-- (`matthan reread`, after a model upgrade or where the live analysis fell behind), logged as
-- passages of their own beside the live ones. Nothing is replaced: searches see both, and each
-- passage says which run it came from.
--
-- `passages.run_id` is NULL for the live analysis (every passage logged before this migration,
-- and every one the cameras log) and names the run otherwise. It has no foreign key: a
-- partitioned table's foreign key is checked row by row and cannot be added NOT VALID here,
-- and only the reread writes the column, with the id of the run it has just opened.
--
-- A run is one (camera, window, model version): the model version is a short hash of what
-- decides the reads (the pinned models' SHA-256, the recognizer's choices and thresholds, the
-- analysis rate), so reading the same window again with the same models finds the run and
-- adds nothing. `finished_at` is set when every segment of the window was read; a run without
-- it (stopped, or with segments it could not read) is taken up again by the next reread of the
-- same key, which adds only what is missing (the natural key below).
CREATE TABLE analysis_runs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    camera_id      bigint NOT NULL REFERENCES cameras (id),
    -- The one kind so far; the live analysis has no row (run_id NULL).
    kind           text NOT NULL DEFAULT 'reread',
    window_from    timestamptz NOT NULL,
    window_to      timestamptz NOT NULL,
    model_version  text NOT NULL,
    -- The same in words: models, reader, analysis rate.
    analysis       text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    -- Passages of the run, counted when it finishes.
    passages       bigint,
    UNIQUE (camera_id, window_from, window_to, model_version),
    CHECK (kind IN ('reread')),
    CHECK (window_to > window_from)
);

ALTER TABLE passages ADD COLUMN run_id bigint;

-- The natural key now includes the run, so a re-read passage may have the live one's camera,
-- times and track number; NULLS NOT DISTINCT keeps the live analysis idempotent as before (two
-- live passages with the same key are one). Building it reads every month once.
ALTER TABLE passages DROP CONSTRAINT passages_camera_id_best_at_first_seen_track_no_key;
CREATE UNIQUE INDEX passages_natural_key ON passages
    (camera_id, best_at, first_seen, track_no, run_id) NULLS NOT DISTINCT;
