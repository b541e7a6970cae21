//! Group commit of accepted webhook events. One writer thread owns the outbox writes of this
//! process's webhooks: it takes every event waiting when it becomes free (up to
//! [`MAX_BATCH`]) and writes all their outbox rows with one statement, so a burst of webhooks
//! costs one round trip and one WAL flush instead of one transaction each. Each handler is
//! answered only after the statement holding its event committed, so a 2xx still means
//! "committed". A batch that fails is retried one event at a time: a bad event fails alone.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use diesel::sql_types::{Array, BigInt, Jsonb, Text, Uuid as SqlUuid};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::db::DbPool;
use crate::db::models::outbox_kind::{
    CHAT_NOTIFICATION, CONVERSATION_ORDER_PREFIX, EVENT_FANOUT, issue_order,
};
use crate::domain::jira_event::JiraEvent;
use crate::error::AppError;

/// Most events written by one statement (bounds the statement's size and a batch's latency).
pub const MAX_BATCH: usize = 256;
/// Events waiting for the writer before handlers wait to hand theirs over.
const QUEUE: usize = 4 * MAX_BATCH;

/// What one event added: outbox rows queued for linked chats, and how many chats are linked
/// (the difference are repeats of an event already queued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub queued: usize,
    pub chats: usize,
}

struct Job {
    instance: Uuid,
    event: JiraEvent,
    reply: oneshot::Sender<Result<Written, AppError>>,
}

/// The handle handlers send their events to; the writer thread stops when every handle is gone.
#[derive(Clone)]
pub struct WebhookWriter {
    tx: mpsc::Sender<Job>,
}

impl WebhookWriter {
    /// Starts the writer thread on `pool`.
    pub fn start(pool: DbPool) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        std::thread::Builder::new()
            .name("webhook-writer".into())
            .spawn(move || write_forever(&pool, rx))?;
        Ok(Self { tx })
    }

    /// Queues the event's outbox rows and returns once they are committed (or failed).
    pub async fn write(&self, instance: Uuid, event: JiraEvent) -> Result<Written, AppError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || AppError::Unavailable(anyhow::anyhow!("the webhook writer has stopped"));
        self.tx
            .send(Job {
                instance,
                event,
                reply,
            })
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// How long the writer's statement waits for a row lock (a foreign-key check, a conflicting
/// dedupe key) before it gives up: one instance whose rows are locked must not hold up the
/// events of every other instance behind it.
pub const LOCK_TIMEOUT_MS: u64 = 250;
/// After its statement timed out on a lock, an instance's events are written after the others'
/// for this long (each batch answers the rest first).
const BLOCKED_FOR: Duration = Duration::from_secs(5);

fn write_forever(pool: &DbPool, mut rx: mpsc::Receiver<Job>) {
    // an event whose dedupe key is already in the batch starts the next one: the statement
    // attributes inserted rows to events by key, and arrival order is kept
    let mut carried: Option<Job> = None;
    let mut writer = Writer {
        pool,
        conn: None,
        blocked: HashMap::new(),
    };
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.try_recv() {
                Ok(job) => job,
                Err(_) => {
                    // idle: give the connection back to the pool until the next event
                    writer.release();
                    let Some(job) = rx.blocking_recv() else {
                        return;
                    };
                    job
                }
            },
        };
        let mut keys = HashSet::from([(first.instance, first.event.dedupe_key())]);
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            let Ok(job) = rx.try_recv() else { break };
            if keys.insert((job.instance, job.event.dedupe_key())) {
                batch.push(job);
            } else {
                carried = Some(job);
                break;
            }
        }
        writer.commit(batch);
    }
}

/// The writer thread's connection (held while events keep coming, its lock timeout set) and the
/// instances whose writes recently waited on a lock.
struct Writer<'a> {
    pool: &'a DbPool,
    conn: Option<PooledConnection<ConnectionManager<PgConnection>>>,
    blocked: HashMap<Uuid, Instant>,
}

impl Writer<'_> {
    fn conn(&mut self) -> Result<&mut PgConnection, AppError> {
        if self.conn.is_none() {
            let mut c = self
                .pool
                .get()
                .map_err(|e| AppError::Unavailable(anyhow::anyhow!("database unavailable: {e}")))?;
            c.batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
                .map_err(|e| AppError::from(crate::db::DbError::Query(e)))?;
            self.conn = Some(c);
        }
        Ok(self.conn.as_mut().expect("set above"))
    }

    /// Gives the connection back with the pool's defaults (a connection the reset fails on is
    /// broken, and the pool discards it when it is checked in).
    fn release(&mut self) {
        if let Some(mut c) = self.conn.take() {
            let _ = c.batch_execute("RESET lock_timeout");
        }
    }

    /// Writes a batch and answers each of its handlers: events of instances that recently waited
    /// on a lock go in their own statement after the others.
    fn commit(&mut self, batch: Vec<Job>) {
        let now = Instant::now();
        self.blocked.retain(|_, until| *until > now);
        let (late, first): (Vec<Job>, Vec<Job>) = batch
            .into_iter()
            .partition(|j| self.blocked.contains_key(&j.instance));
        for part in [first, late] {
            if !part.is_empty() {
                self.write(part);
            }
        }
    }

    fn write(&mut self, batch: Vec<Job>) {
        let (result, started) = match self.conn() {
            Ok(conn) => {
                let events: Vec<(Uuid, &JiraEvent)> =
                    batch.iter().map(|j| (j.instance, &j.event)).collect();
                let started = Instant::now();
                (insert_rows(conn, &events), started)
            }
            Err(e) => {
                for job in batch {
                    let _ = job
                        .reply
                        .send(Err(AppError::Unavailable(anyhow::anyhow!("{e}"))));
                }
                return;
            }
        };
        match result {
            Ok(written) => {
                for (job, w) in batch.into_iter().zip(written) {
                    let _ = job.reply.send(Ok(w));
                }
            }
            Err(e) if waited_on_lock(&e, started) => self.split_by_instance(batch, &e),
            Err(e) => {
                // the connection may be the cause (closed, broken): the next statement takes a
                // checked one from the pool
                self.release();
                self.one_by_one(batch, e)
            }
        }
    }

    /// A batch that waited out the lock timeout: each instance's events again in a statement of
    /// their own; an instance still locked is answered 503 (Jira sends again) and written last
    /// for a while.
    fn split_by_instance(&mut self, batch: Vec<Job>, e: &diesel::result::Error) {
        let mut groups: Vec<(Uuid, Vec<Job>)> = Vec::new();
        for job in batch {
            match groups.iter_mut().find(|(i, _)| *i == job.instance) {
                Some((_, g)) => g.push(job),
                None => groups.push((job.instance, vec![job])),
            }
        }
        if groups.len() == 1 {
            let (instance, jobs) = groups.remove(0);
            tracing::warn!(jira_instance.id = %instance, events = jobs.len(), error = %e, "webhook events waited on a locked row; answered 503");
            self.blocked.insert(instance, Instant::now() + BLOCKED_FOR);
            for job in jobs {
                let _ = job.reply.send(Err(locked_error(e)));
            }
            return;
        }
        for (_, jobs) in groups {
            self.write(jobs);
        }
    }

    /// A batch that failed otherwise is written one event at a time: a bad event fails alone;
    /// an event that waits out the lock timeout is answered 503, and so are the rest of its
    /// instance's (not tried: each would wait again).
    fn one_by_one(&mut self, batch: Vec<Job>, e: diesel::result::Error) {
        if batch.len() == 1 {
            if let Some(job) = batch.into_iter().next() {
                let _ = job.reply.send(Err(crate::db::DbError::Query(e).into()));
            }
            return;
        }
        tracing::warn!(batch.events = batch.len(), error = %e, "webhook batch failed; writing its events one by one");
        let mut gone = false;
        let mut locked: HashSet<Uuid> = HashSet::new();
        for job in batch {
            let result = if gone {
                Err(AppError::Unavailable(anyhow::anyhow!(
                    "database unavailable: {e}"
                )))
            } else if locked.contains(&job.instance) {
                Err(locked_error(&e))
            } else {
                match self.conn() {
                    Ok(conn) => {
                        let started = Instant::now();
                        match insert_rows(conn, &[(job.instance, &job.event)]) {
                            Ok(mut w) => Ok(w.remove(0)),
                            Err(e) if waited_on_lock(&e, started) => {
                                locked.insert(job.instance);
                                self.blocked
                                    .insert(job.instance, Instant::now() + BLOCKED_FOR);
                                Err(locked_error(&e))
                            }
                            Err(e) => Err(AppError::from(crate::db::DbError::Query(e))),
                        }
                    }
                    Err(e) => Err(e),
                }
            };
            gone = matches!(result, Err(AppError::Unavailable(_)));
            if result.is_err() {
                self.release();
            }
            let _ = job.reply.send(result);
        }
    }
}

/// Whether a failed statement ran into the lock timeout: an error of no known kind (diesel
/// reports `lock_not_available` as `Unknown`) after about the timeout (the server's message
/// follows its `lc_messages`, so it is not read). A constraint violation, a serialization
/// failure or a closed connection never is, however long it took.
fn waited_on_lock(e: &diesel::result::Error, started: Instant) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::Unknown, _)
    ) && started.elapsed() >= Duration::from_millis(LOCK_TIMEOUT_MS * 9 / 10)
}

/// The answer for an event whose instance's rows are locked: 503, Jira sends it again.
fn locked_error(e: &diesel::result::Error) -> AppError {
    AppError::Unavailable(anyhow::anyhow!(
        "the instance's rows are locked (an erase or a migration?): {e}"
    ))
}

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = BigInt)]
    chats: i64,
    #[diesel(sql_type = BigInt)]
    queued: i64,
}

/// One statement (so one transaction) for the whole batch: for each event, one outbox row per
/// chat linked to its issue (repeats add nothing: dedupe key per event and chat), plus one
/// `event_fanout` row when people of the instance are linked (its dedupe key names the instance:
/// every Jira numbers issues and comments alike, so two instances send events with equal keys) (that job finds the personal and
/// channel recipients, asking Jira what each may see). Rows are numbered in arrival order, so
/// rows of one conversation (and the fan-outs of one issue) are delivered in that order.
fn insert_rows(
    conn: &mut PgConnection,
    events: &[(Uuid, &JiraEvent)],
) -> QueryResult<Vec<Written>> {
    let mut instances = Vec::with_capacity(events.len());
    let mut issues = Vec::with_capacity(events.len());
    let mut keys = Vec::with_capacity(events.len());
    let mut bodies = Vec::with_capacity(events.len());
    let mut issue_orders = Vec::with_capacity(events.len());
    for (instance, event) in events {
        instances.push(*instance);
        // an event without its issue's key reaches linked chats through its fan-out, which
        // fetches the issue first: 0 joins no chat
        issues.push(if event.needs_issue() {
            0
        } else {
            event.issue_id
        });
        keys.push(event.dedupe_key());
        bodies.push(
            serde_json::to_value(event)
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))?,
        );
        issue_orders.push(issue_order(*instance, event.issue_id));
    }
    let rows: Vec<Counted> = diesel::sql_query(
        "WITH ev AS ( \
           SELECT * FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::jsonb[], $5::text[]) \
                  WITH ORDINALITY AS e(instance, issue, dedupe, event, issue_order, n)), \
         chats AS ( \
           SELECT ev.n, ev.instance, ev.dedupe || ':' || ic.chat_id AS key, ic.chat_id, ev.event, \
                  ic.created_at, ic.id \
             FROM ev JOIN issue_chat ic \
               ON ic.jira_instance_id = ev.instance AND ic.issue_id = ev.issue), \
         queued AS ( \
           INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, ordering_key) \
           SELECT $6, instance, key, jsonb_build_object('chatId', chat_id, 'event', event), \
                  $8 || chat_id \
             FROM chats ORDER BY n, created_at, id \
           ON CONFLICT DO NOTHING RETURNING dedupe_key), \
         fanned AS ( \
           INSERT INTO outbox (kind, jira_instance_id, dedupe_key, payload, ordering_key) \
           SELECT $7, instance, instance::text || ':' || dedupe, \
                  jsonb_build_object('event', event), issue_order \
             FROM ev \
            WHERE EXISTS (SELECT 1 FROM user_mapping um \
                           WHERE um.jira_instance_id = ev.instance AND um.status = 'linked') \
            ORDER BY n \
           ON CONFLICT DO NOTHING) \
         SELECT (SELECT count(*) FROM chats c WHERE c.n = ev.n) AS chats, \
                (SELECT count(*) FROM chats c JOIN queued q ON q.dedupe_key = c.key \
                  WHERE c.n = ev.n) AS queued \
           FROM ev ORDER BY ev.n",
    )
    .bind::<Array<SqlUuid>, _>(&instances)
    .bind::<Array<BigInt>, _>(&issues)
    .bind::<Array<Text>, _>(&keys)
    .bind::<Array<Jsonb>, _>(&bodies)
    .bind::<Array<Text>, _>(&issue_orders)
    .bind::<Text, _>(CHAT_NOTIFICATION)
    .bind::<Text, _>(EVENT_FANOUT)
    .bind::<Text, _>(CONVERSATION_ORDER_PREFIX)
    .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| Written {
            queued: usize::try_from(r.queued).unwrap_or(0),
            chats: usize::try_from(r.chats).unwrap_or(0),
        })
        .collect())
}
