DROP TABLE teams_app_package;
