//! A Bot Connector service URL the appliance may send its bot token to (PROTOCOLS.md §3.8):
//! https, no user info, query or fragment, and a host on the cloud's allow-list (or a configured
//! addition, which may name a port for private endpoints). Hosts are compared, not whole URLs:
//! paths vary by region and tenant.

/// A trusted service URL, normalised to end with `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceUrl(String);

/// Why a service URL is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceUrlError {
    #[error("the service URL is not a URL")]
    Malformed,
    #[error("the service URL must use https")]
    NotHttps,
    #[error("the service URL must not carry user info, a query or a fragment")]
    Extras,
    #[error("the service URL's host `{0}` is not on the allow-list")]
    HostNotAllowed(String),
}

impl ServiceUrl {
    /// Accepts `s` when its host (with its port, when not 443) is in `allowed`.
    pub fn parse(s: &str, allowed: &[String]) -> Result<ServiceUrl, ServiceUrlError> {
        let u = url::Url::parse(s).map_err(|_| ServiceUrlError::Malformed)?;
        if u.scheme() != "https" {
            return Err(ServiceUrlError::NotHttps);
        }
        if !u.username().is_empty()
            || u.password().is_some()
            || u.query().is_some()
            || u.fragment().is_some()
        {
            return Err(ServiceUrlError::Extras);
        }
        let host = u
            .host_str()
            .ok_or(ServiceUrlError::Malformed)?
            .to_ascii_lowercase();
        let with_port = match u.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.clone(),
        };
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&with_port)) {
            return Err(ServiceUrlError::HostNotAllowed(with_port));
        }
        let mut s = u.to_string();
        if !s.ends_with('/') {
            s.push('/');
        }
        Ok(ServiceUrl(s))
    }

    /// The URL, ending with `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec!["smba.trafficmanager.net".into(), "127.0.0.1:9443".into()]
    }

    #[test]
    fn known_hosts_are_trusted_whatever_their_path() {
        let s = ServiceUrl::parse("https://smba.trafficmanager.net/amer", &allowed()).unwrap();
        assert_eq!(s.as_str(), "https://smba.trafficmanager.net/amer/");
        assert!(
            ServiceUrl::parse("https://SMBA.trafficmanager.net/emea/tenant/", &allowed()).is_ok()
        );
        assert!(ServiceUrl::parse("https://127.0.0.1:9443/amer/", &allowed()).is_ok());
    }

    #[test]
    fn attacker_chosen_urls_are_refused() {
        let a = allowed();
        for (url, err) in [
            (
                "http://smba.trafficmanager.net/amer/",
                ServiceUrlError::NotHttps,
            ),
            (
                "https://evil.example/amer/",
                ServiceUrlError::HostNotAllowed("evil.example".into()),
            ),
            (
                "https://smba.trafficmanager.net.evil.example/",
                ServiceUrlError::HostNotAllowed("smba.trafficmanager.net.evil.example".into()),
            ),
            (
                "https://127.0.0.1/amer/",
                ServiceUrlError::HostNotAllowed("127.0.0.1".into()),
            ),
            (
                "https://smba.trafficmanager.net:8443/",
                ServiceUrlError::HostNotAllowed("smba.trafficmanager.net:8443".into()),
            ),
            (
                "https://x@smba.trafficmanager.net/",
                ServiceUrlError::Extras,
            ),
            (
                "https://smba.trafficmanager.net/amer/?x=1",
                ServiceUrlError::Extras,
            ),
            ("not a url", ServiceUrlError::Malformed),
        ] {
            assert_eq!(ServiceUrl::parse(url, &a), Err(err), "{url}");
        }
    }
}
