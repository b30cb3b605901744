-- Partial plate reads: a passage whose every read was only a piece of a plate (one line of a
-- two-line plate, a half-visible plate: `5919`, `N8100`) has no plate key; the piece is kept
-- here instead, with its vote confidence. It is never a plate: it has no `plate_reads` rows,
-- so plate search, fuzzy search and watchlist alerts do not see it, and counts (which count
-- vehicles, not plates) are unchanged. The writer sets at most one of `plate_key` and
-- `partial_plate`; no CHECK says so, because adding one would scan every month of passages
-- under an exclusive lock.
--
-- Nullable columns without a default: adding them changes only the catalog.
ALTER TABLE passages
    ADD COLUMN partial_plate text COLLATE "C",
    ADD COLUMN partial_confidence real;
