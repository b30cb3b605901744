//! The commands of the `matthan` binary, one file each; `main.rs` parses the command line
//! and calls the one asked for.
//!
//! Each command file holds its flags (a `clap::Args` struct) and its `run`, and prints what
//! the command prints. What the library does (reading, ingesting, serving, the log) stays in
//! the library; these files map flags to its settings and its results to output. Errors are
//! `anyhow` here, and only here and in `main.rs`.

pub mod bench;
pub mod check;
pub mod common;
pub mod crops;
pub mod demo;
pub mod eval;
pub mod eval_video;
pub mod evidence;
pub mod ingest;
pub mod install;
pub mod make_traffic;
pub mod migrate;
pub mod models;
pub mod read;
pub mod reread;
pub mod serve;
pub mod user;
