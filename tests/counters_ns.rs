//! A device's packet counters over rtnetlink (RTM_GETSTATS), read in a fresh namespace
//! and checked against what `ip -s` reports; prints what a read costs, the figure behind
//! sampling the active lines' counters for traffic-aware detection.

use std::net::{Ipv4Addr, UdpSocket};
use std::time::Instant;

use uplink::netns::{require_root, unique_prefix, Netns};
use uplink::system::Netlink;

/// `ip -s -j link show DEV`: (rx packets, tx packets).
fn ip_counters(ns: &Netns, dev: &str) -> (u64, u64) {
    let json = ns.ip(&["-s", "-j", "link", "show", dev]).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let stats = &value[0]["stats64"];
    let packets = |dir: &str| stats[dir]["packets"].as_u64().unwrap();
    (packets("rx"), packets("tx"))
}

#[test]
fn counters_are_read_as_the_kernel_keeps_them_and_cheaply() {
    if !require_root("counters_are_read_as_the_kernel_keeps_them_and_cheaply") {
        return;
    }
    let prefix = unique_prefix("ctr");
    let ns = Netns::create(&format!("{prefix}-r")).expect("netns");
    let isp = Netns::create(&format!("{prefix}-i")).expect("netns");
    ns.ip(&[
        "link", "add", "wan1", "type", "veth", "peer", "name", "isp1",
    ])
    .unwrap();
    ns.ip(&["link", "set", "isp1", "netns", isp.name()])
        .unwrap();
    ns.ip(&["addr", "add", "192.0.2.2/24", "dev", "wan1"])
        .unwrap();
    isp.ip(&["addr", "add", "192.0.2.1/24", "dev", "isp1"])
        .unwrap();
    isp.ip(&["link", "set", "isp1", "up"]).unwrap();
    ns.ip(&["link", "set", "wan1", "up"]).unwrap();
    let (ours, per_read) = ns
        .run_in(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut nl = Netlink::connect().unwrap();
                let ifindex = nl.links(false).await.unwrap()["wan1"].ifindex;
                let before = nl.counters(ifindex).await.unwrap();
                // 50 datagrams out of wan1 to the peer's address (bound to wan1).
                let socket = UdpSocket::bind((Ipv4Addr::new(192, 0, 2, 2), 0)).unwrap();
                for _ in 0..50 {
                    let _ = socket.send_to(b"x", (Ipv4Addr::new(192, 0, 2, 1), 9));
                }
                let after = nl.counters(ifindex).await.unwrap();
                assert!(
                    after.tx_packets >= before.tx_packets + 50,
                    "{before:?} -> {after:?}"
                );
                let reads = 2000;
                let start = Instant::now();
                for _ in 0..reads {
                    nl.counters(ifindex).await.unwrap();
                }
                let per_read = start.elapsed() / reads;
                (nl.counters(ifindex).await.unwrap(), per_read)
            })
        })
        .unwrap();
    let (rx, tx) = ip_counters(&ns, "wan1");
    // Nothing is sent or received between the two reads but the neighbour's chatter.
    assert!(
        tx >= ours.tx_packets && tx <= ours.tx_packets + 5,
        "{tx} vs {ours:?}"
    );
    assert!(
        rx >= ours.rx_packets && rx <= ours.rx_packets + 5,
        "{rx} vs {ours:?}"
    );
    eprintln!(
        "RTM_GETSTATS of one device: {} µs per read (a line sampled every 100 ms: {:.3} % of a core)",
        per_read.as_micros(),
        per_read.as_secs_f64() * 10.0 * 100.0
    );
    // Another source's rx check: the read is the kernel's figure, not a cached one.
    assert!(ours.tx_packets >= 50);
}
