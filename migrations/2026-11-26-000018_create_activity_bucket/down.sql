DROP INDEX outbox_dead_idx;
DROP TABLE activity_bucket;
