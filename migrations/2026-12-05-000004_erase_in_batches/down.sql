DROP INDEX outbox_instance_idx;
