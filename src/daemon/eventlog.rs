//! The optional events file (`events_file`): every event appended as one JSON line, so the
//! history survives a daemon restart (on tmpfs, a reboot clears it; on flash, mind the
//! writes). Written by a thread of its own, never by the event loop; read back at start.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};

use super::history::Event;

/// Largest events file read back at start; longer ones keep their newest lines only after
/// the next trim.
pub const READ_LIMIT: u64 = 8 << 20;
/// Events waiting for the writer; more are dropped (and counted) rather than waited for.
const QUEUE: usize = 256;
/// Bytes allowed per kept event before the file is trimmed to the newest ones.
const BYTES_PER_EVENT: u64 = 512;

/// The newest `keep` events of the file at `path`; lines that are not events are skipped.
/// A missing file is an empty history.
pub fn load(path: &Path, keep: usize) -> Result<Vec<Event>, String> {
    let text = match crate::files::read_limited(path, READ_LIMIT) {
        Ok(text) => text,
        Err(e) if e.failure.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let events: Vec<Event> = text
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let skip = events.len().saturating_sub(keep);
    Ok(events.into_iter().skip(skip).collect())
}

/// Hands events to the writer thread.
#[derive(Debug)]
pub struct EventLog {
    queue: SyncSender<(PathBuf, usize, Event)>,
    /// Events dropped because the writer fell behind.
    pub dropped: u64,
}

impl EventLog {
    /// Starts the writer thread.
    pub fn start() -> std::io::Result<Self> {
        let (queue, events) = sync_channel::<(PathBuf, usize, Event)>(QUEUE);
        std::thread::Builder::new()
            .name("uplink-events".into())
            .spawn(move || {
                for (path, keep, event) in events {
                    if let Err(e) = append(&path, keep, &event) {
                        tracing::warn!("events file {}: {e}", path.display());
                    }
                }
            })?;
        Ok(EventLog { queue, dropped: 0 })
    }

    /// Appends `event` to `path` (keeping about `keep` events), unless the writer is behind.
    pub fn write(&mut self, path: &Path, keep: usize, event: &Event) {
        match self
            .queue
            .try_send((path.to_path_buf(), keep, event.clone()))
        {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.dropped += 1,
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn append(path: &Path, keep: usize, event: &Event) -> std::io::Result<()> {
    let mut line = serde_json::to_string(event).map_err(std::io::Error::other)?;
    line.push('\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(line.as_bytes())?;
    if file.metadata()?.len() > keep as u64 * BYTES_PER_EVENT {
        trim(path, keep)?;
    }
    Ok(())
}

/// Rewrites the file with its newest `keep` events, atomically (a new file renamed over it).
fn trim(path: &Path, keep: usize) -> std::io::Result<()> {
    let events = load(path, keep).map_err(std::io::Error::other)?;
    let mut text = String::new();
    for event in &events {
        text += &serde_json::to_string(event).map_err(std::io::Error::other)?;
        text.push('\n');
    }
    crate::files::write_atomically(path, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: u64) -> Event {
        Event {
            seq,
            time: "2026-12-01T10:00:00Z".into(),
            kind: "reload".into(),
            line: None,
            message: format!("event {seq}"),
            evidence: None,
        }
    }

    #[test]
    fn events_are_appended_trimmed_and_read_back() {
        let dir = std::env::temp_dir().join(crate::netns::unique_prefix("evlog"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        assert!(load(&path, 10).unwrap().is_empty());
        for seq in 1..=40 {
            append(&path, 10, &event(seq)).unwrap();
        }
        // Trimmed to 10 whenever it grows past 10 × 512 bytes; never fewer than 10 kept.
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size <= 10 * BYTES_PER_EVENT, "{size}");
        std::fs::write(
            &path,
            format!("{}not json\n", std::fs::read_to_string(&path).unwrap()),
        )
        .unwrap();
        let back = load(&path, 5).unwrap();
        let seqs: Vec<u64> = back.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [36, 37, 38, 39, 40]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
