//! Users and API tokens: creating users, logging in, tokens (stored hashed) and the caller
//! behind one, revoking, disabling, listing, setting a password. Statements on `users` and
//! `api_tokens`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use crate::access::Role;
use crate::store::StoreError;

/// The user behind a request, once its token checked out.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// `users.id`.
    pub user_id: i64,
    /// User name, for the audit log and the page.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The token used (a logout revokes this one).
    #[serde(skip)]
    pub token_id: i64,
}

/// A user as listed to admins (never with the hash).
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Role.
    pub role: String,
    /// Whether a page login is possible.
    pub has_password: bool,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When disabled, if so.
    pub disabled_at: Option<DateTime<Utc>>,
}

/// Creates a user; `password_hash` is argon2 (see `access::hash_password`).
pub async fn create_user(
    client: &Client,
    name: &str,
    role: Role,
    password_hash: Option<&str>,
) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO users (name, role, password_hash) VALUES ($1, $2, $3) RETURNING id",
            &[&name, &role.as_str(), &password_hash],
        )
        .await?;
    Ok(row.get(0))
}

/// Id, role and password hash of an enabled user, by name.
pub async fn login_user(
    client: &Client,
    name: &str,
) -> Result<Option<(i64, Role, Option<String>)>, StoreError> {
    let row = client
        .query_opt(
            "SELECT id, role, password_hash FROM users WHERE name = $1 AND disabled_at IS NULL",
            &[&name],
        )
        .await?;
    Ok(row.and_then(|r| {
        let role: String = r.get(1);
        Role::parse(&role)
            .ok()
            .map(|role| (r.get(0), role, r.get(2)))
    }))
}

/// Id of a user by name (enabled or not).
pub async fn user_id(client: &Client, name: &str) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_opt("SELECT id FROM users WHERE name = $1", &[&name])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Stores a token's hash for `user_id`.
pub async fn add_token(
    client: &Client,
    user_id: i64,
    sha256: &[u8],
    label: &str,
    expires_at: Option<DateTime<Utc>>,
) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO api_tokens (user_id, token_sha256, label, expires_at)
             VALUES ($1, $2, $3, $4) RETURNING id",
            &[&user_id, &sha256, &label, &expires_at],
        )
        .await?;
    Ok(row.get(0))
}

/// The caller holding the token with this hash, if it is live and its user enabled.
pub async fn caller_by_token(client: &Client, sha256: &[u8]) -> Result<Option<Caller>, StoreError> {
    let row = client
        .query_opt(
            "SELECT u.id, u.name, u.role, t.id
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_sha256 = $1 AND t.revoked_at IS NULL
               AND (t.expires_at IS NULL OR t.expires_at > now()) AND u.disabled_at IS NULL",
            &[&sha256],
        )
        .await?;
    Ok(row.and_then(|r| {
        let role: String = r.get(2);
        Role::parse(&role).ok().map(|role| Caller {
            user_id: r.get(0),
            name: r.get(1),
            role,
            token_id: r.get(3),
        })
    }))
}

/// Revokes one token.
pub async fn revoke_token(client: &Client, token_id: i64) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL",
            &[&token_id],
        )
        .await?;
    Ok(())
}

/// Disables a user and revokes their tokens. Returns false when there is no such user.
pub async fn disable_user(client: &mut Client, name: &str) -> Result<bool, StoreError> {
    let tx = client.transaction().await?;
    let row = tx
        .query_opt(
            "UPDATE users SET disabled_at = coalesce(disabled_at, now()) WHERE name = $1 RETURNING id",
            &[&name],
        )
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let id: i64 = row.get(0);
    tx.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        &[&id],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Every user, by name.
pub async fn users(client: &Client) -> Result<Vec<UserView>, StoreError> {
    let rows = client
        .query(
            "SELECT id, name, role, password_hash IS NOT NULL, created_at, disabled_at
             FROM users ORDER BY name",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| UserView {
            id: r.get(0),
            name: r.get(1),
            role: r.get(2),
            has_password: r.get(3),
            created_at: r.get(4),
            disabled_at: r.get(5),
        })
        .collect())
}

/// Sets (or replaces) a user's password hash and enables them. False when there is no such user.
pub async fn set_password(client: &Client, name: &str, hash: &str) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE users SET password_hash = $2, disabled_at = NULL WHERE name = $1",
            &[&name, &hash],
        )
        .await?;
    Ok(n == 1)
}
