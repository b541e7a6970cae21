//! Process metrics for `/metrics` (Prometheus text format 0.0.4) and the dashboard's activity
//! counts. One [`Metrics`] per running appliance (held in `AppState`), never a global, so
//! several appliances in one process (tests) keep their own figures.
//!
//! Label values are bounded by construction: route *patterns* (never a raw path, so no ids),
//! HTTP status codes, fixed service and outcome names. No secret, token, user or tenant id ever
//! becomes a label.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use secrecy::SecretString;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// What the dashboard counts per hour (stored in `activity_bucket.counter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Activity {
    /// An outbox item delivered.
    Delivered,
    /// A delivery attempt that failed (retried later, or dead).
    DeliveryFailed,
    /// A Jira webhook accepted (authenticated, whether it queued anything or not).
    WebhookReceived,
    /// An outbound call answered 429 Too Many Requests.
    OutboundThrottled,
}

impl Activity {
    /// Every counter, in dashboard order.
    pub const ALL: [Activity; 4] = [
        Activity::Delivered,
        Activity::DeliveryFailed,
        Activity::WebhookReceived,
        Activity::OutboundThrottled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Delivered => "delivered",
            Activity::DeliveryFailed => "delivery_failed",
            Activity::WebhookReceived => "webhook_received",
            Activity::OutboundThrottled => "outbound_throttled",
        }
    }
}

/// Activity counts waiting to be added to the database, keyed by hour and counter.
pub type PendingActivity = Vec<(DateTime<Utc>, Activity, i64)>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutboundLabels {
    service: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms .. ~20 s
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Queue figures read from the database at scrape time.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueFigures {
    pub pending: i64,
    pub in_flight: i64,
    pub dead: i64,
    pub oldest_pending_secs: i64,
}

/// Every metric of one appliance.
pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily<RouteLabels>,
    deliveries: Family<DeliveryLabels, Counter>,
    outbound: Family<OutboundLabels, Counter>,
    outbound_duration: Family<OutboundLabels, Histogram, fn() -> Histogram>,
    token_refreshes: Family<RefreshLabels, Counter>,
    webhooks: Family<OutcomeLabels, Counter>,
    outbox_items: Family<StateLabels, Gauge>,
    outbox_oldest: Gauge,
    pool: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    database_up: Gauge,
    /// `[metrics] token_file`: when set, `/metrics` wants `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
    activity: Mutex<HashMap<(DateTime<Utc>, Activity), i64>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Metrics {
    /// Registers every metric under the `jtb_` prefix.
    pub fn new(token: Option<SecretString>) -> Metrics {
        let mut registry = Registry::with_prefix("jtb");
        let m = Metrics {
            registry: Registry::default(),
            http_requests: Family::default(),
            http_duration: Family::new_with_constructor(latency_histogram),
            deliveries: Family::default(),
            outbound: Family::default(),
            outbound_duration: Family::new_with_constructor(latency_histogram),
            token_refreshes: Family::default(),
            webhooks: Family::default(),
            outbox_items: Family::default(),
            outbox_oldest: Gauge::default(),
            pool: Family::default(),
            pool_max: Gauge::default(),
            database_up: Gauge::default(),
            token,
            activity: Mutex::new(HashMap::new()),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            m.http_requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "Time to answer HTTP requests, by method and route pattern",
            m.http_duration.clone(),
        );
        registry.register(
            "outbox_deliveries",
            "Outbox delivery attempts by kind and outcome (done, retry, dead)",
            m.deliveries.clone(),
        );
        registry.register(
            "outbound_requests",
            "Outbound HTTP calls by service (graph, entra, jira, botframework) and status (HTTP code, or why no answer came: timeout, dns, connection_refused, tls, error)",
            m.outbound.clone(),
        );
        registry.register(
            "outbound_request_duration_seconds",
            "Time of outbound HTTP calls by service and status",
            m.outbound_duration.clone(),
        );
        registry.register(
            "token_refreshes",
            "Renewals of per-user tokens by kind (microsoft_user, jira_user) and outcome (ok, sign_in_required, error)",
            m.token_refreshes.clone(),
        );
        registry.register(
            "webhooks",
            "Jira webhooks received, by outcome (accepted, ignored, refused)",
            m.webhooks.clone(),
        );
        registry.register(
            "outbox_items",
            "Outbox items now, by state (pending, in_flight, dead); read from the database at scrape time",
            m.outbox_items.clone(),
        );
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox item (0 when none); read at scrape time",
            m.outbox_oldest.clone(),
        );
        registry.register(
            "db_pool_connections",
            "Database connections of this process's pool, by state (in_use, idle)",
            m.pool.clone(),
        );
        registry.register(
            "db_pool_max_connections",
            "Largest size of this process's database pool (database.pool_max_size)",
            m.pool_max.clone(),
        );
        registry.register(
            "database_up",
            "1 when the database answered the last scrape, else 0",
            m.database_up.clone(),
        );
        Metrics { registry, ..m }
    }

    /// An HTTP request was answered. `route` is the matched pattern (`/admin/users/{id}`), or
    /// `None` when nothing matched.
    pub fn http_request(&self, method: &str, route: Option<&str>, status: u16, secs: f64) {
        let method = bounded_method(method);
        let route = route.unwrap_or("unmatched").to_owned();
        self.http_requests
            .get_or_create(&HttpLabels {
                method,
                route: route.clone(),
                status,
            })
            .inc();
        self.http_duration
            .get_or_create(&RouteLabels { method, route })
            .observe(secs);
    }

    /// One outbox delivery attempt ended: `outcome` is `done`, `retry` or `dead`.
    pub fn delivery(&self, kind: &str, outcome: &'static str) {
        self.deliveries
            .get_or_create(&DeliveryLabels {
                kind: kind.to_owned(),
                outcome,
            })
            .inc();
        self.activity(if outcome == "done" {
            Activity::Delivered
        } else {
            Activity::DeliveryFailed
        });
    }

    /// An outbound call ended with an HTTP status, or without one (`Err`: why, one of
    /// `timeout`, `dns`, `connection_refused`, `tls`, `error`).
    pub fn outbound(&self, service: &'static str, status: Result<u16, &'static str>, secs: f64) {
        let status_label = match status {
            Ok(code) => code.to_string(),
            Err(failure) => failure.to_owned(),
        };
        let labels = OutboundLabels {
            service,
            status: status_label,
        };
        self.outbound.get_or_create(&labels).inc();
        self.outbound_duration.get_or_create(&labels).observe(secs);
        if status == Ok(429) {
            self.activity(Activity::OutboundThrottled);
        }
    }

    /// A per-user token renewal ended.
    pub fn token_refresh(&self, kind: &str, outcome: &'static str) {
        let kind = match kind {
            "microsoft_user" => "microsoft_user",
            "jira_user" => "jira_user",
            _ => "other",
        };
        self.token_refreshes
            .get_or_create(&RefreshLabels { kind, outcome })
            .inc();
    }

    /// A Jira webhook was answered: `accepted`, `ignored` (not an event we act on) or
    /// `refused` (unknown instance, bad token or body).
    pub fn webhook(&self, outcome: &'static str) {
        self.webhooks
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if outcome != "refused" {
            self.activity(Activity::WebhookReceived);
        }
    }

    /// Sets the figures read at scrape time; `queue` is `None` when the database did not answer.
    pub fn set_scrape_figures(
        &self,
        queue: Option<QueueFigures>,
        pool_in_use: u32,
        pool_idle: u32,
        pool_max: u32,
    ) {
        self.database_up.set(i64::from(queue.is_some()));
        if let Some(q) = queue {
            for (state, n) in [
                ("pending", q.pending),
                ("in_flight", q.in_flight),
                ("dead", q.dead),
            ] {
                self.outbox_items
                    .get_or_create(&StateLabels { state })
                    .set(n);
            }
            self.outbox_oldest.set(q.oldest_pending_secs);
        }
        self.pool
            .get_or_create(&StateLabels { state: "in_use" })
            .set(i64::from(pool_in_use));
        self.pool
            .get_or_create(&StateLabels { state: "idle" })
            .set(i64::from(pool_idle));
        self.pool_max.set(i64::from(pool_max));
    }

    /// Everything in the Prometheus text format 0.0.4.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // writing to a String cannot fail
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Counts one event for the dashboard in the current hour (kept in memory until the next
    /// flush adds it to the database).
    pub fn activity(&self, what: Activity) {
        let hour = hour_of(Utc::now());
        let mut pending = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry((hour, what)).or_insert(0) += 1;
    }

    /// Takes the counts not yet written (the caller writes them, or gives them back).
    pub fn take_activity(&self) -> PendingActivity {
        let mut pending = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        pending.drain().map(|((h, a), n)| (h, a, n)).collect()
    }

    /// Gives back counts a failed write could not store; they go with the next flush.
    pub fn restore_activity(&self, counts: PendingActivity) {
        let mut pending = self.activity.lock().unwrap_or_else(|p| p.into_inner());
        for (h, a, n) in counts {
            *pending.entry((h, a)).or_insert(0) += n;
        }
    }
}

/// The start of the hour `t` falls in.
pub fn hour_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::hours(1)).unwrap_or(t)
}

/// Methods outside the standard set are counted as `other`: a client must not be able to grow
/// the label set.
fn bounded_method(m: &str) -> &'static str {
    match m {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format_with_bounded_labels() {
        let m = Metrics::default();
        m.http_request("BREW", Some("/admin/users/{id}"), 200, 0.01);
        m.outbound("botframework", Ok(429), 0.2);
        m.delivery("chat_notification", "done");
        let text = m.encode();
        assert!(
            text.contains(
                "jtb_http_requests_total{method=\"other\",route=\"/admin/users/{id}\",status=\"200\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("jtb_outbound_requests_total{service=\"botframework\",status=\"429\"} 1"),
            "{text}"
        );
        let mut pending = m.take_activity();
        pending.sort_by_key(|(_, a, _)| a.as_str());
        assert_eq!(pending.len(), 2);
        assert!(m.take_activity().is_empty());
        m.restore_activity(pending);
        assert_eq!(m.take_activity().len(), 2);
    }
}
