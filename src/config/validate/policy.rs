//! `[[policy]]` tables, checked against the already validated uplinks.

use super::{check_name, invalid, quoted};
use crate::config::parse::{RawPolicy, RawPort};
use crate::config::{ConfigError, Fallback, Policy, Prefix, PrefixSet, Proto, Uplink};

pub(super) fn all(
    raw: Vec<RawPolicy>,
    uplinks: &[Uplink],
    sets: &[PrefixSet],
) -> Result<Vec<Policy>, ConfigError> {
    let mut done: Vec<Policy> = Vec::with_capacity(raw.len());
    for r in raw {
        let policy = policy(r, uplinks, sets, &done)?;
        done.push(policy);
    }
    Ok(done)
}

fn policy(
    raw: RawPolicy,
    uplinks: &[Uplink],
    sets: &[PrefixSet],
    earlier: &[Policy],
) -> Result<Policy, ConfigError> {
    let obj = format!("policy {}", quoted(&raw.name));
    check_name(&obj, &raw.name)?;
    if let Some(i) = earlier.iter().position(|p| p.name == raw.name) {
        return Err(invalid(
            &obj,
            "name",
            "",
            format!("duplicate (also policy #{})", i + 1),
        ));
    }
    let from = prefixes(&obj, "from", &raw.from)?;
    let to = prefixes(&obj, "to", &raw.to)?;
    check_uplinks(&obj, &raw.uplinks, uplinks)?;
    let fallback = fallback(&obj, raw.fallback.as_deref())?;
    let proto = raw.proto.as_deref().map(|p| proto(&obj, p)).transpose()?;
    let ports = ports(&obj, &raw.ports, proto)?;
    if let Some(name) = &raw.set {
        if !sets.iter().any(|s| &s.name == name) {
            return Err(invalid(
                &obj,
                "set",
                quoted(name),
                "no [[set]] has this name",
            ));
        }
    }
    Ok(Policy {
        name: raw.name,
        from,
        to,
        uplinks: raw.uplinks,
        fallback,
        proto,
        ports,
        set: raw.set,
    })
}

fn proto(obj: &str, text: &str) -> Result<Proto, ConfigError> {
    match text {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "icmp" => Ok(Proto::Icmp),
        other => Err(invalid(
            obj,
            "proto",
            quoted(other),
            "must be \"tcp\", \"udp\" or \"icmp\"",
        )),
    }
}

fn ports(obj: &str, raw: &[RawPort], proto: Option<Proto>) -> Result<Vec<(u16, u16)>, ConfigError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    if !matches!(proto, Some(Proto::Tcp | Proto::Udp)) {
        return Err(invalid(obj, "ports", "", "need proto = \"tcp\" or \"udp\""));
    }
    raw.iter().map(|p| port_range(obj, p)).collect()
}

fn port_range(obj: &str, raw: &RawPort) -> Result<(u16, u16), ConfigError> {
    let bad = |value: String| {
        invalid(
            obj,
            "ports",
            value,
            "must be a port 1..65535 or a range \"low-high\"",
        )
    };
    let port = |text: &str| text.trim().parse::<u16>().ok().filter(|p| *p > 0);
    match raw {
        RawPort::Number(n) => u16::try_from(*n)
            .ok()
            .filter(|p| *p > 0)
            .map(|p| (p, p))
            .ok_or_else(|| bad(n.to_string())),
        RawPort::Text(text) => {
            let (low, high) = text.split_once('-').unwrap_or((text, text));
            match (port(low), port(high)) {
                (Some(l), Some(h)) if l <= h => Ok((l, h)),
                _ => Err(bad(quoted(text))),
            }
        }
    }
}

fn fallback(obj: &str, text: Option<&str>) -> Result<Fallback, ConfigError> {
    match text {
        None | Some("default") => Ok(Fallback::Default),
        Some("unreachable") => Ok(Fallback::Unreachable),
        Some(other) => Err(invalid(
            obj,
            "fallback",
            quoted(other),
            "must be \"default\" or \"unreachable\"",
        )),
    }
}

fn prefixes(obj: &str, key: &str, texts: &[String]) -> Result<Vec<Prefix>, ConfigError> {
    let mut prefixes = Vec::with_capacity(texts.len());
    for text in texts {
        let prefix = super::prefix(obj, key, text)?;
        // "10.0.0.1" and "10.0.0.1/32" are the same prefix, so compare parsed values.
        if prefixes.contains(&prefix) {
            return Err(invalid(obj, key, quoted(text), "duplicate"));
        }
        prefixes.push(prefix);
    }
    Ok(prefixes)
}

fn check_uplinks(obj: &str, names: &[String], uplinks: &[Uplink]) -> Result<(), ConfigError> {
    if names.is_empty() {
        return Err(invalid(obj, "uplinks", "", "must name at least one uplink"));
    }
    for (i, name) in names.iter().enumerate() {
        let Some(uplink) = uplinks.iter().find(|u| &u.name == name) else {
            return Err(invalid(
                obj,
                "uplinks",
                "",
                format!("unknown uplink {}", quoted(name)),
            ));
        };
        if uplink.family != crate::config::Family::V4 {
            let reason = format!(
                "uplink {} is an IPv6 line: policies match IPv4 traffic only (for now)",
                quoted(name)
            );
            return Err(invalid(obj, "uplinks", "", reason));
        }
        if names[..i].contains(name) {
            return Err(invalid(
                obj,
                "uplinks",
                "",
                format!("duplicate uplink {}", quoted(name)),
            ));
        }
    }
    Ok(())
}
