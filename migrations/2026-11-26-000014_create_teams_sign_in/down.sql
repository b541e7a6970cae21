DELETE FROM sign_in_flow WHERE jira_user_key IS NULL OR stage = 'verify';
ALTER TABLE sign_in_flow DROP CONSTRAINT sign_in_flow_stage_check;
ALTER TABLE sign_in_flow ADD CONSTRAINT sign_in_flow_stage_check
    CHECK (stage IN ('microsoft', 'jira', 'done', 'failed'));
ALTER TABLE sign_in_flow ALTER COLUMN jira_user_key SET NOT NULL;
DROP TABLE teams_sign_in;
