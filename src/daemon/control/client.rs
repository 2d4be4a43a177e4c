//! The client side (`uplink status`, `drain`, `undrain`): trusts only a daemon run by root
//! (or by the same user), and waits for a bounded answer for a bounded time.

use std::io::ErrorKind;
use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::{io_error, ControlError, Request};
use crate::files::trust::effective_uid;

/// Largest answer read: a status report is a few hundred bytes a line; an events answer
/// holds at most [`super::MAX_EVENTS`] events of a few hundred bytes.
pub const RESPONSE_LIMIT: usize = 4 << 20;
/// Time for the whole exchange; the daemon answers from its event loop at once.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends one request and returns the daemon's JSON answer.
pub async fn request(path: &Path, request: &Request) -> Result<serde_json::Value, ControlError> {
    request_within(path, request, CLIENT_TIMEOUT).await
}

/// [`request`] with another time limit (tests).
pub(super) async fn request_within(
    path: &Path,
    request: &Request,
    limit: Duration,
) -> Result<serde_json::Value, ControlError> {
    tokio::time::timeout(limit, exchange(path, request))
        .await
        .map_err(|_| ControlError::Timeout {
            path: path.to_path_buf(),
            after: limit,
        })?
}

/// Connects to the daemon at `path` and checks who answers.
pub(super) async fn connect(path: &Path) -> Result<UnixStream, ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => ControlError::NoDaemon {
                path: path.to_path_buf(),
            },
            _ => io_error(path)(e),
        })?;
    check_peer(&stream, path)?;
    Ok(stream)
}

async fn exchange(path: &Path, request: &Request) -> Result<serde_json::Value, ControlError> {
    let stream = connect(path).await?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).expect("requests serialize");
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(io_error(path))?;
    let bad = |detail: String| ControlError::BadResponse {
        path: path.to_path_buf(),
        detail,
    };
    let mut line = Vec::new();
    BufReader::new(read)
        .take(RESPONSE_LIMIT as u64 + 1)
        .read_until(b'\n', &mut line)
        .await
        .map_err(io_error(path))?;
    if line.len() > RESPONSE_LIMIT {
        return Err(bad(format!("longer than {RESPONSE_LIMIT} bytes")));
    }
    let value: serde_json::Value = serde_json::from_slice(&line).map_err(|e| bad(e.to_string()))?;
    match value.get("error").and_then(|e| e.as_str()) {
        Some(error) => Err(ControlError::Refused(error.to_string())),
        None => Ok(value),
    }
}

/// Whoever listens must be root or us: a socket another user put in place would feed us a
/// made-up status (or take our drain request).
fn check_peer(stream: &UnixStream, path: &Path) -> Result<(), ControlError> {
    let cred = stream.peer_cred().map_err(io_error(path))?;
    if cred.uid() == 0 || cred.uid() == effective_uid() {
        return Ok(());
    }
    Err(ControlError::UntrustedPeer {
        path: path.to_path_buf(),
        uid: cred.uid(),
        pid: cred.pid().unwrap_or(0),
    })
}
