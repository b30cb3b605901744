//! Queries of access control, the audit log, the watchlist and alerts, and retention.
//!
//! Owns every statement on `users`, `api_tokens`, `audit_log`, `watchlist`, `alerts` and the
//! partition and clip deletions of retention. All parameterised; the schema is
//! `sql/0005_trust.sql`.
//!
//! - [`users`](mod@users): users and API tokens;
//! - [`audit`](mod@audit): the audit log;
//! - [`watch`]: the watchlist, alerts and the webhook outbox;
//! - [`retention`]: clip rows and passage months retention deletes.

pub mod audit;
pub mod retention;
pub mod users;
pub mod watch;

pub use audit::{append_audit, audit, audit_of_target, AuditEntry, AuditFilter, AuditView};
pub use retention::{clips_oldest_first, delete_clip_rows, drop_months_before, StoredClip};
pub use users::{
    add_token, caller_by_token, create_user, disable_user, login_user, revoke_token, set_password,
    user_id, users, Caller, UserView,
};
pub use watch::{
    add_watch, alerts_after, alerts_by_ids, alerts_due_for_webhook, has_watch, recent_alerts,
    remove_watch, watch_columns, watchlist, webhook_attempted, AlertView, WatchView,
};
