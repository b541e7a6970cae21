//! The outbox runner: claims due items of the kinds it can deliver (short transaction, lease),
//! gives the connection back, delivers concurrently, then records each outcome: done, retry
//! with exponential backoff and jitter (honouring the deliverer's `retry_after`), or dead after
//! `max_attempts`. A reaper clears leases of runners that died and releases held items whose
//! head is gone (`db::models::outbox_claim`). Several processes may run it on one database:
//! `FOR UPDATE SKIP LOCKED` keeps them from taking the same item.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::db::models::outbox::{OutboxItem, backoff};
use crate::db::{self, DbError, DbPool};

/// How a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryError {
    /// Try again later (at the earliest after `retry_after`, when the remote side said so).
    Retry {
        error: String,
        retry_after: Option<Duration>,
    },
    /// Will never succeed (e.g. the chat blocked the bot): dead at once.
    Permanent(String),
}

/// Delivers one kind of outbox item. The item's `dedupe_key` is its idempotency key.
pub trait Deliverer: Send + Sync + 'static {
    /// The outbox kind this deliverer handles.
    fn kind(&self) -> &'static str;
    /// Delivers one item; never touches the database.
    fn deliver<'a>(
        &'a self,
        item: &'a OutboxItem,
    ) -> Pin<Box<dyn Future<Output = Result<(), DeliveryError>> + Send + 'a>>;
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub batch: i64,
    pub lease: Duration,
    pub max_attempts: i32,
    /// The first retry's delay (doubling per attempt, capped at one hour).
    pub backoff_base: Duration,
    pub idle_poll: Duration,
    pub reap_every: Duration,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            batch: 32,
            lease: Duration::from_secs(60),
            max_attempts: 8,
            backoff_base: Duration::from_millis(5000),
            idle_poll: Duration::from_millis(500),
            reap_every: Duration::from_secs(30),
        }
    }
}

/// One runner (one per process is enough; more are safe).
#[derive(Clone)]
pub struct OutboxRunner {
    pool: DbPool,
    deliverers: Arc<Vec<Arc<dyn Deliverer>>>,
    owner: String,
    config: RunnerConfig,
    metrics: Option<Arc<crate::telemetry::metrics::Metrics>>,
    wake: Option<Arc<tokio::sync::Notify>>,
}

impl OutboxRunner {
    /// A runner with a unique owner name for its leases.
    pub fn new(
        pool: DbPool,
        deliverers: Vec<Arc<dyn Deliverer>>,
        config: RunnerConfig,
    ) -> OutboxRunner {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        OutboxRunner {
            pool,
            deliverers: Arc::new(deliverers),
            owner,
            config,
            metrics: None,
            wake: None,
        }
    }

    /// Wakes the idle runner as soon as `wake` is notified (something was queued in this
    /// process), instead of at the next poll.
    pub fn with_wake(mut self, wake: Arc<tokio::sync::Notify>) -> Self {
        self.wake = Some(wake);
        self
    }

    /// Counts every delivery outcome (done, retry, dead) by kind in `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<crate::telemetry::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, kind: &str, outcome: &'static str) {
        if let Some(m) = &self.metrics {
            m.delivery(kind, outcome);
        }
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.deliverers.iter().map(|d| d.kind()).collect()
    }

    /// Claims one batch, delivers it and records the outcomes; returns how many were handled.
    pub async fn run_once(&self) -> Result<usize, DbError> {
        let kinds = self.kinds();
        if kinds.is_empty() {
            return Ok(0);
        }
        let (owner, batch) = (self.owner.clone(), self.config.batch);
        let lease =
            chrono::Duration::from_std(self.config.lease).unwrap_or(chrono::Duration::seconds(60));
        // the connection goes back to the pool before any delivery starts
        let items = db::run(&self.pool, move |conn| {
            Ok(OutboxItem::claim(conn, &owner, &kinds, batch, lease)?)
        })
        .await?;
        let n = items.len();
        let mut tasks = Vec::with_capacity(n);
        for item in items {
            let me = self.clone();
            tasks.push(actix_web::rt::spawn(async move {
                me.deliver_and_record(item).await
            }));
        }
        for t in tasks {
            if let Ok(Err(e)) = t.await {
                tracing::warn!(error = %e, "recording a delivery outcome failed; the lease will expire and the item be retried");
            }
        }
        Ok(n)
    }

    async fn deliver_and_record(&self, item: OutboxItem) -> Result<(), DbError> {
        let Some(d) = self
            .deliverers
            .iter()
            .find(|d| d.kind() == item.kind)
            .cloned()
        else {
            return Ok(());
        };
        let outcome = d.deliver(&item).await;
        self.count(
            &item.kind,
            match &outcome {
                Ok(()) => "done",
                Err(DeliveryError::Retry { .. }) if item.attempts < self.config.max_attempts => {
                    "retry"
                }
                Err(_) => "dead",
            },
        );
        let (owner, id, attempts, max) = (
            self.owner.clone(),
            item.id,
            item.attempts,
            self.config.max_attempts,
        );
        match outcome {
            Ok(()) => {
                db::run(&self.pool, move |conn| {
                    Ok(OutboxItem::complete(conn, id, &owner)?)
                })
                .await?;
            }
            Err(DeliveryError::Retry { error, retry_after }) => {
                let jitter = f64::from(crate::crypto::random::bytes(1)[0]) / 255.0;
                let retry_after = retry_after.and_then(|r| chrono::Duration::from_std(r).ok());
                let base_ms =
                    i64::try_from(self.config.backoff_base.as_millis()).unwrap_or(i64::MAX);
                let delay = backoff(attempts - 1, retry_after, jitter, base_ms);
                tracing::info!(outbox.id = id, outbox.attempts = attempts, retry_in_ms = delay.num_milliseconds(), error = %error, "delivery failed; retrying later");
                db::run(&self.pool, move |conn| {
                    Ok(OutboxItem::fail(conn, id, &owner, &error, delay, max)?)
                })
                .await?;
            }
            Err(DeliveryError::Permanent(error)) => {
                tracing::warn!(outbox.id = id, error = %error, "delivery failed for good");
                db::run(&self.pool, move |conn| {
                    Ok(OutboxItem::fail(
                        conn,
                        id,
                        &owner,
                        &error,
                        chrono::Duration::zero(),
                        0,
                    )?)
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Runs until the process stops: batches back to back while there is work, polls when idle,
    /// reaps expired leases now and then.
    pub async fn run_forever(self) {
        let mut last_reap = std::time::Instant::now() - self.config.reap_every;
        loop {
            if last_reap.elapsed() >= self.config.reap_every {
                match db::run(&self.pool, |conn| {
                    Ok((
                        OutboxItem::reap_expired_leases(conn)?,
                        OutboxItem::release_held_heads(conn)?,
                    ))
                })
                .await
                {
                    Ok((reaped, released)) => {
                        if reaped > 0 {
                            tracing::info!(
                                outbox.reaped = reaped,
                                "expired delivery leases returned to the queue"
                            );
                        }
                        if released > 0 {
                            tracing::info!(
                                outbox.released = released,
                                "deliveries held behind an item that is gone may go again"
                            );
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "lease reaper could not reach the database")
                    }
                }
                last_reap = std::time::Instant::now();
            }
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "outbox runner could not reach the database; retrying")
                }
            }
            match &self.wake {
                Some(wake) => {
                    let _ =
                        actix_web::rt::time::timeout(self.config.idle_poll, wake.notified()).await;
                }
                None => actix_web::rt::time::sleep(self.config.idle_poll).await,
            }
        }
    }
}
