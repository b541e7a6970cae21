-- What the Jira instances overview shows of an instance's setup beyond its own row: when its
-- OAuth link last proved to work (the admin's connection test, or a Jira sign-in that redeemed a
-- code; cleared when the client changes), and when its webhook last delivered an authenticated
-- event (written at most once a minute per instance, so a busy webhook costs no write per
-- event). A row of its own, not columns of jira_instance: the webhook intake writes it, and
-- jira_instance is at diesel's 16-column limit. Goes with its instance.
CREATE TABLE jira_instance_setup (
    jira_instance_id uuid PRIMARY KEY REFERENCES jira_instance (id) ON DELETE CASCADE,
    oauth_tested_at  timestamptz,
    last_event_at    timestamptz
);

-- A sign-in with Jira may also return to the admin's JSM portal-app forms, which list the
-- instance's service desks as the Jira user signed in in that browser (the code allows exactly
-- `/admin/portal-apps/new[?instance=<uuid>]` and `/admin/portal-apps/<uuid>/edit`).
ALTER TABLE sign_in_return
    DROP CONSTRAINT sign_in_return_next_path_check,
    ADD CONSTRAINT sign_in_return_next_path_check
        CHECK ((next_path LIKE '/jira/%' OR next_path LIKE '/admin/portal-apps/%')
               AND char_length(next_path) <= 1024);
