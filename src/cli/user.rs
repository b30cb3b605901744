//! `matthan user …`: adds, re-keys, disables and lists the people who may use the API.
//! Tokens are printed once on stdout (stored only as hashes); passwords come from stdin.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use matthan::access::{self, Role};
use matthan::config::Config;
use matthan::store::{trust, Database};

use super::common::{load_config, Globals};

/// Flags of `matthan user`.
#[derive(clap::Args)]
pub struct UserArgs {
    #[command(subcommand)]
    action: UserAction,
    /// TOML config (for the state directory of the private cluster).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
}

/// `matthan user …`.
#[derive(Subcommand)]
enum UserAction {
    /// Add a user; prints their API token once (it is stored only as a hash).
    Add {
        /// 1 to 64 letters, digits, `.`, `_` or `-`.
        name: String,
        /// viewer (search, counts), investigator (+ clips and exports) or admin (+ users,
        /// watchlist, audit log).
        #[arg(long)]
        role: String,
        /// Read a password for the page's login from the first line of stdin (else the user
        /// has a token only).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print a new API token for a user (older tokens stay valid).
    Token {
        /// The user.
        name: String,
    },
    /// Set a user's page password from the first line of stdin.
    Password {
        /// The user.
        name: String,
    },
    /// Disable a user and revoke all their tokens.
    Disable {
        /// The user.
        name: String,
    },
    /// List users.
    List,
}

/// Runs `matthan user …` against the log.
pub fn run(globals: &Globals, args: &UserArgs) -> anyhow::Result<ExitCode> {
    let cfg = load_config(args.config.as_deref())?;
    user_command(globals, &cfg, &args.action)?;
    Ok(ExitCode::SUCCESS)
}

/// The first line of stdin, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// Reads the password (before the database opens), then runs `action` and closes the log.
fn user_command(globals: &Globals, cfg: &Config, action: &UserAction) -> anyhow::Result<()> {
    let password = match action {
        UserAction::Add {
            password_stdin: true,
            ..
        }
        | UserAction::Password { .. } => Some(access::hash_password(&read_password()?)?),
        _ => None,
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let db = Database::open(globals.database_url.as_deref(), &cfg.storage.state_dir).await?;
        let result = async {
            let mut client = db.store.client().await?;
            apply(&mut client, action, password.as_deref()).await
        }
        .await;
        db.close().await;
        result
    })
}

/// One action against the log; `password` is the hash read for `add` and `password`.
async fn apply(
    client: &mut tokio_postgres::Client,
    action: &UserAction,
    password: Option<&str>,
) -> anyhow::Result<()> {
    match action {
        UserAction::Add { name, role, .. } => add(client, name, role, password).await?,
        UserAction::Token { name } => {
            let id = trust::user_id(client, name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user named {name}"))?;
            let token = access::new_token()?;
            trust::add_token(client, id, &token.sha256, "matthan user token", None).await?;
            eprintln!("new token for {name}, shown only now:");
            println!("{}", token.secret);
        }
        UserAction::Password { name } => {
            let hash = password.unwrap_or_default();
            if !trust::set_password(client, name, hash).await? {
                anyhow::bail!("no user named {name}");
            }
            eprintln!("password of {name} set");
        }
        UserAction::Disable { name } => {
            if !trust::disable_user(client, name).await? {
                anyhow::bail!("no user named {name}");
            }
            eprintln!("{name} disabled; their tokens are revoked");
        }
        UserAction::List => list(client).await?,
    }
    Ok(())
}

/// `user add`: a new user with a first token, printed once.
async fn add(
    client: &tokio_postgres::Client,
    name: &str,
    role: &str,
    password: Option<&str>,
) -> anyhow::Result<()> {
    let role = Role::parse(role)?;
    if !access::valid_name(name) {
        anyhow::bail!(access::AccessError::BadName);
    }
    if trust::user_id(client, name).await?.is_some() {
        anyhow::bail!("a user named {name} exists (use `matthan user token {name}`)");
    }
    let id = trust::create_user(client, name, role, password).await?;
    let token = access::new_token()?;
    trust::add_token(client, id, &token.sha256, "matthan user add", None).await?;
    eprintln!(
        "user {name} ({}) added; their token, shown only now:",
        role.as_str()
    );
    println!("{}", token.secret);
    Ok(())
}

/// `user list`: name, role, how they log in, and whether they are disabled.
async fn list(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    for u in trust::users(client).await? {
        println!(
            "{:<20} {:<13} {}{}",
            u.name,
            u.role,
            if u.has_password {
                "password+token"
            } else {
                "token"
            },
            if u.disabled_at.is_some() {
                "  (disabled)"
            } else {
                ""
            }
        );
    }
    Ok(())
}
