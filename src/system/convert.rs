//! Our route/rule values as rtnetlink messages and back, and the link and address facts we
//! read; encoded by hand on [`super::wire`] (which says why). Parsing keeps only what we
//! own: our protocol number, our tables, our priority range. Constants:
//! include/uapi/linux/rtnetlink.h, fib_rules.h, if_link.h, if_addr.h.

use std::net::{IpAddr, Ipv4Addr};

use super::wire::{self, find, ip_attr, u32_at, u32_attr, Request};
use crate::config::{Family, Prefix};
use crate::core::owned::{PRIORITIES, ROUTE_PROTOCOL, TABLES};
use crate::core::{LinkFacts, NextHop, Route, Rule, RuleMatch};

pub const RTM_NEWLINK: u16 = 16;
pub const RTM_DELLINK: u16 = 17;
pub const RTM_GETLINK: u16 = 18;
pub const RTM_NEWADDR: u16 = 20;
pub const RTM_DELADDR: u16 = 21;
pub const RTM_GETADDR: u16 = 22;
pub const RTM_NEWROUTE: u16 = 24;
pub const RTM_DELROUTE: u16 = 25;
pub const RTM_GETROUTE: u16 = 26;
pub const RTM_NEWRULE: u16 = 32;
pub const RTM_DELRULE: u16 = 33;
pub const RTM_GETRULE: u16 = 34;

pub const AF_INET: u8 = 2;
pub const AF_INET6: u8 = 10;

/// `struct rtmsg` and `struct fib_rule_hdr` are both 12 bytes.
const RTMSG_LEN: usize = 12;
const IFINFOMSG_LEN: usize = 16;
const IFADDRMSG_LEN: usize = 8;
const RTNEXTHOP_LEN: usize = 8;

const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PRIORITY: u16 = 6;
const RTA_MULTIPATH: u16 = 9;
const RTA_TABLE: u16 = 15;
const RTN_UNICAST: u8 = 1;
const RTN_UNREACHABLE: u8 = 7;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;

const FRA_DST: u16 = 1;
const FRA_SRC: u16 = 2;
const FRA_PRIORITY: u16 = 6;
const FRA_FWMARK: u16 = 10;
const FRA_SUPPRESS_PREFIXLEN: u16 = 14;
const FRA_TABLE: u16 = 15;
const FRA_FWMASK: u16 = 16;
const FRA_PROTOCOL: u16 = 21;
const FR_ACT_TO_TBL: u8 = 1;

const IFLA_IFNAME: u16 = 3;
const IFF_UP: u32 = 0x1;
const IFF_POINTOPOINT: u32 = 0x10;
const IFF_LOWER_UP: u32 = 0x10000;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_FLAGS: u16 = 8;
const IFA_F_DADFAILED: u32 = 0x08;
const IFA_F_TENTATIVE: u32 = 0x40;

fn af(family: Family) -> u8 {
    match family {
        Family::V4 => AF_INET,
        Family::V6 => AF_INET6,
    }
}

fn family_of(af: u8) -> Option<Family> {
    match af {
        AF_INET => Some(Family::V4),
        AF_INET6 => Some(Family::V6),
        _ => None,
    }
}

fn ip_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

/// A dump request of `kind` whose fixed part is `len` bytes naming `family` (0: all).
pub fn dump_request(kind: u16, family: u8) -> Request {
    let len = match kind {
        RTM_GETLINK => IFINFOMSG_LEN,
        RTM_GETADDR => IFADDRMSG_LEN,
        _ => RTMSG_LEN,
    };
    let mut fixed = vec![0; len];
    fixed[0] = family;
    Request::new(kind, wire::NLM_F_REQUEST | wire::NLM_F_DUMP, &fixed)
}

/// The request for a default route of ours: `kind` is RTM_NEWROUTE or RTM_DELROUTE.
pub fn route_request(kind: u16, flags: u16, route: &Route) -> Request {
    let any_gateway = route.nexthops.iter().any(|h| h.gateway.is_some());
    let scope = if any_gateway || route.nexthops.is_empty() {
        RT_SCOPE_UNIVERSE
    } else {
        RT_SCOPE_LINK
    };
    let kind_of_route = if route.nexthops.is_empty() {
        RTN_UNREACHABLE
    } else {
        RTN_UNICAST
    };
    // Tables above 255 only fit the attribute; the header's table 0 says "see attribute".
    let header = [
        af(route.family),
        0,
        0,
        0,
        0,
        ROUTE_PROTOCOL,
        scope,
        kind_of_route,
        0,
        0,
        0,
        0,
    ];
    let mut req = Request::new(kind, flags, &header);
    req.attr_u32(RTA_TABLE, route.table);
    match route.nexthops.as_slice() {
        // An unreachable route carries no next hop (an empty RTA_MULTIPATH gets ERANGE).
        [] => {}
        [single] => {
            if let Some(gw) = single.gateway {
                req.attr(RTA_GATEWAY, &ip_bytes(gw));
            }
            req.attr_u32(RTA_OIF, single.ifindex);
        }
        hops => {
            let mut multipath = Vec::new();
            for hop in hops {
                push_nexthop(&mut multipath, hop);
            }
            req.attr(RTA_MULTIPATH, &multipath);
        }
    }
    req
}

/// One `struct rtnexthop` with its gateway attribute.
fn push_nexthop(buf: &mut Vec<u8>, hop: &NextHop) {
    let mut attrs = Vec::new();
    if let Some(gw) = hop.gateway {
        wire::push_attr(&mut attrs, RTA_GATEWAY, &ip_bytes(gw));
    }
    let len = (RTNEXTHOP_LEN + attrs.len()) as u16;
    buf.extend_from_slice(&len.to_ne_bytes());
    // rtnh_flags, then rtnh_hops: weight - 1 (ip-route(8): "weight NUMBER").
    buf.push(0);
    buf.push((hop.weight.clamp(1, 256) - 1) as u8);
    buf.extend_from_slice(&hop.ifindex.to_ne_bytes());
    buf.extend_from_slice(&attrs);
}

/// The fixed part of a route or rule message and its attributes; `None` when short.
fn split_fixed(payload: &[u8]) -> Option<(&[u8], &[u8])> {
    (payload.len() >= RTMSG_LEN).then(|| payload.split_at(RTMSG_LEN))
}

/// The route's table: RTA_TABLE, or the header's for old kernels' small tables.
fn route_table(header: &[u8], attrs: &[u8]) -> u32 {
    find(attrs, RTA_TABLE)
        .and_then(u32_attr)
        .unwrap_or(u32::from(header[4]))
}

/// Our route from a dumped message's payload, or `None` when it is not ours (or malformed).
pub fn parse_route(payload: &[u8]) -> Option<Route> {
    let (header, attrs) = split_fixed(payload)?;
    let family = family_of(header[0])?;
    if header[1] != 0 || header[5] != ROUTE_PROTOCOL {
        return None;
    }
    let table = route_table(header, attrs);
    if !TABLES.contains(&table) {
        return None;
    }
    if header[7] == RTN_UNREACHABLE {
        let nexthops = Vec::new();
        return Some(Route {
            family,
            table,
            nexthops,
        });
    }
    let mut nexthops = parse_nexthops(attrs);
    crate::sort::stable(&mut nexthops);
    (!nexthops.is_empty()).then_some(Route {
        family,
        table,
        nexthops,
    })
}

fn parse_nexthops(attrs: &[u8]) -> Vec<NextHop> {
    let Some(mut rest) = find(attrs, RTA_MULTIPATH) else {
        return oif_of(attrs)
            .map(|ifindex| NextHop {
                ifindex,
                gateway: gateway_of(attrs),
                weight: 1,
            })
            .into_iter()
            .collect();
    };
    let mut hops = Vec::new();
    while let Some(len) = wire::u16_at(rest, 0).map(usize::from) {
        if len < RTNEXTHOP_LEN || len > rest.len() {
            break;
        }
        let hop_attrs = &rest[RTNEXTHOP_LEN..len];
        hops.extend(u32_at(rest, 4).map(|ifindex| NextHop {
            ifindex,
            gateway: gateway_of(hop_attrs),
            weight: u32::from(rest[3]) + 1,
        }));
        rest = rest.get(wire::align(len)..).unwrap_or(&[]);
    }
    hops
}

fn gateway_of(attrs: &[u8]) -> Option<IpAddr> {
    find(attrs, RTA_GATEWAY).and_then(ip_attr)
}

fn oif_of(attrs: &[u8]) -> Option<u32> {
    find(attrs, RTA_OIF).and_then(u32_attr)
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
pub fn system_default(payload: &[u8]) -> Option<SystemDefault> {
    let (header, attrs) = split_fixed(payload)?;
    let candidate = family_of(header[0]).is_some()
        && header[1] == 0
        && header[7] == RTN_UNICAST
        && header[5] != ROUTE_PROTOCOL
        && !TABLES.contains(&route_table(header, attrs));
    if !candidate {
        return None;
    }
    let metric = find(attrs, RTA_PRIORITY).and_then(u32_attr).unwrap_or(0);
    Some(SystemDefault {
        ifindex: oif_of(attrs)?,
        gateway: gateway_of(attrs)?,
        metric,
    })
}

/// The request for a rule of ours: `kind` is RTM_NEWRULE or RTM_DELRULE.
pub fn rule_request(kind: u16, flags: u16, rule: &Rule) -> Request {
    let (mut src_len, mut dst_len) = (0, 0);
    let mut matches: Vec<(u16, Vec<u8>)> = Vec::new();
    match rule.matcher {
        RuleMatch::All => {}
        RuleMatch::FwMark { mark, mask } => {
            matches.push((FRA_FWMARK, mark.to_ne_bytes().to_vec()));
            matches.push((FRA_FWMASK, mask.to_ne_bytes().to_vec()));
        }
        RuleMatch::From6(addr) => {
            src_len = 128;
            matches.push((FRA_SRC, addr.octets().to_vec()));
        }
        RuleMatch::Prefixes { from, to } => {
            if let Some(p) = from {
                src_len = p.len;
                matches.push((FRA_SRC, p.addr.octets().to_vec()));
            }
            if let Some(p) = to {
                dst_len = p.len;
                matches.push((FRA_DST, p.addr.octets().to_vec()));
            }
        }
    }
    // fib_rule_hdr: family, dst_len, src_len, tos, table (0: see FRA_TABLE), res1, res2,
    // action, flags.
    let header = [
        af(rule.family),
        dst_len,
        src_len,
        0,
        0,
        0,
        0,
        FR_ACT_TO_TBL,
        0,
        0,
        0,
        0,
    ];
    let mut req = Request::new(kind, flags, &header);
    req.attr_u32(FRA_PRIORITY, rule.priority);
    req.attr_u32(FRA_TABLE, rule.table);
    req.attr(FRA_PROTOCOL, &[ROUTE_PROTOCOL]);
    for (attr, value) in &matches {
        req.attr(*attr, value);
    }
    if let Some(len) = rule.suppress_prefixlen {
        req.attr_u32(FRA_SUPPRESS_PREFIXLEN, len);
    }
    req
}

fn prefix(addr: Ipv4Addr, len: u8) -> Prefix {
    Prefix { addr, len }
}

/// Our rule from a dumped message's payload, or `None` when it is not ours (or malformed).
pub fn parse_rule(payload: &[u8]) -> Option<Rule> {
    let (header, attrs) = split_fixed(payload)?;
    let family = family_of(header[0])?;
    if header[7] != FR_ACT_TO_TBL {
        return None;
    }
    let (dst_len, src_len) = (header[1], header[2]);
    let mut rule = Rule {
        family,
        priority: 0,
        matcher: RuleMatch::All,
        table: u32::from(header[4]),
        suppress_prefixlen: None,
    };
    let (mut protocol, mut mark, mut mask) = (None, None, None);
    let (mut from, mut to, mut from6) = (None, None, None);
    for (kind, value) in wire::attrs(attrs) {
        let number = u32_attr(value);
        match (kind, ip_attr(value)) {
            (FRA_PRIORITY, _) => rule.priority = number?,
            (FRA_TABLE, _) => rule.table = number?,
            (FRA_PROTOCOL, _) => protocol = value.first().copied(),
            (FRA_FWMARK, _) => mark = Some(number?),
            (FRA_FWMASK, _) => mask = Some(number?),
            (FRA_SRC, Some(IpAddr::V4(a))) => from = Some(prefix(a, src_len)),
            (FRA_DST, Some(IpAddr::V4(a))) => to = Some(prefix(a, dst_len)),
            (FRA_SRC, Some(IpAddr::V6(a))) if src_len == 128 => from6 = Some(a),
            // The kernel dumps -1 for "not set" (fib_nl_fill_rule).
            (FRA_SUPPRESS_PREFIXLEN, _) => {
                rule.suppress_prefixlen = number.filter(|l| *l != u32::MAX)
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
    let ours = protocol == Some(ROUTE_PROTOCOL) && PRIORITIES.contains(&rule.priority);
    ours.then_some(rule)
}

/// A device's name and flags from an RTM_NEWLINK payload; `None` when malformed or when
/// the name is missing or not UTF-8 (no config could name it).
pub fn parse_link(payload: &[u8]) -> Option<(String, LinkFacts)> {
    let fixed = payload.get(..IFINFOMSG_LEN)?;
    let name = find(&payload[IFINFOMSG_LEN..], IFLA_IFNAME)?;
    let name = name.split(|b| *b == 0).next().unwrap_or_default();
    let name = std::str::from_utf8(name).ok()?;
    let flags = u32_at(fixed, 8)?;
    let facts = LinkFacts {
        ifindex: u32_at(fixed, 4)?,
        admin_up: flags & IFF_UP != 0,
        carrier: flags & IFF_LOWER_UP != 0,
        point_to_point: flags & IFF_POINTOPOINT != 0,
        ..LinkFacts::default()
    };
    Some((name.to_string(), facts))
}

/// A usable address from an RTM_NEWADDR payload: (device index, address, prefix length).
/// IFA_LOCAL is the device's own address; IFA_ADDRESS is the peer's on a point-to-point
/// link (rtnetlink(7)), so the former wins. An IPv6 address still in duplicate address
/// detection (tentative) or that failed it cannot be bound to yet. IFA_FLAGS, when
/// present, holds all flags; the header's byte only the first eight.
pub fn parse_address(payload: &[u8]) -> Option<(u32, IpAddr, u8)> {
    let fixed = payload.get(..IFADDRMSG_LEN)?;
    let attrs = &payload[IFADDRMSG_LEN..];
    let flags = find(attrs, IFA_FLAGS)
        .and_then(u32_attr)
        .unwrap_or(u32::from(fixed[2]));
    if flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) != 0 {
        return None;
    }
    let addr = find(attrs, IFA_LOCAL)
        .and_then(ip_attr)
        .or_else(|| find(attrs, IFA_ADDRESS).and_then(ip_attr))?;
    Some((u32_at(fixed, 4)?, addr, fixed[1]))
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
