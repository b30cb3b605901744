//! What `matthan check` asks the log: the server's clock, and how much video the clips hold
//! and were recorded lately.

use chrono::{DateTime, Utc};
use tokio_postgres::Client;

use crate::store::StoreError;

/// The database server's current time.
pub async fn server_now(client: &Client) -> Result<DateTime<Utc>, StoreError> {
    Ok(client.query_one("SELECT now()", &[]).await?.get(0))
}

/// The clips the log holds, and those of the last day.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClipVolume {
    /// Bytes of every clip segment in the log.
    pub total_bytes: i64,
    /// Bytes of the segments that ended in the last 24 hours.
    pub recent_bytes: i64,
    /// Seconds from the first start to the last end of those segments (all cameras together).
    pub recent_span_s: f64,
}

impl ClipVolume {
    /// Bytes recorded per day at the last day's rate; `None` without at least a minute of
    /// recent recording.
    pub fn bytes_per_day(&self) -> Option<f64> {
        (self.recent_bytes > 0 && self.recent_span_s >= 60.0)
            .then(|| self.recent_bytes as f64 / self.recent_span_s * 86_400.0)
    }
}

/// The clips' volume, total and of the last day.
pub async fn clip_volume(client: &Client) -> Result<ClipVolume, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(sum(bytes), 0)::bigint,
                    coalesce(sum(bytes) FILTER (WHERE ended_at > now() - interval '1 day'), 0)::bigint,
                    coalesce(extract(epoch FROM max(ended_at) FILTER (WHERE ended_at > now() - interval '1 day')
                        - min(started_at) FILTER (WHERE ended_at > now() - interval '1 day')), 0)::float8
             FROM clips",
            &[],
        )
        .await?;
    Ok(ClipVolume {
        total_bytes: row.get(0),
        recent_bytes: row.get(1),
        recent_span_s: row.get(2),
    })
}

#[cfg(test)]
mod tests {
    use super::ClipVolume;

    #[test]
    fn the_daily_rate_needs_a_minute_of_recording() {
        let v = |bytes, span| ClipVolume {
            total_bytes: bytes,
            recent_bytes: bytes,
            recent_span_s: span,
        };
        assert_eq!(v(0, 3600.0).bytes_per_day(), None);
        assert_eq!(v(1000, 30.0).bytes_per_day(), None);
        assert_eq!(v(3600, 3600.0).bytes_per_day(), Some(86_400.0));
    }
}
