ALTER TABLE secret_access_audit RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold
);
ALTER TABLE outbox RESET (
    autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,
    autovacuum_vacuum_insert_scale_factor, autovacuum_vacuum_insert_threshold,
    autovacuum_analyze_scale_factor, autovacuum_analyze_threshold
);
CREATE INDEX bot_membership_tenant_idx ON bot_membership (tenant_id);
DROP INDEX bot_membership_tenant_updated_idx;
DROP INDEX channel_subscription_instance_owner_idx;
DROP INDEX channel_subscription_conversation_idx;
DROP INDEX user_mapping_linked_idx;
DROP INDEX outbox_claimable_idx;
ALTER TABLE outbox DROP COLUMN held;
