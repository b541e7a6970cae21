# %pre: the system user must exist before the config file is given its group.
systemd-sysusers --replace=/usr/lib/sysusers.d/jira-teams-bridge.conf - <<'SYSUSERS'
u jira-teams-bridge - "jira-teams-bridge appliance" /var/lib/jira-teams-bridge /usr/sbin/nologin
SYSUSERS
