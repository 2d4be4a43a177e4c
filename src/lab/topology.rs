//! Building and tearing down the lab's namespaces, links, addresses and routes.

use std::fmt;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::cmd::{ip_batch, nft, replace_table, sysctl};
use super::{LabError, Line, ECHO_SERVER, LAN_GATEWAY, LAN_HOST, LAN_HOST2, PROBE_TARGETS};
use crate::netns::{unique_prefix, Netns};

/// How to build a [`Lab`].
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// Goes into the namespace names (after a per-process unique part); keep it short.
    pub label: String,
    /// Strict reverse-path filtering on the router (`rp_filter=1` on all, default, wan1,
    /// wan2) instead of none (0).
    pub rp_filter: bool,
    /// Install the classic setup at once: see [`Lab::install_static_fallback`].
    pub static_routes: bool,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            label: "lab".to_string(),
            rp_filter: false,
            static_routes: false,
        }
    }
}

/// The lab's namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The LAN host (`eth0` 198.18.1.2/24).
    Lan,
    /// The router under test (`lan0`, `wan1`, `wan2`).
    Router,
    /// The ISP of line one.
    Isp1,
    /// The ISP of line two.
    Isp2,
    /// "The internet": probe targets and the echo server.
    Net,
    /// A second LAN host (`eth0` 198.18.1.3/24), e.g. a device pinned by a policy.
    Lan2,
}

impl Role {
    /// Every role, in the order [`Lab::names`] lists them.
    pub const ALL: [Role; 6] = [
        Role::Lan,
        Role::Router,
        Role::Isp1,
        Role::Isp2,
        Role::Net,
        Role::Lan2,
    ];

    /// The suffix of the namespace name (`{prefix}-{suffix}`).
    pub fn suffix(self) -> &'static str {
        match self {
            Role::Lan => "lan",
            Role::Router => "router",
            Role::Isp1 => "isp1",
            Role::Isp2 => "isp2",
            Role::Net => "net",
            Role::Lan2 => "lan2",
        }
    }

    /// The ISP behind `line`.
    pub fn isp(line: Line) -> Role {
        match line {
            Line::One => Role::Isp1,
            Line::Two => Role::Isp2,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.suffix())
    }
}

/// A host on the router's LAN bridge `lan0`. A second host is one more entry in
/// [`LAN_HOSTS`] (and a [`Role`] for its namespace): the bridge already exists for it.
pub(super) struct LanHost {
    pub(super) role: Role,
    /// The router-side veth end, enslaved to `lan0`.
    port: &'static str,
    pub(super) addr: Ipv4Addr,
}

pub(super) const LAN_HOSTS: [LanHost; 2] = [
    LanHost {
        role: Role::Lan,
        port: "lanp1",
        addr: LAN_HOST,
    },
    LanHost {
        role: Role::Lan2,
        port: "lanp2",
        addr: LAN_HOST2,
    },
];

/// The nft table (family ip) holding the classic setup's masquerade.
const NAT_TABLE: &str = "labnat";

/// The running lab. Dropping it deletes every namespace (which removes the veths) after
/// killing the processes in them, also when a test panics; echo servers and traffic
/// generators started from it stop on their own soon after.
#[derive(Debug)]
pub struct Lab {
    prefix: String,
    /// Indexed by `Role as usize`: [`Role::ALL`] lists the roles in declaration order.
    namespaces: Vec<Netns>,
    /// Raised on drop so threads with sockets in the namespaces let go of them.
    shutdown: Arc<AtomicBool>,
    /// Whether the static default routes are installed, so clearing an `IfDown` puts back
    /// the route the kernel removed with the link (as the classic hotplug script does).
    static_routes: AtomicBool,
}

impl Lab {
    /// Creates the namespaces and wires them up; see the module docs for the picture.
    pub fn build(opts: LabOptions) -> Result<Lab, LabError> {
        let prefix = unique_prefix(&opts.label);
        // Collecting into a Result drops (deletes) the namespaces made before a failure.
        let namespaces = Role::ALL
            .iter()
            .map(|role| Netns::create(&format!("{prefix}-{}", role.suffix())))
            .collect::<Result<Vec<_>, _>>()?;
        let lab = Lab {
            prefix,
            namespaces,
            shutdown: Arc::new(AtomicBool::new(false)),
            static_routes: AtomicBool::new(false),
        };
        // From here on an error drops `lab`, which tears everything down.
        lab.skip_duplicate_address_detection()?;
        lab.setup_router(opts.rp_filter)?;
        for line in Line::ALL {
            lab.setup_isp(line)?;
        }
        lab.setup_net()?;
        for host in &LAN_HOSTS {
            lab.setup_lan_host(host)?;
        }
        lab.setup_ipv6()?;
        if opts.static_routes {
            lab.install_static_fallback()?;
        }
        Ok(lab)
    }

    /// The namespace playing `role`.
    pub fn ns(&self, role: Role) -> &Netns {
        &self.namespaces[role as usize]
    }

    /// The namespace names in [`Role::ALL`] order, e.g. for `ip netns exec` hints.
    pub fn names(&self) -> Vec<String> {
        self.namespaces
            .iter()
            .map(|ns| ns.name().to_string())
            .collect()
    }

    /// Leaves the namespaces (and whatever runs in them) in place for exploring; returns
    /// their names. Threads of this process that serve the lab (echo, traffic) still stop.
    pub fn keep(mut self) -> Vec<String> {
        std::mem::take(&mut self.namespaces)
            .into_iter()
            .map(Netns::keep)
            .collect()
    }

    /// The common prefix of the namespace names.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Adds the classic setup on the router: both static default routes
    /// ([`Lab::install_static_routes`]) and the masquerade ([`Lab::install_masquerade`]).
    pub fn install_static_fallback(&self) -> Result<(), LabError> {
        self.install_static_routes()?;
        self.install_masquerade()
    }

    /// Adds `default via 192.0.2.1 dev wan1 metric 100` and `default via 198.51.100.1 dev
    /// wan2 metric 200` to the router's main table, as a netifd/hotplug setup would; this is
    /// also the safety net the daemon falls back to. Idempotent. Fails for a line whose link
    /// is administratively down (the kernel refuses a gateway it cannot reach).
    pub fn install_static_routes(&self) -> Result<(), LabError> {
        for line in Line::ALL {
            self.add_static_route(line)?;
        }
        self.static_routes.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Masquerades everything leaving `wan1`/`wan2` (nft table `ip labnat`). Kept apart from
    /// the routes because a daemon under test may bring its own masquerade. Idempotent.
    pub fn install_masquerade(&self) -> Result<(), LabError> {
        let script = format!(
            "table ip {NAT_TABLE} {{\n\
             \tchain postrouting {{\n\
             \t\ttype nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname {{ \"wan1\", \"wan2\" }} masquerade\n\
             \t}}\n}}\n"
        );
        nft(
            self.ns(Role::Router),
            &replace_table("ip", NAT_TABLE, &script),
        )
    }

    /// Puts back `line`'s static default route if the static routes are installed.
    pub(super) fn restore_static_route(&self, line: Line) -> Result<(), LabError> {
        if self.static_routes.load(Ordering::SeqCst) {
            self.add_static_route(line)?;
        }
        Ok(())
    }

    fn add_static_route(&self, line: Line) -> Result<(), LabError> {
        let (gateway, metric) = (line.gateway().to_string(), line.static_metric().to_string());
        let args = ["route", "replace", "default", "via", &gateway];
        let args = [&args[..], &["dev", line.device(), "metric", &metric]].concat();
        self.ns(Role::Router).ip(&args)?;
        Ok(())
    }

    /// The flag raised when the lab goes away, for threads holding sockets in it.
    pub(super) fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.shutdown)
    }

    fn setup_router(&self, rp_filter: bool) -> Result<(), LabError> {
        let mut cmds = vec![
            "link add lan0 type bridge".to_string(),
            "link set lan0 up".to_string(),
            format!("addr add {LAN_GATEWAY}/24 dev lan0"),
        ];
        for host in &LAN_HOSTS {
            let (port, peer_ns) = (host.port, self.ns(host.role).name());
            cmds.push(format!(
                "link add {port} type veth peer name eth0 netns {peer_ns}"
            ));
            cmds.push(format!("link set {port} master lan0 up"));
        }
        for line in Line::ALL {
            let (dev, isp_ns) = (line.device(), self.ns(Role::isp(line)).name());
            // Made inside the router with the peer placed straight into the ISP, so no
            // veth end ever appears in the machine's own namespace.
            cmds.push(format!(
                "link add {dev} type veth peer name cust netns {isp_ns}"
            ));
            cmds.push(format!("addr add {}/24 dev {dev}", line.addr()));
            cmds.push(format!("link set {dev} up"));
        }
        ip_batch(self.ns(Role::Router), &cmds)?;
        sysctl(self.ns(Role::Router), &router_sysctls(rp_filter))
    }

    fn setup_isp(&self, line: Line) -> Result<(), LabError> {
        let (isp_side, net_side) = transit(line);
        let net_ns = self.ns(Role::Net).name();
        let cmds = [
            format!("addr add {}/24 dev cust", line.gateway()),
            "link set cust up".to_string(),
            format!(
                "link add name up type veth peer name {} netns {net_ns}",
                net_device(line)
            ),
            format!("addr add {isp_side}/30 dev up"),
            "link set dev up up".to_string(),
            format!("route add default via {net_side}"),
        ];
        let isp = self.ns(Role::isp(line));
        ip_batch(isp, &cmds)?;
        let mut settings = forwarding_without_rp_filter(true);
        // BCP 38, as real ISPs do: a packet from the customer with a source outside the
        // customer's prefix is dropped. Replies that leave through the wrong line die here.
        settings.push("net.ipv4.conf.cust.rp_filter=1".to_string());
        sysctl(isp, &settings)
    }

    fn setup_net(&self) -> Result<(), LabError> {
        let hosts = PROBE_TARGETS.iter().chain([ECHO_SERVER.ip()]);
        let mut cmds: Vec<String> = hosts.map(|ip| format!("addr add {ip}/32 dev lo")).collect();
        for line in Line::ALL {
            let (isp_side, net_side) = transit(line);
            let dev = net_device(line);
            cmds.push(format!("addr add {net_side}/30 dev {dev}"));
            cmds.push(format!("link set {dev} up"));
            // Only the ISP's customer prefix: anything not masqueraded finds no way back.
            cmds.push(format!(
                "route add {} via {isp_side}",
                customer_prefix(line)
            ));
        }
        let net = self.ns(Role::Net);
        ip_batch(net, &cmds)?;
        sysctl(net, &forwarding_without_rp_filter(false))
    }

    fn setup_lan_host(&self, host: &LanHost) -> Result<(), LabError> {
        let cmds = [
            format!("addr add {}/24 dev eth0", host.addr),
            "link set eth0 up".to_string(),
            format!("route add default via {LAN_GATEWAY}"),
        ];
        let ns = self.ns(host.role);
        ip_batch(ns, &cmds)?;
        sysctl(ns, &forwarding_without_rp_filter(false))
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // The namespaces themselves are deleted by the `Netns` values dropped after this.
        self.shutdown.store(true, Ordering::SeqCst);
    }
}

/// The /30 between an ISP and `net`: (ISP side, net side).
fn transit(line: Line) -> (Ipv4Addr, Ipv4Addr) {
    let n = match line {
        Line::One => 1,
        Line::Two => 2,
    };
    (Ipv4Addr::new(198, 19, n, 1), Ipv4Addr::new(198, 19, n, 2))
}

/// `net`'s end of the link to the ISP of `line`.
pub(super) fn net_device(line: Line) -> &'static str {
    match line {
        Line::One => "isp1",
        Line::Two => "isp2",
    }
}

/// The only prefix an ISP routes back to its customer.
fn customer_prefix(line: Line) -> &'static str {
    match line {
        Line::One => "192.0.2.0/24",
        Line::Two => "198.51.100.0/24",
    }
}

/// Forwarding, and reverse-path filtering strict (1) or off (0) on every WAN device as well
/// as `all` (the kernel uses the larger of `all` and the device's value) and `default`.
fn router_sysctls(rp_filter: bool) -> Vec<String> {
    let rp = u8::from(rp_filter);
    let mut sysctls = vec!["net.ipv4.ip_forward=1".to_string()];
    for conf in ["all", "default", "wan1", "wan2"] {
        sysctls.push(format!("net.ipv4.conf.{conf}.rp_filter={rp}"));
    }
    sysctls
}

/// Sysctls for the namespaces other than the router: reverse-path filtering is pinned off,
/// because a new namespace may inherit the machine's setting and the lab must not depend on it.
fn forwarding_without_rp_filter(forward: bool) -> Vec<String> {
    vec![
        format!("net.ipv4.ip_forward={}", u8::from(forward)),
        "net.ipv4.conf.all.rp_filter=0".to_string(),
        "net.ipv4.conf.default.rp_filter=0".to_string(),
    ]
}
