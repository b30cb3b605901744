-- Fuzzy search ranks its hits in the database (edit distances by fuzzystrmatch's
-- levenshtein), so every hit is ranked, not only the newest few thousand: a vehicle one edit
-- away that passes thousands of times can no longer push exact matches off the list.
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
