//! `uplink status` for people: fixed-width tables of the lines, their probe targets and
//! the policies. What the daemon sends is shown, not obeyed: no control character reaches
//! the terminal, and a newline cannot forge a row.

use super::status::{LineStatus, Status, TargetStatus};
use crate::text::printable;

/// The lines, then (when there are any) their targets and the policies.
pub fn render_table(status: &Status) -> String {
    let mut out = columns(line_rows(status));
    let targets = target_rows(status);
    if targets.len() > 1 {
        out.push('\n');
        out += &columns(targets);
    }
    if !status.policies.is_empty() {
        let mut rows = vec![vec!["POLICY".to_owned(), "LINE".to_owned()]];
        rows.extend(
            status
                .policies
                .iter()
                .map(|p| vec![p.name.clone(), p.line.clone()]),
        );
        out.push('\n');
        out += &columns(rows);
    }
    out
}

fn line_rows(status: &Status) -> Vec<Vec<String>> {
    let header = [
        "LINE", "DEVICE", "FAMILY", "STATE", "ACTIVE", "CONNS", "RTT", "LOSS", "SINCE", "REASON",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for line in &status.uplinks {
        rows.push(vec![
            line.name.clone(),
            line.device.clone(),
            line.family.clone(),
            state_cell(line),
            if line.active { "yes" } else { "no" }.into(),
            line.connections.map_or("-".into(), |n| n.to_string()),
            ms(line.rtt_ms),
            pct(line.loss_pct),
            line.since.clone(),
            reason_cell(line),
        ]);
    }
    rows
}

fn target_rows(status: &Status) -> Vec<Vec<String>> {
    let header = [
        "LINE",
        "TARGET",
        "ANSWERING",
        "LAST",
        "MEAN",
        "JITTER",
        "LOSS",
        "WHY",
    ];
    let mut rows = vec![header.map(String::from).to_vec()];
    for line in &status.uplinks {
        rows.extend(line.targets.iter().map(|t| target_row(&line.name, t)));
    }
    rows
}

fn target_row(line: &str, t: &TargetStatus) -> Vec<String> {
    vec![
        line.to_owned(),
        t.target.clone(),
        if t.answering { "yes" } else { "no" }.into(),
        ms(t.last_rtt_ms),
        ms(t.rtt_ms),
        ms(t.jitter_ms),
        pct(t.loss_pct),
        // Why its last probe failed (a redirect, a name that does not resolve...).
        t.error.clone().unwrap_or_else(|| "-".into()),
    ]
}

fn ms(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v} ms"))
}

fn pct(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v}%"))
}

fn reason_cell(line: &LineStatus) -> String {
    let mut cell = line.reason.clone();
    if let Some(why) = &line.degraded {
        cell += &format!(" (degraded: {why})");
    }
    if let Some(until) = &line.suppressed_until {
        cell += &format!(" (suppressed until {until}: flapping)");
    }
    cell
}

fn state_cell(line: &LineStatus) -> String {
    let mut cell = line.state.clone();
    if line.degraded.is_some() {
        cell += ", degraded";
    }
    if line.suppressed_until.is_some() {
        cell += ", suppressed";
    }
    if line.drained {
        cell += ", drained";
    }
    cell
}

/// Left-aligned columns, two spaces apart, every cell made printable.
fn columns(mut rows: Vec<Vec<String>>) -> String {
    for cell in rows.iter_mut().flatten() {
        *cell = printable(cell).into_owned();
    }
    let width = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..width)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::status::PolicyStatus;

    fn line(name: &str, device: &str) -> LineStatus {
        LineStatus {
            name: name.into(),
            device: device.into(),
            interface: None,
            family: "ipv4".into(),
            state: "up".into(),
            active: true,
            drained: false,
            rtt_ms: Some(12.3),
            loss_pct: Some(0.0),
            since: "2026-11-25T06:00:00Z".into(),
            state_secs: 60,
            reason: "1/1 targets answering".into(),
            degraded: None,
            suppressed_until: None,
            flap_penalty: None,
            gateway: None,
            transitions: 1,
            downtime_secs: 0,
            connections: Some(7),
            targets: Vec::new(),
        }
    }

    fn status(uplinks: Vec<LineStatus>) -> Status {
        Status {
            uplinks,
            policies: Vec::new(),
            drained: Vec::new(),
        }
    }

    #[test]
    fn table_aligns_columns() {
        let table = render_table(&status(vec![line("main", "pppoe-wan")]));
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("LINE  DEVICE     FAMILY  STATE  ACTIVE  CONNS  RTT"));
        assert!(lines[1].starts_with("main  pppoe-wan  ipv4    up     yes     7      12.3 ms  0%"));
    }

    #[test]
    fn targets_and_policies_follow_the_lines() {
        let mut main = line("main", "wan1");
        main.targets = vec![TargetStatus {
            target: "192.0.2.10".into(),
            kind: "icmp".into(),
            error: Some("no answer within the timeout".into()),
            answering: false,
            last_rtt_ms: Some(9.5),
            rtt_ms: Some(10.0),
            jitter_ms: Some(0.5),
            loss_pct: Some(25.0),
        }];
        let mut report = status(vec![main]);
        report.policies = vec![PolicyStatus {
            name: "voip".into(),
            line: "unreachable".into(),
        }];
        let table = render_table(&report);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[3],
            "LINE  TARGET      ANSWERING  LAST    MEAN   JITTER  LOSS  WHY"
        );
        assert_eq!(
            lines[4],
            "main  192.0.2.10  no         9.5 ms  10 ms  0.5 ms  25%   no answer within the timeout"
        );
        assert_eq!(lines[6], "POLICY  LINE");
        assert_eq!(lines[7], "voip    unreachable");
    }

    #[test]
    fn control_characters_are_shown_escaped() {
        let mut bad = line("main", "wan\u{1b}[2J");
        bad.state = "down".into();
        bad.reason = "device \"x\ny\" not found".into();
        bad.degraded = Some("slow\r".into());
        let table = render_table(&status(vec![bad]));
        assert_eq!(table.lines().count(), 2, "{table}");
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        assert!(table.contains("main  wan\\u{1b}[2J  ipv4"), "{table}");
        assert!(table.contains("device \"x\\ny\" not found (degraded: slow\\r)"));
    }
}
