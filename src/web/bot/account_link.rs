//! Linking a Jira account from Teams (PROTOCOLS.md §6.4): the `link` and `unlink` commands, and
//! the one-time sign-in URL they hand out.
//!
//! `link` answers in the 1:1 chat only, with a card whose URL carries a one-time token (stored
//! hashed, ten minutes) bound to the asking Teams user and one Jira instance. The browser side
//! (`web::auth::from_teams`) proves the Microsoft user is that Teams user and ends with a six-digit
//! code, which `web::bot::finish_link` checks before anything is linked. `unlink` removes the
//! user's own links and the tokens kept with them.

use actix_web::http::StatusCode;
use uuid::Uuid;

use crate::clients::microsoft::MicrosoftConn;
use crate::db;
use crate::db::models::jira_instance::JiraInstance;
use crate::db::models::teams_sign_in::URL_TTL_SECS;
use crate::db::models::user_mapping::UserMapping;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::auth::from_teams::instance_label;

use super::context::TeamsContext;

const PRIVATE_ONLY: &str = "Account linking is personal: open your 1:1 chat with me and type **link** (or **unlink**) there. I never post sign-in links in shared conversations.";

/// Instances a user can link to: enabled, with a Jira OAuth client; oldest first.
async fn ready_instances(state: &AppState) -> Result<Vec<JiraInstance>, AppError> {
    let all = db::run(&state.pool, |conn| Ok(JiraInstance::list(conn)?)).await?;
    Ok(all
        .into_iter()
        .filter(|i| i.enabled && i.oauth_client_id.is_some())
        .collect())
}

/// Picks from `items` by 1-based number or by instance label / host.
pub(super) fn pick<'a, T>(
    items: &'a [T],
    arg: &str,
    label: impl Fn(&T) -> String,
) -> Option<&'a T> {
    let arg = arg.trim().trim_end_matches('/').to_lowercase();
    let arg = arg
        .strip_prefix("https://")
        .or_else(|| arg.strip_prefix("http://"))
        .unwrap_or(&arg);
    if let Ok(n) = arg.parse::<usize>() {
        return n.checked_sub(1).and_then(|i| items.get(i));
    }
    let exact: Vec<&T> = items
        .iter()
        .filter(|i| label(i).to_lowercase() == arg)
        .collect();
    if let [one] = exact.as_slice() {
        return Some(one);
    }
    // the host alone, when it names one instance
    let by_host: Vec<&T> = items
        .iter()
        .filter(|i| label(i).to_lowercase().split('/').next() == Some(arg))
        .collect();
    match by_host.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// Stores a new one-time URL for this Teams user and instance; returns it.
async fn issue_url(
    state: &AppState,
    ctx: &TeamsContext,
    instance: Uuid,
) -> Result<String, AppError> {
    let Some(oid) = ctx.aad_object_id else {
        return Err(no_identity());
    };
    crate::services::account_link::teams_sign_in_url(
        state,
        ctx.tenant_id,
        oid,
        &ctx.teams_user_id,
        instance,
    )
    .await
}

fn no_identity() -> AppError {
    AppError::client(
        StatusCode::BAD_REQUEST,
        "teams_user_unknown",
        "Teams did not say which Microsoft account you use, so I cannot link it.",
    )
}

fn link_card(url: &str, instance: &str) -> serde_json::Value {
    serde_json::json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "content": {
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "text": "Link your Jira account", "weight": "bolder", "size": "medium"},
                    {"type": "TextBlock", "wrap": true, "text": format!(
                        "Sign in to Microsoft and to Jira ({instance}) in your browser. The last page shows a code: send it to me here to finish. The link works once, for {} minutes, and only for you — don't forward it.",
                        URL_TTL_SECS / 60
                    )},
                ],
                "actions": [{"type": "Action.OpenUrl", "title": "Link Jira", "url": url}],
            },
        }, {
            // Teams' own sign-in (PROTOCOLS.md §6.4): the same URL in a Teams pop-up (its host,
            // the internal URL's, is in the app's validDomains); the code page there hands the
            // code to Teams, which sends it back as `signin/verifyState`
            "contentType": "application/vnd.microsoft.card.signin",
            "content": {
                "text": "Or sign in without leaving Teams:",
                "buttons": [{"type": "signin", "title": "Sign in here", "value": url}],
            },
        }],
    })
}

/// `link` [`number` | `host`].
pub async fn link(
    state: &AppState,
    _ms: &MicrosoftConn,
    ctx: &TeamsContext,
    rest: &str,
) -> Result<(), AppError> {
    if ctx.scope != "personal" {
        return ctx.reply_text(state, "link", PRIVATE_ONLY).await;
    }
    if ctx.aad_object_id.is_none() {
        return ctx
            .reply_text(state, "link", &no_identity().to_string())
            .await;
    }
    let instances = ready_instances(state).await?;
    if instances.is_empty() {
        return ctx
            .reply_text(
                state,
                "link",
                "No Jira instance is ready for linking yet. Ask your Jira administrator to set up its OAuth link in the appliance.",
            )
            .await;
    }
    let links = ctx.links(state).await?;
    let chosen = if rest.is_empty() {
        (instances.len() == 1).then(|| &instances[0])
    } else {
        match pick(&instances, rest, instance_label) {
            Some(i) => Some(i),
            None => {
                let shown: String = rest.chars().take(60).collect();
                return ctx
                    .reply_text(
                        state,
                        "link",
                        &format!(
                            "I don't know the Jira instance \"{shown}\".\n\n{}",
                            instance_list(&instances, &links)
                        ),
                    )
                    .await;
            }
        }
    };
    let Some(instance) = chosen else {
        return ctx
            .reply_text(state, "link", &instance_list(&instances, &links))
            .await;
    };
    // a link that needs a new sign-in gets a new URL; a working one is not replaced silently
    if let Some((m, _)) = links
        .iter()
        .find(|(m, _)| m.jira_instance_id == instance.id && m.status == "linked")
    {
        let label = instance_label(instance);
        let unlink = if instances.len() > 1 {
            format!("**unlink {label}**")
        } else {
            "**unlink**".to_owned()
        };
        return ctx
            .reply_text(
                state,
                "link",
                &format!(
                    "You are already linked to the Jira user **{}** on {label}. To link another Jira account, type {unlink} first and then **link** again; {unlink} alone removes the link and the tokens I keep for you.",
                    m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key),
                ),
            )
            .await;
    }
    let url = issue_url(state, ctx, instance.id).await?;
    tracing::info!(instance.public_id = %instance.public_id, "Teams sign-in link issued");
    ctx.reply(state, "link", link_card(&url, &instance_label(instance)))
        .await
}

fn instance_list(instances: &[JiraInstance], links: &[(UserMapping, JiraInstance)]) -> String {
    let mut out = String::from("Which Jira instance? Type **link** and its number or host:\n\n");
    for (n, i) in instances.iter().enumerate() {
        let linked = links
            .iter()
            .find(|(m, _)| m.jira_instance_id == i.id)
            .map(|(m, _)| {
                format!(
                    " — linked to **{}**",
                    m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key)
                )
            })
            .unwrap_or_default();
        out.push_str(&format!("{}. {}{linked}\n", n + 1, instance_label(i)));
    }
    out
}

/// `unlink` [`number` | `host` | `all`].
pub async fn unlink(state: &AppState, ctx: &TeamsContext, rest: &str) -> Result<(), AppError> {
    if ctx.scope != "personal" {
        return ctx.reply_text(state, "unlink", PRIVATE_ONLY).await;
    }
    let links = ctx.links(state).await?;
    if links.is_empty() {
        return ctx
            .reply_text(state, "unlink", "You have no linked Jira account.")
            .await;
    }
    let label = |(_, i): &(UserMapping, JiraInstance)| instance_label(i);
    let chosen: Vec<&(UserMapping, JiraInstance)> = if rest.eq_ignore_ascii_case("all") {
        links.iter().collect()
    } else if rest.is_empty() && links.len() == 1 {
        vec![&links[0]]
    } else if rest.is_empty() {
        let mut out = String::from(
            "You are linked on several Jira instances. Type **unlink** and a number or host, or **unlink all** to remove every link:\n\n",
        );
        for (n, (m, i)) in links.iter().enumerate() {
            out.push_str(&format!(
                "{}. {} — **{}**\n",
                n + 1,
                instance_label(i),
                m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key)
            ));
        }
        return ctx.reply_text(state, "unlink", &out).await;
    } else {
        match pick(&links, rest, label) {
            Some(l) => vec![l],
            None => {
                let shown: String = rest.chars().take(60).collect();
                return ctx
                    .reply_text(
                        state,
                        "unlink",
                        &format!(
                            "You have no link on \"{shown}\". Type **unlink** to see your links."
                        ),
                    )
                    .await;
            }
        }
    };
    let (tenant, oid) = (ctx.tenant_id, ctx.aad_object_id);
    let ids: Vec<Uuid> = chosen.iter().map(|(m, _)| m.id).collect();
    let removed = db::run(&state.pool, move |conn| {
        use crate::db::schema::user_mapping as um;
        use diesel::prelude::*;
        // only this Teams user's own links, whatever changed since they were listed; their
        // tokens go with them (ON DELETE CASCADE), as with the admin's unlink
        Ok(diesel::delete(
            um::table
                .filter(um::id.eq_any(&ids))
                .filter(um::ms_tenant_id.eq(tenant))
                .filter(um::ms_user_id.nullable().eq(oid)),
        )
        .returning(um::id)
        .get_results::<Uuid>(conn)?)
    })
    .await?;
    let mut out = String::new();
    for (m, i) in chosen.iter().filter(|(m, _)| removed.contains(&m.id)) {
        tracing::info!(mapping.id = %m.id, instance.public_id = %i.public_id, "user unlinked from Teams; tokens erased");
        out.push_str(&format!(
            "Unlinked the Jira user **{}** on {}.\n\n",
            m.jira_user_name.as_deref().unwrap_or(&m.jira_user_key),
            instance_label(i)
        ));
    }
    if out.is_empty() {
        out.push_str("That link was already gone.");
    } else {
        out.push_str(
            "I erased the Microsoft and Jira tokens I kept for you. Type **link** to link again.",
        );
    }
    ctx.reply_text(state, "unlink", &out).await
}

/// A one-time sign-in URL for this Teams user (what `link` offers), for answers that ask an
/// unlinked user to link first (message-extension `auth` replies, sign-in cards). It is bound
/// to this Teams user and to the first Jira instance ready for linking.
pub async fn sign_in_url(state: &AppState, ctx: &TeamsContext) -> Result<String, AppError> {
    let instances = ready_instances(state).await?;
    let Some(first) = instances.first() else {
        return Err(AppError::client(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_instance_ready",
            "No Jira instance is ready for linking yet.",
        ));
    };
    issue_url(state, ctx, first.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_picked_by_number_label_or_unique_host() {
        let items = [
            "jira.example.com/jira",
            "jira.example.com/other",
            "tracker.example.org",
        ];
        let label = |s: &&str| (*s).to_owned();
        assert_eq!(pick(&items, "2", label), Some(&items[1]));
        assert_eq!(pick(&items, "0", label), None);
        assert_eq!(pick(&items, "4", label), None);
        assert_eq!(
            pick(&items, "https://JIRA.example.com/jira/", label),
            Some(&items[0])
        );
        assert_eq!(pick(&items, "tracker.example.org", label), Some(&items[2]));
        // a host with two instances is ambiguous
        assert_eq!(pick(&items, "jira.example.com", label), None);
    }
}
