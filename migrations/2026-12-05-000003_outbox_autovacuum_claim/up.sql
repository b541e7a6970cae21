-- Issue 17: per-event work that does not grow with the data.

-- Only the first pending item of an ordering key (its head) may be claimed. A due item the claim
-- finds behind a head is marked held and leaves the claim's index: a backlog behind a retrying
-- item is read once, not by every claim. When the head is delivered or dies, the next item is
-- released at once; the lease reaper releases any head still held (its predecessor was erased).
ALTER TABLE outbox ADD COLUMN held boolean NOT NULL DEFAULT false;
CREATE INDEX outbox_claimable_idx ON outbox (run_after) WHERE status = 'pending' AND NOT held;

-- The fan-out asks Jira as the instance's oldest working link (watchers, mentioned names).
CREATE INDEX user_mapping_linked_idx ON user_mapping (jira_instance_id, created_at, id)
    WHERE status = 'linked';

-- A channel's subscriptions (the lapse message to a channel), and the owners an event's kind
-- reaches (asked about a comment event's issue), without reading every subscription.
CREATE INDEX channel_subscription_conversation_idx ON channel_subscription (conversation_id, project_key);
CREATE INDEX channel_subscription_instance_owner_idx ON channel_subscription (jira_instance_id, owner_mapping_id);

-- Each personal notification reads the tenant's most recent service URL: one index entry, not a
-- sort of every conversation of the tenant. The old tenant index is a prefix of this one.
CREATE INDEX bot_membership_tenant_updated_idx ON bot_membership (tenant_id, updated_at);
DROP INDEX bot_membership_tenant_idx;

-- outbox is written all day: every delivery inserts a row and updates it twice (lease, outcome),
-- retention deletes the old ones. At the default 20 % a 10M-row outbox collects 2M dead rows
-- between vacuums, and the claim's index scans wade through them. Vacuum after 10k + 1 % dead
-- rows (100k at 10M rows, a few hours of a large site's traffic; every few minutes on a small
-- site's much smaller table), count inserts the same way (keeps the visibility map fresh for
-- index-only scans of the partial indexes), and analyze after 5k + 2 % changes so the planner's
-- idea of the pending set follows bursts.
ALTER TABLE outbox SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 5000
);

-- secret_access_audit is insert-only (20M rows a year) until retention deletes old rows in bulk.
-- Inserts alone trigger a vacuum only every 20 % (4M rows): its pages stay not all-visible and
-- index-only scans (keyset pages of the audit, counts per actor) fall back to the heap. Vacuum
-- after 10k + 1 % inserted or deleted rows, analyze after 10k + 2 %.
ALTER TABLE secret_access_audit SET (
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 10000,
    autovacuum_vacuum_insert_scale_factor = 0.01,
    autovacuum_vacuum_insert_threshold = 10000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 10000
);
