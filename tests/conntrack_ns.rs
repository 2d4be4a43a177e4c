//! The conntrack driver against the real kernel: entries made by real masqueraded UDP
//! traffic in the lab, deleted by NAT address or by mark, checked with `conntrack -L`.

#![cfg(feature = "lab")]

use std::net::UdpSocket;
use std::time::Duration;

use uplink::lab::{Lab, LabOptions, Role, ECHO_SERVER};
use uplink::netns::require_root;
use uplink::system::conntrack::{count_by_mark, delete_matching, ConntrackFilter};

/// One UDP exchange with the echo server from `host`, from a fixed source port.
fn exchange(lab: &Lab, host: Role, port: u16) {
    let socket = lab
        .ns(host)
        .run_in(move || UdpSocket::bind(("0.0.0.0", port)).unwrap())
        .unwrap();
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 128];
    let answered = (0..5).any(|_| {
        socket.send_to(b"ULAB-conntrack-test", ECHO_SERVER).unwrap();
        socket.recv_from(&mut buf).is_ok()
    });
    assert!(answered, "no echo for {host} port {port}");
}

fn entries(lab: &Lab) -> String {
    lab.ns(Role::Router)
        .exec(&["conntrack", "-L", "-p", "udp"])
        .unwrap_or_default()
}

fn delete(lab: &Lab, filter: ConntrackFilter) -> usize {
    lab.ns(Role::Router)
        .run_in(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(delete_matching(filter)).unwrap()
        })
        .unwrap()
}

#[test]
fn entries_are_deleted_by_nat_address_or_mark_and_only_those() {
    if !require_root("entries_are_deleted_by_nat_address_or_mark_and_only_those") {
        return;
    }
    let lab = Lab::build(LabOptions {
        label: "ct".into(),
        rp_filter: false,
        static_routes: true,
    })
    .unwrap();
    let _echo = lab.start_echo_server().unwrap();
    let router = lab.ns(Role::Router);
    // The second LAN host leaves through wan2, and its connections carry a mark.
    router
        .ip(&[
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
            "table",
            "200",
        ])
        .unwrap();
    router
        .ip(&["rule", "add", "from", "198.18.1.3", "lookup", "200"])
        .unwrap();
    router
        .exec(&["nft", "add table ip marker; add chain ip marker pre { type filter hook prerouting priority 0; }; add rule ip marker pre ip saddr 198.18.1.3 ct mark set 0x20000"])
        .unwrap();
    exchange(&lab, Role::Lan, 40001);
    exchange(&lab, Role::Lan, 40002);
    exchange(&lab, Role::Lan2, 40003);
    let before = entries(&lab);
    assert_eq!(before.matches("dst=192.0.2.2 ").count(), 2, "{before}");
    assert_eq!(before.matches("dst=198.51.100.2 ").count(), 1, "{before}");

    // Mark first, while unmarked entries exist: only the marked one goes.
    let marked = ConntrackFilter::Mark {
        value: 0x20000,
        mask: 0x00ff_0000,
    };
    let other_mark = ConntrackFilter::Mark {
        value: 0x10000,
        mask: 0x00ff_0000,
    };
    assert_eq!(delete(&lab, other_mark), 0);
    assert_eq!(delete(&lab, marked), 1);
    let after_mark = entries(&lab);
    assert_eq!(
        after_mark.matches("dst=192.0.2.2 ").count(),
        2,
        "{after_mark}"
    );
    assert!(!after_mark.contains("dst=198.51.100.2 "), "{after_mark}");
    exchange(&lab, Role::Lan2, 40004);

    // An entry of another namespace with the same NAT address is never touched.
    let isp = lab.ns(Role::Isp1);
    isp.exec(&[
        "conntrack",
        "-I",
        "-p",
        "udp",
        "-s",
        "203.0.113.10",
        "-d",
        "198.18.1.2",
        "--sport",
        "7",
        "--dport",
        "40009",
        "--reply-src",
        "198.18.1.2",
        "--reply-dst",
        "192.0.2.2",
        "--reply-port-src",
        "40009",
        "--reply-port-dst",
        "7",
        "-t",
        "100",
        "-u",
        "SEEN_REPLY",
    ])
    .unwrap();

    let wan1 = ConntrackFilter::NatAddress("192.0.2.2".parse().unwrap());
    assert_eq!(delete(&lab, wan1), 2);
    let isp_entries = isp
        .exec(&["conntrack", "-L", "-p", "udp"])
        .unwrap_or_default();
    assert!(
        isp_entries.contains("dport=40009"),
        "other namespace untouched: {isp_entries}"
    );
    let after = entries(&lab);
    assert!(!after.contains("dst=192.0.2.2 "), "{after}");
    assert!(
        after.contains("dst=198.51.100.2 "),
        "the other line's entry survives: {after}"
    );
    assert_eq!(delete(&lab, wan1), 0, "nothing left to delete");
    // The entry of the flow started after the mark step (wan2, marked again) is still there.
    assert_eq!(delete(&lab, marked), 1);
    assert!(!entries(&lab).contains("dport=7"), "{}", entries(&lab));
}

/// IPv6 entries (a NAT66 line's connections) are deleted by reply destination too, and the
/// other line's IPv6 entry and the IPv4 ones stay.
#[test]
fn ipv6_entries_are_deleted_by_nat_address() {
    if !require_root("ipv6_entries_are_deleted_by_nat_address") {
        return;
    }
    let ns = uplink::netns::Netns::create(&uplink::netns::unique_prefix("ct6")).unwrap();
    // The family follows from the addresses (`-f` is not allowed with -I).
    let insert = |src: &str, dst: &str, reply_dst: &str, port: &str| {
        ns.exec(&[
            "conntrack",
            "-I",
            "-p",
            "udp",
            "-s",
            src,
            "-d",
            dst,
            "--sport",
            port,
            "--dport",
            "7",
            "--reply-src",
            dst,
            "--reply-dst",
            reply_dst,
            "--reply-port-src",
            "7",
            "--reply-port-dst",
            port,
            "-t",
            "100",
            "-u",
            "SEEN_REPLY",
        ])
        .unwrap();
    };
    insert("2001:db8:a::2", "2001:db8:ff::1", "2001:db8:1::2", "41001");
    insert("2001:db8:a::2", "2001:db8:ff::1", "2001:db8:2::2", "41002");
    insert("198.18.1.2", "203.0.113.10", "192.0.2.2", "41003");
    let listed = |family: &str| {
        ns.exec(&["conntrack", "-L", "-f", family])
            .unwrap_or_default()
    };
    assert_eq!(
        listed("ipv6").matches("sport=41").count(),
        2,
        "{}",
        listed("ipv6")
    );
    let line1 = ConntrackFilter::NatAddress("2001:db8:1::2".parse().unwrap());
    let deleted = ns
        .run_in(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(delete_matching(line1)).unwrap()
        })
        .unwrap();
    assert_eq!(deleted, 1);
    let v6 = listed("ipv6");
    assert!(!v6.contains("sport=41001"), "{v6}");
    assert!(
        v6.contains("sport=41002"),
        "the other line's entry stays: {v6}"
    );
    assert!(listed("ipv4").contains("sport=41003"), "IPv4 entries stay");
}

/// The count behind status and metrics: every entry of the namespace by its mark under
/// the mask (marked, unmarked, IPv4 and IPv6), nothing of another namespace.
#[test]
fn entries_are_counted_by_mark() {
    if !require_root("entries_are_counted_by_mark") {
        return;
    }
    let ns = uplink::netns::Netns::create(&uplink::netns::unique_prefix("ctn")).unwrap();
    let other = uplink::netns::Netns::create(&uplink::netns::unique_prefix("ctm")).unwrap();
    let insert = |ns: &uplink::netns::Netns, src: &str, dst: &str, port: u16, mark: u32| {
        let port = port.to_string();
        let mark = mark.to_string();
        ns.exec(&[
            "conntrack",
            "-I",
            "-p",
            "udp",
            "-s",
            src,
            "-d",
            dst,
            "--sport",
            &port,
            "--dport",
            "7",
            "-t",
            "100",
            "-u",
            "SEEN_REPLY",
            "-m",
            &mark,
        ])
        .unwrap();
    };
    for port in 41000..41005 {
        insert(&ns, "198.18.1.2", "203.0.113.10", port, 0x00a1_0000);
    }
    insert(&ns, "198.18.1.2", "203.0.113.10", 42000, 0x0002_0042);
    insert(&ns, "2001:db8:a::2", "2001:db8:ff::1", 42001, 0x0002_0000);
    insert(&ns, "198.18.1.2", "203.0.113.10", 43000, 0);
    insert(&other, "198.18.1.2", "203.0.113.10", 44000, 0x00a1_0000);
    let counts = ns
        .run_in(|| count_by_mark(0x00ff_0000, 1000))
        .unwrap()
        .unwrap();
    assert_eq!(counts.get(&0x00a1_0000), Some(&5), "{counts:?}");
    assert_eq!(counts.get(&0x0002_0000), Some(&2), "{counts:?}");
    assert_eq!(counts.get(&0), Some(&1), "{counts:?}");
    assert_eq!(counts.values().sum::<u64>(), 8, "{counts:?}");
}
