//! The `matthan` binary as the tests run it.

use std::process::{Command, Output};

/// The `matthan` binary with its database at `database_url` and the project's models; add the
/// command and its arguments.
pub fn matthan(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matthan"));
    cmd.env("DATABASE_URL", database_url)
        .arg("--models")
        .arg(super::model_dir());
    cmd
}

/// The `matthan` binary with the project's models and no database, for the commands that do
/// not log (`read`, `eval`, `eval-video`); add the command and its arguments.
pub fn matthan_offline() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_matthan"));
    cmd.env_remove("DATABASE_URL")
        .arg("--models")
        .arg(super::model_dir());
    cmd
}

/// Asserts that a finished command succeeded, showing its stderr when it did not.
pub fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
