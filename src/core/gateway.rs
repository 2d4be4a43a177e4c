//! `gateway = "auto"`: a line's next hop is learned from the default route the system (a
//! DHCP client, netifd) installed on its device, and followed when it changes.

use std::net::Ipv4Addr;

use super::LinkFacts;
use crate::config::Gateway;

/// The next hop of a line's default route, given its link facts.
pub fn resolve(gateway: Gateway, link: &LinkFacts) -> Option<Ipv4Addr> {
    match gateway {
        Gateway::None => None,
        Gateway::Fixed(addr) => Some(addr),
        Gateway::Auto => link.gateway,
    }
}

/// The facts to keep for a line, from a fresh dump (`dumped`) and the facts kept so far.
///
/// Only `auto` lines keep a learned gateway, so that route churn does not touch the
/// others. A DHCP client that changes gateway deletes its old route before adding the new
/// one: while the same device still has an address, the last learned gateway is kept
/// rather than taking the line down for that moment. A new device (a replugged USB
/// stick gets a new ifindex) learns afresh.
pub fn facts_for(
    gateway: Gateway,
    dumped: Option<&LinkFacts>,
    kept: Option<&LinkFacts>,
) -> Option<LinkFacts> {
    let mut facts = dumped?.clone();
    if gateway != Gateway::Auto {
        facts.gateway = None;
        return Some(facts);
    }
    facts.needs_gateway = !facts.point_to_point;
    if facts.gateway.is_none() && !facts.addrs.is_empty() {
        let same_device = kept.filter(|k| k.ifindex == facts.ifindex);
        facts.gateway = same_device.and_then(|k| k.gateway);
    }
    Some(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dumped(ifindex: u32, gateway: Option<[u8; 4]>) -> LinkFacts {
        LinkFacts {
            ifindex,
            admin_up: true,
            carrier: true,
            addrs: vec![Ipv4Addr::new(192, 0, 2, 2)],
            gateway: gateway.map(Ipv4Addr::from),
            ..LinkFacts::default()
        }
    }

    #[test]
    fn auto_follows_the_system_route() {
        let kept = facts_for(Gateway::Auto, Some(&dumped(4, Some([192, 0, 2, 1]))), None);
        let kept = kept.unwrap();
        assert!(kept.usable());
        assert_eq!(
            resolve(Gateway::Auto, &kept),
            Some(Ipv4Addr::new(192, 0, 2, 1))
        );
        let renewed = facts_for(
            Gateway::Auto,
            Some(&dumped(4, Some([192, 0, 2, 254]))),
            Some(&kept),
        );
        assert_eq!(
            renewed.unwrap().gateway,
            Some(Ipv4Addr::new(192, 0, 2, 254))
        );
    }

    #[test]
    fn a_route_briefly_missing_keeps_the_last_gateway_on_the_same_device() {
        let kept = facts_for(Gateway::Auto, Some(&dumped(4, Some([192, 0, 2, 1]))), None);
        let between = facts_for(Gateway::Auto, Some(&dumped(4, None)), kept.as_ref()).unwrap();
        assert_eq!(between.gateway, Some(Ipv4Addr::new(192, 0, 2, 1)));
        let replugged = facts_for(Gateway::Auto, Some(&dumped(9, None)), kept.as_ref()).unwrap();
        assert_eq!(replugged.gateway, None);
        assert!(!replugged.usable(), "no gateway learned yet");
    }

    #[test]
    fn point_to_point_needs_no_gateway_and_fixed_lines_ignore_routes() {
        let mut ppp = dumped(5, None);
        ppp.point_to_point = true;
        assert!(facts_for(Gateway::Auto, Some(&ppp), None).unwrap().usable());
        let fixed = Gateway::Fixed(Ipv4Addr::new(198, 51, 100, 1));
        let facts = facts_for(fixed, Some(&dumped(4, Some([192, 0, 2, 1]))), None).unwrap();
        assert_eq!(facts.gateway, None);
        assert_eq!(resolve(fixed, &facts), Some(Ipv4Addr::new(198, 51, 100, 1)));
    }
}
