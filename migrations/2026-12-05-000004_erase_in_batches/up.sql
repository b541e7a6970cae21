-- An instance's queued and delivered rows, in id order: an instance erase deletes them in
-- batches by this index (each batch its own short transaction), and the ON DELETE CASCADE from
-- jira_instance no longer scans the whole outbox.
CREATE INDEX outbox_instance_idx ON outbox (jira_instance_id, id);
