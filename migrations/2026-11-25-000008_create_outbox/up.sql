-- Durable delivery queue: rows are enqueued in the transaction that causes them and claimed by
-- the runner with FOR UPDATE SKIP LOCKED and a lease.
CREATE TABLE outbox (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_.]{0,63}$'),
    jira_instance_id uuid REFERENCES jira_instance (id) ON DELETE CASCADE,
    dedupe_key       text CHECK (char_length(dedupe_key) <= 512),
    payload          jsonb NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'dead')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    run_after        timestamptz NOT NULL DEFAULT now(),
    leased_until     timestamptz,
    lease_owner      text,
    last_error       text CHECK (char_length(last_error) <= 2048),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX outbox_dedupe_key ON outbox (kind, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX outbox_ready_idx ON outbox (run_after) WHERE status = 'pending';
