//! The read-only HTTP listener (`http_listen`): `/metrics` for Prometheus, the live status
//! page at `/` and the JSON it polls (`/api/status`, `/api/events`, `/api/series`).
//!
//! Hand-written rather than hyper: it answers one GET per connection from a handful of
//! paths, and hyper with its dependencies would add several hundred KB to a binary meant
//! for 16 MB of flash. Bounded like the control socket: at most [`MAX_CLIENTS`] at once, a
//! request head of at most [`MAX_HEAD`] bytes sent within [`CLIENT_TIME`], the answer
//! taken within the same time. Nothing here can change the daemon's state.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, Semaphore};

/// Clients served at once; more are closed at once.
pub const MAX_CLIENTS: usize = 8;
/// Longest request head (request line and headers).
pub const MAX_HEAD: usize = 8192;
/// Time a client has to send its request, and to take its answer.
pub const CLIENT_TIME: Duration = Duration::from_secs(5);

/// The status page: one self-contained file, no external assets.
const PAGE: &str = include_str!("page.html");

/// What the event loop is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Metrics,
    Status,
    Events,
    Series,
}

/// A query waiting for the event loop's answer (the body).
pub type Pending = (Query, oneshot::Sender<String>);

/// Accepts connections until the listener fails; each is answered beside the others.
pub async fn serve(listener: TcpListener, queries: mpsc::Sender<Pending>) {
    let slots = std::sync::Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // EMFILE and the like: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let queries = queries.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(CLIENT_TIME * 2, answer(stream, queries)).await;
            drop(permit);
        });
    }
}

async fn answer(mut stream: TcpStream, queries: mpsc::Sender<Pending>) -> std::io::Result<()> {
    let head = match tokio::time::timeout(CLIENT_TIME, read_head(&mut stream)).await {
        Ok(Ok(Some(head))) => head,
        _ => return Ok(()),
    };
    let response = respond(&head, &queries).await;
    tokio::time::timeout(CLIENT_TIME, stream.write_all(&response))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??;
    stream.shutdown().await
}

/// The request head, or `None` when it is too long or the client closes first.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await?;
        if n == 0 || head.len() + n > MAX_HEAD {
            return Ok(None);
        }
        head.extend_from_slice(&chunk[..n]);
    }
    Ok(Some(String::from_utf8_lossy(&head).into_owned()))
}

/// The whole response to the request whose head is `head`.
pub async fn respond(head: &str, queries: &mpsc::Sender<Pending>) -> Vec<u8> {
    let mut words = head.lines().next().unwrap_or("").split(' ');
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" && method != "HEAD" {
        return response(405, "text/plain", "only GET\n".into(), method == "HEAD");
    }
    let path = target.split('?').next().unwrap_or("");
    let (query, kind) = match path {
        "/" | "/index.html" => {
            return response(
                200,
                "text/html; charset=utf-8",
                PAGE.into(),
                method == "HEAD",
            )
        }
        "/metrics" => (Query::Metrics, "text/plain; version=0.0.4; charset=utf-8"),
        "/api/status" => (Query::Status, "application/json"),
        "/api/events" => (Query::Events, "application/json"),
        "/api/series" => (Query::Series, "application/json"),
        _ => return response(404, "text/plain", "not found\n".into(), method == "HEAD"),
    };
    match ask(queries, query).await {
        Some(body) => response(200, kind, body, method == "HEAD"),
        None => response(503, "text/plain", "the daemon is stopping\n".into(), false),
    }
}

async fn ask(queries: &mpsc::Sender<Pending>, query: Query) -> Option<String> {
    let (tx, rx) = oneshot::channel();
    queries.send((query, tx)).await.ok()?;
    rx.await.ok()
}

fn response(code: u16, kind: &str, body: String, head_only: bool) -> Vec<u8> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Service Unavailable",
    };
    // The page's script and style are inline; it fetches only from here and loads nothing.
    let csp = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
               connect-src 'self'; img-src data:";
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\
         Content-Security-Policy: {csp}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
#[path = "http_tests.rs"]
mod tests;
