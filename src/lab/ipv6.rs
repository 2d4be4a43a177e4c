//! The lab's IPv6 plane, beside the IPv4 one and shaped the same way: every link also has
//! a 2001:db8::/32 prefix, `net` holds IPv6 probe targets and an IPv6 echo server, and each
//! ISP routes only its own customer /64, so the router must masquerade IPv6 too (NAT66).
//!
//! ```text
//!  lan 2001:db8:10::2 -- router -- wan1 2001:db8:1::2 (isp1 ::1) --+-- net 2001:db8:100::/64
//!                              `-- wan2 2001:db8:2::2 (isp2 ::1) --+
//! ```
//! Addresses are added with `nodad`: duplicate address detection would keep them unusable
//! for a second or more after the lab is built.

use std::net::{Ipv6Addr, SocketAddrV6};

use super::cmd::{ip6_batch, sysctl};
use super::topology::{net_device, Role, LAN_HOSTS};
use super::{Lab, LabError, Line};

/// IPv6 hosts beyond both ISPs that a prober can ping (on `net`'s loopback).
pub const PROBE_TARGETS6: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0x100),
    Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0x200),
];
/// The IPv6 address and port for a UDP echo server in `net` (the IPv6 tests run their own).
pub const ECHO_SERVER6: SocketAddrV6 = SocketAddrV6::new(
    Ipv6Addr::new(0x2001, 0xdb8, 0x100, 0, 0, 0, 0, 0x10),
    7,
    0,
    0,
);
/// The router's LAN address (the LAN hosts' IPv6 default gateway).
pub const LAN_GATEWAY6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, 1);

impl Line {
    /// The customer /64 of this line (`2001:db8:1::/64`, `2001:db8:2::/64`).
    fn net6(self) -> u16 {
        match self {
            Line::One => 1,
            Line::Two => 2,
        }
    }

    /// The router's IPv6 address on this line.
    pub fn addr6(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, self.net6(), 0, 0, 0, 0, 2)
    }

    /// The ISP's IPv6 address on this line: the router's IPv6 next hop.
    pub fn gateway6(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, self.net6(), 0, 0, 0, 0, 1)
    }

    /// The line whose customer /64 holds `addr`.
    pub fn from_addr6(addr: Ipv6Addr) -> Option<Line> {
        let prefix = |a: Ipv6Addr| a.segments()[..4].to_vec();
        Line::ALL
            .into_iter()
            .find(|line| prefix(line.addr6()) == prefix(addr))
    }
}

/// The /64 between an ISP and `net`: (ISP side, net side).
fn transit6(line: Line) -> (Ipv6Addr, Ipv6Addr) {
    let net = 0xff00 + line.net6();
    (
        Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, 1),
        Ipv6Addr::new(0x2001, 0xdb8, net, 0, 0, 0, 0, 2),
    )
}

fn forwarding6(on: bool) -> Vec<String> {
    vec![format!("net.ipv6.conf.all.forwarding={}", u8::from(on))]
}

impl Lab {
    /// Before any device exists: devices made later skip IPv6 duplicate address detection,
    /// link-local addresses included. Otherwise a fresh device's link-local address stays
    /// tentative for about a second, during which neighbour discovery through it fails
    /// and the first IPv6 probes of a test go unanswered (a lab artefact: a router's
    /// devices have been up for longer than that).
    pub(super) fn skip_duplicate_address_detection(&self) -> Result<(), LabError> {
        let settings = [
            "net.ipv6.conf.all.accept_dad=0".to_string(),
            "net.ipv6.conf.default.accept_dad=0".to_string(),
        ];
        for role in Role::ALL {
            sysctl(self.ns(role), &settings)?;
        }
        Ok(())
    }

    /// Adds the IPv6 plane to the built (IPv4) lab.
    pub(super) fn setup_ipv6(&self) -> Result<(), LabError> {
        let router = self.ns(Role::Router);
        let mut cmds = vec![format!("addr add {LAN_GATEWAY6}/64 dev lan0 nodad")];
        for line in Line::ALL {
            cmds.push(format!(
                "addr add {}/64 dev {} nodad",
                line.addr6(),
                line.device()
            ));
        }
        ip6_batch(router, &cmds)?;
        sysctl(router, &forwarding6(true))?;
        for line in Line::ALL {
            self.setup_isp6(line)?;
        }
        self.setup_net6()?;
        for host in &LAN_HOSTS {
            // The same host number as its IPv4 address (198.18.1.2 -> 2001:db8:10::2).
            let ns = self.ns(host.role);
            let number = u16::from(host.addr.octets()[3]);
            let addr = Ipv6Addr::new(0x2001, 0xdb8, 0x10, 0, 0, 0, 0, number);
            ip6_batch(
                ns,
                &[
                    format!("addr add {addr}/64 dev eth0 nodad"),
                    format!("route add default via {LAN_GATEWAY6}"),
                ],
            )?;
        }
        Ok(())
    }

    fn setup_isp6(&self, line: Line) -> Result<(), LabError> {
        let (isp_side, net_side) = transit6(line);
        let isp = self.ns(Role::isp(line));
        ip6_batch(
            isp,
            &[
                format!("addr add {}/64 dev cust nodad", line.gateway6()),
                format!("addr add {isp_side}/64 dev up nodad"),
                format!("route add default via {net_side}"),
            ],
        )?;
        sysctl(isp, &forwarding6(true))
    }

    fn setup_net6(&self) -> Result<(), LabError> {
        let hosts = PROBE_TARGETS6.iter().chain([ECHO_SERVER6.ip()]);
        let mut cmds: Vec<String> = hosts
            .map(|ip| format!("addr add {ip}/128 dev lo nodad"))
            .collect();
        for line in Line::ALL {
            let (isp_side, net_side) = transit6(line);
            let dev = net_device(line);
            cmds.push(format!("addr add {net_side}/64 dev {dev} nodad"));
            // Only the ISP's customer /64: traffic not masqueraded finds no way back.
            cmds.push(format!(
                "route add 2001:db8:{}::/64 via {isp_side}",
                line.net6()
            ));
        }
        ip6_batch(self.ns(Role::Net), &cmds)
    }
}
