//! A line's address family (`family`), and the addresses that must match it.

use std::net::IpAddr;

use super::{invalid, quoted};
use crate::config::parse::RawUplink;
use crate::config::{ConfigError, Family, Gateway, Probe, Target};

/// The family a line's raw keys ask for: `family` if given, else IPv6 when its gateway or
/// all of its probe targets are IPv6 addresses, else IPv4. Unparsable addresses count for
/// nothing here; their own checks report them.
pub(super) fn family(obj: &str, raw: &RawUplink) -> Result<Family, ConfigError> {
    match raw.family.as_deref() {
        Some("ipv4") => return Ok(Family::V4),
        Some("ipv6") => return Ok(Family::V6),
        Some(other) => {
            let reason = "must be \"ipv4\" or \"ipv6\"";
            return Err(invalid(obj, "family", quoted(other), reason));
        }
        None => {}
    }
    let is_v6 = |text: &String| matches!(text.parse::<IpAddr>(), Ok(IpAddr::V6(_)));
    let target_v6 = |text: &String| {
        matches!(
            Target::parse(text).map(|t| t.addr()),
            Ok(Some(IpAddr::V6(_)))
        )
    };
    let targets = raw
        .probe
        .as_ref()
        .map(|p| p.targets.as_slice())
        .unwrap_or_default();
    let v6 = raw.gateway.as_ref().is_some_and(is_v6)
        || (!targets.is_empty() && targets.iter().all(target_v6));
    Ok(if v6 { Family::V6 } else { Family::V4 })
}

/// The gateway and every probe target must be of the line's family.
pub(super) fn check_addresses(
    obj: &str,
    family: Family,
    gateway: Gateway,
    probe: &Probe,
) -> Result<(), ConfigError> {
    // `shown` is the value as written: a target's whole text (`tcp://[2001:db8::1]:80`).
    let mismatch = |key: &str, addr: &IpAddr, shown: &str| {
        let reason = format!(
            "an {} address on an {} line (family = \"{}\")",
            name(Family::of(addr)),
            name(family),
            family.as_str()
        );
        invalid(obj, key, quoted(shown), reason)
    };
    if let Some(addr) = gateway.fixed().filter(|a| Family::of(a) != family) {
        return Err(mismatch("gateway", &addr, &addr.to_string()));
    }
    let other = |a: &IpAddr| Family::of(a) != family;
    let target = (probe.targets.iter()).find_map(|t| t.addr().filter(other).map(|a| (t, a)));
    if let Some((target, addr)) = target {
        return Err(mismatch("probe.targets", &addr, &target.text));
    }
    match probe.resolvers.iter().find(|a| other(a)) {
        Some(addr) => Err(mismatch("probe.resolvers", addr, &addr.to_string())),
        None => Ok(()),
    }
}

fn name(family: Family) -> &'static str {
    match family {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}
