//! rtnetlink driver: our routes and rules, link facts, and the change monitor.

use std::collections::HashMap;
use std::net::IpAddr;

use futures::channel::mpsc::UnboundedReceiver;
use futures::{Stream, StreamExt, TryStreamExt};
use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::RouteMessage;
use netlink_packet_route::rule::RuleMessage;
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::{Handle, MulticastGroup};
use thiserror::Error;

use super::convert::{parse_route, parse_rule, route_message, rule_message, system_default};
use crate::core::{LinkFacts, Route, Rule};
use crate::reconcile::{Change, Routing};

/// A failed netlink operation, naming what was attempted.
#[derive(Debug, Error)]
#[error("netlink: {op}: {detail}")]
pub struct NetlinkError {
    pub op: String,
    pub detail: String,
    /// The kernel's error number, when the kernel said no (`ENETUNREACH` for a gateway
    /// that is not on-link): judged by number, never by message text.
    pub errno: Option<i32>,
}

impl NetlinkError {
    fn new(op: impl Into<String>, detail: impl ToString) -> Self {
        NetlinkError {
            op: op.into(),
            detail: detail.to_string(),
            errno: None,
        }
    }

    /// The kernel's answer to a request.
    fn refused(op: impl Into<String>, error: std::io::Error) -> Self {
        NetlinkError {
            errno: error.raw_os_error(),
            ..NetlinkError::new(op, error)
        }
    }
}

/// Both address families: routes and rules are dumped and watched for each.
const FAMILIES: [AddressFamily; 2] = [AddressFamily::Inet, AddressFamily::Inet6];

/// Talks rtnetlink to the kernel of the current network namespace.
pub struct Netlink {
    handle: Handle,
}

impl Netlink {
    /// Opens a netlink connection; its I/O runs as a task on the current tokio runtime.
    pub fn connect() -> Result<Self, NetlinkError> {
        let (conn, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetlinkError::new("connect", e))?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    /// Every device's facts by name: flags, usable addresses of both families and, with
    /// `gateways`, the gateways of the system's default routes (a full route dump, so only
    /// when a line has `gateway = "auto"`: a router with large tables pays for it).
    pub async fn links(
        &mut self,
        gateways: bool,
    ) -> Result<HashMap<String, LinkFacts>, NetlinkError> {
        let mut by_index: HashMap<u32, (String, LinkFacts)> = HashMap::new();
        let mut links = self.handle.link().get().execute();
        while let Some(msg) = links
            .try_next()
            .await
            .map_err(|e| NetlinkError::new("dump links", e))?
        {
            if let Some(name) = link_name(&msg) {
                by_index.insert(msg.header.index, (name, link_facts(&msg)));
            }
        }
        let mut addrs = self.handle.address().get().execute();
        while let Some(msg) = addrs
            .try_next()
            .await
            .map_err(|e| NetlinkError::new("dump addresses", e))?
        {
            if let (Some(addr), Some((_, facts))) =
                (usable_addr(&msg), by_index.get_mut(&msg.header.index))
            {
                facts.addrs.push(addr);
                facts.networks.push((addr, msg.header.prefix_len));
            }
        }
        let system_gateways = if gateways {
            self.system_gateways().await?
        } else {
            Vec::new()
        };
        for (ifindex, gateway) in system_gateways {
            if let Some((_, facts)) = by_index.get_mut(&ifindex) {
                facts.system_gateways.push(gateway);
            }
        }
        Ok(by_index.into_values().collect())
    }

    /// Per device and family, the gateway of the system's default route with the lowest
    /// metric.
    async fn system_gateways(&mut self) -> Result<Vec<(u32, IpAddr)>, NetlinkError> {
        let mut defaults = Vec::new();
        for family in FAMILIES {
            let mut req = RouteMessage::default();
            req.header.address_family = family;
            let found = self
                .dump(
                    RouteNetlinkMessage::GetRoute(req),
                    "dump routes",
                    |m| match m {
                        RouteNetlinkMessage::NewRoute(r) => system_default(&r),
                        _ => None,
                    },
                )
                .await?;
            defaults.extend(found);
        }
        // Lowest metric first; then one per device and family.
        defaults.sort_by_key(|d| d.metric);
        let mut chosen: Vec<(u32, IpAddr)> = Vec::new();
        for d in defaults {
            let taken = chosen
                .iter()
                .any(|(i, g)| *i == d.ifindex && g.is_ipv4() == d.gateway.is_ipv4());
            if !taken {
                chosen.push((d.ifindex, d.gateway));
            }
        }
        Ok(chosen)
    }

    async fn dump<T>(
        &mut self,
        request: RouteNetlinkMessage,
        op: &str,
        pick: impl Fn(RouteNetlinkMessage) -> Option<T>,
    ) -> Result<Vec<T>, NetlinkError> {
        let mut req = NetlinkMessage::from(request);
        req.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let mut stream = self
            .handle
            .request(req)
            .map_err(|e| NetlinkError::new(op, e))?;
        let mut out = Vec::new();
        while let Some(msg) = stream.next().await {
            match msg.payload {
                NetlinkPayload::InnerMessage(inner) => out.extend(pick(inner)),
                NetlinkPayload::Error(e) if e.code.is_some() => {
                    return Err(NetlinkError::refused(op, e.to_io()))
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// [`Netlink::dump`] for each of [`FAMILIES`], results together.
    async fn dump_families<T>(
        &mut self,
        request: impl Fn(AddressFamily) -> RouteNetlinkMessage,
        op: &str,
        pick: impl Fn(RouteNetlinkMessage) -> Option<T>,
    ) -> Result<Vec<T>, NetlinkError> {
        let mut out = Vec::new();
        for family in FAMILIES {
            out.extend(self.dump(request(family), op, &pick).await?);
        }
        Ok(out)
    }

    async fn request_ack(
        &mut self,
        request: RouteNetlinkMessage,
        flags: u16,
        op: String,
    ) -> Result<(), NetlinkError> {
        let mut req = NetlinkMessage::from(request);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut stream = self
            .handle
            .request(req)
            .map_err(|e| NetlinkError::new(&op, e))?;
        while let Some(msg) = stream.next().await {
            if let NetlinkPayload::Error(e) = msg.payload {
                if e.code.is_some() {
                    return Err(NetlinkError::refused(op, e.to_io()));
                }
            }
        }
        Ok(())
    }
}

/// A route dump request for `family`.
fn route_request(family: AddressFamily) -> RouteNetlinkMessage {
    let mut req = RouteMessage::default();
    req.header.address_family = family;
    RouteNetlinkMessage::GetRoute(req)
}

fn link_name(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.clone()),
        _ => None,
    })
}

fn link_facts(msg: &LinkMessage) -> LinkFacts {
    LinkFacts {
        ifindex: msg.header.index,
        admin_up: msg.header.flags.contains(LinkFlags::Up),
        carrier: msg.header.flags.contains(LinkFlags::LowerUp),
        point_to_point: msg.header.flags.contains(LinkFlags::Pointopoint),
        addrs: Vec::new(),
        ..LinkFacts::default()
    }
}

/// The device's own address in an address message, if it can be used now. IFA_LOCAL is
/// the device's own address; IFA_ADDRESS is the peer's on a point-to-point link
/// (rtnetlink(7)), so the former wins. An IPv6 address still in duplicate address
/// detection (tentative) or that failed it cannot be bound to yet.
fn usable_addr(msg: &AddressMessage) -> Option<IpAddr> {
    let unusable = AddressFlags::Tentative | AddressFlags::Dadfailed;
    let flags = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Flags(f) => Some(*f),
        _ => None,
    });
    let header_flags = AddressFlags::from_bits_retain(u32::from(msg.header.flags.bits()));
    if flags.unwrap_or(header_flags).intersects(unusable) {
        return None;
    }
    let local = msg.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        msg.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

impl Routing for Netlink {
    type Error = NetlinkError;

    async fn owned_routes(&mut self) -> Result<Vec<Route>, NetlinkError> {
        self.dump_families(route_request, "dump routes", |m| match m {
            RouteNetlinkMessage::NewRoute(r) => parse_route(&r),
            _ => None,
        })
        .await
    }

    async fn owned_rules(&mut self) -> Result<Vec<Rule>, NetlinkError> {
        let request = |family| {
            let mut req = RuleMessage::default();
            req.header.family = family;
            RouteNetlinkMessage::GetRule(req)
        };
        self.dump_families(request, "dump rules", |m| match m {
            RouteNetlinkMessage::NewRule(r) => parse_rule(&r),
            _ => None,
        })
        .await
    }

    async fn apply(&mut self, change: &Change) -> Result<(), NetlinkError> {
        let op = change.to_string();
        let (request, flags) = match change {
            Change::PutRoute(r) => (
                RouteNetlinkMessage::NewRoute(route_message(r)),
                NLM_F_CREATE | NLM_F_REPLACE,
            ),
            Change::DeleteRoute(r) => (RouteNetlinkMessage::DelRoute(route_message(r)), 0),
            Change::AddRule(r) => (RouteNetlinkMessage::NewRule(rule_message(r)), NLM_F_CREATE),
            Change::DeleteRule(r) => (RouteNetlinkMessage::DelRule(rule_message(r)), 0),
        };
        self.request_ack(request, flags, op).await
    }
}

/// What kind of object changed, as announced by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelChange {
    /// A link or an address: re-read link facts.
    Link,
    /// A route or rule in one of our tables or our priority range: reconcile.
    Owned,
}

/// Subscribes to link, address, route and rule notifications; yields only the ones that
/// concern us, so that foreign route churn (a busy BGP daemon, say) costs nothing.
pub fn monitor() -> Result<impl Stream<Item = KernelChange>, NetlinkError> {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Ifaddr,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Ipv6Rule,
    ];
    let (conn, _handle, messages) = rtnetlink::new_multicast_connection(&groups)
        .map_err(|e| NetlinkError::new("subscribe", e))?;
    tokio::spawn(conn);
    Ok(classify(messages))
}

type Notifications =
    UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, netlink_sys::SocketAddr)>;

fn classify(messages: Notifications) -> impl Stream<Item = KernelChange> {
    messages.filter_map(|(msg, _)| async move {
        let NetlinkPayload::InnerMessage(inner) = msg.payload else {
            return None;
        };
        match inner {
            RouteNetlinkMessage::NewLink(_)
            | RouteNetlinkMessage::DelLink(_)
            | RouteNetlinkMessage::NewAddress(_)
            | RouteNetlinkMessage::DelAddress(_) => Some(KernelChange::Link),
            RouteNetlinkMessage::NewRoute(r) | RouteNetlinkMessage::DelRoute(r) => {
                let owned = parse_route(&r).map(|_| KernelChange::Owned);
                // A system default route may be a `gateway = "auto"` line's next hop.
                owned.or_else(|| system_default(&r).map(|_| KernelChange::Link))
            }
            RouteNetlinkMessage::NewRule(r) | RouteNetlinkMessage::DelRule(r) => {
                parse_rule(&r).map(|_| KernelChange::Owned)
            }
            _ => None,
        }
    })
}
