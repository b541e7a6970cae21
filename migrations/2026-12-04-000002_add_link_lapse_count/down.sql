DELETE FROM outbox WHERE kind IN ('link_lapsed', 'link_lapsed_channel');
ALTER TABLE user_mapping DROP COLUMN lapse_count;
