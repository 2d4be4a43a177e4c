//! `gateway = "auto"`: a line's next hop is learned from the default route the system (a
//! DHCP client, netifd) installed on its device, and followed when it changes.

use std::net::IpAddr;

use super::LinkFacts;
use crate::config::{Family, Gateway};

/// The next hop of a line's default route, given its link facts.
pub fn resolve(gateway: Gateway, link: &LinkFacts) -> Option<IpAddr> {
    match gateway {
        Gateway::None => None,
        Gateway::Fixed(addr) => Some(addr),
        Gateway::Auto => link.gateway,
    }
}

/// The facts to keep for a line of `family`, from a fresh dump (`dumped`) and the facts
/// kept so far: the addresses of its family (global ones only for IPv6: a link-local
/// address can neither source probes nor be masqueraded to), and its gateway.
///
/// Only `auto` lines keep a learned gateway, so that route churn does not touch the
/// others. A DHCP client that changes gateway deletes its old route before adding the new
/// one: while the same device still has an address, the last learned gateway is kept
/// rather than taking the line down for that moment. A new device (a replugged USB
/// stick gets a new ifindex) learns afresh.
pub fn facts_for(
    family: Family,
    gateway: Gateway,
    dumped: Option<&LinkFacts>,
    kept: Option<&LinkFacts>,
) -> Option<LinkFacts> {
    let mut facts = dumped?.clone();
    facts.addrs.retain(|a| of_line(family, a));
    facts.networks.retain(|(a, _)| Family::of(a) == family);
    // Kept facts hold only what the line follows, so unrelated route churn changes nothing.
    let system_gateways = std::mem::take(&mut facts.system_gateways);
    facts.gateway = None;
    if gateway != Gateway::Auto {
        return Some(facts);
    }
    facts.needs_gateway = !facts.point_to_point;
    facts.gateway = system_gateways
        .into_iter()
        .find(|g| Family::of(g) == family);
    if facts.gateway.is_none() && !facts.addrs.is_empty() {
        let same_device = kept.filter(|k| k.ifindex == facts.ifindex);
        facts.gateway = same_device.and_then(|k| k.gateway);
    }
    Some(facts)
}

fn of_line(family: Family, addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V4(_) => family == Family::V4,
        IpAddr::V6(v6) => family == Family::V6 && !v6.is_unicast_link_local(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(octets: [u8; 4]) -> IpAddr {
        IpAddr::from(octets)
    }

    fn dumped(ifindex: u32, gateway: Option<[u8; 4]>) -> LinkFacts {
        LinkFacts {
            ifindex,
            admin_up: true,
            carrier: true,
            addrs: vec![v4([192, 0, 2, 2]), "2001:db8::2".parse().unwrap()],
            system_gateways: gateway.map(v4).into_iter().collect(),
            ..LinkFacts::default()
        }
    }

    fn auto(dumped: &LinkFacts, kept: Option<&LinkFacts>) -> Option<LinkFacts> {
        facts_for(Family::V4, Gateway::Auto, Some(dumped), kept)
    }

    #[test]
    fn auto_follows_the_system_route() {
        let kept = auto(&dumped(4, Some([192, 0, 2, 1])), None).unwrap();
        assert!(kept.usable());
        assert_eq!(
            kept.addrs,
            vec![v4([192, 0, 2, 2])],
            "only the line's family"
        );
        assert_eq!(resolve(Gateway::Auto, &kept), Some(v4([192, 0, 2, 1])));
        let renewed = auto(&dumped(4, Some([192, 0, 2, 254])), Some(&kept));
        assert_eq!(renewed.unwrap().gateway, Some(v4([192, 0, 2, 254])));
    }

    #[test]
    fn a_route_briefly_missing_keeps_the_last_gateway_on_the_same_device() {
        let kept = auto(&dumped(4, Some([192, 0, 2, 1])), None);
        let between = auto(&dumped(4, None), kept.as_ref()).unwrap();
        assert_eq!(between.gateway, Some(v4([192, 0, 2, 1])));
        let replugged = auto(&dumped(9, None), kept.as_ref()).unwrap();
        assert_eq!(replugged.gateway, None);
        assert!(!replugged.usable(), "no gateway learned yet");
    }

    #[test]
    fn point_to_point_needs_no_gateway_and_fixed_lines_ignore_routes() {
        let mut ppp = dumped(5, None);
        ppp.point_to_point = true;
        assert!(auto(&ppp, None).unwrap().usable());
        let fixed = Gateway::Fixed(v4([198, 51, 100, 1]));
        let facts = facts_for(
            Family::V4,
            fixed,
            Some(&dumped(4, Some([192, 0, 2, 1]))),
            None,
        );
        let facts = facts.unwrap();
        assert_eq!(facts.gateway, None);
        assert_eq!(resolve(fixed, &facts), Some(v4([198, 51, 100, 1])));
    }

    #[test]
    fn an_ipv6_line_keeps_global_ipv6_addresses_and_an_ipv6_gateway() {
        let mut link = dumped(4, Some([192, 0, 2, 1]));
        link.addrs.push("fe80::2".parse().unwrap());
        link.system_gateways.push("fe80::1".parse().unwrap());
        let facts = facts_for(Family::V6, Gateway::Auto, Some(&link), None).unwrap();
        assert_eq!(facts.addrs, vec!["2001:db8::2".parse::<IpAddr>().unwrap()]);
        assert_eq!(facts.gateway, Some("fe80::1".parse().unwrap()));
    }
}

/// Whether the kernel will take a route via `gateway` on a device with `networks` (its
/// addresses and prefix lengths): the gateway is in one of them, or is an IPv6 link-local
/// address (always on-link).
pub fn on_link(gateway: IpAddr, networks: &[(IpAddr, u8)]) -> bool {
    if let IpAddr::V6(v6) = gateway {
        if v6.is_unicast_link_local() {
            return true;
        }
    }
    networks
        .iter()
        .any(|&(addr, len)| same_network(addr, gateway, len))
}

fn same_network(a: IpAddr, b: IpAddr, len: u8) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(len.min(32)))
                .unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(len.min(128)))
                .unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod on_link_tests {
    use super::on_link;

    #[test]
    fn a_gateway_is_on_link_only_inside_a_network_of_the_device() {
        let nets = [("192.0.2.2".parse().unwrap(), 24)];
        assert!(on_link("192.0.2.1".parse().unwrap(), &nets));
        assert!(!on_link("198.18.200.1".parse().unwrap(), &nets));
        let host = [("192.0.2.2".parse().unwrap(), 32)];
        assert!(!on_link("192.0.2.1".parse().unwrap(), &host));
        assert!(on_link("fe80::1".parse().unwrap(), &[]));
        let v6 = [("2001:db8:1::2".parse().unwrap(), 64)];
        assert!(on_link("2001:db8:1::1".parse().unwrap(), &v6));
        assert!(!on_link("2001:db8:2::1".parse().unwrap(), &v6));
        let everything = [("0.0.0.0".parse().unwrap(), 0)];
        assert!(on_link("198.18.200.1".parse().unwrap(), &everything));
    }
}
