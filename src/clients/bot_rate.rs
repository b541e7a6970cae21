//! Client-side pacing of Bot Connector calls (PROTOCOLS.md §3.6), so the daemon does not
//! provoke 429 storms: per tenant at most `outbound.bot_rps_per_tenant` calls in any second
//! (Teams allows an app 50 per tenant), per conversation at most Teams' own per-thread limits
//! (7 in 1 s, 8 in 2 s, 60 in 30 s, 1 800 in an hour), and a conversation Teams answered 429
//! for is held back until its `Retry-After` has passed.
//!
//! Teams states its limits as "N per window", several windows at once, so this is a sliding
//! window log (the times of recent calls), which can promise "never more than N in any window"
//! exactly; a token bucket (GCRA, e.g. the `governor` crate) with a burst lets up to about 2·N
//! through in one window, or without a burst forbids the bursts Teams allows. Every window is
//! widened by [`MARGIN`] because Teams counts arrivals, not departures. Memory is bounded by
//! the calls of the last hour.
//!
//! Waiting happens in memory, never holding a database connection. A wait that would be long
//! (a paused conversation, the 30 s or hourly window) is not slept: the caller gets
//! [`BotError::Paced`] with the time to wait, and the outbox schedules the item for then.
//! The limits hold per process: several daemons on one database share Teams' budget, so give
//! each its share of `bot_rps_per_tenant`.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::botframework::BotError;

/// Added to every window: two calls sent a window apart may arrive closer together.
pub const MARGIN: Duration = Duration::from_millis(100);

/// Teams' per-bot, per-conversation limits for sends and conversation creation.
pub const CONVERSATION_LIMITS: [Limit; 4] = [
    Limit::new(7, Duration::from_secs(1)),
    Limit::new(8, Duration::from_secs(2)),
    Limit::new(60, Duration::from_secs(30)),
    Limit::new(1800, Duration::from_secs(3600)),
];

/// How long a conversation is held back after a 429 that named no `Retry-After`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(1);

/// The longest wait for a conversation's own slot that is slept rather than rescheduled.
pub const CONVERSATION_INLINE_WAIT: Duration = Duration::from_secs(3);

/// At most `count` calls in any `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub count: usize,
    pub window: Duration,
}

impl Limit {
    /// A limit of `count` calls per `window`.
    pub const fn new(count: usize, window: Duration) -> Limit {
        Limit { count, window }
    }

    /// When the next call may go, given the times of earlier calls (oldest first); `None` now.
    fn free_at(&self, log: &VecDeque<Instant>, now: Instant) -> Option<Instant> {
        let n = log.len();
        if n < self.count {
            return None;
        }
        let free = log[n - self.count] + self.window + MARGIN;
        (free > now).then_some(free)
    }
}

#[derive(Default)]
struct Conversation {
    log: VecDeque<Instant>,
    paused_until: Option<Instant>,
}

#[derive(Default)]
struct Logs {
    tenants: HashMap<String, VecDeque<Instant>>,
    conversations: HashMap<String, Conversation>,
    taken: u64,
}

/// Why a call may not go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The conversation's own limit or pause: free at this instant.
    Conversation(Instant),
    /// The tenant's limit: free at this instant.
    Tenant(Instant),
}

/// The shared pacer of Bot Connector calls (one per process).
pub struct BotRateLimiter {
    tenant: Limit,
    logs: Mutex<Logs>,
}

impl BotRateLimiter {
    /// A pacer allowing `per_tenant_per_sec` calls per tenant in any second.
    pub fn new(per_tenant_per_sec: u32) -> BotRateLimiter {
        BotRateLimiter {
            tenant: Limit::new(per_tenant_per_sec.max(1) as usize, Duration::from_secs(1)),
            logs: Mutex::default(),
        }
    }

    fn logs(&self) -> std::sync::MutexGuard<'_, Logs> {
        self.logs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot for a call at `now`, or says until when to wait.
    pub fn try_take(&self, tenant: &str, conversation: &str, now: Instant) -> Result<(), Wait> {
        let mut logs = self.logs();
        let conv = logs
            .conversations
            .entry(conversation.to_owned())
            .or_default();
        let mut conv_free = conv.paused_until.filter(|p| *p > now);
        for limit in &CONVERSATION_LIMITS {
            conv_free = conv_free.max(limit.free_at(&conv.log, now));
        }
        if let Some(at) = conv_free {
            return Err(Wait::Conversation(at));
        }
        let tenant_log = logs.tenants.entry(tenant.to_owned()).or_default();
        if let Some(at) = self.tenant.free_at(tenant_log, now) {
            return Err(Wait::Tenant(at));
        }
        tenant_log.push_back(now);
        while tenant_log.len() > self.tenant.count {
            tenant_log.pop_front();
        }
        let longest = CONVERSATION_LIMITS[CONVERSATION_LIMITS.len() - 1];
        if let Some(conv) = logs.conversations.get_mut(conversation) {
            conv.log.push_back(now);
            while conv.log.len() > longest.count
                || conv
                    .log
                    .front()
                    .is_some_and(|t| *t + longest.window + MARGIN <= now)
            {
                conv.log.pop_front();
            }
        }
        logs.taken += 1;
        if logs.taken.is_multiple_of(1024) {
            // forget conversations quiet for longer than the longest window
            logs.conversations.retain(|_, c| {
                c.paused_until.is_some_and(|p| p > now)
                    || c.log
                        .back()
                        .is_some_and(|t| *t + longest.window + MARGIN > now)
            });
        }
        Ok(())
    }

    /// Holds a conversation back until `retry_after` from now (Teams answered 429).
    pub fn pause(&self, conversation: &str, retry_after: Duration, now: Instant) {
        let mut logs = self.logs();
        let conv = logs
            .conversations
            .entry(conversation.to_owned())
            .or_default();
        let until = now + retry_after;
        conv.paused_until = Some(conv.paused_until.map_or(until, |p| p.max(until)));
    }

    /// Waits for a slot. A tenant slot is waited for up to `max_tenant_wait`, a conversation's
    /// slot up to [`CONVERSATION_INLINE_WAIT`]; beyond that, `Err` says how long to wait.
    pub async fn acquire(
        &self,
        tenant: &str,
        conversation: &str,
        max_tenant_wait: Duration,
    ) -> Result<(), Duration> {
        let started = Instant::now();
        loop {
            let now = Instant::now();
            let at = match self.try_take(tenant, conversation, now) {
                Ok(()) => return Ok(()),
                Err(Wait::Conversation(at)) if at - now > CONVERSATION_INLINE_WAIT => {
                    return Err(at - now);
                }
                Err(Wait::Tenant(at)) if at - started > max_tenant_wait => {
                    return Err(at - now);
                }
                Err(Wait::Conversation(at) | Wait::Tenant(at)) => at,
            };
            actix_web::rt::time::sleep(at - now).await;
        }
    }

    /// Runs one Bot Connector call in its slot: waits (see [`BotRateLimiter::acquire`]), calls,
    /// and pauses the conversation when Teams answers 429.
    pub async fn paced<T, F, Fut>(
        &self,
        tenant: &str,
        conversation: &str,
        max_tenant_wait: Duration,
        call: F,
    ) -> Result<T, BotError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, BotError>>,
    {
        self.acquire(tenant, conversation, max_tenant_wait)
            .await
            .map_err(BotError::Paced)?;
        let res = call().await;
        if let Err(BotError::Transient {
            status: 429,
            retry_after,
        }) = &res
        {
            let pause = retry_after.unwrap_or(DEFAULT_PAUSE);
            tracing::info!(
                bot.conversation = %conversation,
                pause_ms = pause.as_millis() as u64,
                "Teams throttled this conversation; holding it back"
            );
            self.pause(conversation, pause, Instant::now());
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The most calls in any window of `w` among `times`.
    fn max_in_window(times: &[Instant], w: Duration) -> usize {
        (0..times.len())
            .map(|i| times[i..].iter().take_while(|t| **t - times[i] < w).count())
            .max()
            .unwrap_or(0)
    }

    /// Calls as fast as allowed for `secs`, round-robin over `convs`; returns the times taken.
    fn flood(l: &BotRateLimiter, tenant: &str, convs: &[&str], secs: u64) -> Vec<Instant> {
        let start = Instant::now();
        let mut now = start;
        let mut out = Vec::new();
        let mut i = 0;
        while now < start + Duration::from_secs(secs) {
            match l.try_take(tenant, convs[i % convs.len()], now) {
                Ok(()) => {
                    out.push(now);
                    i += 1;
                }
                Err(Wait::Tenant(at)) => now = at,
                Err(Wait::Conversation(_)) => i += 1,
            }
            now += Duration::from_millis(1);
        }
        out
    }

    #[test]
    fn a_tenant_never_gets_more_than_its_limit_in_any_second() {
        let l = BotRateLimiter::new(50);
        let convs: Vec<String> = (0..40).map(|i| format!("19:c{i}")).collect();
        let convs: Vec<&str> = convs.iter().map(String::as_str).collect();
        let times = flood(&l, "t1", &convs, 5);
        assert_eq!(max_in_window(&times, Duration::from_secs(1)), 50);
        assert!(times.len() >= 4 * 50, "the limit is used, not starved");
        // another tenant has its own budget
        assert!(l.try_take("t2", "19:other", Instant::now()).is_ok());
    }

    #[test]
    fn one_conversation_keeps_to_teams_per_thread_limits() {
        let l = BotRateLimiter::new(50);
        let times = flood(&l, "t1", &["19:busy"], 35);
        assert!(max_in_window(&times, Duration::from_secs(1)) <= 7);
        assert!(max_in_window(&times, Duration::from_secs(2)) <= 8);
        assert!(max_in_window(&times, Duration::from_secs(30)) <= 60);
    }

    #[test]
    fn a_throttled_conversation_waits_for_retry_after_and_others_do_not() {
        let l = BotRateLimiter::new(50);
        let now = Instant::now();
        l.pause("19:hot", Duration::from_secs(5), now);
        assert_eq!(
            l.try_take("t1", "19:hot", now + Duration::from_secs(1)),
            Err(Wait::Conversation(now + Duration::from_secs(5)))
        );
        assert!(l.try_take("t1", "19:cold", now).is_ok());
        assert!(
            l.try_take("t1", "19:hot", now + Duration::from_secs(5))
                .is_ok()
        );
    }

    #[actix_web::test]
    async fn a_long_wait_is_handed_back_not_slept() {
        let l = BotRateLimiter::new(50);
        l.pause("19:hot", Duration::from_secs(60), Instant::now());
        let t = Instant::now();
        let wait = l
            .acquire("t1", "19:hot", Duration::from_secs(30))
            .await
            .unwrap_err();
        assert!(wait > Duration::from_secs(55), "{wait:?}");
        assert!(t.elapsed() < Duration::from_millis(100));
    }
}
