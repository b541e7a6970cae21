DROP TABLE jira_instance;
