//! The control socket: a Unix stream socket speaking JSON lines, one request per line and
//! one response per line. `uplink status` is its client.
//!
//! A local client is bounded in size, count and time: a request line is at most
//! [`Limits::max_request`] bytes, at most [`Limits::max_connections`] clients are served at
//! once, and a client that sends no complete request for [`Limits::idle`] or does not take
//! its answer within [`Limits::write`] is dropped. Otherwise one client could take all the
//! daemon's memory or file descriptors, and with them its ability to run `nft` or repair
//! its routes.

mod client;
mod follow;
mod socket;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::daemon::history::Event;
use crate::files::trust::{effective_uid, TrustError};
use crate::files::FileKind;
pub use client::{request, CLIENT_TIMEOUT, RESPONSE_LIMIT};
pub use follow::follow;
pub use socket::bind;

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    /// Stop new connections on a line, keep probing it; its existing connections stay
    /// until they end (or its `keep_sessions_s`), or move at once with `now`.
    Drain {
        line: String,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        now: bool,
    },
    /// Return a drained line to service.
    Undrain {
        line: String,
    },
    /// The newest events, oldest first (default [`DEFAULT_EVENTS`], at most
    /// [`MAX_EVENTS`]); with `since` (RFC 3339, UTC, as events write it), only those at or
    /// after that time.
    Events {
        #[serde(default)]
        limit: Option<usize>,
        #[serde(default)]
        since: Option<String>,
    },
    /// The events after number `after` (none when absent), then each new event as it
    /// happens, one JSON line each, until the client closes.
    Follow {
        #[serde(default)]
        after: Option<u64>,
    },
}

/// Events an `events` request gets when it names no limit.
pub const DEFAULT_EVENTS: usize = 100;
/// Most events one answer holds, so that it stays within the client's [`RESPONSE_LIMIT`].
pub const MAX_EVENTS: usize = 5000;

/// A request waiting for the event loop's answer.
pub type Pending = (Request, oneshot::Sender<serde_json::Value>);

/// Failure on the control socket.
#[derive(Debug, Error)]
pub enum ControlError {
    #[error("control socket {path}: another uplink daemon is already listening there")]
    InUse { path: PathBuf },
    // The system's message is in the text, so it is not also a `source` (printed twice).
    #[error("control socket {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(
        "control socket {path}: no daemon is listening (is `uplink run` running with this socket?)"
    )]
    NoDaemon { path: PathBuf },
    #[error("control socket {path}: bad response: {detail}")]
    BadResponse { path: PathBuf, detail: String },
    /// The daemon understood the request and said no.
    #[error("daemon: {0}")]
    Refused(String),
    /// Something other than a socket is at the path: never removed, whatever it is.
    #[error("control socket {path}: a {kind} is there, not a socket; refusing to replace it")]
    NotSocket { path: PathBuf, kind: FileKind },
    /// Another user could replace the socket (or the directory it is in).
    #[error(
        "control socket {path}: unsafe directory: {reason} (it must be owned by root and \
         writable by no one else)"
    )]
    Untrusted { path: PathBuf, reason: TrustError },
    /// The process answering is neither root nor us: it is not a daemon we started.
    #[error(
        "control socket {path}: answered by a process of uid {uid} (pid {pid}), not by root: \
         not trusting it"
    )]
    UntrustedPeer { path: PathBuf, uid: u32, pid: i32 },
    #[error("control socket {path}: no answer within {} ms", after.as_millis())]
    Timeout { path: PathBuf, after: Duration },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ControlError + '_ {
    move |error| ControlError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Bounds on the socket's clients; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, without its newline. Requests are a few dozen bytes.
    pub max_request: usize,
    /// Clients served at once; more are told so and closed at once.
    pub max_connections: usize,
    /// Time a client has to send a complete request (also between requests).
    pub idle: Duration,
    /// Time a client has to take its answer.
    pub write: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request: 4096,
            max_connections: 16,
            idle: Duration::from_secs(10),
            write: Duration::from_secs(5),
        }
    }
}

/// Accepts connections and forwards each request line to the event loop, within the
/// default [`Limits`].
/// `followers` feeds the clients that follow the events.
pub async fn serve(
    listener: UnixListener,
    requests: mpsc::Sender<Pending>,
    followers: broadcast::Sender<Event>,
) {
    serve_inner(listener, requests, Some(followers), Limits::default()).await
}

/// [`serve`] with other limits and no followers (tests).
pub async fn serve_with(listener: UnixListener, requests: mpsc::Sender<Pending>, limits: Limits) {
    serve_inner(listener, requests, None, limits).await
}

async fn serve_inner(
    listener: UnixListener,
    requests: mpsc::Sender<Pending>,
    followers: Option<broadcast::Sender<Event>>,
    limits: Limits,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        match listener.accept().await {
            Ok((stream, _)) => match Arc::clone(&slots).try_acquire_owned() {
                Ok(slot) => {
                    let (requests, followers) = (requests.clone(), followers.clone());
                    tokio::spawn(answer_connection(stream, requests, followers, limits, slot));
                }
                Err(_) => {
                    let busy = format!("too many clients (limit {})", limits.max_connections);
                    farewell(&stream, &busy);
                }
            },
            Err(e) => {
                // EMFILE and the like: the clients we hold end within their time limits.
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Says why a connection is closed, if the client's buffer has room; never waits.
fn farewell(stream: &UnixStream, error: &str) {
    let _ = stream.try_write(error_line(error).as_bytes());
}

fn error_line(error: &str) -> String {
    let mut text = serde_json::json!({ "error": error }).to_string();
    text.push('\n');
    text
}

/// The first line read by [`read_line`].
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A request ending in a newline.
    Complete,
    /// The last bytes before the client closed its side, without a newline.
    Last,
    /// The client closed with nothing pending.
    End,
    /// Longer than the limit: the rest is never read.
    TooLong,
}

/// Reads one line into `buf` (newline removed), never buffering more than `max + 1` bytes.
async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let read = reader.take(max as u64 + 1).read_until(b'\n', buf).await?;
    if buf.last() == Some(&b'\n') {
        buf.pop();
        Ok(Line::Complete)
    } else if read > max {
        Ok(Line::TooLong)
    } else if read == 0 {
        Ok(Line::End)
    } else {
        Ok(Line::Last)
    }
}

/// Serves one client until it closes, breaks a limit or the daemon stops; `_slot` is its
/// place among the limited connections, freed when this returns.
async fn answer_connection(
    stream: UnixStream,
    requests: mpsc::Sender<Pending>,
    followers: Option<broadcast::Sender<Event>>,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
) {
    let peer = stream.peer_cred().ok().map(|cred| cred.uid());
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::with_capacity(1024, read);
    let mut buf = Vec::new();
    loop {
        let read = tokio::time::timeout(
            limits.idle,
            read_line(&mut reader, &mut buf, limits.max_request),
        );
        let line = match read.await {
            Ok(Ok(line @ (Line::Complete | Line::Last))) => line,
            Ok(Ok(Line::End)) | Ok(Err(_)) => return,
            Ok(Ok(Line::TooLong)) => {
                let error = format!("request longer than {} bytes", limits.max_request);
                return say_and_close(&mut write, &error, limits).await;
            }
            Err(_) => {
                let error = format!("no complete request within {} ms", limits.idle.as_millis());
                return say_and_close(&mut write, &error, limits).await;
            }
        };
        let response = match parse_request(&buf) {
            Ok(Request::Follow { after }) => {
                let followers = followers.as_ref();
                return follow::stream(&mut reader, write, &requests, followers, after, limits)
                    .await;
            }
            Ok(request) => match permitted(&request, peer) {
                Ok(()) => ask_loop(&requests, request).await,
                Err(error) => serde_json::json!({ "error": error }),
            },
            Err(error) => serde_json::json!({ "error": error }),
        };
        let mut text = response.to_string();
        text.push('\n');
        let sent = tokio::time::timeout(limits.write, write.write_all(text.as_bytes())).await;
        if !matches!(sent, Ok(Ok(()))) || line == Line::Last {
            return;
        }
    }
}

/// One request line as a client sent it (any bytes): the request, or why not.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    serde_json::from_slice::<Request>(line).map_err(|e| format!("bad request: {e}"))
}

async fn say_and_close(write: &mut OwnedWriteHalf, error: &str, limits: Limits) {
    let _ = tokio::time::timeout(limits.write, write.write_all(error_line(error).as_bytes())).await;
}

/// Who may do what. Status is read-only and open to any client that got through the
/// socket's permissions (0600, so root unless an admin opened it to a monitoring user);
/// moving traffic needs root or the daemon's own user.
fn permitted(request: &Request, peer_uid: Option<u32>) -> Result<(), String> {
    let trusted = peer_uid.is_some_and(|uid| uid == 0 || uid == effective_uid());
    match request {
        Request::Status | Request::Events { .. } | Request::Follow { .. } => Ok(()),
        Request::Drain { .. } | Request::Undrain { .. } if trusted => Ok(()),
        Request::Drain { .. } | Request::Undrain { .. } => Err(match peer_uid {
            Some(uid) => format!("drain and undrain need root; the client runs as uid {uid}"),
            None => "drain and undrain need root; the client's user is unknown".to_string(),
        }),
    }
}

async fn ask_loop(requests: &mpsc::Sender<Pending>, request: Request) -> serde_json::Value {
    let (tx, rx) = oneshot::channel();
    if requests.send((request, tx)).await.is_err() {
        return serde_json::json!({ "error": "daemon is stopping" });
    }
    rx.await
        .unwrap_or_else(|_| serde_json::json!({ "error": "daemon is stopping" }))
}

#[cfg(test)]
mod tests;
