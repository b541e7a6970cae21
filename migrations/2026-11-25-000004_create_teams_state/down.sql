DROP TABLE teams_user_setting;
DROP TABLE bot_membership;
