//! The dashboard's "last 24 hours" charts: hourly counts from `activity_bucket` (all daemons,
//! across restarts) drawn as small server-rendered SVG bar charts — no script, CSP-clean.

use chrono::{DateTime, Duration, Utc};

use crate::db;
use crate::db::models::activity_bucket::ActivityBucket;
use crate::state::AppState;
use crate::telemetry::metrics::{Activity, hour_of};

/// Hours shown.
const HOURS: i64 = 24;
/// Drawing size of one chart (SVG user units).
pub const WIDTH: i64 = 240;
pub const HEIGHT: i64 = 48;

/// One hour's bar.
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    /// Tooltip: `14:00 UTC: 3`.
    pub label: String,
}

/// One counter's chart.
pub struct Chart {
    pub key: &'static str,
    pub title: &'static str,
    pub total: i64,
    pub peak: i64,
    pub bars: Vec<Bar>,
}

fn title(a: Activity) -> &'static str {
    match a {
        Activity::Delivered => "Deliveries",
        Activity::DeliveryFailed => "Failed delivery attempts",
        Activity::WebhookReceived => "Jira webhooks received",
        Activity::OutboundThrottled => "Outbound calls throttled (429)",
    }
}

/// Builds the charts from buckets, for the 24 hours ending with the hour of `now`.
pub fn charts(buckets: &[ActivityBucket], now: DateTime<Utc>) -> Vec<Chart> {
    let first = hour_of(now) - Duration::hours(HOURS - 1);
    let slot = WIDTH / HOURS;
    Activity::ALL
        .iter()
        .map(|&a| {
            let mut per_hour = [0i64; HOURS as usize];
            for b in buckets.iter().filter(|b| b.counter == a.as_str()) {
                let i = (b.bucket_start - first).num_hours();
                if (0..HOURS).contains(&i) {
                    per_hour[i as usize] += b.value;
                }
            }
            let peak = per_hour.iter().copied().max().unwrap_or(0);
            let bars = per_hour
                .iter()
                .enumerate()
                .map(|(i, &n)| {
                    // a non-zero hour is always visible (at least 2 units tall)
                    let height = if n == 0 {
                        0
                    } else {
                        (n * (HEIGHT - 2) / peak.max(1)).max(2)
                    };
                    let hour = first + Duration::hours(i as i64);
                    Bar {
                        x: i as i64 * slot,
                        y: HEIGHT - height,
                        width: slot - 2,
                        height,
                        label: format!("{} UTC: {n}", hour.format("%H:00")),
                    }
                })
                .collect();
            Chart {
                key: a.as_str(),
                title: title(a),
                total: per_hour.iter().sum(),
                peak,
                bars,
            }
        })
        .collect()
}

/// Flushes this process's counts, then reads the last 24 hours of every daemon.
pub async fn last_day(state: &AppState) -> Result<Vec<Chart>, db::DbError> {
    crate::services::activity::flush(state).await;
    let now = Utc::now();
    let from = hour_of(now) - Duration::hours(HOURS - 1);
    let buckets = db::run(&state.pool, move |conn| {
        Ok(ActivityBucket::since(conn, from)?)
    })
    .await?;
    Ok(charts(&buckets, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_become_bars_scaled_to_the_busiest_hour() {
        let now = Utc::now();
        let b = |hours_ago: i64, counter: &str, value: i64| ActivityBucket {
            bucket_start: hour_of(now) - Duration::hours(hours_ago),
            counter: counter.into(),
            value,
        };
        let charts = charts(
            &[
                b(0, "delivered", 4),
                b(3, "delivered", 1),
                b(30, "delivered", 100),
                b(1, "outbound_throttled", 2),
            ],
            now,
        );
        let delivered = &charts[0];
        assert_eq!(
            (delivered.total, delivered.peak),
            (5, 4),
            "older than 24 h is left out"
        );
        assert_eq!(delivered.bars.len(), 24);
        assert_eq!(delivered.bars[23].height, HEIGHT - 2);
        assert_eq!(delivered.bars[20].height, (HEIGHT - 2) / 4);
        assert_eq!(delivered.bars[0].height, 0);
        assert_eq!(charts[3].total, 2);
        assert_eq!(charts[1].total, 0);
    }
}
