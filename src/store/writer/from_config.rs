//! The writer's settings from the configuration file.
//!
//! Owns only the mapping `config` → [`WriterSettings`]: batches the database cannot take are
//! spooled under the state folder; every other setting keeps its default.

use super::WriterSettings;
use crate::config::Config;

impl WriterSettings {
    /// The writer of a process logging with `cfg`: its spool is `<state_dir>/spool`.
    pub fn from_config(cfg: &Config) -> WriterSettings {
        WriterSettings {
            spool_dir: Some(cfg.storage.state_dir.join("spool")),
            ..WriterSettings::default()
        }
    }
}
