//! Queries of access control, the audit log, the watchlist and alerts, and retention.
//!
//! Owns every statement on `users`, `api_tokens`, `audit_log`, `watchlist`, `alerts` and the
//! partition and clip deletions of retention. All parameterised; the schema is
//! `sql/0005_trust.sql`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::{Client, Row};

use super::StoreError;
use crate::access::Role;
use crate::plate::search::PlateQuery;

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

/// One audit row to append.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    /// The user, when known.
    pub user_id: Option<i64>,
    /// The name (also of a failed login).
    pub user_name: Option<String>,
    /// The role at the time.
    pub role: Option<String>,
    /// What was done (`access::rule_for`).
    pub action: String,
    /// HTTP method.
    pub method: String,
    /// Request path (without the query).
    pub path: String,
    /// The query parameters, as a JSON object.
    pub params: serde_json::Value,
    /// The reason given.
    pub reason: Option<String>,
    /// What was touched, when known.
    pub target: Option<String>,
    /// The answer's status.
    pub status: i16,
    /// The client's address.
    pub client: Option<String>,
}

/// Appends an audit row; returns its id.
pub async fn append_audit(client: &Client, e: &AuditEntry) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            "INSERT INTO audit_log (user_id, user_name, role, action, method, path, params,
                 reason, target, status, client)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
            &[
                &e.user_id,
                &e.user_name,
                &e.role,
                &e.action,
                &e.method,
                &e.path,
                &e.params,
                &e.reason,
                &e.target,
                &e.status,
                &e.client,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// An audit row as shown to admins.
#[derive(Debug, Clone, Serialize)]
pub struct AuditView {
    /// Id (rows are numbered in the order written).
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub user: Option<String>,
    /// Their role.
    pub role: Option<String>,
    /// What.
    pub action: String,
    /// Method and path.
    pub method: String,
    /// Path.
    pub path: String,
    /// Parameters.
    pub params: serde_json::Value,
    /// Why.
    pub reason: Option<String>,
    /// What was touched.
    pub target: Option<String>,
    /// Answer status.
    pub status: i16,
    /// Client address.
    pub client: Option<String>,
}

/// Filters of an audit query.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this user.
    pub user: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// From this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only rows older than this id (the page cursor).
    pub before_id: Option<i64>,
}

/// Audit rows, newest first.
pub async fn audit(
    client: &Client,
    f: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditView>, StoreError> {
    let rows = client
        .query(
            "SELECT id, at, user_name, role, action, method, path, params, reason, target,
                    status, client
             FROM audit_log
             WHERE ($1::text IS NULL OR user_name = $1) AND ($2::text IS NULL OR action = $2)
               AND ($3::timestamptz IS NULL OR at >= $3) AND ($4::timestamptz IS NULL OR at < $4)
               AND ($5::bigint IS NULL OR id < $5)
             ORDER BY id DESC LIMIT $6",
            &[&f.user, &f.action, &f.from, &f.to, &f.before_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditView {
            id: r.get(0),
            at: r.get(1),
            user: r.get(2),
            role: r.get(3),
            action: r.get(4),
            method: r.get(5),
            path: r.get(6),
            params: r.get(7),
            reason: r.get(8),
            target: r.get(9),
            status: r.get(10),
            client: r.get(11),
        })
        .collect())
}

/// A watchlist entry.
#[derive(Debug, Clone, Serialize)]
pub struct WatchView {
    /// Id.
    pub id: i64,
    /// The pattern as normalised.
    pub pattern: String,
    /// exact, wildcard or fuzzy.
    pub mode: String,
    /// Why it is watched.
    pub reason: String,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Alerts raised so far.
    pub alerts: i64,
}

/// What a watch stores for `query`: pattern, mode, match key, and (fuzzy) the folded keys it
/// matches.
pub fn watch_columns(query: &PlateQuery) -> (String, &'static str, String, Option<Vec<String>>) {
    match query {
        PlateQuery::Exact(key) => (key.clone(), "exact", key.clone(), None),
        PlateQuery::Wildcard { pattern, like } => (pattern.clone(), "wildcard", like.clone(), None),
        PlateQuery::Fuzzy { key, folded_keys } => {
            (key.clone(), "fuzzy", key.clone(), Some(folded_keys.clone()))
        }
    }
}

/// Adds a watch with its match keys, in one transaction; returns its id.
pub async fn add_watch(
    client: &mut Client,
    query: &PlateQuery,
    reason: &str,
    created_by: &str,
) -> Result<i64, StoreError> {
    let (pattern, mode, match_key, folded) = watch_columns(query);
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO watchlist (pattern, mode, match_key, reason, created_by)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&pattern, &mode, &match_key, &reason, &created_by],
        )
        .await?;
    let id: i64 = row.get(0);
    let (kind, keys) = match (mode, folded) {
        ("exact", _) => ("key", vec![match_key.clone()]),
        (_, Some(folded)) => ("folded", folded),
        _ => ("key", Vec::new()),
    };
    tx.execute(
        "INSERT INTO watch_keys (watch_id, kind, key)
         SELECT $1, $2, k FROM unnest($3::text[]) AS k ON CONFLICT DO NOTHING",
        &[&id, &kind, &keys],
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Ends a watch (kept, with who removed it). False when no live watch has that id.
pub async fn remove_watch(client: &Client, id: i64, removed_by: &str) -> Result<bool, StoreError> {
    let n = client
        .execute(
            "UPDATE watchlist SET removed_at = now(), removed_by = $2
             WHERE id = $1 AND removed_at IS NULL",
            &[&id, &removed_by],
        )
        .await?;
    Ok(n == 1)
}

/// The live watches.
pub async fn watchlist(client: &Client) -> Result<Vec<WatchView>, StoreError> {
    let rows = client
        .query(
            "SELECT w.id, w.pattern, w.mode, w.reason, w.created_by, w.created_at,
                    (SELECT count(*) FROM alerts a WHERE a.watch_id = w.id)
             FROM watchlist w WHERE w.removed_at IS NULL ORDER BY w.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| WatchView {
            id: r.get(0),
            pattern: r.get(1),
            mode: r.get(2),
            reason: r.get(3),
            created_by: r.get(4),
            created_at: r.get(5),
            alerts: r.get(6),
        })
        .collect())
}

/// An alert as shown and pushed.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AlertView {
    /// Id; also the SSE event id.
    pub id: i64,
    /// The watch it matched.
    pub watch_id: i64,
    /// The watch's pattern.
    pub pattern: String,
    /// Its mode.
    pub mode: String,
    /// Why the plate is watched.
    pub reason: String,
    /// The passage.
    pub passage_id: i64,
    /// When the vehicle passed.
    pub best_at: DateTime<Utc>,
    /// Where.
    pub camera: String,
    /// The candidate that matched.
    pub plate_key: String,
    /// Its rank among the passage's candidates (1 = the voted plate).
    pub rank: i16,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
}

/// The columns [`alert_view`] reads, in its order.
const ALERT_COLUMNS: &str = "a.id, a.watch_id, w.pattern, w.mode, w.reason, a.passage_id,
       a.best_at, c.name, a.plate_key, a.rank, a.raised_at";

/// Alerts with their watch and camera.
const ALERT_FROM: &str =
    "FROM alerts a JOIN watchlist w ON w.id = a.watch_id JOIN cameras c ON c.id = a.camera_id";

fn alert_view(r: &Row) -> AlertView {
    AlertView {
        id: r.get(0),
        watch_id: r.get(1),
        pattern: r.get(2),
        mode: r.get(3),
        reason: r.get(4),
        passage_id: r.get(5),
        best_at: r.get(6),
        camera: r.get(7),
        plate_key: r.get(8),
        rank: r.get(9),
        raised_at: r.get(10),
    }
}

/// Alerts with id above `after_id`, oldest first (what an SSE client missed), at most `limit`.
pub async fn alerts_after(
    client: &Client,
    after_id: i64,
    limit: i64,
) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.id > $1 ORDER BY a.id LIMIT $2");
    let rows = client.query(&sql, &[&after_id, &limit]).await?;
    Ok(rows.iter().map(alert_view).collect())
}

/// The newest alerts, newest first.
pub async fn recent_alerts(client: &Client, limit: i64) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} ORDER BY a.id DESC LIMIT $1");
    let rows = client.query(&sql, &[&limit]).await?;
    Ok(rows.iter().map(alert_view).collect())
}

/// Alerts whose webhook delivery is due, oldest first, each with the attempts made so far.
pub async fn alerts_due_for_webhook(
    client: &Client,
    max_attempts: i32,
    limit: i64,
) -> Result<Vec<(AlertView, i32)>, StoreError> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS}, a.webhook_attempts {ALERT_FROM}
         WHERE a.webhook_done_at IS NULL AND a.webhook_next_at <= now()
           AND a.webhook_attempts < $1 ORDER BY a.id LIMIT $2"
    );
    let rows = client.query(&sql, &[&max_attempts, &limit]).await?;
    Ok(rows.iter().map(|r| (alert_view(r), r.get(11))).collect())
}

/// Records a webhook attempt: delivered, or failed with the next try after `retry_in_s`.
pub async fn webhook_attempted(
    client: &Client,
    alert_id: i64,
    result: Result<(), String>,
    retry_in_s: f64,
) -> Result<(), StoreError> {
    match result {
        Ok(()) => {
            client
                .execute(
                    "UPDATE alerts SET webhook_attempts = webhook_attempts + 1,
                         webhook_done_at = now(), webhook_error = NULL WHERE id = $1",
                    &[&alert_id],
                )
                .await?
        }
        Err(e) => {
            client
                .execute(
                    "UPDATE alerts SET webhook_attempts = webhook_attempts + 1, webhook_error = $2,
                         webhook_next_at = now() + make_interval(secs => $3) WHERE id = $1",
                    &[&alert_id, &e, &retry_in_s],
                )
                .await?
        }
    };
    Ok(())
}

/// A clip segment retention may delete.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredClip {
    /// Row id.
    pub id: i64,
    /// File.
    pub path: String,
    /// Size.
    pub bytes: i64,
    /// End of its recording.
    pub ended_at: DateTime<Utc>,
}

/// Every clip segment, oldest end first.
pub async fn clips_oldest_first(client: &Client) -> Result<Vec<StoredClip>, StoreError> {
    let rows = client
        .query(
            "SELECT id, path, bytes, ended_at FROM clips ORDER BY ended_at, id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| StoredClip {
            id: r.get(0),
            path: r.get(1),
            bytes: r.get(2),
            ended_at: r.get(3),
        })
        .collect())
}

/// Forgets clip rows whose files retention deleted.
pub async fn delete_clip_rows(client: &Client, ids: &[i64]) -> Result<u64, StoreError> {
    Ok(client
        .execute("DELETE FROM clips WHERE id = ANY($1)", &[&ids])
        .await?)
}

/// Drops the passage months that end on or before `cutoff`; returns the tables dropped.
pub async fn drop_months_before(
    client: &Client,
    cutoff: DateTime<Utc>,
) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query("SELECT matthan_drop_months_before($1)", &[&cutoff])
        .await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// The alerts with these ids, oldest first.
pub async fn alerts_by_ids(client: &Client, ids: &[i64]) -> Result<Vec<AlertView>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} {ALERT_FROM} WHERE a.id = ANY($1) ORDER BY a.id");
    let rows = client.query(&sql, &[&ids]).await?;
    Ok(rows.iter().map(alert_view).collect())
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

/// Whether a live watch has this pattern and mode.
pub async fn has_watch(client: &Client, query: &PlateQuery) -> Result<bool, StoreError> {
    let (pattern, mode, _, _) = watch_columns(query);
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM watchlist
                            WHERE pattern = $1 AND mode = $2 AND removed_at IS NULL)",
            &[&pattern, &mode],
        )
        .await?;
    Ok(row.get(0))
}
