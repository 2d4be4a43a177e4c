//! Odd but valid device names in a real nft table, in fresh namespaces: the table loads,
//! and a name ending in `*` matches that device only (nft would read a bare trailing `*` as
//! a wildcard and masquerade traffic leaving other devices).
//!
//! ```text
//! lan (192.0.2.2) -- router --l*-- p1 (198.51.100.2)   line "a", masqueraded
//!                           --lx-- p2 (203.0.113.2)    line "b", not masqueraded
//! ```
//! plus lines on `wan@x`, `a+b`, `a;b{`, `l-1.2` and `$x`, which only need to load.

mod runtime;

use std::net::UdpSocket;
use std::thread::sleep;
use std::time::{Duration, Instant};

use runtime::in_runtime;
use uplink::config::Policy;
use uplink::core::Ruleset;
use uplink::netns::{require_root, unique_prefix, Netns};
use uplink::reconcile::Firewall;
use uplink::system::Nft;

/// Lines on the odd devices that need no traffic, each masqueraded.
const ODD: [&str; 5] = ["wan@x", "a+b", "a;b{", "l-1.2", "$x"];

struct Lab {
    router: Netns,
    lan: Netns,
    p1: Netns,
    p2: Netns,
}

fn lab() -> Lab {
    let ns = |label: &str| Netns::create(&unique_prefix(label)).expect("netns");
    let lab = Lab {
        router: ns("names-r"),
        lan: ns("names-l"),
        p1: ns("names-1"),
        p2: ns("names-2"),
    };
    let r = &lab.router;
    for (dev, peer_ns, mine, theirs) in [
        ("lan0", &lab.lan, "192.0.2.1/24", "192.0.2.2/24"),
        ("l*", &lab.p1, "198.51.100.1/30", "198.51.100.2/30"),
        ("lx", &lab.p2, "203.0.113.1/30", "203.0.113.2/30"),
    ] {
        let peer = peer_ns.name();
        r.ip(&[
            "link", "add", dev, "type", "veth", "peer", "name", "up0", "netns", peer,
        ])
        .unwrap();
        r.ip(&["addr", "add", mine, "dev", dev]).unwrap();
        r.ip(&["link", "set", dev, "up"]).unwrap();
        peer_ns.ip(&["addr", "add", theirs, "dev", "up0"]).unwrap();
        peer_ns.ip(&["link", "set", "up0", "up"]).unwrap();
    }
    lab.lan
        .ip(&["route", "add", "default", "via", "192.0.2.1"])
        .unwrap();
    for (i, dev) in ODD.iter().enumerate() {
        let peer = format!("o{i}");
        r.ip(&["link", "add", dev, "type", "veth", "peer", "name", &peer])
            .unwrap();
    }
    r.exec(&["sysctl", "-qw", "net.ipv4.ip_forward=1"]).unwrap();
    // Count what arrives at each peer by source address: masqueraded or not.
    for peer in [&lab.p1, &lab.p2] {
        peer.exec(&[
            "nft",
            "add table ip seen; add chain ip seen input { type filter hook input priority 0; }; \
             add rule ip seen input ip saddr 192.0.2.2 counter; \
             add rule ip seen input ip saddr 198.51.100.1 counter; \
             add rule ip seen input ip saddr 203.0.113.1 counter",
        ])
        .unwrap();
    }
    lab
}

fn config_text() -> String {
    let mut lines = vec![("a".to_owned(), "l*", true), ("b".to_owned(), "lx", false)];
    lines.extend(
        ODD.iter()
            .enumerate()
            .map(|(i, dev)| (format!("odd{i}"), *dev, true)),
    );
    let mut text = String::new();
    for (metric, (name, device, masquerade)) in (100..).step_by(10).zip(lines) {
        text += &format!(
            "[[uplink]]\nname = \"{name}\"\ndevice = {}\nmetric = {metric}\nmasquerade = {masquerade}\n",
            toml::Value::from(device)
        );
    }
    text
}

/// Packets that reached `peer` from `source`, by its counter.
fn arrived(peer: &Netns, source: &str) -> u64 {
    let listed = peer
        .exec(&["nft", "list", "chain", "ip", "seen", "input"])
        .unwrap();
    let line = listed
        .lines()
        .find(|l| l.contains(&format!("ip saddr {source} ")))
        .unwrap_or_else(|| panic!("no counter for {source}: {listed}"));
    let after = line.split("packets ").nth(1).expect("packets");
    after.split_whitespace().next().unwrap().parse().unwrap()
}

/// Sends a few UDP datagrams from the LAN host to `target` (the first ones may wait for
/// ARP), until `peer` has counted one from `source` or 10 s have passed.
fn send_until_counted(lab: &Lab, target: &'static str, peer: &Netns, source: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        lab.lan
            .run_in(move || {
                let socket = UdpSocket::bind("192.0.2.2:0").unwrap();
                socket.send_to(b"uplink", (target, 9)).unwrap();
            })
            .unwrap();
        sleep(Duration::from_millis(100));
        if arrived(peer, source) > 0 {
            return true;
        }
    }
    false
}

#[test]
fn odd_device_names_load_and_a_star_matches_only_its_device() {
    if !require_root("odd_device_names_load_and_a_star_matches_only_its_device") {
        return;
    }
    let lab = lab();
    let config = uplink::config::parse(&config_text()).unwrap();
    let policies: Vec<&Policy> = Vec::new();
    let ruleset = Ruleset {
        table: uplink::core::desired::nft_ruleset(&config.uplinks, &policies, &config.sets).into(),
        share: String::new(),
    };
    let applied = ruleset.clone();
    in_runtime(&lab.router, move || async move {
        let mut nft = Nft::default();
        nft.apply(&applied).await.unwrap();
        assert!(nft.holds(&applied).await.unwrap());
    });
    let listed = lab
        .router
        .exec(&["nft", "list", "table", "inet", "uplink"])
        .unwrap();
    assert!(
        listed.contains("oifname \"l\\*\" meta nfproto ipv4 masquerade"),
        "{listed}"
    );
    for dev in ODD {
        assert!(
            listed.contains(&format!("oifname \"{dev}\" meta nfproto ipv4 masquerade")),
            "{dev}: {listed}"
        );
    }

    // Through `l*`: masqueraded. Through `lx`: left alone, although "l*" as a wildcard
    // would have matched it.
    assert!(
        send_until_counted(&lab, "198.51.100.2", &lab.p1, "198.51.100.1"),
        "nothing masqueraded through l*"
    );
    assert_eq!(arrived(&lab.p1, "192.0.2.2"), 0);
    assert!(
        send_until_counted(&lab, "203.0.113.2", &lab.p2, "192.0.2.2"),
        "nothing arrived unmasqueraded through lx"
    );
    assert_eq!(
        arrived(&lab.p2, "203.0.113.1"),
        0,
        "traffic through lx was masqueraded: \"l*\" acted as a wildcard"
    );
}
