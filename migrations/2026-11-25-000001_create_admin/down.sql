DROP TABLE setup_token;
DROP TABLE login_attempt;
DROP TABLE admin_session;
DROP TABLE admin_user;
