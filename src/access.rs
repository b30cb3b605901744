//! Who may do what: roles, the rule of each API route, tokens and password hashes.
//!
//! Owns the pure part of access control (no I/O): [`Role`]s nest (viewer < investigator <
//! admin); [`rule_for`] says which role each route needs and what its audit action is called;
//! tokens are 256 random bits shown once and stored as SHA-256; passwords are hashed with
//! argon2id. The database side lives in `store::trust`, the HTTP side in `api::guard`.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use sha2::{Digest, Sha256};

/// Errors of access control.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// Not one of viewer, investigator, admin.
    #[error("unknown role `{0}` (one of viewer, investigator, admin)")]
    UnknownRole(String),
    /// A user name outside `[A-Za-z0-9._-]{1,64}`.
    #[error("user name must be 1 to 64 letters, digits, `.`, `_` or `-`")]
    BadName,
    /// A password too short to be worth hashing.
    #[error("password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    /// The system's random source failed.
    #[error("no randomness: {0}")]
    Random(String),
    /// argon2 refused (never for valid input).
    #[error("password hash: {0}")]
    Hash(String),
}

/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 8;

/// Prefix of every token, so a leaked one is recognisable in logs and scanners.
pub const TOKEN_PREFIX: &str = "mth_";

/// A user's role. Ordered: each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Searches plates, views passages and snapshots, counts, alerts.
    Viewer,
    /// And lists, plays and exports clips, and exports evidence packages.
    Investigator,
    /// And manages users and the watchlist, and reads the audit log.
    Admin,
}

impl Role {
    /// Parses `viewer`, `investigator` or `admin`.
    pub fn parse(s: &str) -> Result<Role, AccessError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "investigator" => Ok(Role::Investigator),
            "admin" => Ok(Role::Admin),
            other => Err(AccessError::UnknownRole(other.to_string())),
        }
    }

    /// The name stored in `users.role`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Investigator => "investigator",
            Role::Admin => "admin",
        }
    }
}

/// Whether `name` is an acceptable user name (the same rule as the table's CHECK).
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteRule {
    /// The least role allowed; `None` = anyone (only the login).
    pub role: Option<Role>,
    /// The audit log's name for the request.
    pub action: &'static str,
}

/// The rule of an API route, by method and the route's pattern (axum's `MatchedPath`, or the
/// raw path when no route matched). Every `/api` route is here; an unknown one needs a viewer
/// (so probing for routes without a token is a 401, not a 404).
pub fn rule_for(method: &str, route: &str) -> RouteRule {
    use Role::*;
    let (role, action) = match (method, route) {
        ("POST", "/api/login") => (None, "login"),
        ("POST", "/api/logout") => (Some(Viewer), "logout"),
        (_, "/api/me") => (Some(Viewer), "me"),
        (_, "/api/passages") => (Some(Viewer), "search"),
        (_, "/api/passages/{id}") => (Some(Viewer), "passage_view"),
        (_, "/api/passages/{id}/snapshot.jpg") => (Some(Viewer), "snapshot"),
        (_, "/api/counts") => (Some(Viewer), "counts"),
        (_, "/api/corridor") => (Some(Viewer), "corridor"),
        (_, "/api/companions") => (Some(Investigator), "companions"),
        (_, "/api/cameras") => (Some(Viewer), "cameras"),
        (_, "/api/junctions") => (Some(Viewer), "junctions"),
        (_, "/api/nodes") => (Some(Viewer), "nodes"),
        (_, "/api/alerts") => (Some(Viewer), "alerts"),
        (_, "/api/alerts/stream") => (Some(Viewer), "alert_stream"),
        (_, "/api/openapi.json") => (Some(Viewer), "openapi"),
        (_, "/api/clips") => (Some(Investigator), "clips"),
        (_, "/api/clips/{id}/video") => (Some(Investigator), "clip_video"),
        (_, "/api/clips/export") => (Some(Investigator), "clip_export"),
        (_, "/api/passages/{id}/evidence") => (Some(Investigator), "evidence_export"),
        (_, "/api/evidence/key") => (Some(Viewer), "evidence_key"),
        ("POST", "/api/watchlist") => (Some(Admin), "watch_add"),
        (_, "/api/watchlist") => (Some(Admin), "watchlist"),
        (_, "/api/watchlist/{id}") => (Some(Admin), "watch_remove"),
        ("POST", "/api/users") => (Some(Admin), "user_add"),
        (_, "/api/users") => (Some(Admin), "users"),
        (_, "/api/audit") => (Some(Admin), "audit"),
        _ => (Some(Viewer), "unknown"),
    };
    RouteRule { role, action }
}

/// A new token: the secret to show once, and the hash to store.
pub struct NewToken {
    /// `mth_` and 64 hex digits; never stored.
    pub secret: String,
    /// SHA-256 of the secret; what `api_tokens` keeps.
    pub sha256: Vec<u8>,
}

/// Makes a token from the system's random source.
pub fn new_token() -> Result<NewToken, AccessError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AccessError::Random(e.to_string()))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let secret = format!("{TOKEN_PREFIX}{hex}");
    let sha256 = token_hash(&secret);
    Ok(NewToken { secret, sha256 })
}

/// The stored form of a token.
pub fn token_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Whether `s` is shaped like a token (checked before any lookup).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == TOKEN_PREFIX.len() + 64
        && s.starts_with(TOKEN_PREFIX)
        && s[TOKEN_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

/// An argon2id hash (PHC string) of `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, AccessError> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(AccessError::WeakPassword);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AccessError::Random(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AccessError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::Hash(e.to_string()))
}

/// Whether `password` matches the stored `hash`; a malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A reason given with a request: trimmed, 3 to 500 characters.
pub fn check_reason(raw: Option<&str>) -> Result<String, &'static str> {
    let reason = raw.map(str::trim).unwrap_or("");
    match reason.chars().count() {
        0 => Err("is required: say why (a case or report number, or what you are looking for)"),
        1..=2 => {
            Err("is too short: say why (a case or report number, or what you are looking for)")
        }
        501.. => Err("is longer than 500 characters"),
        _ => Ok(reason.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_nest() {
        assert!(Role::Viewer < Role::Investigator && Role::Investigator < Role::Admin);
        for r in [Role::Viewer, Role::Investigator, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()).unwrap(), r);
        }
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn routes_need_the_right_role() {
        assert_eq!(rule_for("POST", "/api/login").role, None);
        assert_eq!(rule_for("GET", "/api/passages").role, Some(Role::Viewer));
        assert_eq!(
            rule_for("GET", "/api/clips/export").role,
            Some(Role::Investigator)
        );
        assert_eq!(rule_for("GET", "/api/clips/export").action, "clip_export");
        let evidence = rule_for("GET", "/api/passages/{id}/evidence");
        assert_eq!(evidence.role, Some(Role::Investigator));
        assert_eq!(evidence.action, "evidence_export");
        assert_eq!(
            rule_for("GET", "/api/evidence/key").role,
            Some(Role::Viewer)
        );
        assert_eq!(
            rule_for("GET", "/api/clips/{id}/video").role,
            Some(Role::Investigator)
        );
        assert_eq!(rule_for("POST", "/api/watchlist").role, Some(Role::Admin));
        assert_eq!(
            rule_for("DELETE", "/api/watchlist/{id}").action,
            "watch_remove"
        );
        assert_eq!(rule_for("GET", "/api/audit").role, Some(Role::Admin));
        assert_eq!(rule_for("GET", "/api/nodes").role, Some(Role::Viewer));
        // A GET on the login route is not the login.
        assert_eq!(rule_for("GET", "/api/login").role, Some(Role::Viewer));
        assert_eq!(rule_for("GET", "/api/nothing/here").action, "unknown");
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a.secret, b.secret);
        assert!(looks_like_token(&a.secret));
        assert_eq!(a.sha256, token_hash(&a.secret));
        assert_eq!(a.sha256.len(), 32);
        assert!(!looks_like_token("mth_xyz"));
        assert!(!looks_like_token(&a.secret.replace("mth_", "abc_")));
    }

    #[test]
    fn passwords_verify_only_themselves() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("correct horse", "not a hash"));
        assert!(matches!(
            hash_password("short"),
            Err(AccessError::WeakPassword)
        ));
    }

    #[test]
    fn names_and_reasons() {
        assert!(valid_name("officer.nguyen-2"));
        assert!(!valid_name("") && !valid_name("a b") && !valid_name(&"x".repeat(65)));
        assert!(check_reason(None).is_err());
        assert!(check_reason(Some("  ")).is_err());
        assert!(check_reason(Some("ab")).is_err());
        assert_eq!(
            check_reason(Some(" case 17/2026 ")).unwrap(),
            "case 17/2026"
        );
        assert!(check_reason(Some(&"x".repeat(501))).is_err());
    }
}
