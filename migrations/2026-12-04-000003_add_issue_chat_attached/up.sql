-- A chat linked from Teams (`attach`, *Attach this chat*, "link this chat" on a new issue) was
-- started by someone else, with a history its members wrote before any link: whoever attached
-- it may not share it with everyone who can see the issue.
ALTER TABLE issue_chat ADD COLUMN attached boolean NOT NULL DEFAULT false;
