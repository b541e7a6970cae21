DROP INDEX IF EXISTS channel_subscription_owner_idx;
DELETE FROM outbox WHERE kind IN ('link_lapsed', 'link_lapsed_channel');
ALTER TABLE user_mapping DROP COLUMN lapse_count;
