-- Where the bot is installed (team, group chat, personal) and per-Teams-user settings.
CREATE TABLE bot_membership (
    id              uuid PRIMARY KEY,
    conversation_id text NOT NULL UNIQUE
                    CHECK (conversation_id ~ '^(19:[^[:space:]]+@(thread\.skype|thread\.tacv2|thread\.v2|unq\.gbl\.spaces)|a:[^[:space:]]+)$'
                           AND char_length(conversation_id) <= 512),
    tenant_id       uuid NOT NULL,
    scope           text NOT NULL CHECK (scope IN ('personal', 'team', 'groupChat')),
    service_url     text NOT NULL CHECK (service_url ~ '^https://[^/?#@[:space:]]+/' AND char_length(service_url) <= 2048),
    status          text NOT NULL
                    CHECK (status IN ('teamMemberAdded', 'teamMemberRemoved', 'installationAdded',
                                      'installationRemoved', 'messageWritesBlocked')),
    team_name       text CHECK (char_length(team_name) <= 512),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_membership_tenant_idx ON bot_membership (tenant_id);

CREATE TABLE teams_user_setting (
    teams_user_id text PRIMARY KEY CHECK (teams_user_id ~ '^29:[^[:space:]]+$' AND char_length(teams_user_id) <= 512),
    settings      jsonb NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
