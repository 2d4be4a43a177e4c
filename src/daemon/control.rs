//! The control socket: a Unix stream socket speaking JSON lines, one request per line and
//! one response per line. `uplink status` is its client.

use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
pub enum Request {
    Status,
    /// Move all traffic off a line, keep probing it.
    Drain {
        line: String,
    },
    /// Return a drained line to service.
    Undrain {
        line: String,
    },
}

/// A request waiting for the event loop's answer.
pub type Pending = (Request, oneshot::Sender<serde_json::Value>);

/// Failure on the control socket.
#[derive(Debug, Error)]
pub enum ControlError {
    #[error("control socket {path}: another uplink daemon is already listening there")]
    InUse { path: PathBuf },
    #[error("control socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
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
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ControlError + '_ {
    move |source| ControlError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Binds the socket, replacing a stale file from a crashed run but never a live daemon's.
pub async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    if UnixStream::connect(path).await.is_ok() {
        return Err(ControlError::InUse {
            path: path.to_path_buf(),
        });
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => return Err(io_error(path)(e)),
        _ => {}
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io_error(path))?;
    }
    let listener = UnixListener::bind(path).map_err(io_error(path))?;
    // Root only: the socket will also carry commands that move traffic.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io_error(path))?;
    Ok(listener)
}

/// Accepts connections and forwards each request line to the event loop.
pub async fn serve(listener: UnixListener, requests: mpsc::Sender<Pending>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(answer_connection(stream, requests.clone()));
            }
            Err(e) => {
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

async fn answer_connection(stream: UnixStream, requests: mpsc::Sender<Pending>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(request) => ask_loop(&requests, request).await,
            Err(e) => serde_json::json!({ "error": format!("bad request: {e}") }),
        };
        let mut text = response.to_string();
        text.push('\n');
        if write.write_all(text.as_bytes()).await.is_err() {
            return;
        }
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

/// Client side: sends one request and returns the daemon's JSON answer.
pub async fn request(path: &Path, request: &Request) -> Result<serde_json::Value, ControlError> {
    let stream = UnixStream::connect(path)
        .await
        .map_err(|e| match e.kind() {
            ErrorKind::NotFound | ErrorKind::ConnectionRefused => ControlError::NoDaemon {
                path: path.to_path_buf(),
            },
            _ => io_error(path)(e),
        })?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(request).expect("requests serialize");
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(io_error(path))?;
    let line = BufReader::new(read)
        .lines()
        .next_line()
        .await
        .map_err(io_error(path))?
        .unwrap_or_default();
    let bad = |detail: String| ControlError::BadResponse {
        path: path.to_path_buf(),
        detail,
    };
    let value: serde_json::Value = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
    match value.get("error").and_then(|e| e.as_str()) {
        Some(error) => Err(ControlError::Refused(error.to_string())),
        None => Ok(value),
    }
}
