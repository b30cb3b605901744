-- What a passage knows beyond its plate: partial plate reads, and the spans in which the
-- vehicle went unseen.
--
-- Partial plate reads: a passage whose every read was only a piece of a plate (one line of a
-- two-line plate, a half-visible plate: `5919`, `N8100`) has no plate key; the piece is kept
-- here instead, with its vote confidence. It is never a plate: it has no `plate_reads` rows,
-- so plate search, fuzzy search and watchlist alerts do not see it, and counts (which count
-- vehicles, not plates) are unchanged. The writer sets at most one of `plate_key` and
-- `partial_plate`; no CHECK says so, because adding one would scan every month of passages
-- under an exclusive lock.
--
-- Unseen spans: when a vehicle's track broke (occluded, the detector lost it) and a later
-- track with the same plate continued it, the passage is one passage with gaps. `gaps` holds
-- each span, from the last sighting before it to the first after it, both included
-- (`[from, to]`), in time order; `unseen_ms` is their total length in milliseconds, so
-- "passages unseen for over 2 s" is a plain filter. Both are NULL for a passage without a gap
-- (most of them, and every passage logged before this migration); the number of gaps is
-- `cardinality(gaps)`, so it has no column of its own. The writer sets both or neither, from
-- the same spans; as above, no CHECK says so.
--
-- Nullable columns without a default: adding them changes only the catalog.
ALTER TABLE passages
    ADD COLUMN partial_plate text COLLATE "C",
    ADD COLUMN partial_confidence real,
    ADD COLUMN gaps tstzrange[],
    ADD COLUMN unseen_ms integer;
