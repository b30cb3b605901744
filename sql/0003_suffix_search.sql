-- Wildcard searches that start with a wildcard and end with literal characters (`*5662`, what a
-- witness remembers of a plate) read a B-tree over the reversed key, index-only, instead of
-- the trigram index plus a heap read per hit (10 M passages: p99 186 ms before).
CREATE INDEX plate_reads_key_reversed ON plate_reads
    (reverse(plate_key) COLLATE "C", best_at, passage_id) INCLUDE (rank, plate_key, camera_id);
