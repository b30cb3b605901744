//! Evidence packages on a real PostgreSQL with real video: a 20 s H.264 test pattern made by
//! the ffmpeg CLI, recorded into 4 s segments by `matthan ingest`, and a passage in it. The
//! package comes from the API (and from `matthan evidence export`), decodes, verifies with
//! `matthan evidence verify`, and fails naming the file when one byte of the clip or of the
//! manifest changes, or when another key signed it. Refusals (viewer, no reason, no such
//! passage) and files that are no package are clear errors that leave only the guard's audit
//! row and no file.
//!
//! `fixture`: the recording, the passage, the API and the command; `api`, `verify`, `cli`:
//! the tests.

#[path = "../common/mod.rs"]
mod common;

mod api;
mod cli;
mod fixture;
mod verify;
