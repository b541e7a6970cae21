//! A world with the Bot Connector double on TLS (trusted through a private CA file, its host on
//! the service-URL allow-list, its OpenID metadata as the bot's token issuer) and the public
//! listener open for `/bot/messages`.

use actix_web::web;
use jira_teams_bridge::config::Settings;
use serde_json::Value;

use super::app::TempDir;
use super::jwt::{BOT_ID, bot_claims, post_activity};
use super::tls::self_signed;
use super::world::{ALICE_OID, World, world_with_fakes};
use crate::fakes::{self, bot::Bot, entra::Entra};

/// A [`World`] and the Bot Connector double it sends to.
pub struct BotWorld {
    pub w: World,
    pub bot: web::Data<Bot>,
    /// The base URL of the public listener.
    pub public: String,
    _dir: TempDir,
}

/// A bot world with the default settings.
pub async fn bot_world() -> BotWorld {
    bot_world_with(|_| {}).await
}

/// A bot world after `tweak` adjusted the settings (the bot's own already set).
pub async fn bot_world_with(tweak: impl FnOnce(&mut Settings)) -> BotWorld {
    let (_, entra) = fakes::entra::start(3600);
    bot_world_on(entra, None, tweak).await
}

/// A bot world whose Bot Connector accepts only tokens that `token_entra`, a second Entra ID,
/// issued (what `microsoft.bot_token_url` points at); Graph tokens still come from the world's.
pub async fn bot_world_with_bot_tokens_from(
    token_entra: web::Data<Entra>,
    tweak: impl FnOnce(&mut Settings),
) -> BotWorld {
    let (_, entra) = fakes::entra::start(3600);
    bot_world_on(entra, Some(token_entra), tweak).await
}

async fn bot_world_on(
    entra: web::Data<Entra>,
    token_entra: Option<web::Data<Entra>>,
    tweak: impl FnOnce(&mut Settings),
) -> BotWorld {
    let dir = TempDir::new();
    let (cert, key, _) = self_signed(&dir.0);
    let (_, graph) = fakes::graph::start(entra.clone());
    let (bot_addr, bot) =
        fakes::bot::start_tls(token_entra.unwrap_or_else(|| entra.clone()), &cert, &key);
    let metadata = bot.metadata_url();
    let w = world_with_fakes(entra, graph, move |s| {
        s.outbound.ca_file = cert;
        s.microsoft.service_url_hosts = vec![bot_addr.to_string()];
        s.microsoft.bot_openid_metadata_url = metadata;
        s.listen.public = "127.0.0.1:0".into();
        tweak(s);
    })
    .await;
    let public = w.app.public_base.clone().unwrap();
    BotWorld {
        w,
        bot,
        public,
        _dir: dir,
    }
}

impl BotWorld {
    /// Posts `activity` to `/bot/messages` with `token` (or none).
    pub async fn post(&self, token: Option<String>, activity: &Value) -> reqwest::Response {
        post_activity(&self.public, token, activity).await
    }

    /// A valid Bot Framework token for activities from the double's service URL.
    pub fn token(&self) -> String {
        self.bot
            .signer
            .mint("bf-key-1", &bot_claims(&self.bot.service_url()))
    }

    /// Posts `activity` to `/bot/messages` with a valid token.
    pub async fn post_signed(&self, activity: &Value) -> reqwest::Response {
        self.post(Some(self.token()), activity).await
    }

    /// The activity `fixtures/teams/<name>.json` (see the README there for the real shape each
    /// stands for), its placeholders filled in for this world: `{{BOT_ID}}`, `{{TENANT_ID}}`,
    /// `{{SERVICE_URL}}` (the double's) and `{{ALICE_OID}}`.
    pub fn activity_fixture(&self, name: &str) -> Value {
        let raw = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/integration/fixtures/teams")
                .join(format!("{name}.json")),
        )
        .unwrap();
        let filled = raw
            .replace("{{BOT_ID}}", BOT_ID)
            .replace("{{TENANT_ID}}", fakes::entra::TENANT_ID)
            .replace("{{SERVICE_URL}}", &self.bot.service_url())
            .replace("{{ALICE_OID}}", ALICE_OID);
        assert!(!filled.contains("{{"), "{name}: a placeholder is left");
        serde_json::from_str(&filled).unwrap()
    }
}
