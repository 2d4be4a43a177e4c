//! `[[uplink]]` tables and their `[uplink.probe]` subtables.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::{check_name, invalid, number, quoted};
use crate::config::ifname::check_ifname;
use crate::config::parse::{RawProbe, RawUplink};
use crate::config::target::normal_name;
use crate::config::{
    ConfigError, Family, Flush, Gateway, Host, HttpStatus, Probe, Target, Uplink,
    DEFAULT_DOWN_AFTER_MS, DEFAULT_INTERVAL_MS, DEFAULT_METRIC, DEFAULT_RELIABILITY,
    DEFAULT_TIMEOUT_MS, DEFAULT_UP_AFTER_MS, DEFAULT_WEIGHT,
};

/// Kernel multipath nexthop weights are 1..=256.
const MAX_WEIGHT: u32 = 256;
/// Faster probing than this only floods the targets.
const MIN_INTERVAL_MS: u64 = 10;
/// One day: generous, and keeps `Instant + duration` far from overflowing in the core.
const MAX_TIMING_MS: u64 = 86_400_000;

pub(super) fn all(raw: Vec<RawUplink>) -> Result<Vec<Uplink>, ConfigError> {
    let mut done: Vec<Uplink> = Vec::with_capacity(raw.len());
    for r in raw {
        let up = uplink(r, &done)?;
        done.push(up);
    }
    Ok(done)
}

fn uplink(raw: RawUplink, earlier: &[Uplink]) -> Result<Uplink, ConfigError> {
    let obj = format!("uplink {}", quoted(&raw.name));
    check_name(&obj, &raw.name)?;
    if let Some(i) = earlier.iter().position(|u| u.name == raw.name) {
        return Err(invalid(
            &obj,
            "name",
            "",
            format!("duplicate (also uplink #{})", i + 1),
        ));
    }
    let family = super::family::family(&obj, &raw)?;
    let (device, interface) = device_or_interface(&obj, &raw, family, earlier)?;
    let gateway = match raw.gateway.as_deref() {
        None => Gateway::None,
        Some("auto") => Gateway::Auto,
        Some(text) => Gateway::Fixed(gateway(&obj, text)?),
    };
    let metric = raw.metric.map(|v| number(&obj, "metric", v, 0..=u32::MAX));
    let weight = raw
        .weight
        .map(|v| number(&obj, "weight", v, 1..=MAX_WEIGHT));
    let uplink = Uplink {
        name: raw.name,
        device,
        interface,
        family,
        gateway,
        metric: metric.transpose()?.unwrap_or(DEFAULT_METRIC),
        weight: weight.transpose()?.unwrap_or(DEFAULT_WEIGHT),
        masquerade: raw.masquerade.unwrap_or(false),
        flush: raw
            .flush_on
            .map_or(Ok(Flush::default()), |v| flush(&obj, &v))?,
        keep_sessions: raw
            .keep_sessions_s
            .map(|v| number(&obj, "keep_sessions_s", v, 0..=MAX_KEEP_SESSIONS_S))
            .transpose()?
            .map(Duration::from_secs),
        probe: probe(&obj, raw.probe.unwrap_or_default())?,
    };
    super::family::check_addresses(&obj, family, uplink.gateway, &uplink.probe)?;
    Ok(uplink)
}

/// A week: a longer bound is a typo for "until they end" (leave the key out).
const MAX_KEEP_SESSIONS_S: u64 = 7 * 24 * 3600;

fn flush(obj: &str, events: &[String]) -> Result<Flush, ConfigError> {
    let mut flush = Flush {
        down: false,
        up: false,
    };
    for event in events {
        match event.as_str() {
            "down" => flush.down = true,
            "up" => flush.up = true,
            other => {
                let reason = "must be \"down\" or \"up\"";
                return Err(invalid(obj, "flush_on", quoted(other), reason));
            }
        }
    }
    Ok(flush)
}

/// Exactly one of `device` and `interface`, each unique among the lines.
fn device_or_interface(
    obj: &str,
    raw: &RawUplink,
    family: Family,
    earlier: &[Uplink],
) -> Result<(String, Option<String>), ConfigError> {
    // One device may carry an IPv4 line and an IPv6 line.
    let earlier: Vec<&Uplink> = earlier.iter().filter(|u| u.family == family).collect();
    let duplicate = |key: &str, value: &str, other: &Uplink| {
        let reason = format!("duplicate (also used by uplink {})", quoted(&other.name));
        invalid(obj, key, quoted(value), reason)
    };
    match (&raw.device, &raw.interface) {
        (Some(device), None) => {
            check_device(obj, device)?;
            if let Some(other) = earlier.iter().find(|u| &u.device == device) {
                return Err(duplicate("device", device, other));
            }
            Ok((device.clone(), None))
        }
        (None, Some(iface)) => {
            check_netifd_name(obj, iface)?;
            let same = |u: &&&Uplink| u.interface.as_ref() == Some(iface);
            if let Some(other) = earlier.iter().find(same) {
                return Err(duplicate("interface", iface, other));
            }
            Ok((String::new(), Some(iface.clone())))
        }
        (Some(device), Some(_)) => Err(invalid(
            obj,
            "device",
            quoted(device),
            "give device or interface, not both",
        )),
        (None, None) => Err(invalid(
            obj,
            "device",
            "",
            "missing: give the line's device (or, on OpenWrt, its netifd interface)",
        )),
    }
}

/// netifd section names: what uci accepts, and short enough for `pppoe-<name>`.
fn check_netifd_name(obj: &str, name: &str) -> Result<(), ConfigError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if !name.is_empty() && name.len() <= 10 && name.chars().all(allowed) {
        return Ok(());
    }
    let reason = "must be a netifd interface name: 1..10 of [A-Za-z0-9_]";
    Err(invalid(obj, "interface", quoted(name), reason))
}

/// An interface name the kernel would take and nft can match exactly (see
/// [`crate::config::ifname`]).
fn check_device(obj: &str, device: &str) -> Result<(), ConfigError> {
    check_ifname(device).map_err(|why| invalid(obj, "device", quoted(device), why.to_string()))
}

/// A next hop; an IPv6 one is usually the router's link-local address (`fe80::1`).
fn gateway(obj: &str, text: &str) -> Result<IpAddr, ConfigError> {
    host_address(obj, "gateway", text, true)
}

/// Parses an address that must name one host; link-local IPv6 only where `link_local`.
fn host_address(obj: &str, key: &str, text: &str, link_local: bool) -> Result<IpAddr, ConfigError> {
    let reason = match text.parse::<IpAddr>() {
        Ok(addr) => match not_a_host_ip(addr, link_local) {
            None => return Ok(addr),
            Some(reason) => reason,
        },
        Err(_) => "not an IP address",
    };
    Err(invalid(obj, key, quoted(text), reason))
}

/// Why `addr` cannot name one host (see [`not_a_host`], [`not_a_host6`]); `None` when it can.
fn not_a_host_ip(addr: IpAddr, link_local: bool) -> Option<&'static str> {
    match addr {
        IpAddr::V4(a) => not_a_host(a),
        IpAddr::V6(a) => not_a_host6(a, link_local),
    }
}

fn not_a_host6(addr: Ipv6Addr, link_local: bool) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("the unspecified address is not a host")
    } else if addr.is_multicast() {
        Some("a multicast address is not a host")
    } else if addr.is_loopback() {
        Some("a loopback address is the router itself")
    } else if !link_local && addr.is_unicast_link_local() {
        Some("a link-local address is not beyond the first hop")
    } else {
        None
    }
}

fn not_a_host(addr: Ipv4Addr) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("the unspecified address is not a host")
    } else if addr.is_broadcast() {
        Some("the broadcast address is not a host")
    } else if addr.is_multicast() {
        Some("a multicast address is not a host")
    } else if addr.is_loopback() {
        // Would be answered by the router itself, proving nothing about the line.
        Some("a loopback address is the router itself")
    } else {
        None
    }
}

fn probe(obj: &str, raw: RawProbe) -> Result<Probe, ConfigError> {
    let probe = Probe {
        targets: targets(obj, &raw.targets)?,
        interval: millis(
            obj,
            "interval_ms",
            raw.interval_ms,
            DEFAULT_INTERVAL_MS,
            MIN_INTERVAL_MS,
        )?,
        timeout: millis(obj, "timeout_ms", raw.timeout_ms, DEFAULT_TIMEOUT_MS, 1)?,
        down_after: millis(
            obj,
            "down_after_ms",
            raw.down_after_ms,
            DEFAULT_DOWN_AFTER_MS,
            1,
        )?,
        up_after: millis(obj, "up_after_ms", raw.up_after_ms, DEFAULT_UP_AFTER_MS, 1)?,
        reliability: raw
            .reliability
            .map(|v| number(obj, "probe.reliability", v, 1..=usize::MAX))
            .transpose()?
            .unwrap_or(DEFAULT_RELIABILITY),
        quality: None,
        dampening: None,
        traffic_quiet: None,
        dns_name: dns_name(obj, raw.dns_name.as_deref())?,
        http_status: http_status(obj, raw.http_status.as_ref())?,
        resolvers: resolvers(obj, &raw.resolvers)?,
    };
    check_timing(obj, &probe)?;
    check_reliability(obj, &probe)?;
    let quality = super::quality::limits(obj, &raw, &probe)?;
    let dampening = super::dampening::settings(obj, &raw, &probe)?;
    let traffic_quiet = super::dampening::traffic_quiet(obj, &raw, &probe)?;
    Ok(Probe {
        quality,
        dampening,
        traffic_quiet,
        ..probe
    })
}

/// More targets than this per line only load the event loop and the targets: two or three
/// independent hosts are what judging a line needs.
const MAX_TARGETS: usize = 16;

fn targets(obj: &str, texts: &[String]) -> Result<Vec<Target>, ConfigError> {
    if texts.len() > MAX_TARGETS {
        let count = format!("{} entries", texts.len());
        return Err(invalid(
            obj,
            "probe.targets",
            count,
            format!("at most {MAX_TARGETS}"),
        ));
    }
    let mut targets: Vec<Target> = Vec::with_capacity(texts.len());
    for text in texts {
        let target = Target::parse(text)
            .map_err(|reason| invalid(obj, "probe.targets", quoted(text), reason))?;
        if let Host::Addr(addr) = target.host {
            // The same checks as a plain address: a host beyond the first hop.
            if let Some(reason) = not_a_host_ip(addr, false) {
                return Err(invalid(obj, "probe.targets", quoted(text), reason));
            }
        }
        let same = |a: &Target, b: &Target| {
            (a.kind, &a.host, a.port, &a.path) == (b.kind, &b.host, b.port, &b.path)
        };
        if targets.iter().any(|t| same(t, &target)) {
            return Err(invalid(obj, "probe.targets", quoted(text), "duplicate"));
        }
        targets.push(target);
    }
    Ok(targets)
}

/// `probe.dns_name`: the root (`.`) or a host name.
fn dns_name(obj: &str, value: Option<&str>) -> Result<String, ConfigError> {
    let Some(text) = value else {
        return Ok(crate::config::DEFAULT_DNS_NAME.into());
    };
    if text == "." {
        return Ok(text.into());
    }
    normal_name(text).map_err(|reason| invalid(obj, "probe.dns_name", quoted(text), reason))
}

/// `probe.http_status`: a status 100..599, or a class such as `2xx`.
fn http_status(obj: &str, value: Option<&String>) -> Result<HttpStatus, ConfigError> {
    let Some(text) = value else {
        return Ok(HttpStatus::Class(2));
    };
    let lower = text.to_ascii_lowercase();
    let class = lower.strip_suffix("xx").and_then(|c| c.parse::<u16>().ok());
    match (class, lower.parse::<u16>()) {
        (Some(class @ 1..=5), _) if lower.len() == 3 => Ok(HttpStatus::Class(class)),
        (_, Ok(code @ 100..=599)) => Ok(HttpStatus::Code(code)),
        _ => Err(invalid(
            obj,
            "probe.http_status",
            quoted(text),
            "must be a status 100..599 or a class 1xx..5xx",
        )),
    }
}

/// `probe.resolvers`: unicast addresses, at most a few.
fn resolvers(obj: &str, texts: &[String]) -> Result<Vec<IpAddr>, ConfigError> {
    const MAX_RESOLVERS: usize = 4;
    if texts.len() > MAX_RESOLVERS {
        let count = format!("{} entries", texts.len());
        let reason = format!("at most {MAX_RESOLVERS}");
        return Err(invalid(obj, "probe.resolvers", count, reason));
    }
    texts
        .iter()
        .map(|text| host_address(obj, "probe.resolvers", text, false))
        .collect()
}

/// Reads `probe.<key>` in milliseconds, or the default when absent.
fn millis(
    obj: &str,
    key: &str,
    value: Option<i64>,
    default: u64,
    min: u64,
) -> Result<Duration, ConfigError> {
    let Some(value) = value else {
        return Ok(Duration::from_millis(default));
    };
    let ms = number(obj, &format!("probe.{key}"), value, min..=MAX_TIMING_MS)?;
    Ok(Duration::from_millis(ms))
}

/// Relations between the timings: each decision needs at least one probe period, and
/// a probe must be declared lost before the line may be declared down.
fn check_timing(obj: &str, p: &Probe) -> Result<(), ConfigError> {
    let ms = |d: Duration| d.as_millis().to_string();
    let at_least_interval = format!("must be at least probe.interval_ms ({})", ms(p.interval));
    if p.down_after < p.interval {
        let value = ms(p.down_after);
        return Err(invalid(
            obj,
            "probe.down_after_ms",
            value,
            at_least_interval,
        ));
    }
    if p.up_after < p.interval {
        return Err(invalid(
            obj,
            "probe.up_after_ms",
            ms(p.up_after),
            at_least_interval,
        ));
    }
    if p.timeout > p.down_after {
        let reason = format!("must not exceed probe.down_after_ms ({})", ms(p.down_after));
        return Err(invalid(obj, "probe.timeout_ms", ms(p.timeout), reason));
    }
    Ok(())
}

/// Without targets the line follows its link, so reliability has nothing to count.
fn check_reliability(obj: &str, p: &Probe) -> Result<(), ConfigError> {
    if p.targets.is_empty() || p.reliability <= p.targets.len() {
        return Ok(());
    }
    let reason = format!("exceeds the number of probe.targets ({})", p.targets.len());
    Err(invalid(
        obj,
        "probe.reliability",
        p.reliability.to_string(),
        reason,
    ))
}
