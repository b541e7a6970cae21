-- The team a channel membership belongs to (`channelData.team.id`), so that removing the bot from
-- a team, which Teams may report from any of its channels, reaches every channel row of that
-- team. Team ids are channel-style thread ids (the team's General channel has the team's id).
ALTER TABLE bot_membership
    ADD COLUMN team_id text
        CHECK (team_id ~ '^19:[^[:space:]]+@(thread\.skype|thread\.tacv2)$' AND char_length(team_id) <= 512);
ALTER TABLE bot_membership
    ADD CONSTRAINT bot_membership_team_is_a_team_scope CHECK (team_id IS NULL OR scope = 'team');
CREATE INDEX bot_membership_team_idx ON bot_membership (team_id) WHERE team_id IS NOT NULL;
