//! Vehicle counts per junction, bucket, class and direction.
//!
//! The class and direction are parsed from the row (an unknown one is a
//! [`StoreError::BadValue`]) and serialize as the names the database holds.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::scene::VehicleClass;
use crate::store::StoreError;
use crate::track::Direction;

/// Vehicles counted in one bucket, class and direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountRow {
    /// Bucket start.
    pub bucket_start: DateTime<Utc>,
    /// Vehicle class.
    pub vehicle_class: VehicleClass,
    /// Direction.
    pub direction: Direction,
    /// Vehicles.
    pub count: i64,
}

/// Counting bucket sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// 15 minutes.
    Quarter,
    /// 1 hour.
    Hour,
    /// 1 day (a local day in Asia/Ho_Chi_Minh).
    Day,
    /// 1 week (Monday to Sunday, local days).
    Week,
}

impl Bucket {
    /// Every bucket, smallest first.
    pub const ALL: [Bucket; 4] = [Bucket::Quarter, Bucket::Hour, Bucket::Day, Bucket::Week];

    /// `15m`, `1h`, `1d` or `1w`.
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "15m" => Some(Bucket::Quarter),
            "1h" => Some(Bucket::Hour),
            "1d" => Some(Bucket::Day),
            "1w" => Some(Bucket::Week),
            _ => None,
        }
    }

    /// The bucket's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Bucket::Quarter => "15m",
            Bucket::Hour => "1h",
            Bucket::Day => "1d",
            Bucket::Week => "1w",
        }
    }

    /// Its length.
    pub fn length(&self) -> TimeDelta {
        match self {
            Bucket::Quarter => TimeDelta::minutes(15),
            Bucket::Hour => TimeDelta::hours(1),
            Bucket::Day => TimeDelta::days(1),
            Bucket::Week => TimeDelta::weeks(1),
        }
    }
}

/// Vehicles per bucket × class × direction at a junction's cameras in [from, to). A camera
/// with a counting line counts the passages that crossed it; one without counts every
/// passage. Buckets are aligned to local midnight (UTC+7), weeks to a Monday. Only the live
/// analysis counts: a re-read run (`matthan reread`) logs the same vehicles again, and counting
/// both would count them twice.
pub async fn counts(
    client: &tokio_postgres::Client,
    junction_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Bucket,
) -> Result<Vec<CountRow>, StoreError> {
    let seconds = bucket.length().num_seconds() as f64;
    // 2000-01-03 was a Monday.
    let origin = match bucket {
        Bucket::Week => "2000-01-03 00:00:00+07",
        _ => "2000-01-01 00:00:00+07",
    };
    let rows = client
        .query(
            "SELECT date_bin(make_interval(secs => $4), p.best_at,
                             $5::text::timestamptz) AS b,
                    p.vehicle_class, p.direction, count(*)
             FROM passages p JOIN cameras c ON c.id = p.camera_id
             WHERE c.junction_id = $1 AND p.best_at >= $2 AND p.best_at < $3
               AND p.crossed_line IS NOT FALSE AND p.run_id IS NULL
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            &[&junction_id, &from, &to, &seconds, &origin],
        )
        .await?;
    rows.iter()
        .map(|r| {
            Ok(CountRow {
                bucket_start: r.get(0),
                vehicle_class: StoreError::parse_column("vehicle_class", r.get(1))?,
                direction: StoreError::parse_column("direction", r.get(2))?,
                count: r.get(3),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_parse() {
        assert_eq!(Bucket::parse("15m"), Some(Bucket::Quarter));
        assert_eq!(
            Bucket::parse("1d").map(|b| b.length()),
            Some(TimeDelta::days(1))
        );
        assert_eq!(Bucket::parse("2h"), None);
        for b in Bucket::ALL {
            assert_eq!(Bucket::parse(b.as_str()), Some(b));
        }
        assert!(Bucket::ALL
            .windows(2)
            .all(|w| w[0].length() < w[1].length()));
    }
}
