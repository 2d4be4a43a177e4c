//! The status report: JSON for scripts, a table for people.

use std::time::{Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::core::Engine;
use crate::text::printable;

/// What `uplink status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub uplinks: Vec<LineStatus>,
}

/// One line's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineStatus {
    pub name: String,
    pub device: String,
    /// "ipv4" or "ipv6".
    #[serde(default)]
    pub family: String,
    /// "up" or "down".
    pub state: String,
    /// Carries the default route now.
    pub active: bool,
    /// Taken out of service by `uplink drain` (still probed).
    pub drained: bool,
    /// Mean round-trip time of recent probes; null without probes or replies.
    pub rtt_ms: Option<f64>,
    /// Share of recent probes lost; null without probes.
    pub loss_pct: Option<f64>,
    /// When the state last changed (RFC 3339, UTC).
    pub since: String,
    /// Why the line is in this state.
    pub reason: String,
    /// Why the line is degraded (too slow or too lossy), when it is.
    #[serde(default)]
    pub degraded: Option<String>,
    /// The next hop in use (learned, for `gateway = "auto"`); null on a point-to-point
    /// line or while unknown.
    #[serde(default)]
    pub gateway: Option<String>,
}

/// Builds the report; `now` and `wall` are the same moment on both clocks.
pub fn status(engine: &Engine, now: Instant, wall: SystemTime) -> Status {
    let uplinks = engine
        .config()
        .uplinks
        .iter()
        .enumerate()
        .map(|(i, uplink)| {
            let line = engine.line(i);
            let (since, reason) = line.since();
            let since_wall = wall - now.saturating_duration_since(since);
            LineStatus {
                name: uplink.name.clone(),
                device: uplink.device.clone(),
                family: uplink.family.as_str().into(),
                state: if line.is_up() { "up" } else { "down" }.into(),
                active: engine.selection().contains(i),
                drained: engine.is_drained(i),
                rtt_ms: line.rtt().map(|d| round1(d.as_secs_f64() * 1000.0)),
                loss_pct: line.loss_pct().map(round1),
                since: humantime::format_rfc3339_seconds(since_wall).to_string(),
                reason: live_reason(line, reason, now),
                degraded: line.degraded().map(String::from),
                gateway: engine.gateway(i).map(|g| g.to_string()),
            }
        })
        .collect();
    Status { uplinks }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// A fixed-width table for terminals.
pub fn render_table(status: &Status) -> String {
    let mut rows = vec![[
        "LINE", "DEVICE", "FAMILY", "STATE", "ACTIVE", "RTT", "LOSS", "SINCE", "REASON",
    ]
    .map(String::from)];
    for line in &status.uplinks {
        rows.push([
            line.name.clone(),
            line.device.clone(),
            line.family.clone(),
            state_cell(line),
            if line.active { "yes" } else { "no" }.into(),
            line.rtt_ms.map_or("-".into(), |v| format!("{v} ms")),
            line.loss_pct.map_or("-".into(), |v| format!("{v}%")),
            line.since.clone(),
            match &line.degraded {
                Some(why) => format!("{} (degraded: {why})", line.reason),
                None => line.reason.clone(),
            },
        ]);
    }
    // What the daemon sends is shown, not obeyed: no control character reaches the
    // terminal, and a newline cannot forge a row.
    for cell in rows.iter_mut().flatten() {
        *cell = printable(cell).into_owned();
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out += cells.join("  ").trim_end();
        out.push('\n');
    }
    out
}

fn state_cell(line: &LineStatus) -> String {
    let mut cell = line.state.clone();
    if line.degraded.is_some() {
        cell += ", degraded";
    }
    if line.drained {
        cell += ", drained";
    }
    cell
}

/// The line's reason now; for a line that is up, the reason it came up (how long it has
/// been good is in `since`).
fn live_reason(line: &crate::core::LineState, transition: &str, now: Instant) -> String {
    match line.is_up() {
        true => transition.to_string(),
        false => line.reason_now(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let status = Status {
            uplinks: vec![LineStatus {
                name: "main".into(),
                device: "pppoe-wan".into(),
                family: "ipv4".into(),
                state: "up".into(),
                active: true,
                drained: false,
                rtt_ms: Some(12.3),
                loss_pct: Some(0.0),
                since: "2026-11-25T06:00:00Z".into(),
                reason: "1/1 targets answering".into(),
                degraded: None,
                gateway: None,
            }],
        };
        let table = render_table(&status);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("LINE  DEVICE     FAMILY  STATE  ACTIVE  RTT"));
        assert!(lines[1].starts_with("main  pppoe-wan  ipv4    up     yes     12.3 ms  0%"));
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        let line = LineStatus {
            name: "main".into(),
            device: "wan\u{1b}[2J".into(),
            family: "ipv4".into(),
            state: "down".into(),
            active: false,
            drained: false,
            rtt_ms: None,
            loss_pct: None,
            since: "2026-11-25T06:00:00Z".into(),
            reason: "device \"x\ny\" not found".into(),
            degraded: Some("slow\r".into()),
            gateway: None,
        };
        let table = render_table(&Status {
            uplinks: vec![line],
        });
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(table.contains("main  wan\\u{1b}[2J  ipv4"), "{table}");
        assert!(table.contains("device \"x\\ny\" not found (degraded: slow\\r)"));
    }
}
