DROP TABLE shared_chat_access;
DROP TABLE issue_chat;
DROP TABLE user_mapping;
