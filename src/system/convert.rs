//! Conversions between our route/rule values and rtnetlink messages. Parsing keeps only
//! what we own: our protocol number, our tables, our priority range.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteNextHop, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::rule::{RuleAction, RuleAttribute, RuleMessage};
use netlink_packet_route::AddressFamily;

use crate::config::{Family, Prefix};
use crate::core::owned::{PRIORITIES, ROUTE_PROTOCOL, TABLES};
use crate::core::{NextHop, Route, Rule, RuleMatch};

fn our_protocol() -> RouteProtocol {
    RouteProtocol::from(ROUTE_PROTOCOL)
}

fn address_family(family: Family) -> AddressFamily {
    match family {
        Family::V4 => AddressFamily::Inet,
        Family::V6 => AddressFamily::Inet6,
    }
}

fn family_of(family: AddressFamily) -> Option<Family> {
    match family {
        AddressFamily::Inet => Some(Family::V4),
        AddressFamily::Inet6 => Some(Family::V6),
        _ => None,
    }
}

fn route_address(addr: IpAddr) -> RouteAddress {
    match addr {
        IpAddr::V4(v4) => RouteAddress::Inet(v4),
        IpAddr::V6(v6) => RouteAddress::Inet6(v6),
    }
}

/// The netlink message for a default route of ours.
pub fn route_message(route: &Route) -> RouteMessage {
    let mut msg = RouteMessage::default();
    let any_gateway = route.nexthops.iter().any(|h| h.gateway.is_some());
    msg.header.address_family = address_family(route.family);
    // Tables above 255 only fit the attribute; the header says "see attribute".
    msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
    msg.header.protocol = our_protocol();
    msg.header.scope = if any_gateway || route.nexthops.is_empty() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    msg.header.kind = if route.nexthops.is_empty() {
        RouteType::Unreachable
    } else {
        RouteType::Unicast
    };
    msg.attributes.push(RouteAttribute::Table(route.table));
    match route.nexthops.as_slice() {
        // An unreachable route carries no next hop (an empty RTA_MULTIPATH gets ERANGE).
        [] => {}
        [single] => push_hop_attributes(&mut msg.attributes, single),
        hops => msg.attributes.push(RouteAttribute::MultiPath(
            hops.iter().map(multipath_hop).collect(),
        )),
    }
    msg
}

fn push_hop_attributes(attrs: &mut Vec<RouteAttribute>, hop: &NextHop) {
    attrs.extend(gateway_attribute(hop));
    attrs.push(RouteAttribute::Oif(hop.ifindex));
}

fn gateway_attribute(hop: &NextHop) -> Option<RouteAttribute> {
    hop.gateway
        .map(|gw| RouteAttribute::Gateway(route_address(gw)))
}

fn multipath_hop(hop: &NextHop) -> RouteNextHop {
    let attributes = gateway_attribute(hop).into_iter().collect();
    let mut next_hop = RouteNextHop::default();
    // rtnh_hops holds weight - 1 (ip-route(8): "weight NUMBER").
    next_hop.hops = (hop.weight.clamp(1, 256) - 1) as u8;
    next_hop.interface_index = hop.ifindex;
    next_hop.attributes = attributes;
    next_hop
}

/// Our route from a dumped message, or `None` when it is not ours.
pub fn parse_route(msg: &RouteMessage) -> Option<Route> {
    let header = &msg.header;
    let family = family_of(header.address_family)?;
    let ours = header.destination_prefix_length == 0 && header.protocol == our_protocol();
    if !ours {
        return None;
    }
    let table = route_table(msg);
    if !TABLES.contains(&table) {
        return None;
    }
    if header.kind == RouteType::Unreachable {
        let nexthops = Vec::new();
        return Some(Route {
            family,
            table,
            nexthops,
        });
    }
    let mut nexthops = parse_nexthops(msg);
    nexthops.sort();
    (!nexthops.is_empty()).then_some(Route {
        family,
        table,
        nexthops,
    })
}

fn route_table(msg: &RouteMessage) -> u32 {
    msg.attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(msg.header.table))
}

fn parse_nexthops(msg: &RouteMessage) -> Vec<NextHop> {
    let multipath = msg.attributes.iter().find_map(|a| match a {
        RouteAttribute::MultiPath(hops) => Some(hops),
        _ => None,
    });
    match multipath {
        Some(hops) => hops
            .iter()
            .map(|h| NextHop {
                ifindex: h.interface_index,
                gateway: gateway_of(&h.attributes),
                weight: u32::from(h.hops) + 1,
            })
            .collect(),
        None => oif_of(&msg.attributes)
            .map(|ifindex| NextHop {
                ifindex,
                gateway: gateway_of(&msg.attributes),
                weight: 1,
            })
            .into_iter()
            .collect(),
    }
}

/// A default route the system installed (not ours): its device, gateway and metric. The
/// source of a `gateway = "auto"` line's next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SystemDefault {
    pub ifindex: u32,
    pub gateway: IpAddr,
    pub metric: u32,
}

/// The message as a [`SystemDefault`]: a unicast default route (IPv4 or IPv6) with one
/// next hop and a gateway, in any table but ours.
pub fn system_default(msg: &RouteMessage) -> Option<SystemDefault> {
    let header = &msg.header;
    let candidate = family_of(header.address_family).is_some()
        && header.destination_prefix_length == 0
        && header.kind == RouteType::Unicast
        && header.protocol != our_protocol()
        && !TABLES.contains(&route_table(msg));
    if !candidate {
        return None;
    }
    let metric = msg
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Priority(p) => Some(*p),
            _ => None,
        })
        .unwrap_or(0);
    Some(SystemDefault {
        ifindex: oif_of(&msg.attributes)?,
        gateway: gateway_of(&msg.attributes)?,
        metric,
    })
}

fn gateway_of(attrs: &[RouteAttribute]) -> Option<IpAddr> {
    attrs.iter().find_map(|a| match a {
        RouteAttribute::Gateway(RouteAddress::Inet(gw)) => Some(IpAddr::V4(*gw)),
        RouteAttribute::Gateway(RouteAddress::Inet6(gw)) => Some(IpAddr::V6(*gw)),
        _ => None,
    })
}

fn oif_of(attrs: &[RouteAttribute]) -> Option<u32> {
    attrs.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        _ => None,
    })
}

/// The netlink message for a rule of ours.
pub fn rule_message(rule: &Rule) -> RuleMessage {
    let mut msg = RuleMessage::default();
    msg.header.family = address_family(rule.family);
    msg.header.action = RuleAction::ToTable;
    msg.header.table = RouteHeader::RT_TABLE_UNSPEC;
    let attrs = &mut msg.attributes;
    attrs.push(RuleAttribute::Priority(rule.priority));
    attrs.push(RuleAttribute::Table(rule.table));
    attrs.push(RuleAttribute::Protocol(our_protocol()));
    match rule.matcher {
        RuleMatch::All => {}
        RuleMatch::FwMark { mark, mask } => {
            attrs.push(RuleAttribute::FwMark(mark));
            attrs.push(RuleAttribute::FwMask(mask));
        }
        RuleMatch::From6(addr) => {
            msg.header.src_len = 128;
            attrs.push(RuleAttribute::Source(IpAddr::V6(addr)));
        }
        RuleMatch::Prefixes { from, to } => {
            if let Some(p) = from {
                msg.header.src_len = p.len;
                attrs.push(RuleAttribute::Source(IpAddr::V4(p.addr)));
            }
            if let Some(p) = to {
                msg.header.dst_len = p.len;
                attrs.push(RuleAttribute::Destination(IpAddr::V4(p.addr)));
            }
        }
    }
    if let Some(len) = rule.suppress_prefixlen {
        attrs.push(RuleAttribute::SuppressPrefixLen(len));
    }
    msg
}

fn prefix(addr: Ipv4Addr, len: u8) -> Prefix {
    Prefix { addr, len }
}

/// Our rule from a dumped message, or `None` when it is not ours.
pub fn parse_rule(msg: &RuleMessage) -> Option<Rule> {
    let family = family_of(msg.header.family)?;
    if msg.header.action != RuleAction::ToTable {
        return None;
    }
    let mut rule = Rule {
        family,
        priority: 0,
        matcher: RuleMatch::All,
        table: u32::from(msg.header.table),
        suppress_prefixlen: None,
    };
    let (mut protocol, mut mark, mut mask) = (None, None, None);
    let (mut from, mut to, mut from6) = (None, None, None);
    for attr in &msg.attributes {
        match attr {
            RuleAttribute::Priority(p) => rule.priority = *p,
            RuleAttribute::Table(t) => rule.table = *t,
            RuleAttribute::Protocol(p) => protocol = Some(*p),
            RuleAttribute::FwMark(m) => mark = Some(*m),
            RuleAttribute::FwMask(m) => mask = Some(*m),
            RuleAttribute::Source(IpAddr::V4(a)) => from = Some(prefix(*a, msg.header.src_len)),
            RuleAttribute::Destination(IpAddr::V4(a)) => to = Some(prefix(*a, msg.header.dst_len)),
            RuleAttribute::Source(IpAddr::V6(a)) if msg.header.src_len == 128 => from6 = Some(*a),
            // The kernel dumps -1 for "not set" (fib_nl_fill_rule).
            RuleAttribute::SuppressPrefixLen(l) if *l != u32::MAX => {
                rule.suppress_prefixlen = Some(*l)
            }
            _ => {}
        }
    }
    if from.is_some() || to.is_some() {
        rule.matcher = RuleMatch::Prefixes { from, to };
    }
    if let Some(addr) = from6 {
        rule.matcher = RuleMatch::From6(addr);
    }
    if let Some(mark) = mark {
        let mask = mask.unwrap_or(u32::MAX);
        rule.matcher = RuleMatch::FwMark { mark, mask };
    }
    let ours = protocol == Some(our_protocol()) && PRIORITIES.contains(&rule.priority);
    ours.then_some(rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv6Addr;

    fn hop(ifindex: u32, gateway: Option<[u8; 4]>, weight: u32) -> NextHop {
        NextHop {
            ifindex,
            gateway: gateway.map(|g| IpAddr::from(Ipv4Addr::from(g))),
            weight,
        }
    }

    #[test]
    fn ipv6_routes_and_rules_round_trip() {
        let route = Route {
            family: Family::V6,
            table: 7701,
            nexthops: vec![NextHop {
                ifindex: 4,
                gateway: Some("fe80::1".parse().unwrap()),
                weight: 1,
            }],
        };
        assert_eq!(parse_route(&route_message(&route)), Some(route));
        let rule = Rule {
            family: Family::V6,
            priority: 7760,
            matcher: RuleMatch::From6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2)),
            table: 7701,
            suppress_prefixlen: None,
        };
        assert_eq!(parse_rule(&rule_message(&rule)), Some(rule));
    }

    #[test]
    fn routes_round_trip() {
        for route in [
            Route {
                family: Family::V4,
                table: 7700,
                nexthops: vec![hop(4, Some([192, 0, 2, 1]), 1)],
            },
            Route {
                family: Family::V4,
                table: 7701,
                nexthops: vec![hop(9, None, 1)],
            },
            Route {
                family: Family::V4,
                table: 7700,
                nexthops: vec![hop(4, Some([192, 0, 2, 1]), 3), hop(5, None, 1)],
            },
            Route {
                family: Family::V4,
                table: 7741,
                nexthops: vec![],
            },
        ] {
            assert_eq!(parse_route(&route_message(&route)), Some(route));
        }
    }

    #[test]
    fn foreign_routes_are_ignored() {
        let route = Route {
            family: Family::V4,
            table: 7700,
            nexthops: vec![hop(4, None, 1)],
        };
        let mut msg = route_message(&route);
        msg.header.protocol = RouteProtocol::Static;
        assert_eq!(parse_route(&msg), None);
        let mut msg = route_message(&route);
        msg.attributes[0] = RouteAttribute::Table(254);
        assert_eq!(parse_route(&msg), None);
    }

    #[test]
    fn rules_round_trip() {
        for matcher in [
            RuleMatch::All,
            RuleMatch::FwMark {
                mark: 0x10000,
                mask: 0xff0000,
            },
            RuleMatch::Prefixes {
                from: Some(Prefix::host(Ipv4Addr::new(198, 51, 100, 2))),
                to: None,
            },
            RuleMatch::Prefixes {
                from: Some(Prefix::new(Ipv4Addr::new(198, 18, 0, 0), 24).unwrap()),
                to: Some(Prefix::new(Ipv4Addr::new(203, 0, 113, 0), 24).unwrap()),
            },
            RuleMatch::Prefixes {
                from: None,
                to: Some(Prefix::host(Ipv4Addr::new(203, 0, 113, 9))),
            },
        ] {
            let rule = Rule {
                family: Family::V4,
                priority: 7760,
                matcher,
                table: 7701,
                suppress_prefixlen: Some(0),
            };
            assert_eq!(parse_rule(&rule_message(&rule)), Some(rule));
        }
    }

    #[test]
    fn foreign_rules_are_ignored() {
        let rule = Rule {
            family: Family::V4,
            priority: 7990,
            matcher: RuleMatch::All,
            table: 7700,
            suppress_prefixlen: None,
        };
        let mut msg = rule_message(&rule);
        msg.attributes[2] = RuleAttribute::Protocol(RouteProtocol::Boot);
        assert_eq!(parse_rule(&msg), None);
        let mut msg = rule_message(&rule);
        msg.attributes[0] = RuleAttribute::Priority(32766);
        assert_eq!(parse_rule(&msg), None);
    }
}
