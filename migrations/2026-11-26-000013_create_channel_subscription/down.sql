DROP INDEX teams_user_setting_aad_idx;
DROP TABLE channel_subscription;
DROP INDEX outbox_ordering_idx;
ALTER TABLE outbox DROP COLUMN ordering_key;
