ALTER TABLE issue_chat DROP COLUMN attached;
