//! A private PostgreSQL cluster for users without a database server: `initdb` and `pg_ctl`
//! from the installed PostgreSQL, data under the state directory, Unix socket only.
//!
//! Owns: finding the PostgreSQL programs, creating the cluster once, starting it (or joining
//! one another matthan process already started), and stopping it when this process started it.
//!
//! PostgreSQL refuses to run as root. When matthan runs as root, the cluster runs as the
//! `postgres` system user (created by Debian's package) through `runuser`, and its files are
//! owned by that user. If `postgres` cannot reach the state directory (a checkout under
//! `/root`, which is private), the data goes to `/var/lib/matthan/` instead, and the log says so.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use super::StoreError;

/// Database and superuser name inside the private cluster.
pub const DB_NAME: &str = "matthan";

/// Longest Unix socket path the kernel accepts (including the file name).
const MAX_SOCKET_PATH: usize = 100;

/// A running private cluster.
#[derive(Debug)]
pub struct PrivateCluster {
    /// Folder with the PostgreSQL programs (`initdb`, `pg_ctl`).
    bin_dir: PathBuf,
    /// The cluster's data directory.
    data_dir: PathBuf,
    /// Folder holding the server's Unix socket.
    socket_dir: PathBuf,
    /// System user the server runs as when we are root (`postgres`), else `None` (ourselves).
    run_as: Option<String>,
    /// Whether this process started the server (and so stops it).
    started_here: bool,
}

fn cluster_error(what: impl std::fmt::Display) -> StoreError {
    StoreError::Cluster(what.to_string())
}

/// The folder with `initdb` and `pg_ctl`: `$MATTHAN_PG_BIN`, else the newest
/// `/usr/lib/postgresql/*/bin`, else the first `initdb` on `PATH`.
pub fn find_bin_dir() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os("MATTHAN_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .ok_or_else(|| {
            cluster_error(
                "no PostgreSQL programs found (initdb, pg_ctl): install Debian's `postgresql` \
                 package (make setup) or set DATABASE_URL",
            )
        })
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Where the cluster of `state_dir` lives when the `postgres` user cannot reach it.
fn fallback_data_dir(state_dir: &Path) -> PathBuf {
    let tag: String = Sha256::digest(state_dir.to_string_lossy().as_bytes())
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect();
    PathBuf::from(format!("/var/lib/matthan/postgres-{tag}"))
}

/// The folder of the server's socket: the data directory, or one under the temp folder when
/// the socket's path would be too long.
fn socket_dir_for(data_dir: &Path) -> PathBuf {
    if data_dir.as_os_str().len() + ".s.PGSQL.5432".len() + 1 > MAX_SOCKET_PATH {
        return std::env::temp_dir().join(format!(
            "matthan-pg-{}",
            data_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
    }
    data_dir.to_path_buf()
}

/// Connection settings for the cluster whose socket is in `socket_dir`.
fn socket_config(socket_dir: &Path) -> tokio_postgres::Config {
    let mut c = tokio_postgres::Config::new();
    c.host_path(socket_dir)
        .port(5432)
        .user(DB_NAME)
        .dbname(DB_NAME);
    c
}

/// The private clusters that exist for `state_dir` (its `postgres` folder, or the one under
/// `/var/lib/matthan` used when `postgres` could not reach it), each with the settings to
/// connect to it if it runs. Creates and starts nothing (`matthan check`).
pub fn existing(state_dir: &Path) -> Vec<(PathBuf, tokio_postgres::Config)> {
    let Ok(state_dir) = state_dir.canonicalize() else {
        return Vec::new();
    };
    [state_dir.join("postgres"), fallback_data_dir(&state_dir)]
        .into_iter()
        .filter(|d| d.is_dir())
        .map(|d| {
            let config = socket_config(&socket_dir_for(&d));
            (d, config)
        })
        .collect()
}

impl PrivateCluster {
    /// Creates the cluster under `state_dir/postgres` if it does not exist, and starts it
    /// unless it already runs.
    pub fn start(state_dir: &Path) -> Result<PrivateCluster, StoreError> {
        let bin_dir = find_bin_dir()?;
        std::fs::create_dir_all(state_dir).map_err(|e| {
            cluster_error(format!(
                "cannot create state dir {}: {e}",
                state_dir.display()
            ))
        })?;
        let state_dir = state_dir
            .canonicalize()
            .map_err(|e| cluster_error(format!("{}: {e}", state_dir.display())))?;
        let run_as = running_as_root().then(|| "postgres".to_string());
        let mut data_dir = state_dir.join("postgres");
        if let Some(user) = &run_as {
            if !user_can_reach(user, &state_dir) {
                data_dir = fallback_data_dir(&state_dir);
                tracing::warn!(
                    "user {user} cannot reach {}; the private cluster lives in {} instead",
                    state_dir.display(),
                    data_dir.display()
                );
            }
        }
        let socket_dir = socket_dir_for(&data_dir);
        let mut cluster = PrivateCluster {
            bin_dir,
            data_dir,
            socket_dir,
            run_as,
            started_here: false,
        };
        cluster.init_if_needed()?;
        if cluster.is_running() {
            tracing::info!(
                "joining the private cluster already running in {}",
                cluster.data_dir.display()
            );
        } else {
            cluster.run_server()?;
            cluster.started_here = true;
        }
        cluster.ensure_database()?;
        Ok(cluster)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Connection settings for the cluster's database, over its Unix socket.
    pub fn client_config(&self) -> tokio_postgres::Config {
        socket_config(&self.socket_dir)
    }

    /// A `key=value` connection string for the cluster (for `psql` and friends).
    pub fn connection_string(&self) -> String {
        format!(
            "host={} port=5432 user={DB_NAME} dbname={DB_NAME}",
            self.socket_dir.display()
        )
    }

    /// Runs a PostgreSQL program as the cluster's user.
    fn program(&self, name: &str) -> Command {
        let exe = self.bin_dir.join(name);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        }
    }

    fn run(&self, mut cmd: Command, what: &str) -> Result<Output, StoreError> {
        let out = cmd
            .output()
            .map_err(|e| cluster_error(format!("cannot run {what}: {e}")))?;
        if !out.status.success() {
            return Err(cluster_error(format!(
                "{what} failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            )));
        }
        Ok(out)
    }

    fn chown_to_cluster_user(&self, path: &Path) -> Result<(), StoreError> {
        if let Some(user) = &self.run_as {
            let mut c = Command::new("chown");
            c.arg("-R").arg(format!("{user}:{user}")).arg(path);
            self.run(c, "chown")?;
        }
        Ok(())
    }

    fn init_if_needed(&self) -> Result<(), StoreError> {
        if self.socket_dir != self.data_dir {
            std::fs::create_dir_all(&self.socket_dir)
                .map_err(|e| cluster_error(format!("{}: {e}", self.socket_dir.display())))?;
            self.chown_to_cluster_user(&self.socket_dir)?;
        }
        if self.data_dir.join("PG_VERSION").exists() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.data_dir)
            .map_err(|e| cluster_error(format!("{}: {e}", self.data_dir.display())))?;
        self.chown_to_cluster_user(&self.data_dir)?;
        tracing::warn!(
            "no DATABASE_URL: creating a private PostgreSQL cluster in {}",
            self.data_dir.display()
        );
        let mut initdb = self.program("initdb");
        initdb.arg("-D").arg(&self.data_dir).args([
            "-U",
            DB_NAME,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        self.run(initdb, "initdb")?;
        // Unix socket only, in our own folder; fsync stays on: the log is evidence.
        let settings = format!(
            "\n# matthan private cluster\nlisten_addresses = ''\nunix_socket_directories = '{}'\n\
             port = 5432\nmax_connections = 60\nshared_buffers = 256MB\n",
            self.socket_dir.display().to_string().replace('\'', "''")
        );
        let conf = self.data_dir.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf)
            .map_err(|e| cluster_error(format!("{}: {e}", conf.display())))?;
        text.push_str(&settings);
        std::fs::write(&conf, text).map_err(|e| cluster_error(format!("{}: {e}", conf.display())))
    }

    fn is_running(&self) -> bool {
        let mut c = self.program("pg_ctl");
        c.arg("status").arg("-D").arg(&self.data_dir);
        c.output().is_ok_and(|o| o.status.success())
    }

    fn run_server(&self) -> Result<(), StoreError> {
        let log = self.data_dir.join("server.log");
        let mut c = self.program("pg_ctl");
        c.arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60"]);
        self.run(c, "pg_ctl start")
            .map_err(|e| cluster_error(format!("{e} (server log: {})", log.display())))?;
        Ok(())
    }

    fn ensure_database(&self) -> Result<(), StoreError> {
        let psql = self.bin_dir.join("psql");
        let mut c = Command::new(psql);
        c.arg("-h")
            .arg(&self.socket_dir)
            .args(["-U", DB_NAME, "-d", "postgres", "-tAc"])
            .arg(format!(
                "SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'"
            ));
        let out = self.run(c, "psql")?;
        if String::from_utf8_lossy(&out.stdout).trim() != "1" {
            let mut c = Command::new(self.bin_dir.join("createdb"));
            c.arg("-h")
                .arg(&self.socket_dir)
                .args(["-U", DB_NAME, DB_NAME]);
            self.run(c, "createdb")?;
        }
        Ok(())
    }

    /// Stops the server if this process started it (fast shutdown: clients are disconnected,
    /// committed data is safe).
    pub fn stop(self) {
        if !self.started_here {
            return;
        }
        let mut c = self.program("pg_ctl");
        c.arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", "fast", "-w"]);
        if let Err(e) = self.run(c, "pg_ctl stop") {
            tracing::error!("{e}");
        }
    }
}

/// Whether `user` can enter `dir` (every parent must let it through).
fn user_can_reach(user: &str, dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(dir)
        .output()
        .is_ok_and(|o| o.status.success())
}
