//! Microsoft national clouds and their endpoints (PROTOCOLS.md §1.5, §3.7). Tokens do not cross
//! clouds, so every endpoint of one connection comes from the same set; configuration may
//! override single endpoints (private endpoints, test doubles).

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Global,
    UsGov,
    UsGovDod,
    China,
}

/// The endpoints of one cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com`.
    pub login: String,
    /// Graph root, e.g. `https://graph.microsoft.com`.
    pub graph: String,
    /// The Graph app-only scope, `<graph>/.default`.
    pub graph_scope: String,
    /// Bot Framework OpenID metadata for inbound activity tokens.
    pub bot_openid_metadata: String,
    /// Expected issuer of inbound activity tokens.
    pub bot_issuer: String,
    /// Scope of outbound Bot Connector tokens.
    pub bot_scope: String,
    /// Token endpoint of Bot Connector tokens when configured (`microsoft.bot_token_url`, e.g.
    /// a legacy multi-tenant bot's `botframework.com` authority, PROTOCOLS.md §3.2/§3.7);
    /// `None`: the registration's tenant at `login`, as for every app-only token.
    pub bot_token: Option<String>,
    /// Bot Connector hosts a service URL may point at.
    pub service_url_hosts: Vec<String>,
}

impl Cloud {
    /// Parses the `microsoft.cloud` setting.
    pub fn parse(s: &str) -> Option<Cloud> {
        Some(match s {
            "global" => Cloud::Global,
            "usgov" => Cloud::UsGov,
            "usgovdod" => Cloud::UsGovDod,
            "china" => Cloud::China,
            _ => return None,
        })
    }

    /// The cloud's own endpoints.
    pub fn endpoints(self) -> Endpoints {
        let (login, graph, bot_meta, bot_issuer, bot_scope, hosts): (
            &str,
            &str,
            &str,
            &str,
            &str,
            &[&str],
        ) = match self {
            Cloud::Global => (
                "https://login.microsoftonline.com",
                "https://graph.microsoft.com",
                "https://login.botframework.com/v1/.well-known/openidconfiguration",
                "https://api.botframework.com",
                "https://api.botframework.com/.default",
                &[
                    "smba.trafficmanager.net",
                    "smba.infra.gcc.teams.microsoft.com",
                ],
            ),
            Cloud::UsGov => (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us",
                "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
                "https://api.botframework.us",
                "https://api.botframework.us/.default",
                &["smba.infra.gov.teams.microsoft.us"],
            ),
            Cloud::UsGovDod => (
                "https://login.microsoftonline.us",
                "https://dod-graph.microsoft.us",
                "https://login.botframework.azure.us/v1/.well-known/openidconfiguration",
                "https://api.botframework.us",
                "https://api.botframework.us/.default",
                &["smba.infra.dod.teams.microsoft.us"],
            ),
            Cloud::China => (
                "https://login.chinacloudapi.cn",
                "https://microsoftgraph.chinacloudapi.cn",
                "https://login.botframework.azure.cn/v1/.well-known/openidconfiguration",
                "https://api.botframework.azure.cn",
                "https://api.botframework.azure.cn/.default",
                &[],
            ),
        };
        Endpoints {
            login: login.into(),
            graph: graph.into(),
            graph_scope: format!("{graph}/.default"),
            bot_openid_metadata: bot_meta.into(),
            bot_issuer: bot_issuer.into(),
            bot_scope: bot_scope.into(),
            bot_token: None,
            service_url_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        }
    }
}

impl Endpoints {
    /// Applies configured overrides (empty strings keep the cloud's value); extra Bot Connector
    /// hosts are added to the cloud's own. The Graph scope follows an overridden Graph root.
    pub fn with_overrides(
        mut self,
        login: &str,
        graph: &str,
        bot_openid_metadata: &str,
        bot_token: &str,
        extra_hosts: &[String],
    ) -> Endpoints {
        if !bot_token.is_empty() {
            self.bot_token = Some(bot_token.to_owned());
        }
        if !login.is_empty() {
            self.login = login.trim_end_matches('/').to_owned();
        }
        if !graph.is_empty() {
            self.graph = graph.trim_end_matches('/').to_owned();
            self.graph_scope = format!("{}/.default", self.graph);
        }
        if !bot_openid_metadata.is_empty() {
            self.bot_openid_metadata = bot_openid_metadata.to_owned();
        }
        self.service_url_hosts
            .extend(extra_hosts.iter().map(|h| h.to_ascii_lowercase()));
        self
    }

    /// The token endpoint of a tenant (never `common`/`consumers` for app-only tokens).
    pub fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.login)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_cloud_keeps_its_endpoints_together() {
        let g = Cloud::Global.endpoints();
        assert_eq!(g.graph_scope, "https://graph.microsoft.com/.default");
        assert_eq!(
            g.token_url("0e3419f7-4c4d-47e7-b98a-7b9b9de02b80"),
            "https://login.microsoftonline.com/0e3419f7-4c4d-47e7-b98a-7b9b9de02b80/oauth2/v2.0/token"
        );
        let h = Cloud::UsGov.endpoints();
        assert_eq!(
            (h.login.as_str(), h.graph.as_str()),
            (
                "https://login.microsoftonline.us",
                "https://graph.microsoft.us"
            )
        );
        assert_eq!(
            h.graph_scope, "https://graph.microsoft.us/.default",
            "the scope host follows the cloud's Graph"
        );
        assert_eq!(
            Cloud::UsGovDod.endpoints().graph,
            "https://dod-graph.microsoft.us"
        );
        assert_eq!(
            Cloud::China.endpoints().bot_issuer,
            "https://api.botframework.azure.cn"
        );
        assert_eq!(Cloud::parse("usgovdod"), Some(Cloud::UsGovDod));
        assert_eq!(Cloud::parse("mars"), None);
    }

    #[test]
    fn overrides_replace_single_endpoints() {
        let e = Cloud::Global.endpoints().with_overrides(
            "http://127.0.0.1:9000/",
            "",
            "",
            "",
            &["Bots.Example.com".into()],
        );
        assert_eq!(e.login, "http://127.0.0.1:9000");
        assert_eq!(e.graph, "https://graph.microsoft.com");
        assert!(e.service_url_hosts.contains(&"bots.example.com".to_owned()));
        assert_eq!(
            e.bot_token, None,
            "by default the bot's token comes from the registration's tenant"
        );
        let e = Cloud::UsGov
            .endpoints()
            .with_overrides("", "http://127.0.0.1:9001", "", "", &[]);
        assert_eq!(e.graph_scope, "http://127.0.0.1:9001/.default");
        let multi = "https://login.microsoftonline.com/botframework.com/oauth2/v2.0/token";
        let e = Cloud::Global
            .endpoints()
            .with_overrides("", "", "", multi, &[]);
        assert_eq!(e.bot_token.as_deref(), Some(multi));
        assert_eq!(
            e.token_url("contoso.example"),
            "https://login.microsoftonline.com/contoso.example/oauth2/v2.0/token",
            "Graph tokens keep the tenant"
        );
    }
}
