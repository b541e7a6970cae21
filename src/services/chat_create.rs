//! Creating a Teams group chat for an issue as the Jira user who asks (the `/api/v1` relay and
//! the issue page's *Start a chat* both come here): topic "KEY: summary", members as linked Jira
//! users or UPNs, the Teams app added so issue cards reach it, its members recorded, and the chat
//! linked through the one write path (`services::issue_chats::link`, which queues its remote
//! link in the same transaction).

use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::clients::graph::{GraphError, Member};
use crate::db;
use crate::db::models::issue_chat::IssueChat;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::services::chat_access::Viewer;
use crate::services::chat_relay::{RelayError, graph_error};
use crate::services::issue_chats::{self, ChatToLink};
use crate::services::{connections, tokens};
use crate::state::AppState;

/// Most colleagues a new chat takes besides its creator (Graph's group chats start small).
pub const MAX_MEMBERS: usize = 19;

/// A Microsoft sign-in name as `/api/v1` documents it (`maxLength` counts characters; the
/// pattern's `\s` is JavaScript's, which is Rust's white space without U+0085, a control
/// anyway, plus U+FEFF).
pub fn valid_upn(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.chars().count() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !s.chars().any(|c| {
            c.is_whitespace() || c.is_control() || c == '\u{feff}' || "'\"()<>,;/\\".contains(c)
        })
}

/// The chat to create: the issue as its creator sees it in Jira, and whom to add.
#[derive(Debug, Clone)]
pub struct NewChat {
    pub issue_id: i64,
    pub issue_key: String,
    pub summary: String,
    /// Jira user keys of this instance; each must have a working Microsoft link.
    pub jira_users: Vec<String>,
    /// Microsoft sign-in names.
    pub upns: Vec<String>,
}

/// A chat created and linked.
#[derive(Debug, Clone)]
pub struct CreatedChat {
    pub link: IssueChat,
    pub topic: String,
    pub web_url: Option<String>,
    /// False when the Teams app could not be added (notifications will not arrive there until
    /// it is); the reason is in the service log.
    pub bot_installed: bool,
}

/// The topic of an issue's chat: "KEY: summary", cut to what Teams takes.
pub fn topic(key: &str, summary: &str) -> String {
    format!("{key}: {summary}").chars().take(250).collect()
}

/// Creates the group chat as `me` (the viewer's working Microsoft link) and links it.
pub async fn create_chat(
    state: &AppState,
    viewer: &Viewer,
    me: &UserMapping,
    new: NewChat,
) -> Result<CreatedChat, RelayError> {
    let (id, keys) = (viewer.instance_id, new.jira_users.clone());
    let linked = db::run(&state.pool, move |conn| {
        Ok(UserMapping::by_jira_users(conn, id, &keys)?)
    })
    .await?;
    let missing: Vec<String> = new
        .jira_users
        .iter()
        .filter(|k| {
            !linked
                .iter()
                .any(|m| &m.jira_user_key == *k && m.status == "linked")
        })
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(RelayError::MembersNotLinked(missing));
    }
    let mut members: Vec<Member> = linked
        .iter()
        .filter(|m| m.ms_user_id != me.ms_user_id)
        .map(|m| Member {
            user: m.ms_user_id.to_string(),
            guest: false,
        })
        .collect();
    members.extend(new.upns.iter().map(|u| Member {
        user: u.clone(),
        guest: false,
    }));

    let who = &viewer.actor;
    let ms = connections::microsoft(state, who).await?;
    let token =
        tokens::microsoft_token(state, me, who, "create a Teams chat as the user", false).await?;
    let topic = topic(&new.issue_key, &new.summary);
    let chat = match ms
        .graph
        .create_group_chat(&token, &me.ms_user_id.to_string(), &topic, &members)
        .await
    {
        Ok(c) => c,
        Err(GraphError::Status { status: 404, .. }) => return Err(RelayError::MemberUnknown),
        Err(e) => return Err(graph_error(state, me, e).await),
    };
    let Some(chat_id) = crate::domain::TeamsChatId::parse(&chat.id) else {
        return Err(RelayError::Other(AppError::client(
            StatusCode::BAD_GATEWAY,
            "graph_unavailable",
            "Graph returned a chat id of an unknown shape.",
        )));
    };
    let bot_installed = match ms.registration.teams_app_catalog_id.as_deref() {
        Some(catalog) => match ms
            .graph
            .install_app(&token, chat_id.as_str(), catalog)
            .await
        {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "could not add the Teams app to the new chat");
                false
            }
        },
        None => {
            tracing::warn!(
                "no Teams app catalog id configured: the bot was not added to the new chat"
            );
            false
        }
    };
    // what the appliance knows of the members: everyone Graph lists, else whom it asked for
    let mut member_ids: Vec<Uuid> = match ms.graph.chat_member_ids(&token, chat_id.as_str()).await {
        Ok(ids) => ids.iter().filter_map(|i| Uuid::parse_str(i).ok()).collect(),
        Err(_) => linked.iter().map(|m| m.ms_user_id).collect(),
    };
    member_ids.push(me.ms_user_id);
    let link = issue_chats::link(
        state,
        who,
        ChatToLink {
            instance: viewer.instance_id,
            issue_id: new.issue_id,
            chat_id: chat_id.as_str().to_owned(),
            created_by: viewer.user_key.clone(),
            topic: Some(topic.clone()),
            web_url: chat.web_url.clone(),
            members: member_ids,
            attached: false,
        },
    )
    .await?
    .ok_or_else(|| {
        AppError::client(
            StatusCode::CONFLICT,
            "chat_already_linked",
            "This chat is already linked to this issue.",
        )
    })?;
    tracing::info!(instance.public_id = %viewer.public_id, issue.id = new.issue_id, bot.installed = bot_installed, "Teams chat created for issue");
    Ok(CreatedChat {
        link,
        topic,
        web_url: chat.web_url,
        bot_installed,
    })
}
