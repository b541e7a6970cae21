DROP TABLE bot_action;
