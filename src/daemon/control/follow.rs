//! `follow`: a client that asks for it gets the events after a number it names, then every
//! new event as one JSON line the moment the daemon records it (`uplink events --follow`).
//! The stream is fed by a broadcast channel, so the event loop never waits for a follower;
//! a follower that falls behind by more than the channel holds is told so and dropped.

use std::path::Path;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{broadcast, mpsc};

use super::{ask_loop, error_line, io_error, ControlError, Limits, Pending, Request};
use crate::daemon::history::Event;

/// Streams to the client whose write half is `write` until it closes (seen on `read`),
/// a write takes longer than the limit, or the daemon stops.
pub(super) async fn stream(
    read: &mut (impl AsyncBufRead + Unpin),
    mut write: OwnedWriteHalf,
    requests: &mpsc::Sender<Pending>,
    followers: Option<&broadcast::Sender<Event>>,
    after: Option<u64>,
    limits: Limits,
) {
    let Some(followers) = followers else {
        let _ = write
            .write_all(error_line("follow is not served here").as_bytes())
            .await;
        return;
    };
    // Subscribed before the backlog is asked for: nothing falls between the two.
    let mut new = followers.subscribe();
    let backlog = ask_loop(requests, Request::Follow { after }).await;
    let mut last = after.unwrap_or(0);
    let events: Vec<Event> = serde_json::from_value(backlog["events"].clone()).unwrap_or_default();
    for event in events {
        last = last.max(event.seq);
        if !send(&mut write, &event, limits).await {
            return;
        }
    }
    let mut probe = [0u8; 1];
    loop {
        tokio::select! {
            received = new.recv() => match received {
                Ok(event) if event.seq <= last => {}
                Ok(event) => {
                    last = event.seq;
                    if !send(&mut write, &event, limits).await {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let text = error_line(&format!("fell behind by {missed} events; follow again"));
                    let _ = write.write_all(text.as_bytes()).await;
                    return;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            // A follower sends nothing more: any read result means it is gone or misbehaving.
            _ = read.read(&mut probe) => return,
        }
    }
}

async fn send(write: &mut OwnedWriteHalf, event: &Event, limits: Limits) -> bool {
    let mut text = serde_json::to_string(event).expect("events serialize");
    text.push('\n');
    matches!(
        tokio::time::timeout(limits.write, write.write_all(text.as_bytes())).await,
        Ok(Ok(()))
    )
}

/// The client side: sends `follow` and calls `each` with every event until the daemon
/// closes the stream or says why it stops.
pub async fn follow(
    path: &Path,
    after: Option<u64>,
    mut each: impl FnMut(Event),
) -> Result<(), ControlError> {
    let stream = super::client::connect(path).await?;
    let (read, mut write) = stream.into_split();
    let mut text = serde_json::to_string(&Request::Follow { after }).expect("requests serialize");
    text.push('\n');
    write
        .write_all(text.as_bytes())
        .await
        .map_err(io_error(path))?;
    let mut lines = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut lines)
            .take(super::RESPONSE_LIMIT as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(io_error(path))?;
        if read == 0 {
            return Ok(());
        }
        let value: serde_json::Value =
            serde_json::from_slice(&line).map_err(|e| ControlError::BadResponse {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        if let Some(error) = value.get("error").and_then(|e| e.as_str()) {
            return Err(ControlError::Refused(error.to_string()));
        }
        match serde_json::from_value::<Event>(value) {
            Ok(event) => each(event),
            Err(e) => {
                return Err(ControlError::BadResponse {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                })
            }
        }
    }
}
