-- How many times a link went from working to "needs sign-in again": the lapse it is in, so the
-- one message that tells the user (and their subscribed channels) is queued once per lapse.
ALTER TABLE user_mapping
    ADD COLUMN lapse_count integer NOT NULL DEFAULT 0 CHECK (lapse_count >= 0);
-- A lapse finds the channel subscriptions its link fed.
CREATE INDEX channel_subscription_owner_idx ON channel_subscription (owner_mapping_id);
