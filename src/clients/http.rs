//! One outbound HTTP stack: rustls, the corporate proxy (with credentials and `no_proxy`), an
//! extra PEM CA bundle, connect and total timeouts, and retries of 429/503/504 that honour
//! `Retry-After`. Errors and logs carry no URL query, token or secret.

use std::time::Duration;

use reqwest::{Certificate, Client, NoProxy, Proxy, RequestBuilder, Response, StatusCode};
use secrecy::ExposeSecret;

use crate::config::OutboundSettings;

/// Why an outbound call failed before an answer came back.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{service} is unreachable: {detail}")]
    Unreachable {
        service: &'static str,
        detail: String,
    },
    #[error("{service} did not answer in time")]
    Timeout { service: &'static str },
}

/// Retry policy for throttling and transient server errors.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total tries, the first included.
    pub max_tries: u32,
    /// A `Retry-After` longer than this is not waited for: the answer goes back to the caller
    /// (the outbox can schedule it instead of holding a worker).
    pub max_wait: Duration,
    /// First backoff when no `Retry-After` came.
    pub base_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 3,
            max_wait: Duration::from_secs(30),
            base_backoff: Duration::from_millis(500),
        }
    }
}

/// The client every outbound call goes through.
#[derive(Debug, Clone)]
pub struct OutboundHttp {
    client: Client,
    retry: RetryPolicy,
    metrics: Option<std::sync::Arc<crate::telemetry::metrics::Metrics>>,
}

impl OutboundHttp {
    /// Builds the client from `[outbound]`.
    pub fn from_settings(o: &OutboundSettings, retry: RetryPolicy) -> anyhow::Result<OutboundHttp> {
        let mut b = Client::builder()
            .connect_timeout(Duration::from_secs(o.connect_timeout_secs))
            .timeout(Duration::from_secs(o.timeout_secs))
            .user_agent(concat!("jira-teams-bridge/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(proxy) = o
            .proxy
            .as_ref()
            .map(|p| p.expose_secret().to_owned())
            .filter(|p| !p.is_empty())
        {
            // credentials in the proxy URL's userinfo become Proxy-Authorization
            let mut p = Proxy::all(&proxy)
                .map_err(|_| anyhow::anyhow!("outbound.proxy is not a usable proxy URL"))?;
            if !o.no_proxy.is_empty() {
                p = p.no_proxy(NoProxy::from_string(&o.no_proxy));
            }
            b = b.proxy(p);
        }
        if !o.ca_file.is_empty() {
            let pem = std::fs::read(&o.ca_file)
                .map_err(|e| anyhow::anyhow!("cannot read outbound.ca_file {}: {e}", o.ca_file))?;
            let certs = Certificate::from_pem_bundle(&pem).map_err(|_| {
                anyhow::anyhow!("outbound.ca_file {} holds no PEM certificate", o.ca_file)
            })?;
            if certs.is_empty() {
                anyhow::bail!("outbound.ca_file {} holds no PEM certificate", o.ca_file);
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        Ok(OutboundHttp {
            client: b
                .build()
                .map_err(|e| anyhow::anyhow!("cannot build the HTTP client: {e}"))?,
            retry,
            metrics: None,
        })
    }

    /// Counts every call (each try of a retried one) in `metrics`, by service and status.
    pub fn with_metrics(
        mut self,
        metrics: std::sync::Arc<crate::telemetry::metrics::Metrics>,
    ) -> OutboundHttp {
        self.metrics = Some(metrics);
        self
    }

    /// The same stack without in-call retries: every answer goes back to the caller.
    pub fn without_retries(&self) -> OutboundHttp {
        OutboundHttp {
            client: self.client.clone(),
            metrics: self.metrics.clone(),
            retry: RetryPolicy {
                max_tries: 1,
                ..self.retry.clone()
            },
        }
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request `build` makes, retrying 429/503/504 after `Retry-After` (or a backoff)
    /// while the wait fits the policy. The last answer is returned whatever its status.
    pub async fn send(
        &self,
        service: &'static str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, OutboundError> {
        let mut tries = 0;
        loop {
            tries += 1;
            let started = std::time::Instant::now();
            let sent = build(&self.client).send().await;
            if let Some(m) = &self.metrics {
                let status = match &sent {
                    Ok(r) => Ok(r.status().as_u16()),
                    Err(e) => Err(failure_reason(e)),
                };
                m.outbound(service, status, started.elapsed().as_secs_f64());
            }
            let res = sent.map_err(|e| describe(service, e))?;
            if !matches!(
                res.status(),
                StatusCode::TOO_MANY_REQUESTS
                    | StatusCode::SERVICE_UNAVAILABLE
                    | StatusCode::GATEWAY_TIMEOUT
            ) || tries >= self.retry.max_tries
            {
                return Ok(res);
            }
            let wait = retry_after(&res).unwrap_or(self.retry.base_backoff * 2u32.pow(tries - 1));
            if wait > self.retry.max_wait {
                return Ok(res);
            }
            tracing::info!(
                outbound.service = service,
                http.status = res.status().as_u16(),
                wait_ms = wait.as_millis() as u64,
                "throttled; retrying"
            );
            actix_web::rt::time::sleep(wait).await;
        }
    }
}

/// The `Retry-After` of an answer, in seconds or as an HTTP date.
pub fn retry_after(res: &Response) -> Option<Duration> {
    let v = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    (when.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

/// Why a call got no answer, as a bounded metrics label: `timeout`, `dns` (the host name did
/// not resolve), `connection_refused`, `tls` or `error` (anything else).
pub fn failure_reason(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        return "timeout";
    }
    let mut source = std::error::Error::source(e);
    let mut text = String::new();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return "connection_refused";
        }
        text.push_str(&s.to_string().to_ascii_lowercase());
        text.push(' ');
        source = s.source();
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        "dns"
    } else if text.contains("connection refused") {
        "connection_refused"
    } else if text.contains("certificate") || text.contains("tls") {
        "tls"
    } else {
        "error"
    }
}

fn describe(service: &'static str, e: reqwest::Error) -> OutboundError {
    if e.is_timeout() {
        return OutboundError::Timeout { service };
    }
    // host and port only: the URL may carry tokens in its query, never show it
    let host = e
        .url()
        .and_then(|u| {
            u.host_str()
                .map(|h| (h.to_owned(), u.port_or_known_default()))
        })
        .map(|(h, port)| match port {
            Some(p) => format!("{h}:{p}"),
            None => h,
        })
        .unwrap_or_else(|| "the host".to_owned());
    let summary = match failure_reason(&e) {
        "dns" => Some(format!("could not resolve host {host}")),
        "connection_refused" => Some(format!("connection refused by {host}")),
        _ => None,
    };
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        source = s.source();
    }
    // the readable cause first (what the admin UI shows), the library's chain after it for logs
    let detail = match summary {
        Some(summary) => format!("{summary} ({detail})"),
        None => detail,
    };
    OutboundError::Unreachable { service, detail }
}
