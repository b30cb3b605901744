//! Finding the primary: matthan writes on every path (the writer, the audit row of every API
//! request), so it only ever connects to a read-write server, and says plainly when none of the
//! database's hosts is one.
//!
//! Owns the connection settings that make this so (`target_session_attrs=read-write`, keepalives
//! that notice a vanished host) and the explanation of a failed connection: when no host of a
//! (multi-host) connection string answers as a primary, each host is asked on its own whether
//! it answers and whether it is a read-only standby (`pg_is_in_recovery()`), and when one is,
//! the error names them all. It never picks, promotes or fences a server: failover is PostgreSQL's
//! (`pg_ctl promote`) or the operator's.

use std::time::Duration;

use tokio_postgres::config::{Host, TargetSessionAttrs};
use tokio_postgres::{Config, NoTls};

use super::StoreError;

/// What one host of the connection string is, asked on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostState {
    /// A read-write primary.
    Primary,
    /// A hot standby (in recovery): it answers, but takes no writes.
    Standby,
    /// No connection could be made, or the question failed: why.
    Unreachable(String),
}

/// Makes `config` fit for the log: read-write sessions only (a standby is refused at connect
/// time, so no write ever lands on one), and TCP keepalives and a user timeout short enough
/// that a connection to a host that vanished without closing it fails within about a minute
/// instead of hanging (settings given in the URL are kept).
pub(crate) fn for_writing(config: &mut Config) {
    config.target_session_attrs(TargetSessionAttrs::ReadWrite);
    // tokio-postgres's defaults: two hours idle, no user timeout.
    if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(Duration::from_secs(30));
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(Duration::from_secs(10));
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(3);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(30));
    }
}

/// Whether a failed connection may be for want of a primary (no host answered, or the last
/// one was a standby), rather than a refusal by the server (a bad password, no such database).
pub(crate) fn is_connect_failure(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_none()
        && std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
}

/// Each host of `config` as `host:port` (or the socket folder and port), with settings to
/// connect to it alone, in any session mode.
pub fn hosts(config: &Config) -> Vec<(String, Config)> {
    let count = config.get_hosts().len().max(config.get_hostaddrs().len());
    (0..count)
        .map(|i| {
            let port = config
                .get_ports()
                .get(i)
                .or(config.get_ports().first())
                .copied()
                .unwrap_or(5432);
            let mut one = Config::new();
            let mut name = String::new();
            match config.get_hosts().get(i) {
                Some(Host::Tcp(h)) => {
                    one.host(h);
                    name = h.clone();
                }
                Some(Host::Unix(path)) => {
                    one.host_path(path);
                    name = path.display().to_string();
                }
                None => {}
            }
            // The address connected to, when given, is what the message names.
            if let Some(addr) = config.get_hostaddrs().get(i) {
                one.hostaddr(*addr);
                name = addr.to_string();
            }
            one.port(port);
            if let Some(user) = config.get_user() {
                one.user(user);
            }
            if let Some(password) = config.get_password() {
                one.password(password);
            }
            if let Some(db) = config.get_dbname() {
                one.dbname(db);
            }
            if let Some(app) = config.get_application_name() {
                one.application_name(app);
            }
            one.connect_timeout(
                config
                    .get_connect_timeout()
                    .copied()
                    .unwrap_or(Duration::from_secs(5)),
            );
            (format!("{name}:{port}"), one)
        })
        .collect()
}

/// Asks one host whether it answers and whether it is a standby.
async fn ask(config: &Config) -> HostState {
    let (client, connection) = match config.connect(NoTls).await {
        Ok(c) => c,
        Err(e) => return HostState::Unreachable(reason(&e)),
    };
    let pump = tokio::spawn(connection);
    let in_recovery = match client.query_one("SELECT pg_is_in_recovery()", &[]).await {
        Ok(row) => row.try_get::<_, bool>(0),
        Err(e) => Err(e),
    };
    let state = match in_recovery {
        Ok(true) => HostState::Standby,
        Ok(false) => HostState::Primary,
        Err(e) => HostState::Unreachable(reason(&e)),
    };
    drop(client);
    pump.abort();
    state
}

/// The innermost reason of a connection error ("Connection refused (os error 111)").
fn reason(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_else(|| e.to_string()),
    }
}

/// The error for a connection to `config` that failed with `e`: [`StoreError::NoPrimary`]
/// naming every host when a standby answers but no primary does; else the pool's error as it
/// was (no server answers at all: the database is down; or a primary answers now: it came up
/// meanwhile).
pub(crate) async fn explain(config: &Config, e: tokio_postgres::Error) -> StoreError {
    let mut states = Vec::new();
    for (name, one) in hosts(config) {
        states.push((name, ask(&one).await));
    }
    let standby = states.iter().any(|(_, s)| *s == HostState::Standby);
    let primary = states.iter().any(|(_, s)| *s == HostState::Primary);
    if standby && !primary {
        return StoreError::NoPrimary(describe(&states));
    }
    StoreError::Pool(e.to_string())
}

/// Says what each host is, standbys first: "the database at 10.0.0.2:5432 is a read-only
/// standby; 10.0.0.1:5432 does not answer (Connection refused)".
pub fn describe(states: &[(String, HostState)]) -> String {
    let mut parts: Vec<String> = states
        .iter()
        .filter(|(_, s)| *s == HostState::Standby)
        .map(|(h, _)| format!("the database at {h} is a read-only standby"))
        .collect();
    parts.extend(states.iter().filter_map(|(h, s)| match s {
        HostState::Unreachable(why) => Some(format!("{h} does not answer ({why})")),
        _ => None,
    }));
    if parts.is_empty() {
        return "no database host is given".to_string();
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_of_a_multi_host_url_is_asked_on_its_own() {
        let config: Config =
            "postgresql://matthan:pw@db1:5433,db2:5434/log?target_session_attrs=read-write"
                .parse()
                .unwrap();
        let hosts = hosts(&config);
        let names: Vec<&str> = hosts.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["db1:5433", "db2:5434"]);
        let (_, second) = &hosts[1];
        assert_eq!(second.get_hosts(), &[Host::Tcp("db2".into())]);
        assert_eq!(second.get_ports(), &[5434]);
        assert_eq!(second.get_user(), Some("matthan"));
        assert_eq!(second.get_dbname(), Some("log"));
        assert_eq!(second.get_target_session_attrs(), TargetSessionAttrs::Any);
    }

    #[test]
    fn one_port_serves_every_host_and_sockets_are_named_by_folder() {
        let config: Config = "host=/run/pg,db2 port=5432 user=u".parse().unwrap();
        let names: Vec<String> = hosts(&config).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["/run/pg:5432", "db2:5432"]);
    }

    #[test]
    fn writing_sessions_refuse_standbys_and_notice_dead_hosts() {
        let mut config: Config = "host=a,b user=u keepalives_idle=90".parse().unwrap();
        for_writing(&mut config);
        assert_eq!(
            config.get_target_session_attrs(),
            TargetSessionAttrs::ReadWrite
        );
        assert_eq!(config.get_hosts().len(), 2);
        // Given in the URL: kept.
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(90));
        assert_eq!(
            config.get_tcp_user_timeout(),
            Some(&Duration::from_secs(30))
        );
    }

    #[test]
    fn the_explanation_names_the_standby_and_the_silent_host() {
        let text = describe(&[
            (
                "10.0.0.1:5432".into(),
                HostState::Unreachable("Connection refused (os error 111)".into()),
            ),
            ("10.0.0.2:5432".into(), HostState::Standby),
        ]);
        assert_eq!(
            text,
            "the database at 10.0.0.2:5432 is a read-only standby; 10.0.0.1:5432 does not \
             answer (Connection refused (os error 111))"
        );
    }
}
