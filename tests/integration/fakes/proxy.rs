//! A loopback forward proxy, as corporate networks put in front of the daemon: `CONNECT
//! host:port` tunnels (for https targets) and absolute-form requests (`GET http://host/...`,
//! for http targets), with optional `Proxy-Authorization: Basic` (407 + `Proxy-Authenticate`
//! otherwise). Records every tunnel target and forwarded request so tests can prove the
//! traffic really went through the proxy.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What went through the proxy.
#[derive(Default, Debug)]
pub struct ProxyLog {
    /// `host:port` of every accepted CONNECT.
    pub connects: Mutex<Vec<String>>,
    /// Absolute URLs of every forwarded plain-HTTP request.
    pub forwarded: Mutex<Vec<String>>,
    /// Requests answered 407 (missing or wrong credentials).
    pub refused: AtomicUsize,
}

/// Starts the proxy on a loopback port on the current (actix/tokio) runtime. With
/// `credentials`, every request must carry them as `Proxy-Authorization: Basic`.
pub fn start(credentials: Option<(&str, &str)>) -> (SocketAddr, Arc<ProxyLog>) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let expected =
        credentials.map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))));
    let log = Arc::new(ProxyLog::default());
    let l = log.clone();
    actix_web::rt::spawn(async move {
        let listener = TcpListener::from_std(std_listener).unwrap();
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let (log, expected) = (l.clone(), expected.clone());
            actix_web::rt::spawn(async move {
                // A broken connection only ends that connection; the test sees the client error.
                let _ = handle(stream, expected.as_deref(), &log).await;
            });
        }
    });
    (addr, log)
}

/// Reads up to the end of the request head; returns (head, bytes read past it).
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8_lossy(&buf).into_owned(), rest));
        }
        if buf.len() > 64 * 1024 {
            return Err(std::io::Error::other("request head too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn handle(
    mut client: TcpStream,
    expected: Option<&str>,
    log: &ProxyLog,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    let mut parts = head.split("\r\n").next().unwrap_or_default().split(' ');
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if let Some(expected) = expected
        && header(&head, "proxy-authorization") != Some(expected)
    {
        log.refused.fetch_add(1, Ordering::SeqCst);
        client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"fake\"\r\n\
                  Content-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        let Ok(mut upstream) = TcpStream::connect(target).await else {
            client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
                .await?;
            return Ok(());
        };
        log.connects.lock().unwrap().push(target.to_owned());
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await?;
        // Bytes the client sent early (e.g. a pipelined TLS ClientHello) belong to the tunnel.
        upstream.write_all(&rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    // Absolute form: `GET http://host:port/path HTTP/1.1`. Forward in origin form over a fresh
    // connection and close after one exchange, which keeps the proxy simple and correct.
    let Some(after_scheme) = target.strip_prefix("http://") else {
        client
            .write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => (&after_scheme[..i], &after_scheme[i..]),
        None => (after_scheme, "/"),
    };
    let host_port = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let Ok(mut upstream) = TcpStream::connect(&host_port).await else {
        client
            .write_all(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            )
            .await?;
        return Ok(());
    };
    log.forwarded.lock().unwrap().push(target.to_owned());
    let version = parts.next().unwrap_or("HTTP/1.1");
    let mut out = format!("{method} {path} {version}\r\n");
    for line in head.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let name = line.split(':').next().unwrap_or_default().trim();
        // Hop-by-hop headers stay with the proxy; the credentials never reach the origin.
        if [
            "proxy-authorization",
            "proxy-connection",
            "connection",
            "keep-alive",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
        {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    upstream.write_all(out.as_bytes()).await?;
    upstream.write_all(&rest).await?;
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
