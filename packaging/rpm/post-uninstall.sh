# %postun ($1 = 0 erase, 1 upgrade): restart a running service after an upgrade. Erasing keeps
# /var/lib/jira-teams-bridge (master key), a modified config (as .rpmsave) and the database.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart jira-teams-bridge.service >/dev/null 2>&1 || :
    fi
fi
if [ "$1" -eq 0 ]; then
    echo "jira-teams-bridge: kept /var/lib/jira-teams-bridge (master key), the database jira_teams_bridge and role jira-teams-bridge."
    echo "  To delete them (irreversible; back up first): sudo -u postgres dropdb jira_teams_bridge; sudo -u postgres dropuser jira-teams-bridge; sudo rm -r /var/lib/jira-teams-bridge"
fi
