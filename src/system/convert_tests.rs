use super::*;

use std::net::Ipv6Addr;

use crate::system::wire::{push_attr, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST};

fn hop(ifindex: u32, gateway: Option<[u8; 4]>, weight: u32) -> NextHop {
    NextHop {
        ifindex,
        gateway: gateway.map(|g| IpAddr::from(Ipv4Addr::from(g))),
        weight,
    }
}

fn put(route: &Route) -> Request {
    route_request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, route)
}

fn add(rule: &Rule) -> Request {
    rule_request(RTM_NEWRULE, NLM_F_CREATE, rule)
}

/// A u16 then a u16, host-endian: an attribute header.
fn nla(len: u16, kind: u16) -> Vec<u8> {
    [len.to_ne_bytes(), kind.to_ne_bytes()].concat()
}

fn ne32(v: u32) -> [u8; 4] {
    v.to_ne_bytes()
}

#[test]
fn a_gateway_route_is_encoded_byte_for_byte() {
    let route = Route {
        family: Family::V4,
        table: 7700,
        nexthops: vec![hop(4, Some([192, 0, 2, 1]), 1)],
    };
    let req = put(&route);
    assert_eq!(req.kind_and_flags(), (RTM_NEWROUTE, 0x500));
    let mut want = vec![AF_INET, 0, 0, 0, 0, 197, 0, RTN_UNICAST, 0, 0, 0, 0];
    want.extend(nla(8, RTA_TABLE));
    want.extend(ne32(7700));
    want.extend(nla(8, RTA_GATEWAY));
    want.extend([192, 0, 2, 1]);
    want.extend(nla(8, RTA_OIF));
    want.extend(ne32(4));
    assert_eq!(req.payload(), want);
}

#[test]
fn a_multipath_route_is_encoded_byte_for_byte() {
    let route = Route {
        family: Family::V4,
        table: 7700,
        nexthops: vec![hop(4, Some([192, 0, 2, 1]), 3), hop(5, None, 1)],
    };
    let mut want = vec![AF_INET, 0, 0, 0, 0, 197, 0, RTN_UNICAST, 0, 0, 0, 0];
    want.extend(nla(8, RTA_TABLE));
    want.extend(ne32(7700));
    want.extend(nla(4 + 16 + 8, RTA_MULTIPATH));
    want.extend(16u16.to_ne_bytes());
    want.extend([0, 2]);
    want.extend(ne32(4));
    want.extend(nla(8, RTA_GATEWAY));
    want.extend([192, 0, 2, 1]);
    want.extend(8u16.to_ne_bytes());
    want.extend([0, 0]);
    want.extend(ne32(5));
    assert_eq!(put(&route).payload(), want);
}

#[test]
fn unreachable_and_device_routes_have_their_scope_and_type() {
    let unreachable = Route {
        family: Family::V6,
        table: 7741,
        nexthops: vec![],
    };
    let payload = put(&unreachable).payload().to_vec();
    assert_eq!(
        &payload[..8],
        [AF_INET6, 0, 0, 0, 0, 197, 0, RTN_UNREACHABLE]
    );
    assert_eq!(payload.len(), 12 + 8, "only RTA_TABLE");
    let device = Route {
        family: Family::V4,
        table: 7701,
        nexthops: vec![hop(9, None, 1)],
    };
    assert_eq!(put(&device).payload()[6], RT_SCOPE_LINK);
}

#[test]
fn a_rule_is_encoded_byte_for_byte() {
    let rule = Rule {
        family: Family::V4,
        priority: 7760,
        matcher: RuleMatch::Prefixes {
            from: Some(Prefix::new(Ipv4Addr::new(198, 18, 0, 0), 24).unwrap()),
            to: None,
        },
        table: 7701,
        suppress_prefixlen: Some(0),
    };
    let req = add(&rule);
    assert_eq!(req.kind_and_flags(), (RTM_NEWRULE, NLM_F_CREATE));
    let mut want = vec![AF_INET, 0, 24, 0, 0, 0, 0, FR_ACT_TO_TBL, 0, 0, 0, 0];
    want.extend(nla(8, FRA_PRIORITY));
    want.extend(ne32(7760));
    want.extend(nla(8, FRA_TABLE));
    want.extend(ne32(7701));
    want.extend(nla(5, FRA_PROTOCOL));
    want.extend([197, 0, 0, 0]);
    want.extend(nla(8, FRA_SRC));
    want.extend([198, 18, 0, 0]);
    want.extend(nla(8, FRA_SUPPRESS_PREFIXLEN));
    want.extend(ne32(0));
    assert_eq!(req.payload(), want);
}

#[test]
fn dump_requests_name_the_family() {
    let req = dump_request(RTM_GETROUTE, AF_INET6);
    assert_eq!(req.kind_and_flags(), (RTM_GETROUTE, NLM_F_REQUEST | 0x300));
    assert_eq!(req.payload(), [AF_INET6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(dump_request(RTM_GETLINK, 0).payload(), [0; 16]);
    assert_eq!(dump_request(RTM_GETADDR, 0).payload(), [0; 8]);
    assert_eq!(
        rule_request(RTM_DELRULE, NLM_F_ACK, &rule_v4(RuleMatch::All)).kind_and_flags(),
        (RTM_DELRULE, NLM_F_ACK)
    );
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
    assert_eq!(parse_route(put(&route).payload()), Some(route));
    let rule = Rule {
        family: Family::V6,
        priority: 7760,
        matcher: RuleMatch::From6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2)),
        table: 7701,
        suppress_prefixlen: None,
    };
    assert_eq!(parse_rule(add(&rule).payload()), Some(rule));
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
            nexthops: vec![hop(4, Some([192, 0, 2, 1]), 3), hop(5, None, 256)],
        },
        Route {
            family: Family::V4,
            table: 7741,
            nexthops: vec![],
        },
    ] {
        assert_eq!(parse_route(put(&route).payload()), Some(route));
    }
}

#[test]
fn foreign_routes_are_ignored() {
    let route = Route {
        family: Family::V4,
        table: 7700,
        nexthops: vec![hop(4, None, 1)],
    };
    let mut payload = put(&route).payload().to_vec();
    payload[5] = 4; // RTPROT_STATIC
    assert_eq!(parse_route(&payload), None);
    let mut payload = put(&route).payload().to_vec();
    payload[16..20].copy_from_slice(&ne32(254));
    assert_eq!(parse_route(&payload), None);
    let mut payload = put(&route).payload().to_vec();
    payload[1] = 24; // not a default route
    assert_eq!(parse_route(&payload), None);
}

#[test]
fn system_defaults_are_found_with_their_metric() {
    let mut payload = vec![AF_INET, 0, 0, 0, 254, 3, 0, RTN_UNICAST, 0, 0, 0, 0];
    push_attr(&mut payload, RTA_TABLE, &ne32(254));
    push_attr(&mut payload, RTA_PRIORITY, &ne32(100));
    push_attr(&mut payload, RTA_GATEWAY, &[203, 0, 113, 1]);
    push_attr(&mut payload, RTA_OIF, &ne32(3));
    let found = system_default(&payload).unwrap();
    assert_eq!(found.ifindex, 3);
    assert_eq!(found.gateway, IpAddr::from([203, 0, 113, 1]));
    assert_eq!(found.metric, 100);
    let ours = put(&Route {
        family: Family::V4,
        table: 7700,
        nexthops: vec![hop(4, Some([192, 0, 2, 1]), 1)],
    });
    assert_eq!(system_default(ours.payload()), None);
}

fn rule_v4(matcher: RuleMatch) -> Rule {
    Rule {
        family: Family::V4,
        priority: 7760,
        matcher,
        table: 7701,
        suppress_prefixlen: Some(0),
    }
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
        let rule = rule_v4(matcher);
        assert_eq!(parse_rule(add(&rule).payload()), Some(rule));
    }
}

#[test]
fn foreign_rules_are_ignored_and_unset_suppress_is_none() {
    let rule = Rule {
        suppress_prefixlen: None,
        priority: 7990,
        ..rule_v4(RuleMatch::All)
    };
    let payload = add(&rule).payload().to_vec();
    let mut boot = payload.clone();
    boot[12 + 16 + 4] = 3; // FRA_PROTOCOL: RTPROT_BOOT
    assert_eq!(parse_rule(&boot), None);
    let mut main = payload.clone();
    main[16..20].copy_from_slice(&ne32(32766));
    assert_eq!(parse_rule(&main), None);
    // As the kernel dumps a rule without suppress_prefixlength.
    let mut dumped = payload.clone();
    push_attr(&mut dumped, FRA_SUPPRESS_PREFIXLEN, &ne32(u32::MAX));
    assert_eq!(parse_rule(&dumped), Some(rule));
}

#[test]
fn truncated_or_garbled_messages_never_panic() {
    let route = put(&Route {
        family: Family::V6,
        table: 7700,
        nexthops: vec![
            NextHop {
                ifindex: 4,
                gateway: Some("2001:db8::1".parse().unwrap()),
                weight: 2,
            },
            NextHop {
                ifindex: 5,
                gateway: Some("2001:db8:1::1".parse().unwrap()),
                weight: 1,
            },
        ],
    });
    let rule = add(&rule_v4(RuleMatch::FwMark { mark: 1, mask: 1 }));
    for payload in [route.payload(), rule.payload()] {
        for cut in 0..payload.len() {
            let short = &payload[..cut];
            let _ = (parse_route(short), parse_rule(short), system_default(short));
            let _ = (parse_link(short), parse_address(short));
            let mut flipped = payload.to_vec();
            flipped[cut] ^= 0xff;
            let _ = (parse_route(&flipped), parse_rule(&flipped));
        }
    }
    assert_eq!(parse_route(&route.payload()[..11]), None);
    // A multipath entry claiming more than the attribute holds ends the walk.
    let mut bad = route.payload().to_vec();
    let entry = 12 + 8 + 4;
    bad[entry..entry + 2].copy_from_slice(&500u16.to_ne_bytes());
    assert_eq!(parse_route(&bad), None);
    // A u32 attribute of the wrong size makes the rule unreadable, not misread.
    let mut odd = vec![AF_INET, 0, 0, 0, 0, 0, 0, FR_ACT_TO_TBL, 0, 0, 0, 0];
    push_attr(&mut odd, FRA_PRIORITY, &[1, 2]);
    push_attr(&mut odd, FRA_PROTOCOL, &[197]);
    assert_eq!(parse_rule(&odd), None);
}

fn link(index: u32, flags: u32, name: &[u8]) -> Vec<u8> {
    let mut payload = vec![0, 0, 1, 0];
    payload.extend(ne32(index));
    payload.extend(ne32(flags));
    payload.extend(ne32(0));
    push_attr(&mut payload, IFLA_IFNAME, name);
    payload
}

#[test]
fn links_give_name_index_and_flags() {
    let (name, facts) = parse_link(&link(7, IFF_UP | IFF_LOWER_UP, b"wan1\0")).unwrap();
    assert_eq!(name, "wan1");
    assert_eq!(facts.ifindex, 7);
    assert!(facts.admin_up && facts.carrier && !facts.point_to_point);
    let (_, ppp) = parse_link(&link(8, IFF_UP | IFF_POINTOPOINT, b"ppp0\0")).unwrap();
    assert!(ppp.point_to_point && !ppp.carrier);
    assert_eq!(parse_link(&link(9, 0, b"\xff\xfe\0")), None);
    assert_eq!(parse_link(&link(9, 0, b"x\0")[..15]), None);
}

fn address(family: u8, len: u8, flags: u8, attrs: &[(u16, &[u8])]) -> Vec<u8> {
    let mut payload = vec![family, len, flags, 0];
    payload.extend(ne32(3));
    for (kind, value) in attrs {
        push_attr(&mut payload, *kind, value);
    }
    payload
}

#[test]
fn addresses_prefer_local_and_skip_tentative() {
    let ptp = address(
        AF_INET,
        32,
        0,
        &[
            (IFA_ADDRESS, &[198, 51, 100, 1]),
            (IFA_LOCAL, &[198, 51, 100, 2]),
        ],
    );
    let want = Some((3, IpAddr::from([198, 51, 100, 2]), 32));
    assert_eq!(parse_address(&ptp), want);
    let v6: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let plain = address(AF_INET6, 64, 0, &[(IFA_ADDRESS, &v6.octets())]);
    assert_eq!(parse_address(&plain), Some((3, v6.into(), 64)));
    let tentative = address(AF_INET6, 64, 0x40, &[(IFA_ADDRESS, &v6.octets())]);
    assert_eq!(parse_address(&tentative), None);
    // IFA_FLAGS, when present, is authoritative (it carries the flags above eight bits).
    let flags = ne32(IFA_F_DADFAILED);
    let failed = address(
        AF_INET6,
        64,
        0,
        &[(IFA_FLAGS, &flags), (IFA_ADDRESS, &v6.octets())],
    );
    assert_eq!(parse_address(&failed), None);
    let cleared = ne32(0x100);
    let ok = address(
        AF_INET6,
        64,
        0x40,
        &[(IFA_FLAGS, &cleared), (IFA_ADDRESS, &v6.octets())],
    );
    assert_eq!(parse_address(&ok), Some((3, v6.into(), 64)));
    assert_eq!(parse_address(&ok[..7]), None);
}
