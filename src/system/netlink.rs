//! rtnetlink driver: our routes and rules, link facts, and the change monitor.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use futures::channel::mpsc::UnboundedReceiver;
use futures::{Stream, StreamExt, TryStreamExt};
use netlink_packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REPLACE,
    NLM_F_REQUEST,
};
use netlink_packet_route::address::AddressAttribute;
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
}

impl NetlinkError {
    fn new(op: impl Into<String>, detail: impl ToString) -> Self {
        NetlinkError {
            op: op.into(),
            detail: detail.to_string(),
        }
    }
}

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

    /// Every device's facts by name: flags and IPv4 addresses.
    pub async fn links(&mut self) -> Result<HashMap<String, LinkFacts>, NetlinkError> {
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
            if let (Some(addr), Some((_, facts))) = (
                local_v4(&msg.attributes),
                by_index.get_mut(&msg.header.index),
            ) {
                facts.addrs.push(addr);
            }
        }
        for (ifindex, gateway) in self.system_gateways().await? {
            if let Some((_, facts)) = by_index.get_mut(&ifindex) {
                facts.gateway = Some(gateway);
            }
        }
        Ok(by_index.into_values().collect())
    }

    /// Per device, the gateway of the system's default route with the lowest metric.
    async fn system_gateways(&mut self) -> Result<HashMap<u32, Ipv4Addr>, NetlinkError> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        let mut defaults = self
            .dump(
                RouteNetlinkMessage::GetRoute(req),
                "dump routes",
                |m| match m {
                    RouteNetlinkMessage::NewRoute(r) => system_default(&r),
                    _ => None,
                },
            )
            .await?;
        // Highest metric first, so the lowest is inserted last and wins.
        defaults.sort_by_key(|d| std::cmp::Reverse(d.metric));
        Ok(defaults
            .into_iter()
            .map(|d| (d.ifindex, d.gateway))
            .collect())
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
                    return Err(NetlinkError::new(op, e.to_io()))
                }
                _ => {}
            }
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
                    return Err(NetlinkError::new(op, e.to_io()));
                }
            }
        }
        Ok(())
    }
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

/// IFA_LOCAL is the device's own address; IFA_ADDRESS is the peer's on a point-to-point
/// link (rtnetlink(7)), so prefer the former.
fn local_v4(attrs: &[AddressAttribute]) -> Option<Ipv4Addr> {
    let v4 = |a: &IpAddr| match a {
        IpAddr::V4(v4) => Some(*v4),
        IpAddr::V6(_) => None,
    };
    let local = attrs.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => v4(ip),
        _ => None,
    });
    local.or_else(|| {
        attrs.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => v4(ip),
            _ => None,
        })
    })
}

impl Routing for Netlink {
    type Error = NetlinkError;

    async fn owned_routes(&mut self) -> Result<Vec<Route>, NetlinkError> {
        let mut req = RouteMessage::default();
        req.header.address_family = AddressFamily::Inet;
        self.dump(
            RouteNetlinkMessage::GetRoute(req),
            "dump routes",
            |m| match m {
                RouteNetlinkMessage::NewRoute(r) => parse_route(&r),
                _ => None,
            },
        )
        .await
    }

    async fn owned_rules(&mut self) -> Result<Vec<Rule>, NetlinkError> {
        let mut req = RuleMessage::default();
        req.header.family = AddressFamily::Inet;
        self.dump(
            RouteNetlinkMessage::GetRule(req),
            "dump rules",
            |m| match m {
                RouteNetlinkMessage::NewRule(r) => parse_rule(&r),
                _ => None,
            },
        )
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
