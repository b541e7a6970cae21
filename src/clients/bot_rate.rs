//! Client-side pacing of Bot Connector calls (PROTOCOLS.md §3.6), so the daemon does not
//! provoke 429 storms: per tenant at most `outbound.bot_rps_per_tenant` calls in any second
//! (Teams allows an app 50 per tenant), per conversation at most Teams' own per-thread limits
//! (7 in 1 s, 8 in 2 s, 60 in 30 s, 1 800 in an hour), and a conversation Teams answered 429
//! for is held back until its `Retry-After` has passed.
//!
//! Teams states its limits as "N per window", several windows at once, so this is a sliding
//! window log (the times of recent calls), which can promise "never more than N in any window"
//! exactly; a token bucket (GCRA, e.g. the `governor` crate) with a burst lets up to about 2·N
//! through in one window, or without a burst forbids the bursts Teams allows. Every call is
//! counted from its answer, because Teams counts arrivals (see `Log`). Memory is bounded by
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

/// Added to every window, for clock granularity and scheduling.
pub const MARGIN: Duration = Duration::from_millis(50);

/// How often a caller blocked by calls still in flight looks again.
const POLL: Duration = Duration::from_millis(20);

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

    /// When the next call may go; `None`: now. A call in flight counts as arriving any moment.
    fn free_at(&self, log: &Log, now: Instant) -> Option<Instant> {
        if log.in_flight >= self.count {
            return Some(now + POLL);
        }
        let k = self.count - log.in_flight;
        let n = log.done.len();
        if n < k {
            return None;
        }
        let free = log.done[n - k] + self.window + MARGIN;
        (free > now).then_some(free)
    }
}

/// Recent calls of one tenant or conversation. A call counts from when its answer came back:
/// Teams counts arrivals, and an arrival lies between the call's start and its answer, so
/// spacing answers and starts by a window keeps arrivals a window apart whatever the network
/// did (a burst of new TLS connections can delay the first calls by hundreds of ms).
#[derive(Default)]
struct Log {
    /// Times of answers, oldest first.
    done: VecDeque<Instant>,
    in_flight: usize,
}

impl Log {
    fn finish(&mut self, at: Instant, keep: usize, max_age: Duration) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let i = self.done.partition_point(|t| *t <= at);
        self.done.insert(i, at);
        while self.done.len() > keep || self.done.front().is_some_and(|t| *t + max_age <= at) {
            self.done.pop_front();
        }
    }

    fn idle_since(&self, now: Instant, max_age: Duration) -> bool {
        self.in_flight == 0 && self.done.back().is_none_or(|t| *t + max_age <= now)
    }
}

#[derive(Default)]
struct Conversation {
    log: Log,
    paused_until: Option<Instant>,
}

#[derive(Default)]
struct Logs {
    tenants: HashMap<String, Log>,
    conversations: HashMap<String, Conversation>,
    taken: u64,
}

/// Why a call may not go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The conversation's own limit or pause: look again at this instant.
    Conversation(Instant),
    /// The tenant's limit: look again at this instant.
    Tenant(Instant),
}

/// The shared pacer of Bot Connector calls (one per process).
pub struct BotRateLimiter {
    tenant: Limit,
    logs: Mutex<Logs>,
}

/// A call's place in the limits, taken by [`BotRateLimiter::acquire`]; dropping it records the
/// call as answered (also when the call failed or was cancelled).
pub struct Slot<'a> {
    limiter: &'a BotRateLimiter,
    tenant: String,
    conversation: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter
            .finish(&self.tenant, &self.conversation, Instant::now());
    }
}

const LONGEST: Limit = CONVERSATION_LIMITS[CONVERSATION_LIMITS.len() - 1];

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

    /// Takes a slot for a call starting at `now` (to be closed with
    /// [`BotRateLimiter::finish`]), or says until when to wait.
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
        conv.log.in_flight += 1;
        let tenant_log = logs.tenants.entry(tenant.to_owned()).or_default();
        if let Some(at) = self.tenant.free_at(tenant_log, now) {
            if let Some(c) = logs.conversations.get_mut(conversation) {
                c.log.in_flight -= 1;
            }
            return Err(Wait::Tenant(at));
        }
        tenant_log.in_flight += 1;
        logs.taken += 1;
        if logs.taken.is_multiple_of(1024) {
            // forget conversations quiet for longer than the longest window
            let max_age = LONGEST.window + MARGIN;
            logs.conversations.retain(|_, c| {
                c.paused_until.is_some_and(|p| p > now) || !c.log.idle_since(now, max_age)
            });
        }
        Ok(())
    }

    /// Records that a call taken with [`BotRateLimiter::try_take`] was answered at `at`.
    pub fn finish(&self, tenant: &str, conversation: &str, at: Instant) {
        let mut logs = self.logs();
        if let Some(t) = logs.tenants.get_mut(tenant) {
            t.finish(at, self.tenant.count, self.tenant.window + MARGIN);
        }
        if let Some(c) = logs.conversations.get_mut(conversation) {
            c.log.finish(at, LONGEST.count, LONGEST.window + MARGIN);
        }
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
    ) -> Result<Slot<'_>, Duration> {
        let started = Instant::now();
        loop {
            let now = Instant::now();
            let at = match self.try_take(tenant, conversation, now) {
                Ok(()) => {
                    return Ok(Slot {
                        limiter: self,
                        tenant: tenant.to_owned(),
                        conversation: conversation.to_owned(),
                    });
                }
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
        let slot = self
            .acquire(tenant, conversation, max_tenant_wait)
            .await
            .map_err(BotError::Paced)?;
        let res = call().await;
        drop(slot);
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
                    l.finish(tenant, convs[i % convs.len()], now);
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
        l.finish("t1", "19:cold", now);
        assert!(
            l.try_take("t1", "19:hot", now + Duration::from_secs(5))
                .is_ok()
        );
    }

    #[test]
    fn a_call_counts_from_its_answer_and_calls_in_flight_count_too() {
        let l = BotRateLimiter::new(2);
        let t0 = Instant::now();
        assert!(l.try_take("t1", "19:a", t0).is_ok());
        assert!(l.try_take("t1", "19:b", t0).is_ok());
        // both in flight: the third waits for an answer
        assert!(matches!(l.try_take("t1", "19:c", t0), Err(Wait::Tenant(_))));
        let answered = t0 + Duration::from_millis(400);
        l.finish("t1", "19:a", answered);
        l.finish("t1", "19:b", answered);
        assert_eq!(
            l.try_take("t1", "19:c", answered),
            Err(Wait::Tenant(answered + Duration::from_secs(1) + MARGIN))
        );
    }

    #[actix_web::test]
    async fn a_long_wait_is_handed_back_not_slept() {
        let l = BotRateLimiter::new(50);
        l.pause("19:hot", Duration::from_secs(60), Instant::now());
        let t = Instant::now();
        let Err(wait) = l.acquire("t1", "19:hot", Duration::from_secs(30)).await else {
            panic!("a paused conversation got a slot");
        };
        assert!(wait > Duration::from_secs(55), "{wait:?}");
        assert!(t.elapsed() < Duration::from_millis(100));
    }
}
