# %post ($1 = 1 install, 2 upgrade): directories, local database, migrations, next step.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
if [ "$1" -ge 2 ]; then
    /usr/libexec/jira-teams-bridge/configure-host upgrade || :
else
    /usr/libexec/jira-teams-bridge/configure-host install || :
fi
