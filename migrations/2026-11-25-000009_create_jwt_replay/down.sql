DROP TABLE jwt_replay;
