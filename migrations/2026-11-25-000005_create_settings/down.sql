DROP TABLE jsm_portal_app;
DROP TABLE instance_setting;
