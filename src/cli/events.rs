//! `uplink events`: the daemon's recent events, as a table or JSON.

use std::path::Path;

use uplink::daemon::control::{self, Request};
use uplink::daemon::history::Event;
use uplink::text::printable;

/// What `uplink events` asks for.
pub struct Query {
    pub json: bool,
    pub limit: usize,
    /// RFC 3339, UTC.
    pub since: Option<String>,
    pub follow: bool,
}

/// Asks the daemon at `socket` for its newest events and prints them; with `follow`, then
/// every new one as it happens.
pub async fn show(query: &Query, socket: &Path) -> anyhow::Result<()> {
    let (json, follow) = (query.json, query.follow);
    let request = Request::Events {
        limit: Some(query.limit),
        since: query.since.clone(),
    };
    let answer = control::request(socket, &request).await?;
    let events: Vec<Event> = serde_json::from_value(answer["events"].clone())?;
    if !follow {
        match json {
            true => println!("{}", serde_json::to_string_pretty(&answer)?),
            false => print!("{}", render(&events)),
        }
        return Ok(());
    }
    let last = events.last().map_or(0, |e| e.seq);
    let print = |event: &Event| match json {
        true => println!(
            "{}",
            serde_json::to_string(event).expect("events serialize")
        ),
        false => print!("{}", render_rows(std::slice::from_ref(event), 0)),
    };
    events.iter().for_each(print);
    // Line by line, at once: `--follow` feeds other programs.
    control::follow(socket, Some(last), |event| {
        print(&event);
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })
    .await?;
    Ok(())
}

/// One event per row: time, kind, line and what happened; nothing the daemon sends can
/// reach the terminal as a control character.
pub fn render(events: &[Event]) -> String {
    if events.is_empty() {
        return "no events yet\n".into();
    }
    let kind_width = events.iter().map(|e| e.kind.len()).max().unwrap_or(0);
    render_rows(events, kind_width)
}

/// `events` with kinds padded to `kind_width`.
fn render_rows(events: &[Event], kind_width: usize) -> String {
    let mut out = String::new();
    for event in events {
        let kind = printable(&event.kind);
        let message = printable(&event.message);
        out += &format!("{}  {kind:<kind_width$}  {message}\n", event.time);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_one_aligned_row_each() {
        let event = |kind: &str, message: &str| Event {
            seq: 1,
            time: "2026-12-01T10:00:00Z".into(),
            kind: kind.into(),
            line: None,
            message: message.into(),
            evidence: None,
        };
        let rows = render(&[
            event("down", "uplink \"main\" down"),
            event("reload", "a\nb"),
        ]);
        assert_eq!(
            rows,
            "2026-12-01T10:00:00Z  down    uplink \"main\" down\n2026-12-01T10:00:00Z  reload  a\\nb\n"
        );
        assert_eq!(render(&[]), "no events yet\n");
    }
}
