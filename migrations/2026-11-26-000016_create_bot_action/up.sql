-- Actions the bot takes in Jira for a Teams user (create an issue from a form), keyed by the
-- form or activity they came from, so that Teams repeating an activity, or a second click on
-- the same form, never creates a second issue. `result` is what the action produced (the
-- issue key), shown again to a repeat.
CREATE TABLE bot_action (
    dedupe_key    text PRIMARY KEY CHECK (char_length(dedupe_key) BETWEEN 1 AND 600),
    teams_user_id text NOT NULL CHECK (char_length(teams_user_id) BETWEEN 1 AND 255),
    outcome       text NOT NULL CHECK (outcome IN ('pending', 'done')),
    result        text CHECK (result IS NULL OR char_length(result) <= 255),
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK ((outcome = 'done') = (result IS NOT NULL))
);
CREATE INDEX bot_action_created_idx ON bot_action (created_at);
