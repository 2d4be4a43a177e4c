use super::*;
use crate::config::Probe;
use crate::core::owned::{policy_table, share_mark, share_table, PRIO_SHARE_BASE};
use crate::core::select::SelectionBasis;
use std::net::Ipv4Addr;

fn uplink(name: &str, device: &str, gateway: Option<[u8; 4]>, masquerade: bool) -> Uplink {
    Uplink {
        name: name.into(),
        device: device.into(),
        interface: None,
        family: Family::V4,
        gateway: gateway.map_or(crate::config::Gateway::None, |g| {
            crate::config::Gateway::Fixed(Ipv4Addr::from(g).into())
        }),
        metric: 100,
        weight: 1,
        masquerade,
        flush: crate::config::Flush::default(),
        keep_sessions: None,
        probe: Probe::default_timing(),
    }
}

/// Both lines' links up: ifindex 5 (192.0.2.2) and 6 (198.51.100.2).
fn both_links() -> (LinkFacts, LinkFacts) {
    (
        link(5, [192, 0, 2, 2], true),
        link(6, [198, 51, 100, 2], true),
    )
}

fn link(ifindex: u32, addr: [u8; 4], carrier: bool) -> LinkFacts {
    LinkFacts {
        ifindex,
        admin_up: true,
        carrier,
        addrs: vec![Ipv4Addr::from(addr).into()],
        ..LinkFacts::default()
    }
}

/// A failover pair: main preferred (metric 100), backup behind it (200).
fn two_lines() -> Vec<Uplink> {
    let mut backup = uplink("backup", "wan2", Some([198, 51, 100, 1]), true);
    backup.metric = 200;
    vec![uplink("main", "ppp0", None, false), backup]
}

/// Two lines of equal metric: they share load.
fn shared_lines() -> Vec<Uplink> {
    let mut lines = two_lines();
    lines[1].metric = 100;
    lines
}

fn selection(members: Vec<(usize, u32)>) -> Selection {
    Selection {
        members,
        basis: SelectionBasis::Healthy,
    }
}

#[test]
fn both_lines_usable_main_active() {
    let (l0, l1) = both_links();
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
    );
    let shown: Vec<String> = d.routes.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "default table 7700 proto 197 nexthop ifindex 5 weight 1",
            "default table 7701 proto 197 nexthop ifindex 5 weight 1",
            "default table 7702 proto 197 nexthop via 198.51.100.1 ifindex 6 weight 1",
            // Main's serving table: its connections keep it (sticky mark).
            "default table 7790 proto 197 nexthop ifindex 5 weight 1",
        ]
    );
    let rules: Vec<String> = d.rules.iter().map(ToString::to_string).collect();
    assert_eq!(
        rules,
        [
            "7710: from all fwmark 0x10000/0xff0000 lookup 7701",
            "7711: from all fwmark 0x20000/0xff0000 lookup 7702",
            "7750: from all lookup 254 suppress_prefixlength 0",
            "7760: from 192.0.2.2 lookup 7701",
            "7761: from 198.51.100.2 lookup 7702",
            "7795: from all fwmark 0xa00000/0xff0000 lookup 7790",
            "7795: from all fwmark 0xa10000/0xff0000 lookup 7791",
            "7990: from all lookup 7700",
        ]
    );
    assert!(d
        .nft
        .table
        .contains("oifname \"wan2\" meta nfproto ipv4 masquerade comment \"uplink backup\""));
    assert!(!d.nft.table.contains("oifname \"ppp0\" masquerade"));
    assert!(d
        .nft
        .table
        .contains("ct state new iifname \"ppp0\" meta nfproto ipv4 ct mark set"));
}

#[test]
fn line_without_carrier_has_no_route_and_is_not_active() {
    let (l0, l1) = (
        link(5, [192, 0, 2, 2], false),
        link(6, [198, 51, 100, 2], true),
    );
    // Even if selection named it, an unusable link never gets a route.
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
    );
    assert_eq!(d.routes.len(), 1);
    assert_eq!(d.routes[0].table, line_table(1));
}

#[test]
fn equal_metric_members_make_a_weighted_multipath_route() {
    let (l0, l1) = both_links();
    let sel = selection(vec![(0, 3), (1, 1)]);
    let d = desired_state(&shared_lines(), &[Some(&l0), Some(&l1)], &sel, &[]);
    let active = d.routes.iter().find(|r| r.table == TABLE_ACTIVE).unwrap();
    assert_eq!(active.nexthops.len(), 2);
    assert_eq!(active.nexthops[0].weight, 3);
    assert_eq!(active.nexthops[1].weight, 1);
}

#[test]
fn shared_lines_get_serving_tables_rules_and_a_share_rule() {
    let (l0, l1) = both_links();
    let sel = selection(vec![(0, 3), (1, 1)]);
    let d = desired_state(&shared_lines(), &[Some(&l0), Some(&l1)], &sel, &[]);
    for i in 0..2 {
        let serving = d.routes.iter().find(|r| r.table == share_table(i)).unwrap();
        assert_eq!(serving.nexthops[0].ifindex, 5 + i as u32);
        assert!(d.rules.iter().any(|r| r.table == share_table(i)
            && r.matcher
                == RuleMatch::FwMark {
                    mark: share_mark(i),
                    mask: MARK_MASK
                }));
    }
    assert_eq!(
        d.nft.share,
        "flush chain inet uplink share\n\
         add rule inet uplink share numgen random mod 4 vmap { 0-2 : goto share_0, 3 : goto share_1 }\n"
    );
    assert!(d.nft.table.contains("jump share"));
}

#[test]
fn a_line_out_of_the_group_loses_its_serving_route_but_keeps_its_rule() {
    let (l0, l1) = both_links();
    let sel = selection(vec![(1, 1)]);
    let d = desired_state(&shared_lines(), &[Some(&l0), Some(&l1)], &sel, &[]);
    assert!(!d.routes.iter().any(|r| r.table == share_table(0)));
    assert!(d.routes.iter().any(|r| r.table == share_table(1)));
    assert!(d.rules.iter().any(|r| r.table == share_table(0)));
    assert_eq!(
        d.nft.share,
        "flush chain inet uplink share\nadd rule inet uplink share goto share_1\n"
    );
}

#[test]
fn failover_pair_has_no_load_sharing() {
    let (l0, l1) = both_links();
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
    );
    assert!(d.nft.share.is_empty());
    assert!(!d.nft.table.contains("share"));
    assert!(!d
        .rules
        .iter()
        .any(|r| r.priority >= PRIO_SHARE_BASE && r.priority < PRIO_ACTIVE));
}

#[test]
fn nothing_selected_leaves_active_table_empty_but_keeps_rules() {
    let d = desired_state(&two_lines(), &[None, None], &selection(vec![]), &[]);
    assert!(d.routes.is_empty());
    assert_eq!(
        d.rules.len(),
        6,
        "mark rules, sticky rules, suppress and active rule stay"
    );
    assert!(d.nft.table.starts_with("table inet uplink {"));
}

#[test]
fn desired_state_is_deterministic() {
    let (l0, l1) = both_links();
    let a = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(1, 1)]),
        &[],
    );
    let b = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(1, 1)]),
        &[],
    );
    assert_eq!(a, b);
}

fn speaker(fallback: crate::config::Fallback) -> crate::config::Policy {
    crate::config::Policy {
        name: "speaker".into(),
        from: vec!["198.18.1.50".parse().unwrap()],
        to: vec![
            "203.0.113.0/24".parse().unwrap(),
            "198.51.100.0/24".parse().unwrap(),
        ],
        uplinks: vec!["backup".into(), "main".into()],
        fallback,
        proto: None,
        ports: vec![],
        set: None,
    }
}

#[test]
fn policy_gets_its_own_table_with_the_chosen_line_and_one_rule_per_prefix_pair() {
    let (l0, l1) = both_links();
    let policy = speaker(crate::config::Fallback::Default);
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[(&policy, PolicyChoice::Line(1))],
    );
    let table = d
        .routes
        .iter()
        .find(|r| r.table == policy_table(0))
        .unwrap();
    assert_eq!(
        table.to_string(),
        "default table 7740 proto 197 nexthop via 198.51.100.1 ifindex 6 weight 1"
    );
    let rules: Vec<String> = d
        .rules
        .iter()
        .filter(|r| r.priority == 7800)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rules,
        [
            "7800: from 198.18.1.50 to 198.51.100.0/24 lookup 7740",
            "7800: from 198.18.1.50 to 203.0.113.0/24 lookup 7740",
        ]
    );
}

#[test]
fn policy_without_a_line_falls_through_or_is_unreachable() {
    let l0 = link(5, [192, 0, 2, 2], true);
    let default = speaker(crate::config::Fallback::Default);
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), None],
        &selection(vec![(0, 1)]),
        &[(&default, PolicyChoice::Fallthrough)],
    );
    assert!(
        d.routes.iter().all(|r| r.table != policy_table(0)),
        "empty table: rule falls through"
    );
    assert!(
        d.rules.iter().any(|r| r.table == policy_table(0)),
        "rule stays"
    );
    let strict = speaker(crate::config::Fallback::Unreachable);
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), None],
        &selection(vec![(0, 1)]),
        &[(&strict, PolicyChoice::Unreachable)],
    );
    let table = d
        .routes
        .iter()
        .find(|r| r.table == policy_table(0))
        .unwrap();
    assert_eq!(
        table.to_string(),
        "unreachable default table 7740 proto 197"
    );
}

#[test]
fn port_policy_marks_connections_in_nft_and_routes_the_mark() {
    let (l0, l1) = both_links();
    let mut games = speaker(crate::config::Fallback::Default);
    games.to.clear();
    games.proto = Some(crate::config::Proto::Udp);
    games.ports = vec![(7, 7), (27000, 27050)];
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[(&games, PolicyChoice::Line(1))],
    );
    let rules: Vec<String> = d
        .rules
        .iter()
        .filter(|r| r.priority == 7800)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        rules,
        ["7800: from all fwmark 0x400000/0xff0000 lookup 7740"]
    );
    assert!(
        d.nft.table.contains("ct state new ip saddr { 198.18.1.50 } meta l4proto udp th dport { 7, 27000-27050 } ct mark set ct mark & 0xff00ffff | 0x00400000"),
        "{}",
        d.nft.table
    );
    assert!(d.nft.table.contains(
        "ct mark & 0x00ff0000 == 0x00400000 meta mark set meta mark & 0xff00ffff | 0x00400000"
    ));
}

#[test]
fn a_dual_stack_line_gets_routes_and_rules_in_each_family() {
    let mut main6 = uplink("main6", "ppp0", None, true);
    main6.family = Family::V6;
    let lines = vec![uplink("main", "ppp0", None, false), main6];
    let mut facts4 = link(5, [192, 0, 2, 2], true);
    facts4.addrs = vec![Ipv4Addr::new(192, 0, 2, 2).into()];
    let mut facts6 = link(5, [0, 0, 0, 0], true);
    facts6.addrs = vec!["2001:db8:1::2".parse().unwrap()];
    let d = desired_state(
        &lines,
        &[Some(&facts4), Some(&facts6)],
        &selection(vec![(0, 1), (1, 1)]),
        &[],
    );
    let active: Vec<Family> = d
        .routes
        .iter()
        .filter(|r| r.table == TABLE_ACTIVE)
        .map(|r| r.family)
        .collect();
    assert_eq!(active, vec![Family::V4, Family::V6]);
    assert!(d.rules.iter().any(|r| r.family == Family::V6
        && r.matcher == RuleMatch::From6("2001:db8:1::2".parse().unwrap())));
    let suppress: Vec<Family> = d
        .rules
        .iter()
        .filter(|r| r.suppress_prefixlen.is_some())
        .map(|r| r.family)
        .collect();
    assert_eq!(suppress, vec![Family::V4, Family::V6]);
    assert!(d
        .nft
        .table
        .contains("oifname \"ppp0\" meta nfproto ipv6 masquerade comment \"uplink main6\""));
    assert!(!d.nft.table.contains("meta nfproto ipv4 masquerade"));
}

#[test]
fn an_ipv4_only_config_touches_no_ipv6_rules() {
    let (l0, l1) = both_links();
    let d = desired_state(
        &two_lines(),
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
    );
    assert!(d.rules.iter().all(|r| r.family == Family::V4));
    assert!(d.routes.iter().all(|r| r.family == Family::V4));
}

#[test]
fn a_line_that_keeps_its_sessions_keeps_its_serving_route_and_every_line_marks_connections() {
    let (l0, l1) = both_links();
    let lines = two_lines();
    let table = nft_ruleset(&lines, &[], &[]).into();
    let d = desired_with_ruleset(
        &lines,
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
        table,
        Sticky::default(),
        &[
            Keeping::default(),
            Keeping {
                holds: true,
                strict_rp: false,
            },
        ],
    );
    let serving: Vec<String> = (d.routes.iter())
        .filter(|r| r.table >= TABLE_SHARE_BASE)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        serving,
        [
            "default table 7790 proto 197 nexthop ifindex 5 weight 1",
            "default table 7791 proto 197 nexthop via 198.51.100.1 ifindex 6 weight 1",
        ]
    );
    let sticky: Vec<String> = (d.rules.iter())
        .filter(|r| r.priority == PRIO_STICKY)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        sticky,
        [
            "7795: from all fwmark 0xa00000/0xff0000 lookup 7790",
            "7795: from all fwmark 0xa10000/0xff0000 lookup 7791",
        ]
    );
    // After routing, a new connection is marked with the device it leaves through;
    // probes and inbound connections (line marks) are left alone.
    let table = &d.nft.table;
    assert!(
        table.contains("type filter hook postrouting priority mangle + 10"),
        "{table}"
    );
    assert!(
        table.contains("meta mark & 0x00ff0000 0x00010000-0x00200000 return"),
        "{table}"
    );
    assert!(
        table.contains("ct mark & 0x00ff0000 0x00010000-0x00200000 return"),
        "{table}"
    );
    assert!(
        table.contains("meta nfproto ipv4 ct mark set ct mark & 0xff00ffff | 0x00a10000"),
        "{table}"
    );
    // Later packets get the sticky mark back.
    assert!(
        table.contains("ct mark & 0x00ff0000 == 0x00a00000 meta mark set"),
        "{table}"
    );
}

#[test]
fn a_strict_rp_filter_line_consults_its_sticky_mark_after_the_policies() {
    let (l0, l1) = both_links();
    let lines = two_lines();
    let strict = Keeping {
        holds: false,
        strict_rp: true,
    };
    let d = desired_with_ruleset(
        &lines,
        &[Some(&l0), Some(&l1)],
        &selection(vec![(0, 1)]),
        &[],
        nft_ruleset(&lines, &[], &[]).into(),
        Sticky::default(),
        &[Keeping::default(), strict],
    );
    let sticky: Vec<String> = (d.rules.iter())
        .filter(|r| matches!(r.matcher, RuleMatch::FwMark { mark, .. } if mark >= 0xa0_0000))
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        sticky,
        [
            "7795: from all fwmark 0xa00000/0xff0000 lookup 7790",
            "7850: from all fwmark 0xa10000/0xff0000 lookup 7791",
        ]
    );
    // Not keeping: its serving table is empty, so its connections follow the selection.
    assert!(d.routes.iter().all(|r| r.table != share_table(1)));
}
