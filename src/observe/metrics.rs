//! Prometheus text exposition (format 0.0.4) of the daemon's state and counters: what the
//! `/metrics` listener serves and what the node_exporter textfile holds. Names and labels
//! are a stable interface (README, "Metrics").

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use super::per_target::PerTarget;
use crate::daemon::status::Status;

/// Upper bounds of the round-trip histogram, in seconds: from a LAN-close target to a
/// satellite line.
const RTT_BUCKETS: [f64; 10] = [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];

/// Round-trip observations of one target.
#[derive(Debug, Clone, Default, PartialEq)]
struct Histogram {
    /// Observations at or below each bound of [`RTT_BUCKETS`] (not cumulative).
    buckets: [u64; RTT_BUCKETS.len()],
    /// Observations above every bound.
    over: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        match RTT_BUCKETS.iter().position(|&bound| seconds <= bound) {
            Some(i) => self.buckets[i] += 1,
            None => self.over += 1,
        }
        self.sum += seconds;
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum::<u64>() + self.over
    }
}

/// Counters kept since the daemon started. Plain integers: the event loop is the only
/// writer, and 32-bit targets have no 64-bit atomics.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    transitions: BTreeMap<(String, &'static str), u64>,
    switches: BTreeMap<&'static str, u64>,
    reloads: BTreeMap<&'static str, u64>,
    driver_errors: BTreeMap<&'static str, u64>,
    rtt: PerTarget<Histogram>,
}

impl Counters {
    /// Line `line` went `up` (true) or down.
    pub fn transition(&mut self, line: &str, up: bool) {
        let state = if up { "up" } else { "down" };
        *self
            .transitions
            .entry((line.to_owned(), state))
            .or_default() += 1;
    }

    /// The lines carrying `family`'s default route changed (`ipv4`, `ipv6`).
    pub fn switch(&mut self, family: &'static str) {
        *self.switches.entry(family).or_default() += 1;
    }

    /// A reload was taken (`ok`) or refused (`error`).
    pub fn reload(&mut self, ok: bool) {
        *self
            .reloads
            .entry(if ok { "ok" } else { "error" })
            .or_default() += 1;
    }

    /// A driver failed: `routing`, `nft` or `netlink`.
    pub fn driver_error(&mut self, kind: &'static str) {
        *self.driver_errors.entry(kind).or_default() += 1;
    }

    /// A probe of `target` on `line` was answered after `rtt`.
    pub fn rtt(&mut self, line: &str, target: &str, rtt: Duration) {
        self.rtt.entry(line, target).observe(rtt.as_secs_f64());
    }

    /// Forgets the round trips of targets no longer configured (after a reload).
    pub fn retain_targets(&mut self, keep: impl Fn(&str, &str) -> bool) {
        self.rtt.retain(keep);
    }
}

/// The exposition text for `status` and `counters`.
pub fn render(status: &Status, counters: &Counters) -> String {
    let mut out = String::new();
    line_gauges(&mut out, status);
    target_gauges(&mut out, status, counters);
    counter_families(&mut out, counters);
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
    let labels: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    let _ = writeln!(out, "{name}{{{}}} {value}", labels.join(","));
}

/// A label value as the exposition format quotes it: backslash, quote and newline escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn flag(b: bool) -> u8 {
    u8::from(b)
}

fn line_gauges(out: &mut String, status: &Status) {
    header(
        out,
        "uplink_line_up",
        "gauge",
        "1 when the line is up by its link and probes.",
    );
    for l in &status.uplinks {
        let labels = [
            ("line", &*l.name),
            ("device", &l.device),
            ("family", &l.family),
        ];
        sample(out, "uplink_line_up", &labels, flag(l.state == "up"));
    }
    header(
        out,
        "uplink_line_active",
        "gauge",
        "1 when the line carries its family's default route.",
    );
    for l in &status.uplinks {
        let labels = [("line", &*l.name), ("family", &l.family)];
        sample(out, "uplink_line_active", &labels, flag(l.active));
    }
    header(
        out,
        "uplink_line_degraded",
        "gauge",
        "1 when the line is over its latency or loss limit.",
    );
    for l in &status.uplinks {
        sample(
            out,
            "uplink_line_degraded",
            &[("line", &l.name)],
            flag(l.degraded.is_some()),
        );
    }
    header(
        out,
        "uplink_line_suppressed",
        "gauge",
        "1 when the line is suppressed for flapping.",
    );
    for l in &status.uplinks {
        sample(
            out,
            "uplink_line_suppressed",
            &[("line", &l.name)],
            flag(l.suppressed_until.is_some()),
        );
    }
    header(
        out,
        "uplink_line_drained",
        "gauge",
        "1 when the line is drained by hand.",
    );
    for l in &status.uplinks {
        sample(
            out,
            "uplink_line_drained",
            &[("line", &l.name)],
            flag(l.drained),
        );
    }
    header(
        out,
        "uplink_line_downtime_seconds_total",
        "counter",
        "Time the line spent down since the daemon started.",
    );
    for l in &status.uplinks {
        sample(
            out,
            "uplink_line_downtime_seconds_total",
            &[("line", &l.name)],
            l.downtime_secs,
        );
    }
    connection_gauges(out, status);
}

/// Absent until the daemon has counted (a count runs when status or metrics are asked
/// for, at most every 30 s for metrics): absent, not zero.
fn connection_gauges(out: &mut String, status: &Status) {
    if status.uplinks.iter().all(|l| l.connections.is_none()) {
        return;
    }
    header(
        out,
        "uplink_line_connections",
        "gauge",
        "Connections the line carries (conntrack entries with its marks), counted at most every 30 s.",
    );
    for l in &status.uplinks {
        if let Some(n) = l.connections {
            sample(out, "uplink_line_connections", &[("line", &l.name)], n);
        }
    }
}

fn target_gauges(out: &mut String, status: &Status, counters: &Counters) {
    header(
        out,
        "uplink_probe_answering",
        "gauge",
        "1 when the target answered within the line's down_after.",
    );
    for l in &status.uplinks {
        for t in &l.targets {
            let labels = [("line", &*l.name), ("target", &t.target), ("kind", &t.kind)];
            sample(out, "uplink_probe_answering", &labels, flag(t.answering));
        }
    }
    header(
        out,
        "uplink_probe_loss_ratio",
        "gauge",
        "Share of the target's last 20 probes that were lost.",
    );
    for l in &status.uplinks {
        for t in &l.targets {
            if let Some(loss) = t.loss_pct {
                let labels = [("line", &*l.name), ("target", &t.target), ("kind", &t.kind)];
                sample(out, "uplink_probe_loss_ratio", &labels, loss / 100.0);
            }
        }
    }
    header(
        out,
        "uplink_probe_rtt_seconds",
        "histogram",
        "Round-trip time of answered probes.",
    );
    for l in &status.uplinks {
        for t in &l.targets {
            let histogram = counters
                .rtt
                .get(&l.name, &t.target)
                .cloned()
                .unwrap_or_default();
            write_histogram(out, &l.name, &t.target, &histogram);
        }
    }
}

fn write_histogram(out: &mut String, line: &str, target: &str, h: &Histogram) {
    let name = "uplink_probe_rtt_seconds";
    let mut cumulative = 0;
    for (bound, count) in RTT_BUCKETS.iter().zip(h.buckets) {
        cumulative += count;
        let le = bound.to_string();
        let labels = [("line", line), ("target", target), ("le", &le)];
        sample(out, &format!("{name}_bucket"), &labels, cumulative);
    }
    let labels = [("line", line), ("target", target), ("le", "+Inf")];
    sample(out, &format!("{name}_bucket"), &labels, h.count());
    let labels = [("line", line), ("target", target)];
    sample(out, &format!("{name}_sum"), &labels, h.sum);
    sample(out, &format!("{name}_count"), &labels, h.count());
}

fn counter_families(out: &mut String, c: &Counters) {
    header(
        out,
        "uplink_line_transitions_total",
        "counter",
        "Changes of a line's state, by the state entered.",
    );
    for ((line, state), n) in &c.transitions {
        sample(
            out,
            "uplink_line_transitions_total",
            &[("line", line), ("state", state)],
            n,
        );
    }
    header(
        out,
        "uplink_switches_total",
        "counter",
        "Changes of the lines carrying a family's default route.",
    );
    for family in ["ipv4", "ipv6"] {
        let n = c.switches.get(family).copied().unwrap_or(0);
        sample(out, "uplink_switches_total", &[("family", family)], n);
    }
    header(
        out,
        "uplink_reloads_total",
        "counter",
        "Config reloads, by result.",
    );
    for result in ["ok", "error"] {
        let n = c.reloads.get(result).copied().unwrap_or(0);
        sample(out, "uplink_reloads_total", &[("result", result)], n);
    }
    header(
        out,
        "uplink_driver_errors_total",
        "counter",
        "Failed kernel or tool operations, by kind.",
    );
    for kind in ["routing", "nft", "netlink"] {
        let n = c.driver_errors.get(kind).copied().unwrap_or(0);
        sample(out, "uplink_driver_errors_total", &[("kind", kind)], n);
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
