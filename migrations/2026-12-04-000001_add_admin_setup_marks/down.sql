-- sign-ins in progress that would return to an admin form are dropped with their flow
DELETE FROM sign_in_flow
 WHERE id IN (SELECT flow_id FROM sign_in_return WHERE next_path NOT LIKE '/jira/%');
ALTER TABLE sign_in_return
    DROP CONSTRAINT sign_in_return_next_path_check,
    ADD CONSTRAINT sign_in_return_next_path_check
        CHECK (next_path LIKE '/jira/%' AND char_length(next_path) <= 1024);
DROP TABLE jira_instance_setup;
