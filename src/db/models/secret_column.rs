//! Every encrypted column, by kind: where each secret lives (table and column). The secret store
//! (`secret`) reads and writes them; audit rows (`audit`) name them.

/// A kind of secret and the column that holds it. Every encrypted column is listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretColumn {
    pub kind: &'static str,
    pub table: &'static str,
    pub column: &'static str,
}

/// Jira instance shared secret (HS256 key of the Jira app's requests).
pub const JIRA_SHARED_SECRET: SecretColumn = SecretColumn {
    kind: "jira_shared_secret",
    table: "jira_instance",
    column: "shared_secret",
};
/// Jira webhook HMAC secret.
pub const JIRA_WEBHOOK_SECRET: SecretColumn = SecretColumn {
    kind: "jira_webhook_secret",
    table: "jira_instance",
    column: "webhook_secret",
};
/// OAuth access tokens (Microsoft, Jira, Bot Connector).
pub const ACCESS_TOKEN: SecretColumn = SecretColumn {
    kind: "access_token",
    table: "access_token",
    column: "token",
};
/// OAuth refresh tokens.
pub const REFRESH_TOKEN: SecretColumn = SecretColumn {
    kind: "refresh_token",
    table: "access_token",
    column: "refresh_token",
};

/// Client secret of the Microsoft app registration (entered in the admin UI).
pub const MICROSOFT_CLIENT_SECRET: SecretColumn = SecretColumn {
    kind: "microsoft_client_secret",
    table: "microsoft_app",
    column: "client_secret",
};
/// Client certificate of the Microsoft app registration: one PEM with the certificate and its
/// private key (entered in the admin UI instead of a client secret).
pub const MICROSOFT_CLIENT_CERTIFICATE: SecretColumn = SecretColumn {
    kind: "microsoft_client_certificate",
    table: "microsoft_app",
    column: "client_certificate",
};
/// Client secret of a Jira instance's OAuth 2.0 incoming link.
pub const JIRA_OAUTH_CLIENT_SECRET: SecretColumn = SecretColumn {
    kind: "jira_oauth_client_secret",
    table: "jira_instance",
    column: "oauth_client_secret",
};
/// Microsoft access token waiting in a sign-in flow for the Jira leg.
pub const FLOW_MS_TOKEN: SecretColumn = SecretColumn {
    kind: "flow_access_token",
    table: "sign_in_flow",
    column: "ms_token",
};
/// Microsoft refresh token waiting in a sign-in flow.
pub const FLOW_MS_REFRESH_TOKEN: SecretColumn = SecretColumn {
    kind: "flow_refresh_token",
    table: "sign_in_flow",
    column: "ms_refresh_token",
};

/// Jira access token waiting in a Teams-started sign-in for the user's code.
pub const TEAMS_FLOW_JIRA_TOKEN: SecretColumn = SecretColumn {
    kind: "teams_flow_access_token",
    table: "teams_sign_in",
    column: "jira_token",
};
/// Jira refresh token waiting in a Teams-started sign-in.
pub const TEAMS_FLOW_JIRA_REFRESH_TOKEN: SecretColumn = SecretColumn {
    kind: "teams_flow_refresh_token",
    table: "teams_sign_in",
    column: "jira_refresh_token",
};

/// Jira access token of a Jira user signed in to the appliance's pages.
pub const JIRA_SESSION_TOKEN: SecretColumn = SecretColumn {
    kind: "jira_session_access_token",
    table: "jira_user_session",
    column: "access_token",
};
/// Jira refresh token of a signed-in Jira user's session.
pub const JIRA_SESSION_REFRESH_TOKEN: SecretColumn = SecretColumn {
    kind: "jira_session_refresh_token",
    table: "jira_user_session",
    column: "refresh_token",
};

/// Not a column: a Jira administrator's personal access token, typed on the webhook page to
/// register the webhook, used for that one request and never stored. Its audit rows name the
/// instance (`jira_instance` row). Not in [`ALL_SECRET_COLUMNS`]: there is nothing to rotate.
pub const JIRA_ADMIN_PAT: SecretColumn = SecretColumn {
    kind: "jira_admin_pat",
    table: "jira_instance",
    column: "(not stored)",
};

/// Every encrypted column in the schema (rotation walks this list).
pub const ALL_SECRET_COLUMNS: &[SecretColumn] = &[
    JIRA_SHARED_SECRET,
    JIRA_WEBHOOK_SECRET,
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    MICROSOFT_CLIENT_SECRET,
    // next to the secret: lock_secret_tables dedups adjacent table names only
    MICROSOFT_CLIENT_CERTIFICATE,
    JIRA_OAUTH_CLIENT_SECRET,
    FLOW_MS_TOKEN,
    FLOW_MS_REFRESH_TOKEN,
    TEAMS_FLOW_JIRA_TOKEN,
    TEAMS_FLOW_JIRA_REFRESH_TOKEN,
    JIRA_SESSION_TOKEN,
    JIRA_SESSION_REFRESH_TOKEN,
];
