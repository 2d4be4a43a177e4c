//! Namespace tests of the kernel drivers: real rtnetlink and real nft in a fresh namespace.

use std::net::Ipv4Addr;
use std::time::Duration;

use futures::StreamExt;
use uplink::config::{Family, Prefix};
use uplink::core::owned::*;
use uplink::core::{Desired, NextHop, Route, Rule, RuleMatch};
use uplink::netns::{require_root, unique_prefix, Netns};
use uplink::reconcile::{
    reconcile_firewall, reconcile_routing, remove_all, Change, Firewall, Routing,
};
use uplink::system::{netlink_monitor, nft_monitor, KernelChange, Netlink, Nft};

/// A namespace with two veth pairs standing in for two lines (this kernel has no dummy).
fn two_line_ns(label: &str) -> Netns {
    let ns = Netns::create(&unique_prefix(label)).expect("netns");
    for (dev, peer, addr) in [
        ("wan1", "isp1", "192.0.2.2/24"),
        ("wan2", "isp2", "198.51.100.2/24"),
    ] {
        ns.ip(&["link", "add", dev, "type", "veth", "peer", "name", peer])
            .unwrap();
        ns.ip(&["addr", "add", addr, "dev", dev]).unwrap();
        ns.ip(&["link", "set", peer, "up"]).unwrap();
        ns.ip(&["link", "set", dev, "up"]).unwrap();
    }
    ns
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn hop(ifindex: u32, gw: Option<[u8; 4]>, weight: u32) -> NextHop {
    NextHop {
        ifindex,
        gateway: gw.map(|g| Ipv4Addr::from(g).into()),
        weight,
    }
}

fn sample_state(wan1: u32, wan2: u32) -> Desired {
    let mut routes = vec![
        Route {
            family: Family::V4,
            table: TABLE_ACTIVE,
            nexthops: vec![hop(wan1, Some([192, 0, 2, 1]), 3), hop(wan2, None, 1)],
        },
        Route {
            family: Family::V4,
            table: line_table(0),
            nexthops: vec![hop(wan1, Some([192, 0, 2, 1]), 1)],
        },
        Route {
            family: Family::V4,
            table: line_table(1),
            nexthops: vec![hop(wan2, None, 1)],
        },
    ];
    routes.sort();
    let mut rules = vec![
        Rule {
            family: Family::V4,
            priority: PRIO_MARK_BASE,
            matcher: RuleMatch::FwMark {
                mark: line_mark(0),
                mask: MARK_MASK,
            },
            table: line_table(0),
            suppress_prefixlen: None,
        },
        Rule {
            family: Family::V4,
            priority: PRIO_SUPPRESS_MAIN,
            matcher: RuleMatch::All,
            table: 254,
            suppress_prefixlen: Some(0),
        },
        Rule {
            family: Family::V4,
            priority: PRIO_SOURCE_BASE + 1,
            matcher: RuleMatch::Prefixes {
                from: Some(Prefix::host(Ipv4Addr::new(198, 51, 100, 2))),
                to: None,
            },
            table: line_table(1),
            suppress_prefixlen: None,
        },
    ];
    rules.sort();
    Desired {
        routes,
        rules,
        nft: uplink::core::Ruleset {
            table: "table inet uplink {\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat + 10; policy accept;\n\t\toifname \"wan2\" masquerade\n\t}\n}\n".into(),
            share: String::new(),
        },
    }
}

#[test]
fn routes_and_rules_are_applied_read_back_and_removed() {
    if !require_root("routes_and_rules_are_applied_read_back_and_removed") {
        return;
    }
    let ns = two_line_ns("drv");
    let rules_before = ns.ip(&["rule"]).unwrap();
    ns.run_in(|| {
        runtime().block_on(async {
            let mut nl = Netlink::connect().unwrap();
            let links = nl.links(true).await.unwrap();
            let (w1, w2) = (links["wan1"].ifindex, links["wan2"].ifindex);
            assert_eq!(links["wan1"].addrs, vec![Ipv4Addr::new(192, 0, 2, 2)]);
            let desired = sample_state(w1, w2);
            let applied = reconcile_routing(&mut nl, &desired, Change::to_string)
                .await
                .unwrap();
            assert_eq!(applied.applied.len(), 6);
            assert!(applied.complete());
            let mut routes = nl.owned_routes().await.unwrap();
            routes.sort();
            assert_eq!(routes, desired.routes);
            let mut rules = nl.owned_rules().await.unwrap();
            rules.sort();
            assert_eq!(rules, desired.rules);
            // Second pass: nothing to do (adopting our own objects causes no change).
            assert!(reconcile_routing(&mut nl, &desired, Change::to_string)
                .await
                .unwrap()
                .applied
                .is_empty());
        })
    })
    .unwrap();
    let shown = ns.ip(&["route", "show", "table", "7700"]).unwrap();
    assert!(shown.contains("proto 197"), "{shown}");
    assert!(shown.contains("weight 3"), "{shown}");
    let rules = ns.ip(&["rule"]).unwrap();
    assert!(
        rules.contains("7750:\tfrom all lookup main suppress_prefixlength 0 proto 197"),
        "{rules}"
    );
    assert!(
        rules.contains("7761:\tfrom 198.51.100.2 lookup 7702 proto 197"),
        "{rules}"
    );
    ns.run_in(|| {
        runtime().block_on(async {
            let mut nl = Netlink::connect().unwrap();
            let mut nft = Nft::default();
            remove_all(&mut nl, &mut nft).await.unwrap();
        })
    })
    .unwrap();
    assert_eq!(ns.ip(&["rule"]).unwrap(), rules_before);
    assert_eq!(
        ns.ip(&["route", "show", "table", "all", "proto", "197"])
            .unwrap(),
        ""
    );
}

/// The hand-encoded rtnetlink driver against the real kernel: refusals keep their errno (the
/// reconciler judges by number), IPv6 addresses and routes read back, a dump spread over
/// many datagrams finds ours among thousands of foreign routes, and the system's default
/// routes give a `gateway = "auto"` line its gateway.
#[test]
fn kernel_answers_come_through_exactly() {
    if !require_root("kernel_answers_come_through_exactly") {
        return;
    }
    let ns = two_line_ns("wire");
    ns.ip(&["addr", "add", "2001:db8:1::2/64", "dev", "wan1", "nodad"])
        .unwrap();
    ns.ip(&[
        "route",
        "add",
        "default",
        "via",
        "192.0.2.1",
        "metric",
        "50",
    ])
    .unwrap();
    ns.ip(&[
        "route",
        "add",
        "default",
        "via",
        "198.51.100.1",
        "metric",
        "60",
    ])
    .unwrap();
    let batch = std::env::temp_dir().join(format!("{}.routes", unique_prefix("wire")));
    let lines: String = (0..3000)
        .map(|i| format!("route add 198.18.{}.{}/32 dev wan2\n", i / 250, i % 250))
        .collect();
    std::fs::write(&batch, lines).unwrap();
    ns.ip(&["-batch", batch.to_str().unwrap()]).unwrap();
    std::fs::remove_file(&batch).unwrap();
    ns.run_in(|| {
        runtime().block_on(async {
            let mut nl = Netlink::connect().unwrap();
            let links = nl.links(true).await.unwrap();
            let (w1, w2) = (links["wan1"].ifindex, links["wan2"].ifindex);
            let v6: std::net::IpAddr = "2001:db8:1::2".parse().unwrap();
            assert!(links["wan1"].addrs.contains(&v6), "{:?}", links["wan1"]);
            assert!(links["wan1"].networks.contains(&(v6, 64)));
            assert_eq!(
                links["wan1"].system_gateways,
                vec![std::net::IpAddr::from([192, 0, 2, 1])]
            );
            assert_eq!(
                links["wan2"].system_gateways,
                vec![std::net::IpAddr::from([198, 51, 100, 1])]
            );
            assert!(links["lo"].admin_up && !links["wan1"].point_to_point);

            let off_link = Route {
                family: Family::V4,
                table: line_table(0),
                nexthops: vec![hop(w1, Some([198, 18, 200, 1]), 1)],
            };
            let err = nl.apply(&Change::PutRoute(off_link)).await.unwrap_err();
            assert_eq!(err.errno, Some(libc::ENETUNREACH), "{err}");
            let text = std::io::Error::from_raw_os_error(libc::ENETUNREACH).to_string();
            assert_eq!(err.detail, text);
            let missing = Rule {
                family: Family::V6,
                priority: PRIO_MARK_BASE,
                matcher: RuleMatch::All,
                table: line_table(0),
                suppress_prefixlen: None,
            };
            let err = nl.apply(&Change::DeleteRule(missing)).await.unwrap_err();
            assert_eq!(err.errno, Some(libc::ENOENT), "{err}");

            let v6_route = Route {
                family: Family::V6,
                table: line_table(0),
                nexthops: vec![NextHop {
                    ifindex: w1,
                    gateway: Some("2001:db8:1::1".parse().unwrap()),
                    weight: 1,
                }],
            };
            let v4_route = Route {
                family: Family::V4,
                table: TABLE_ACTIVE,
                nexthops: vec![hop(w1, Some([192, 0, 2, 1]), 2), hop(w2, None, 1)],
            };
            for route in [&v6_route, &v4_route] {
                nl.apply(&Change::PutRoute(route.clone())).await.unwrap();
            }
            let mut routes = nl.owned_routes().await.unwrap();
            routes.sort();
            let mut want = vec![v6_route, v4_route];
            want.sort();
            assert_eq!(routes, want);
            let mut nft = Nft::default();
            remove_all(&mut nl, &mut nft).await.unwrap();
            assert!(nl.owned_routes().await.unwrap().is_empty());
        })
    })
    .unwrap();
    let count = ns
        .ip(&["route", "show", "dev", "wan2"])
        .unwrap()
        .lines()
        .count();
    assert!(count > 3000, "{count} routes");
}

#[test]
fn switching_the_active_line_is_one_replace() {
    if !require_root("switching_the_active_line_is_one_replace") {
        return;
    }
    let ns = two_line_ns("swap");
    ns.run_in(|| {
        runtime().block_on(async {
            let mut nl = Netlink::connect().unwrap();
            let links = nl.links(true).await.unwrap();
            let active = |ifindex| Desired {
                routes: vec![Route {
                    family: Family::V4,
                    table: TABLE_ACTIVE,
                    nexthops: vec![hop(ifindex, None, 1)],
                }],
                ..Desired::default()
            };
            reconcile_routing(&mut nl, &active(links["wan1"].ifindex), Change::to_string)
                .await
                .unwrap();
            let changes =
                reconcile_routing(&mut nl, &active(links["wan2"].ifindex), Change::to_string)
                    .await
                    .unwrap();
            assert_eq!(changes.applied.len(), 1, "{changes:?}");
            let routes = nl.owned_routes().await.unwrap();
            assert_eq!(routes[0].nexthops[0].ifindex, links["wan2"].ifindex);
        })
    })
    .unwrap();
}

#[test]
fn nft_table_is_applied_verified_and_repaired_after_flush() {
    if !require_root("nft_table_is_applied_verified_and_repaired_after_flush") {
        return;
    }
    let ns = two_line_ns("nft");
    let ruleset = sample_state(1, 2).nft;
    let r = ruleset.clone();
    ns.run_in(move || {
        runtime().block_on(async {
            let mut nft = Nft::default();
            assert!(reconcile_firewall(&mut nft, &r).await.unwrap());
            assert!(
                !reconcile_firewall(&mut nft, &r).await.unwrap(),
                "second pass is a no-op"
            );
        })
    })
    .unwrap();
    let listed = ns.exec(&["nft", "list", "ruleset"]).unwrap();
    assert!(listed.contains("oifname \"wan2\" masquerade"), "{listed}");
    ns.exec(&["nft", "flush", "ruleset"]).unwrap();
    ns.run_in(move || {
        runtime().block_on(async {
            let mut nft = Nft::default();
            nft.apply(&ruleset).await.unwrap();
            std::process::Command::new("nft")
                .args(["delete", "table", "inet", "uplink"])
                .status()
                .unwrap();
            assert!(!nft.holds(&ruleset).await.unwrap());
            assert!(reconcile_firewall(&mut nft, &ruleset).await.unwrap());
            nft.remove().await.unwrap();
            nft.remove().await.unwrap();
        })
    })
    .unwrap();
    assert_eq!(ns.exec(&["nft", "list", "ruleset"]).unwrap(), "");
}

/// Load sharing changes only the `share` chain: applied on its own, leaving the rest of
/// the table (sets included) in place; a damaged table still gets the whole replacement.
#[test]
fn share_rule_is_replaced_without_reloading_the_table() {
    if !require_root("share_rule_is_replaced_without_reloading_the_table") {
        return;
    }
    let ns = two_line_ns("share");
    let config = uplink::config::parse(
        "[[uplink]]\nname = \"a\"\ndevice = \"wan1\"\nweight = 3\n\
         [[uplink]]\nname = \"b\"\ndevice = \"wan2\"\n",
    )
    .unwrap();
    let policies: Vec<&uplink::config::Policy> = Vec::new();
    let table: std::sync::Arc<str> =
        uplink::core::desired::nft_ruleset(&config.uplinks, &policies, &[]).into();
    let both = uplink::core::Ruleset {
        table: table.clone(),
        share: "flush chain inet uplink share\n\
                add rule inet uplink share numgen random mod 4 vmap { 0-2 : goto share_0, 3 : goto share_1 }\n"
            .into(),
    };
    let one = uplink::core::Ruleset {
        table,
        share: "flush chain inet uplink share\nadd rule inet uplink share goto share_1\n".into(),
    };
    let (b, o) = (both.clone(), one.clone());
    ns.run_in(move || {
        runtime().block_on(async {
            let mut nft = Nft::default();
            assert!(reconcile_firewall(&mut nft, &b).await.unwrap());
            assert!(reconcile_firewall(&mut nft, &o).await.unwrap());
            assert!(nft.holds(&o).await.unwrap() && !nft.holds(&b).await.unwrap());
        })
    })
    .unwrap();
    let chain = ns
        .exec(&["nft", "list", "chain", "inet", "uplink", "share"])
        .unwrap();
    assert!(
        chain.contains("goto share_1") && !chain.contains("numgen"),
        "{chain}"
    );
    let listed = ns
        .exec(&["nft", "list", "table", "inet", "uplink"])
        .unwrap();
    assert!(listed.contains("jump share"), "{listed}");
    // Someone deletes our table: the next apply of a share change restores all of it.
    ns.exec(&["nft", "delete", "table", "inet", "uplink"])
        .unwrap();
    ns.run_in(move || {
        runtime().block_on(async {
            let mut nft = Nft::default();
            nft.apply(&one).await.unwrap();
            nft.apply(&both).await.unwrap();
            assert!(nft.holds(&both).await.unwrap());
        })
    })
    .unwrap();
    let chain = ns
        .exec(&["nft", "list", "chain", "inet", "uplink", "share"])
        .unwrap();
    assert!(chain.contains("numgen random mod 4"), "{chain}");
}

async fn next_change(
    changes: &mut (impl futures::Stream<Item = KernelChange> + Unpin),
) -> Option<KernelChange> {
    tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a change within 5 s")
}

/// The next `Owned` change. Link changes before it are skipped: a namespace's links keep
/// reporting for a while after they come up (IPv6 link-local addresses appear after DAD,
/// operstate settles), and those may arrive at any moment of the test.
async fn next_owned_change(
    changes: &mut (impl futures::Stream<Item = KernelChange> + Unpin),
) -> Option<KernelChange> {
    loop {
        match next_change(changes).await {
            Some(KernelChange::Link) => continue,
            other => return other,
        }
    }
}

#[test]
fn monitors_report_owned_route_deletion_and_nft_changes() {
    if !require_root("monitors_report_owned_route_deletion_and_nft_changes") {
        return;
    }
    let ns = two_line_ns("mon");
    let name = ns.name().to_string();
    ns.run_in(move || {
        runtime().block_on(async {
            let mut nl = Netlink::connect().unwrap();
            let links = nl.links(true).await.unwrap();
            let mut changes = Box::pin(netlink_monitor().unwrap());
            let mut nft_changes = Box::pin(nft_monitor().unwrap());
            let desired = Desired {
                routes: vec![Route {
                    family: Family::V4,
                    table: TABLE_ACTIVE,
                    nexthops: vec![hop(links["wan1"].ifindex, None, 1)],
                }],
                ..Desired::default()
            };
            reconcile_routing(&mut nl, &desired, Change::to_string)
                .await
                .unwrap();
            assert_eq!(
                next_owned_change(&mut changes).await,
                Some(KernelChange::Owned)
            );
            // A foreign route in main is not reported; our route deleted by hand is.
            let ip = |args: &[&str]| {
                let mut cmd = vec!["-n", name.as_str()];
                cmd.extend_from_slice(args);
                std::process::Command::new("ip").args(cmd).status().unwrap()
            };
            ip(&["route", "add", "203.0.113.0/24", "dev", "wan1"]);
            ip(&["route", "del", "default", "table", "7700"]);
            assert_eq!(
                next_owned_change(&mut changes).await,
                Some(KernelChange::Owned)
            );
            ip(&["link", "set", "wan2", "down"]);
            assert_eq!(next_change(&mut changes).await, Some(KernelChange::Link));
            std::process::Command::new("nft")
                .args(["add", "table", "inet", "somebody"])
                .status()
                .unwrap();
            let nft_event = tokio::time::timeout(Duration::from_secs(5), nft_changes.next());
            assert_eq!(nft_event.await.unwrap(), Some(()));
        })
    })
    .unwrap();
}
