//! The status report: JSON for scripts, a table for people.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::history::History;
use crate::core::figures::TargetFigures;
use crate::core::Engine;

/// What `uplink status --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub uplinks: Vec<LineStatus>,
    /// Each policy and the line its traffic uses now.
    #[serde(default)]
    pub policies: Vec<PolicyStatus>,
    /// The lines taken out of service by `uplink drain`.
    #[serde(default)]
    pub drained: Vec<String>,
}

/// Where a policy's traffic goes now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyStatus {
    pub name: String,
    /// A line's name, `unreachable` (its lines are down and its fallback refuses), or
    /// `default` (it follows the normal selection).
    pub line: String,
}

/// One probe target's figures over the line's recent probes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetStatus {
    /// As written in the config.
    pub target: String,
    /// How it is probed: `icmp`, `tcp`, `dns` or `http`.
    #[serde(default)]
    pub kind: String,
    /// Why its last probe failed, until it answers again (e.g. an HTTP redirect, a name
    /// that does not resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Answered within the line's `down_after`.
    pub answering: bool,
    pub last_rtt_ms: Option<f64>,
    /// Mean round trip.
    pub rtt_ms: Option<f64>,
    /// Standard deviation of the round trips.
    pub jitter_ms: Option<f64>,
    pub loss_pct: Option<f64>,
}

/// One line's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineStatus {
    pub name: String,
    pub device: String,
    /// The netifd interface the line follows, if it is given by one.
    #[serde(default)]
    pub interface: Option<String>,
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
    /// Seconds in the current state.
    #[serde(default)]
    pub state_secs: u64,
    /// Why the line is in this state now.
    pub reason: String,
    /// Why the line is degraded (too slow or too lossy), when it is.
    #[serde(default)]
    pub degraded: Option<String>,
    /// When the line's suppression for flapping ends (RFC 3339, UTC), while it is
    /// suppressed: avoided while another line is up (see `dampening` in the README).
    #[serde(default)]
    pub suppressed_until: Option<String>,
    /// The line's flap penalty now; null without dampening.
    #[serde(default)]
    pub flap_penalty: Option<u32>,
    /// The next hop in use (learned, for `gateway = "auto"`); null on a point-to-point
    /// line or while unknown.
    #[serde(default)]
    pub gateway: Option<String>,
    /// Changes between up and down since the daemon started.
    #[serde(default)]
    pub transitions: u32,
    /// Seconds spent down (after having been up or down once) since the daemon started.
    #[serde(default)]
    pub downtime_secs: u64,
    /// Connections the line carries (conntrack entries with its marks: those that left
    /// through it, inbound ones), by a count at most a few seconds old; null before the
    /// first count or when counting failed.
    #[serde(default)]
    pub connections: Option<u64>,
    /// The probe targets, in config order.
    #[serde(default)]
    pub targets: Vec<TargetStatus>,
}

/// Builds the report; `now` and `wall` are the same moment on both clocks.
pub fn status(engine: &Engine, history: &History, now: Instant, wall: SystemTime) -> Status {
    let config = engine.config();
    let uplinks = (0..config.uplinks.len())
        .map(|i| line_status(engine, history, i, now, wall))
        .collect();
    let policies = config
        .policies
        .iter()
        .map(|p| PolicyStatus {
            name: p.name.clone(),
            line: engine.policy_line(&p.name).unwrap_or("none").to_owned(),
        })
        .collect();
    let drained = (0..config.uplinks.len())
        .filter(|&i| engine.is_drained(i))
        .map(|i| config.uplinks[i].name.clone())
        .collect();
    Status {
        uplinks,
        policies,
        drained,
    }
}

fn line_status(
    engine: &Engine,
    history: &History,
    i: usize,
    now: Instant,
    wall: SystemTime,
) -> LineStatus {
    let uplink = &engine.config().uplinks[i];
    let line = engine.line(i);
    let (since, _) = line.since();
    // The wall clock can be anywhere (stepped to 1960 or to year 30000): checked, so a
    // status request never panics the daemon (release builds abort on panic).
    let since_wall = wall.checked_sub(now.saturating_duration_since(since));
    let figures = line.target_figures(now);
    let tally = history.tally_of(&uplink.name);
    LineStatus {
        name: uplink.name.clone(),
        device: uplink.device.clone(),
        interface: uplink.interface.clone(),
        family: uplink.family.as_str().into(),
        state: if line.is_up() { "up" } else { "down" }.into(),
        active: engine.selection().contains(i),
        drained: engine.is_drained(i),
        rtt_ms: line.rtt().map(millis),
        loss_pct: line.loss_pct().map(round1),
        since: since_wall.map_or_else(|| UNKNOWN.to_string(), format_wall),
        state_secs: now.saturating_duration_since(since).as_secs(),
        reason: live_reason(line, &figures, now),
        degraded: line.degraded().map(String::from),
        suppressed_until: line
            .suppressed_until()
            .map(|until| format_wall_at(until, now, wall)),
        flap_penalty: line.flap_penalty(now),
        gateway: engine.gateway(i).map(|g| g.to_string()),
        transitions: tally.transitions,
        downtime_secs: tally.downtime(now).as_secs(),
        connections: None,
        targets: uplink
            .probe
            .targets
            .iter()
            .zip(figures)
            .map(|(target, f)| TargetStatus {
                target: target.text.clone(),
                kind: target.kind.as_str().into(),
                error: None,
                answering: f.answering,
                last_rtt_ms: f.last_rtt.map(millis),
                rtt_ms: f.mean_rtt.map(millis),
                jitter_ms: f.jitter.map(millis),
                loss_pct: f.loss_pct.map(round1),
            })
            .collect(),
    }
}

fn millis(d: Duration) -> f64 {
    round1(d.as_secs_f64() * 1000.0)
}

/// What `since` says when the moment cannot be written as an RFC 3339 date.
pub const UNKNOWN: &str = "unknown";

/// Seconds from 0000-01-01T00:00:00Z to the Unix epoch: the first moment RFC 3339 can write.
const FIRST: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z, the last.
const LAST: i64 = 253_402_300_799;

/// The monotonic instant `at` (at or after `now`) as wall time in RFC 3339, `now` and
/// `wall` being the same moment on the two clocks; [`UNKNOWN`] when it cannot be written.
pub fn format_wall_at(at: Instant, now: Instant, wall: SystemTime) -> String {
    let at = wall.checked_add(at.saturating_duration_since(now));
    at.map_or_else(|| UNKNOWN.to_string(), format_wall)
}

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

/// The line's reason now. For a line that is up by its probes: how many targets answer
/// now (how long it has been good is in `since`), not what was true when it came up.
fn live_reason(line: &crate::core::LineState, figures: &[TargetFigures], now: Instant) -> String {
    if line.is_up() && !figures.is_empty() {
        let answering = figures.iter().filter(|f| f.answering).count();
        return format!("{answering}/{} targets answering", figures.len());
    }
    line.reason_now(now)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let report = status(&engine, &History::new(1), now, wall);
            assert_eq!(report.uplinks[0].since, since, "{wall:?}");
        }
    }
}
