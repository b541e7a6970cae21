-- Hourly activity counts for the admin dashboard (deliveries, failures, webhook intake, outbound
-- 429s). Every daemon on the database adds its counts with one UPSERT per flush, so the figures
-- survive restarts and cover all daemons. Rows older than metrics.activity_retention_days go.
CREATE TABLE activity_bucket (
    bucket_start timestamptz NOT NULL CHECK (extract(epoch FROM bucket_start)::bigint % 3600 = 0),
    counter      text NOT NULL CHECK (counter IN ('delivered', 'delivery_failed', 'webhook_received', 'outbound_throttled')),
    value        bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (bucket_start, counter)
);

-- /metrics counts dead outbox items at every scrape: without this it would read the whole queue.
CREATE INDEX outbox_dead_idx ON outbox (id) WHERE status = 'dead';
