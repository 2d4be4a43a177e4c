//! The namespace lab: a LAN host, a router with two internet lines, two ISPs and a small
//! "internet", all in network namespaces of their own, plus fault injection and exact
//! traffic measurement. Shared by the end-to-end tests, `uplink lab` and the benchmark.
//!
//! ```text
//!  lan (eth0 198.18.1.2) -- lan0 [router] wan1 192.0.2.2 -- cust [isp1] up --+
//!                                         wan2 198.51.100.2 -- cust [isp2] up --+-- [net]
//! ```
//! `net` holds the probe targets ([`PROBE_TARGETS`]) and the echo server ([`ECHO_SERVER`]).
//! Each ISP routes only its customer prefix, so LAN traffic must be masqueraded by the
//! router; the echo server reports the source it saw, which tells which line carried a packet.
//! Only documentation and benchmarking prefixes are used, and nothing is created in the
//! machine's own namespace.

mod analysis;
#[cfg(test)]
mod analysis_tests;
pub mod bench;
mod churn;
mod cmd;
mod daemon;
pub mod demo;
mod echo;
mod faults;
pub mod interrupt;
mod ipv6;
mod responders;
mod sessions;
mod slow;
pub mod soak;
mod topology;
mod traffic;
mod wire;
mod worker;

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4};

use thiserror::Error;

use crate::netns::NetnsError;

pub use analysis::{Gap, PacketRecord, TrafficLog, DEFAULT_FORGIVE, LINE_AT_END_REPLIES};
pub use daemon::{
    probe_kinds_config, two_line_config, two_line_config_probing, LabDaemon, ProbeProfile,
};
pub use echo::EchoServer;
pub use faults::{Fault, PORTAL_PORT};
pub use ipv6::{ECHO_SERVER6, LAN_GATEWAY6, PROBE_TARGETS6};
pub use responders::{
    HttpAnswer, NetResponders, Responder, LAB_CHECK_PATH, LAB_DNS_TTL, LAB_MISSING_NAME,
    LAB_TARGET_NAME, LAB_WEB_NAME,
};
pub use sessions::{Session, SessionServer, SESSION_PORT};
pub use slow::{SlowTarget, SLOW_TARGET};
pub use topology::{Lab, LabOptions, Role};
pub use traffic::{Traffic, TrafficConfig};

/// Hosts beyond both ISPs that a prober can ping (on `net`'s loopback).
pub const PROBE_TARGETS: [Ipv4Addr; 2] = [
    Ipv4Addr::new(203, 0, 113, 100),
    Ipv4Addr::new(203, 0, 113, 200),
];
/// The UDP echo server in `net` (see [`Lab::start_echo_server`]).
pub const ECHO_SERVER: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 10), 7);
/// isp1's address on the router's `wan1` link: the next hop of line one.
pub const GATEWAY1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// isp2's address on the router's `wan2` link: the next hop of line two.
pub const GATEWAY2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The router's address on `wan1` (also the masqueraded source of traffic via line one).
pub const WAN1_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The router's address on `wan2` (also the masqueraded source of traffic via line two).
pub const WAN2_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// The router's LAN address, the LAN host's default gateway.
pub const LAN_GATEWAY: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
/// The (first) LAN host's address.
pub const LAN_HOST: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
/// The second LAN host's address.
pub const LAN_HOST2: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 3);

/// Anything that can go wrong while building or driving the lab.
#[derive(Debug, Error)]
pub enum LabError {
    /// A namespace could not be created, entered or a command in it failed.
    #[error(transparent)]
    Netns(#[from] NetnsError),
    /// A command fed on stdin (`ip -batch`, `nft -f`) failed.
    #[error("lab: netns {ns}: `{cmd}` failed: {detail}")]
    Command {
        ns: String,
        cmd: String,
        detail: String,
    },
    /// A socket or thread operation failed.
    #[error("lab: {what}: {source}")]
    Io { what: String, source: io::Error },
    /// The demo was interrupted (Ctrl-C or SIGTERM).
    #[error("lab: interrupted")]
    Interrupted,
    /// Something the demo waited for did not happen in time.
    #[error("lab: {0}")]
    Timeout(String),
    /// A fault that cannot be injected (e.g. loss above 100 %).
    #[error("lab: invalid fault: {0}")]
    InvalidFault(String),
}

impl LabError {
    fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> LabError {
        let what = what.into();
        move |source| LabError::Io { what, source }
    }
}

/// One of the router's two internet lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Line {
    /// `wan1`, via isp1.
    One,
    /// `wan2`, via isp2.
    Two,
}

impl Line {
    /// Both lines, in order.
    pub const ALL: [Line; 2] = [Line::One, Line::Two];

    /// The router's device for this line (`wan1` / `wan2`).
    pub fn device(self) -> &'static str {
        match self {
            Line::One => "wan1",
            Line::Two => "wan2",
        }
    }

    /// The ISP's address on this line: the router's next hop.
    pub fn gateway(self) -> Ipv4Addr {
        match self {
            Line::One => GATEWAY1,
            Line::Two => GATEWAY2,
        }
    }

    /// The router's own address on this line.
    pub fn addr(self) -> Ipv4Addr {
        match self {
            Line::One => WAN1_ADDR,
            Line::Two => WAN2_ADDR,
        }
    }

    /// The line whose customer /24 holds `addr` (the router's address on it, which the
    /// echo server sees after masquerade, even after a change of address).
    pub fn from_addr(addr: Ipv4Addr) -> Option<Line> {
        let net = |a: Ipv4Addr| u32::from(a) >> 8;
        Line::ALL
            .into_iter()
            .find(|line| net(line.addr()) == net(addr))
    }

    /// The metric of this line's default route in the classic static setup.
    pub fn static_metric(self) -> u32 {
        match self {
            Line::One => 100,
            Line::Two => 200,
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.device())
    }
}

/// The two kinds of measured traffic (see [`Lab::start_traffic`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// One socket, fixed source port, a packet every 10 ms (game, VoIP, WireGuard).
    LongLived,
    /// A new socket (new source port) every 100 ms, one packet each.
    Fresh,
}

impl Flow {
    /// Both flows, in order.
    pub const ALL: [Flow; 2] = [Flow::LongLived, Flow::Fresh];
}

impl fmt::Display for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flow::LongLived => "long-lived",
            Flow::Fresh => "fresh",
        })
    }
}
