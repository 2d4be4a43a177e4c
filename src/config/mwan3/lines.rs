//! mwan3 interfaces -> `[[uplink]]` tables: device, metric and weight, probe timing.
//!
//! mwan3 counts rounds: a round pings the targets (each ping waiting up to `timeout` s),
//! then sleeps `interval` s (`failure_interval` once failing, `recovery_interval` while
//! recovering); `down` failed rounds in a row take the line down and `up` good rounds bring
//! it back. uplink counts time, so: `down_after_ms` = down × failure_interval,
//! `up_after_ms` = up × recovery_interval, `interval_ms` = interval, `timeout_ms` = timeout.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use super::model::{Interface, Mwan3, Policy};
use super::network::Device;
use super::out::Out;

/// Metric and weight of one line, and where they came from.
#[derive(Debug, Clone)]
pub(super) struct Rank {
    pub metric: i64,
    pub weight: i64,
    pub note: String,
}

/// Each interface's metric and weight: from the policy all traffic uses (`main`), else
/// in the order of the interfaces.
pub(super) fn ranks(m: &Mwan3, main: Option<&Policy>) -> HashMap<String, Rank> {
    let mut ranks: HashMap<String, Rank> = HashMap::new();
    let Some(policy) = main else {
        for (i, iface) in m.interfaces.iter().enumerate() {
            let note = "no mwan3 rule sends all traffic to a policy: metric follows the order of the interfaces".to_owned();
            let rank = Rank {
                metric: i as i64 + 1,
                weight: 1,
                note,
            };
            ranks.insert(iface.name.clone(), rank);
        }
        return ranks;
    };
    for member in policy.members.iter().filter_map(|n| m.member(n)) {
        let note = format!("member {} of policy {}", member.name, policy.name);
        let rank = Rank {
            metric: member.metric,
            weight: member.weight,
            note,
        };
        let entry = ranks
            .entry(member.interface.clone())
            .or_insert(rank.clone());
        if rank.metric < entry.metric {
            *entry = rank;
        }
    }
    let last = ranks.values().map(|r| r.metric).max().unwrap_or(0) + 1;
    for iface in &m.interfaces {
        ranks.entry(iface.name.clone()).or_insert_with(|| Rank {
            metric: last,
            weight: 1,
            note: format!("not in policy {}, which all traffic uses: mwan3 used it only through other rules; here it is the last choice", policy.name),
        });
    }
    ranks
}

/// Writes the `[[uplink]]` table of `iface`, commented out with the reason when it is
/// disabled in mwan3.
pub(super) fn line(out: &mut Out, iface: &Interface, device: Device, rank: &Rank) {
    out.blank();
    out.comment(format!(
        "mwan3 interface '{}' (line {})",
        iface.name, iface.line
    ));
    if !iface.enabled {
        out.comment("disabled in mwan3 (enabled '0' or not set): left commented out");
    }
    let mut block = Out::default();
    block.raw("[[uplink]]");
    block.key("name", iface.name.as_str());
    if iface.ipv6 {
        block.key_note(
            "family",
            "ipv6",
            "mwan3 family ipv6; a dual-stack WAN is two lines on one device, as in mwan3",
        );
    }
    let mut notes = device.notes.into_iter();
    match notes.next() {
        Some(note) => block.key_note("device", device.name.as_str(), &note),
        None => block.key("device", device.name.as_str()),
    }
    notes.for_each(|n| block.comment(n));
    if let Some(gateway) = &device.gateway {
        block.key("gateway", gateway.as_str());
    }
    block.key_note("metric", rank.metric, &rank.note);
    block.key("weight", rank.weight.clamp(1, 256));
    if rank.weight > 256 || rank.weight < 1 {
        block.comment(format!(
            "weight {} in mwan3; uplink's weights are 1..256",
            rank.weight
        ));
    }
    flush(&mut block, iface);
    probe(&mut block, iface);
    for (option, value) in &iface.extra {
        block.comment(format!(
            "mwan3 option {option} '{value}': no equivalent, ignored"
        ));
    }
    out.append(block, !iface.enabled);
}

/// mwan3 flushes the whole conntrack table on the listed events; uplink deletes only the
/// line's own entries.
fn flush(out: &mut Out, iface: &Interface) {
    if iface.flush_conntrack.is_empty() {
        out.comment("mwan3 flushed no conntrack entries for this line; uplink deletes the line's own entries when it goes down (flush_on default); flush_on = [] keeps mwan3's behaviour");
        return;
    }
    let has = |events: &[&str]| {
        iface
            .flush_conntrack
            .iter()
            .any(|e| events.contains(&e.as_str()))
    };
    let mut on: Vec<&str> = Vec::new();
    if has(&["ifdown", "disconnected"]) {
        on.push("down");
    }
    if has(&["ifup", "connected"]) {
        on.push("up");
    }
    let note = format!(
        "mwan3 flush_conntrack {}: mwan3 flushed the whole table, uplink only this line's entries",
        iface.flush_conntrack.join(", ")
    );
    out.key_note("flush_on", on, &note);
}

fn probe(out: &mut Out, iface: &Interface) {
    let targets = targets(out, iface);
    if targets.is_empty() {
        out.comment(
            "no track_ip of the line's family: mwan3 did not track this line; uplink follows its link state only",
        );
        return;
    }
    out.raw("[uplink.probe]");
    out.key("targets", targets.clone());
    let reliability = iface.reliability.clamp(1, targets.len() as i64);
    out.key("reliability", reliability);
    if reliability != iface.reliability {
        out.comment(format!(
            "mwan3 reliability {}; uplink needs 1..number of targets",
            iface.reliability
        ));
    }
    timing(out, iface);
}

/// The track_ips of the line's family, once each; others are noted and dropped.
fn targets(out: &mut Out, iface: &Interface) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for ip in &iface.track_ip {
        match ip.parse::<IpAddr>() {
            Ok(addr) if addr.is_ipv6() == iface.ipv6 => {
                if !kept.contains(ip) {
                    kept.push(ip.clone());
                }
            }
            _ => out.comment(format!(
                "track_ip '{ip}' dropped: not an address of the line's family"
            )),
        }
    }
    kept
}

/// Milliseconds of `secs`, at least 1.
fn ms(secs: f64) -> i64 {
    ((secs * 1000.0).round() as i64).max(1)
}

fn timing(out: &mut Out, i: &Interface) {
    let interval = ms(i.interval).max(10);
    let down_after = (i.down * ms(i.failure_interval)).max(interval);
    let up_after = (i.up * ms(i.recovery_interval)).max(interval);
    let timeout = ms(i.timeout).min(down_after);
    out.key_note(
        "interval_ms",
        interval,
        format!("mwan3 interval {} s", i.interval),
    );
    out.key_note(
        "timeout_ms",
        timeout,
        format!("mwan3 timeout {} s", i.timeout),
    );
    out.key_note(
        "down_after_ms",
        down_after,
        format!(
            "mwan3 down {} × failure_interval {} s",
            i.down, i.failure_interval
        ),
    );
    out.key_note(
        "up_after_ms",
        up_after,
        format!(
            "mwan3 up {} × recovery_interval {} s",
            i.up, i.recovery_interval
        ),
    );
    if timeout < ms(i.timeout) {
        out.comment("timeout_ms lowered to down_after_ms: a probe must count as lost before the line can be declared down");
    }
    let mwan3_secs =
        i.interval + (i.down - 1) as f64 * i.failure_interval + i.down as f64 * i.timeout;
    out.comment(format!(
        "Detection: mwan3 declared a dead line down after up to ~{:.0} s; with these values uplink takes {:.1}-{:.1} s.",
        mwan3_secs,
        down_after as f64 / 1000.0,
        (down_after + interval) as f64 / 1000.0
    ));
    out.comment("uplink's defaults (delete the four timing keys) take 2-2.5 s.");
    if i.count > 1 {
        out.comment(format!(
            "mwan3 count {}: {} pings per target per round; uplink sends one per interval",
            i.count, i.count
        ));
    }
    if i.check_quality {
        quality(out, i, timeout, interval, down_after);
    }
}

/// mwan3 failed a round whose pings were too slow or too lossy; uplink calls such a line
/// degraded over a window (here: the time mwan3 needed to take it down).
fn quality(out: &mut Out, i: &Interface, timeout: i64, interval: i64, down_after: i64) {
    let max_rtt = i.failure_latency.clamp(1, timeout - 1);
    let max_loss = i.failure_loss.clamp(1, 99);
    out.key_note(
        "max_rtt_ms",
        max_rtt,
        format!("mwan3 failure_latency {} ms", i.failure_latency),
    );
    out.key_note(
        "max_loss_pct",
        max_loss,
        format!("mwan3 failure_loss {} %", i.failure_loss),
    );
    out.key_note(
        "quality_window_ms",
        down_after.max(2 * interval),
        "mwan3's down rounds",
    );
    if max_rtt != i.failure_latency || max_loss != i.failure_loss {
        out.comment(
            "limits adjusted: max_rtt_ms must be below timeout_ms, max_loss_pct within 1..99",
        );
    }
    out.comment(format!(
        "mwan3 check_quality took a slow or lossy line down; uplink calls it degraded and avoids it while a good line is up, but still uses it when it is the only one. recovery_latency {} ms / recovery_loss {} % have no equivalent: the line is good again after up_after_ms within the limits.",
        i.recovery_latency, i.recovery_loss
    ));
}

/// Whether `text` is an IPv4 address or prefix (the family uplink handles).
pub(super) fn is_ipv4(text: &str) -> bool {
    let addr = text.split('/').next().unwrap_or("");
    addr.parse::<Ipv4Addr>().is_ok()
}
