-- The card the bot posted to a conversation for a Jira comment, so that an edit or a deletion
-- of the comment updates that card in place (Bot Connector `PUT .../activities/{id}`) instead of
-- posting another. `last_event_ms` is the Jira timestamp of the newest event the card shows: an
-- older event arriving late (DC webhooks are asynchronous) does not overwrite it. Rows are
-- forgotten 90 days after their last use (purged whenever a row is written); an edit after
-- that posts a new card.
CREATE TABLE posted_card (
    conversation_id  text NOT NULL
                     CHECK (conversation_id ~ '^(19:|a:)[^[:space:]]+$' AND char_length(conversation_id) <= 512),
    jira_instance_id uuid NOT NULL REFERENCES jira_instance (id) ON DELETE CASCADE,
    issue_id         bigint NOT NULL CHECK (issue_id > 0),
    comment_id       text NOT NULL CHECK (char_length(comment_id) BETWEEN 1 AND 255),
    activity_id      text NOT NULL CHECK (char_length(activity_id) BETWEEN 1 AND 512),
    last_event_ms    bigint NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, jira_instance_id, issue_id, comment_id)
);
CREATE INDEX posted_card_instance_idx ON posted_card (jira_instance_id);
CREATE INDEX posted_card_updated_idx ON posted_card (updated_at);
