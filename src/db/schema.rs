//! Diesel table definitions, kept in step with `migrations/` by hand (checked by the
//! `schema_matches_migrations` test).

diesel::table! {
    admin_user (id) {
        id -> Uuid,
        username -> Text,
        password_hash -> Text,
        created_at -> Timestamptz,
        last_login_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    admin_session (id) {
        id -> Uuid,
        token_hash -> Bytea,
        admin_user_id -> Uuid,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    login_attempt (id) {
        id -> Int8,
        username -> Text,
        client_ip -> Text,
        succeeded -> Bool,
        at -> Timestamptz,
    }
}

diesel::table! {
    setup_token (id) {
        id -> Int2,
        token_hash -> Bytea,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    jira_instance (id) {
        id -> Uuid,
        base_url -> Text,
        public_id -> Text,
        shared_secret -> Bytea,
        shared_secret_hint -> Text,
        webhook_secret -> Nullable<Bytea>,
        enabled -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        secret_rotated_at -> Timestamptz,
        webhook_token_hash -> Nullable<Bytea>,
        oauth_client_id -> Nullable<Text>,
        oauth_client_secret -> Nullable<Bytea>,
        remote_links -> Bool,
        remote_link_comment -> Bool,
    }
}

diesel::table! {
    user_mapping (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        jira_user_key -> Text,
        ms_tenant_id -> Uuid,
        ms_user_id -> Uuid,
        status -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        ms_user_name -> Nullable<Text>,
        jira_user_name -> Nullable<Text>,
        status_detail -> Nullable<Text>,
        lapse_count -> Int4,
    }
}

diesel::table! {
    issue_chat (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        issue_id -> Int8,
        created_by -> Text,
        chat_id -> Text,
        created_at -> Timestamptz,
        topic -> Nullable<Text>,
        web_url -> Nullable<Text>,
        chat_gone -> Bool,
        issue_deleted -> Bool,
        remote_link_state -> Text,
        remote_link_detail -> Nullable<Text>,
        remote_link_version -> Int4,
        attached -> Bool,
    }
}

diesel::table! {
    shared_chat_access (id) {
        id -> Uuid,
        issue_chat_id -> Uuid,
        restrictions -> Jsonb,
        set_by -> Text,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bot_membership (id) {
        id -> Uuid,
        conversation_id -> Text,
        tenant_id -> Uuid,
        scope -> Text,
        service_url -> Text,
        status -> Text,
        team_name -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        team_id -> Nullable<Text>,
    }
}

diesel::table! {
    teams_user_setting (teams_user_id) {
        teams_user_id -> Text,
        settings -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    instance_setting (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        name -> Text,
        value -> Jsonb,
        updated_by -> Nullable<Text>,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jsm_portal_app (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        settings -> Jsonb,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    access_token (id) {
        id -> Uuid,
        kind -> Text,
        jira_instance_id -> Nullable<Uuid>,
        user_mapping_id -> Nullable<Uuid>,
        ms_tenant_id -> Nullable<Uuid>,
        scopes -> Text,
        token -> Bytea,
        refresh_token -> Nullable<Bytea>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        refresh_lease_until -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    secret_access_audit (id) {
        id -> Int8,
        at -> Timestamptz,
        actor_kind -> Text,
        actor -> Text,
        secret_kind -> Text,
        secret_table -> Text,
        secret_row -> Uuid,
        secret_label -> Text,
        purpose -> Text,
        outcome -> Text,
        detail -> Nullable<Text>,
    }
}

diesel::table! {
    outbox (id) {
        id -> Int8,
        kind -> Text,
        jira_instance_id -> Nullable<Uuid>,
        dedupe_key -> Nullable<Text>,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        run_after -> Timestamptz,
        leased_until -> Nullable<Timestamptz>,
        lease_owner -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        ordering_key -> Nullable<Text>,
        held -> Bool,
    }
}

diesel::joinable!(admin_session -> admin_user (admin_user_id));
diesel::joinable!(user_mapping -> jira_instance (jira_instance_id));
diesel::joinable!(issue_chat -> jira_instance (jira_instance_id));
diesel::joinable!(shared_chat_access -> issue_chat (issue_chat_id));
diesel::joinable!(instance_setting -> jira_instance (jira_instance_id));
diesel::joinable!(jsm_portal_app -> jira_instance (jira_instance_id));
diesel::joinable!(access_token -> user_mapping (user_mapping_id));
diesel::joinable!(outbox -> jira_instance (jira_instance_id));

diesel::allow_tables_to_appear_in_same_query!(
    admin_user,
    admin_session,
    login_attempt,
    setup_token,
    jira_instance,
    user_mapping,
    issue_chat,
    shared_chat_access,
    bot_membership,
    teams_user_setting,
    instance_setting,
    jsm_portal_app,
    access_token,
    secret_access_audit,
    outbox,
);

diesel::table! {
    jwt_replay (token_hash) {
        token_hash -> Bytea,
        jira_instance_id -> Uuid,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(jwt_replay -> jira_instance (jira_instance_id));
diesel::allow_tables_to_appear_in_same_query!(jwt_replay, jira_instance);

diesel::table! {
    microsoft_app (id) {
        id -> Uuid,
        singleton -> Bool,
        cloud -> Text,
        tenant_id -> Text,
        client_id -> Uuid,
        client_secret -> Nullable<Bytea>,
        bot_app_id -> Nullable<Uuid>,
        teams_app_catalog_id -> Nullable<Text>,
        updated_by -> Text,
        updated_at -> Timestamptz,
        client_certificate -> Nullable<Bytea>,
    }
}

diesel::table! {
    sign_in_flow (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        jira_user_key -> Nullable<Text>,
        start_hash -> Bytea,
        browser_hash -> Bytea,
        state_hash -> Nullable<Bytea>,
        stage -> Text,
        pkce_verifier -> Nullable<Text>,
        nonce -> Nullable<Text>,
        ms_tenant_id -> Nullable<Uuid>,
        ms_user_id -> Nullable<Uuid>,
        ms_token -> Nullable<Bytea>,
        ms_refresh_token -> Nullable<Bytea>,
        ms_expires_at -> Nullable<Timestamptz>,
        ms_user_name -> Nullable<Text>,
        expires_at -> Timestamptz,
    }
}

diesel::table! {
    issue_chat_member (issue_chat_id, ms_user_id) {
        issue_chat_id -> Uuid,
        ms_user_id -> Uuid,
    }
}

diesel::joinable!(sign_in_flow -> jira_instance (jira_instance_id));
diesel::joinable!(issue_chat_member -> issue_chat (issue_chat_id));
diesel::allow_tables_to_appear_in_same_query!(issue_chat_member, issue_chat);
diesel::allow_tables_to_appear_in_same_query!(issue_chat_member, user_mapping);

diesel::table! {
    channel_subscription (id) {
        id -> Uuid,
        jira_instance_id -> Uuid,
        conversation_id -> Text,
        tenant_id -> Uuid,
        project_key -> Text,
        events -> Array<Text>,
        jql -> Nullable<Text>,
        owner_mapping_id -> Uuid,
        created_by -> Text,
        created_at -> Timestamptz,
    }
}

diesel::joinable!(channel_subscription -> jira_instance (jira_instance_id));
diesel::joinable!(channel_subscription -> user_mapping (owner_mapping_id));
diesel::allow_tables_to_appear_in_same_query!(channel_subscription, jira_instance);
diesel::allow_tables_to_appear_in_same_query!(channel_subscription, user_mapping);

diesel::table! {
    teams_sign_in (id) {
        id -> Uuid,
        token_hash -> Bytea,
        tenant_id -> Uuid,
        aad_object_id -> Uuid,
        teams_user_id -> Text,
        jira_instance_id -> Uuid,
        stage -> Text,
        jira_user_key -> Nullable<Text>,
        jira_user_name -> Nullable<Text>,
        jira_token -> Nullable<Bytea>,
        jira_refresh_token -> Nullable<Bytea>,
        jira_expires_at -> Nullable<Timestamptz>,
        jira_scopes -> Text,
        code_hash -> Nullable<Bytea>,
        attempts -> Int4,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(teams_sign_in -> jira_instance (jira_instance_id));
diesel::allow_tables_to_appear_in_same_query!(teams_sign_in, jira_instance);

diesel::table! {
    teams_app_package (manifest_id) {
        manifest_id -> Uuid,
        singleton -> Bool,
        version -> Text,
        content_sha256 -> Bytea,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    bot_action (dedupe_key) {
        dedupe_key -> Text,
        teams_user_id -> Text,
        outcome -> Text,
        result -> Nullable<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    posted_card (conversation_id, jira_instance_id, issue_id, comment_id) {
        conversation_id -> Text,
        jira_instance_id -> Uuid,
        issue_id -> Int8,
        comment_id -> Text,
        activity_id -> Text,
        last_event_ms -> Int8,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted -> Bool,
    }
}

diesel::joinable!(posted_card -> jira_instance (jira_instance_id));
diesel::allow_tables_to_appear_in_same_query!(posted_card, jira_instance);

diesel::table! {
    activity_bucket (bucket_start, counter) {
        bucket_start -> Timestamptz,
        counter -> Text,
        value -> Int8,
    }
}

diesel::table! {
    jira_user_session (id) {
        id -> Uuid,
        token_hash -> Bytea,
        jira_instance_id -> Uuid,
        jira_user_key -> Text,
        jira_user_name -> Text,
        access_token -> Bytea,
        refresh_token -> Nullable<Bytea>,
        token_expires_at -> Timestamptz,
        created_at -> Timestamptz,
        last_seen_at -> Timestamptz,
        expires_at -> Timestamptz,
    }
}

diesel::joinable!(jira_user_session -> jira_instance (jira_instance_id));
diesel::allow_tables_to_appear_in_same_query!(jira_user_session, jira_instance);

diesel::table! {
    sign_in_return (flow_id) {
        flow_id -> Uuid,
        next_path -> Text,
    }
}

diesel::joinable!(sign_in_return -> sign_in_flow (flow_id));
diesel::allow_tables_to_appear_in_same_query!(sign_in_return, sign_in_flow);

diesel::table! {
    jira_instance_setup (jira_instance_id) {
        jira_instance_id -> Uuid,
        oauth_tested_at -> Nullable<Timestamptz>,
        last_event_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(jira_instance_setup -> jira_instance (jira_instance_id));
diesel::allow_tables_to_appear_in_same_query!(jira_instance_setup, jira_instance);
