DROP INDEX bot_membership_team_idx;
ALTER TABLE bot_membership DROP CONSTRAINT bot_membership_team_is_a_team_scope;
ALTER TABLE bot_membership DROP COLUMN team_id;
