//! The status report: JSON for scripts, a table for people.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

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
    /// When the state last changed (RFC 3339, UTC), or "unknown" when the wall clock puts
    /// it outside years 0000..=9999.
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
            // The wall clock can be anywhere (stepped to 1960 or to year 30000): checked, so a
            // status request never panics the daemon (release builds abort on panic).
            let since_wall = wall.checked_sub(now.saturating_duration_since(since));
            LineStatus {
                name: uplink.name.clone(),
                device: uplink.device.clone(),
                family: uplink.family.as_str().into(),
                state: if line.is_up() { "up" } else { "down" }.into(),
                active: engine.selection().contains(i),
                drained: engine.is_drained(i),
                rtt_ms: line.rtt().map(|d| round1(d.as_secs_f64() * 1000.0)),
                loss_pct: line.loss_pct().map(round1),
                since: since_wall.map_or_else(|| UNKNOWN.to_string(), format_wall),
                reason: live_reason(line, reason, now),
                degraded: line.degraded().map(String::from),
                gateway: engine.gateway(i).map(|g| g.to_string()),
            }
        })
        .collect();
    Status { uplinks }
}

/// What `since` says when the moment cannot be written as an RFC 3339 date.
pub const UNKNOWN: &str = "unknown";

/// Seconds from 0000-01-01T00:00:00Z to the Unix epoch: the first moment RFC 3339 can write.
const FIRST: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the last.
const LAST: i64 = 253_402_300_799;

/// `t` in RFC 3339 (UTC, whole seconds), or [`UNKNOWN`] outside years 0000..=9999. Unlike
/// humantime's formatter, which panics before 1970 and after 9999, it cannot panic.
pub fn format_wall(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok(),
        // Before the epoch: whole seconds rounded down, as for times after it.
        Err(e) => seconds_before(e.duration()),
    };
    let Some(secs) = secs.filter(|s| (FIRST..=LAST).contains(s)) else {
        return UNKNOWN.to_string();
    };
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

fn seconds_before(before: Duration) -> Option<i64> {
    let whole = i64::try_from(before.as_secs()).ok()?;
    whole
        .checked_neg()?
        .checked_sub(i64::from(before.subsec_nanos() > 0))
}

/// Year, month and day of `days` since 1970-01-01 in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`); exact for the range [`format_wall`] allows.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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

    const LINE: &str = "[[uplink]]\nname = \"main\"\ndevice = \"wan1\"\n";

    fn at(secs: i64) -> SystemTime {
        if secs >= 0 {
            UNIX_EPOCH + Duration::from_secs(secs as u64)
        } else {
            UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
        }
    }

    #[test]
    fn wall_times_are_rfc3339_inside_years_0_to_9999_and_unknown_outside() {
        assert_eq!(format_wall(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(format_wall(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(format_wall(at(-1)), "1969-12-31T23:59:59Z");
        assert_eq!(
            format_wall(UNIX_EPOCH - Duration::from_nanos(1)),
            "1969-12-31T23:59:59Z"
        );
        assert_eq!(format_wall(at(-315_619_200)), "1960-01-01T00:00:00Z");
        assert_eq!(format_wall(at(FIRST)), "0000-01-01T00:00:00Z");
        assert_eq!(format_wall(at(LAST)), "9999-12-31T23:59:59Z");
        assert_eq!(format_wall(at(FIRST - 1)), UNKNOWN);
        assert_eq!(format_wall(at(LAST + 1)), UNKNOWN);
        // The extremes a SystemTime can hold on Linux (i64 seconds either way).
        let far = Duration::from_secs(i64::MAX as u64);
        for t in [UNIX_EPOCH.checked_add(far), UNIX_EPOCH.checked_sub(far)] {
            assert_eq!(format_wall(t.unwrap()), UNKNOWN);
        }
    }

    #[test]
    fn wall_times_agree_with_humantime_where_it_does_not_panic() {
        let mut secs = 0;
        while secs <= LAST {
            let t = at(secs) + Duration::from_millis(999);
            let expected = humantime::format_rfc3339_seconds(t).to_string();
            assert_eq!(format_wall(t), expected, "{secs}");
            secs += 7_777_777;
        }
    }

    /// The report after the wall clock was stepped far back or forward: it used to panic
    /// (and the release build aborted, leaving the kernel state behind).
    #[test]
    fn status_survives_any_wall_clock() {
        let config = crate::config::parse(LINE).unwrap();
        let start = Instant::now();
        let engine = Engine::new(config, start);
        let now = start + Duration::from_secs(5);
        let far = Duration::from_secs(i64::MAX as u64);
        let cases = [
            (at(-315_619_200), "1959-12-31T23:59:55Z"),
            (at(2), "1969-12-31T23:59:57Z"),
            (at(LAST + 1000), UNKNOWN),
            (UNIX_EPOCH.checked_add(far).unwrap(), UNKNOWN),
            (UNIX_EPOCH.checked_sub(far).unwrap(), UNKNOWN),
            (at(1_800_000_005), "2027-01-15T08:00:00Z"),
        ];
        for (wall, since) in cases {
            let report = status(&engine, now, wall);
            assert_eq!(report.uplinks[0].since, since, "{wall:?}");
        }
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
