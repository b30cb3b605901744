//! Node tokens: how one node proves to another that it belongs to the cluster when it asks
//! for a file (`Authorization: Node <token>`).
//!
//! PURE: no I/O and no clock; the caller passes the time and the secret (the log's
//! `cluster_secret`). A token is short-lived and names the node that made it:
//!
//! ```text
//! mtn1.<issuing node's name, hex>.<expiry, Unix seconds>.<HMAC-SHA256, hex>
//! ```
//!
//! The HMAC (keyed with the cluster secret) covers everything before the last dot, so the
//! version, the issuer and the expiry cannot be changed without the secret. The name is hex
//! so that any node name fits between the dots. A token is accepted until its expiry plus
//! [`CLOCK_SKEW`], and refused when its expiry lies further ahead than [`LIFETIME`] plus
//! [`CLOCK_SKEW`] (nobody in the cluster makes such a token; a long-lived one found in a log
//! must not open anything). Signatures are compared in constant time.

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a token is good for after it is made.
pub const LIFETIME: TimeDelta = TimeDelta::seconds(60);

/// How far the clocks of two nodes may disagree.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(5);

/// The format's prefix (and version).
pub const PREFIX: &str = "mtn1";

/// Longest token accepted at all (a node name of 255 bytes, with room to spare).
const MAX_TOKEN_LEN: usize = 700;

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not shaped like a node token.
    #[error("not a node token ({0})")]
    Malformed(&'static str),
    /// The signature does not match: made with another secret, or changed since.
    #[error("node token signature does not match (another cluster's secret, or altered)")]
    BadSignature,
    /// Too old.
    #[error("node token of node `{node}` expired at {expired_at}")]
    Expired {
        /// The issuer it names.
        node: String,
        /// When it expired.
        expired_at: DateTime<Utc>,
    },
    /// Valid for longer than any node makes them.
    #[error("node token of node `{node}` is valid until {expires_at}, too far ahead")]
    TooLong {
        /// The issuer it names.
        node: String,
        /// Its expiry.
        expires_at: DateTime<Utc>,
    },
}

/// What a good token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The node that made it.
    pub node: String,
    /// When it stops being accepted (before the skew allowance).
    pub expires_at: DateTime<Utc>,
}

fn mac(secret: &[u8], signed: &str) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` never fails for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(signed.as_bytes());
    mac
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// A token of node `node`, made at `now`, good for [`LIFETIME`].
pub fn issue(secret: &[u8], node: &str, now: DateTime<Utc>) -> String {
    let expiry = (now + LIFETIME).timestamp();
    let signed = format!("{PREFIX}.{}.{expiry}", hex(node.as_bytes()));
    let tag = mac(secret, &signed).finalize().into_bytes();
    format!("{signed}.{}", hex(&tag))
}

/// The claims of `token` if it was made with `secret` and is good at `now`.
pub fn verify(secret: &[u8], token: &str, now: DateTime<Utc>) -> Result<Claims, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::Malformed("too long"));
    }
    let (signed, tag) = token
        .rsplit_once('.')
        .ok_or(TokenError::Malformed("no signature"))?;
    let mut parts = signed.split('.');
    let (Some(prefix), Some(name), Some(expiry), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed("not four parts"));
    };
    if prefix != PREFIX {
        return Err(TokenError::Malformed("unknown version"));
    }
    let tag = unhex(tag).ok_or(TokenError::Malformed("signature is not hex"))?;
    // The signature first: nothing a stranger wrote is read further.
    mac(secret, signed)
        .verify_slice(&tag)
        .map_err(|_| TokenError::BadSignature)?;
    let node = unhex(name)
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(TokenError::Malformed("node name is not hex UTF-8"))?;
    let expires_at = expiry
        .parse::<i64>()
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or(TokenError::Malformed("expiry is not a time"))?;
    if now > expires_at + CLOCK_SKEW {
        return Err(TokenError::Expired {
            node,
            expired_at: expires_at,
        });
    }
    if expires_at > now + LIFETIME + CLOCK_SKEW {
        return Err(TokenError::TooLong { node, expires_at });
    }
    Ok(Claims { node, expires_at })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"the cluster's secret, 32 bytes..";

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn a_fresh_token_names_its_node() {
        let token = issue(SECRET, "pc-2", at(0));
        assert!(token.starts_with("mtn1.70632d32."), "{token}");
        let claims = verify(SECRET, &token, at(1)).unwrap();
        assert_eq!(claims.node, "pc-2");
        assert_eq!(claims.expires_at, at(60));
        // Any name fits, dots and all.
        let odd = issue(SECRET, "trạm.3 / Km 31", at(0));
        assert_eq!(verify(SECRET, &odd, at(0)).unwrap().node, "trạm.3 / Km 31");
    }

    #[test]
    fn a_token_lives_a_minute_and_the_skew() {
        let token = issue(SECRET, "pc-2", at(0));
        assert!(verify(SECRET, &token, at(60)).is_ok());
        assert!(verify(SECRET, &token, at(65)).is_ok());
        assert_eq!(
            verify(SECRET, &token, at(66)),
            Err(TokenError::Expired {
                node: "pc-2".into(),
                expired_at: at(60)
            })
        );
        // The issuer's clock a little ahead is fine; far ahead is not.
        assert!(verify(SECRET, &token, at(-5)).is_ok());
        assert!(matches!(
            verify(SECRET, &token, at(-6)),
            Err(TokenError::TooLong { .. })
        ));
    }

    #[test]
    fn another_secret_refuses() {
        let token = issue(b"another cluster", "pc-2", at(0));
        assert_eq!(verify(SECRET, &token, at(0)), Err(TokenError::BadSignature));
        // An empty secret is a secret too, and not ours.
        assert_eq!(
            verify(b"", &issue(SECRET, "pc-2", at(0)), at(0)),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn any_change_breaks_the_signature() {
        let token = issue(SECRET, "pc-2", at(0));
        let (signed, tag) = token.rsplit_once('.').unwrap();
        // A later expiry, another issuer, another signature byte.
        let later = signed.replace(&at(60).timestamp().to_string(), "1800000100");
        let other = signed.replace("70632d32", "70632d33");
        let mut flipped = tag.to_string();
        let last = if flipped.ends_with('0') { "1" } else { "0" };
        flipped.replace_range(flipped.len() - 1.., last);
        for bad in [
            format!("{later}.{tag}"),
            format!("{other}.{tag}"),
            format!("{signed}.{flipped}"),
            format!("{signed}.{}", &tag[..tag.len() - 2]),
        ] {
            assert_eq!(
                verify(SECRET, &bad, at(0)),
                Err(TokenError::BadSignature),
                "{bad}"
            );
        }
    }

    #[test]
    fn garbage_is_malformed_never_a_panic() {
        let long = "a".repeat(5000);
        for junk in [
            "",
            ".",
            "...",
            "mtn1",
            "Bearer mth_00",
            "mtn1.70632d32.1800000060",
            "mtn2.70632d32.1800000060.00",
            "mtn1.70632d32.1800000060.zz",
            "mtn1.70632d32.1800000060.abc",
            "mtn1.a.b.c.d",
            "mtn1.70632d32.1800000060.00.00",
            "mtn1.ééé.1.00",
            long.as_str(),
        ] {
            assert!(
                matches!(
                    verify(SECRET, junk, at(0)),
                    Err(TokenError::Malformed(_) | TokenError::BadSignature)
                ),
                "{junk}"
            );
        }
        // Correctly signed but with a name or expiry that is not one: still refused.
        for signed in [
            "mtn1.zz.1800000060",
            "mtn1.70632d32.soon",
            "mtn1.ff.1800000060",
        ] {
            let tag = hex(&mac(SECRET, signed).finalize().into_bytes());
            assert!(
                matches!(
                    verify(SECRET, &format!("{signed}.{tag}"), at(0)),
                    Err(TokenError::Malformed(_))
                ),
                "{signed}"
            );
        }
    }
}
