//! The audit log: appending one row per authenticated request, and reading it back with
//! filters or by what the rows touched. Statements on `audit_log`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio_postgres::Client;

use crate::store::StoreError;

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
    Ok(rows.iter().map(audit_from_row).collect())
}

/// The rows about `target`, oldest first: those whose target is `target`, or `target` and
/// more after a space (`passage:7 evidence sha256:…`). The newest `limit` of them.
pub async fn audit_of_target(
    client: &Client,
    target: &str,
    limit: i64,
) -> Result<Vec<AuditView>, StoreError> {
    let rows = client
        .query(
            "SELECT * FROM (
                 SELECT id, at, user_name, role, action, method, path, params, reason, target,
                        status, client
                 FROM audit_log
                 WHERE target = $1 OR starts_with(target, $1 || ' ')
                 ORDER BY id DESC LIMIT $2) newest
             ORDER BY id",
            &[&target, &limit],
        )
        .await?;
    Ok(rows.iter().map(audit_from_row).collect())
}

fn audit_from_row(r: &tokio_postgres::Row) -> AuditView {
    AuditView {
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
    }
}
