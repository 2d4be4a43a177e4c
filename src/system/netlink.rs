//! rtnetlink driver: our routes and rules, link facts, and the change monitor. Messages
//! are built and read by [`super::convert`] on a plain `netlink_sys` socket ([`super::wire`]
//! says why not the rtnetlink crate).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;

use futures::Stream;
use netlink_sys::{protocols::NETLINK_ROUTE, AsyncSocket, AsyncSocketExt, TokioSocket};
use thiserror::Error;

use super::convert::{self as c, parse_route, parse_rule, system_default};
use super::wire::{self, Message, Request, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE};
use crate::core::traffic::Counters;
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

    /// The kernel's answer to a request: `code` is its negative errno.
    fn refused(op: impl Into<String>, code: i32) -> Self {
        let errno = code.checked_neg().unwrap_or(code);
        NetlinkError {
            errno: Some(errno),
            ..NetlinkError::new(op, std::io::Error::from_raw_os_error(errno))
        }
    }
}

/// Both address families: routes and rules are dumped and watched for each.
const FAMILIES: [u8; 2] = [c::AF_INET, c::AF_INET6];

/// How often a dump the kernel marks as interrupted (the dumped objects changed while it
/// ran, `NLM_F_DUMP_INTR`) is started again before the caller gets a transient error.
const DUMP_TRIES: usize = 3;

/// Talks rtnetlink to the kernel of the current network namespace.
pub struct Netlink {
    socket: TokioSocket,
    seq: u32,
}

impl Netlink {
    /// Opens a netlink socket, registered with the current tokio runtime.
    pub fn connect() -> Result<Self, NetlinkError> {
        let mut socket =
            TokioSocket::new(NETLINK_ROUTE).map_err(|e| NetlinkError::new("connect", e))?;
        socket
            .socket_mut()
            .bind_auto()
            .map_err(|e| NetlinkError::new("connect", e))?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// Every device's facts by name: flags, usable addresses of both families and, with
    /// `gateways`, the gateways of the system's default routes (a full route dump, so only
    /// when a line has `gateway = "auto"`: a router with large tables pays for it).
    pub async fn links(
        &mut self,
        gateways: bool,
    ) -> Result<HashMap<String, LinkFacts>, NetlinkError> {
        let request = c::dump_request(c::RTM_GETLINK, 0);
        let links = self.dump(&request, "dump links", c::parse_link).await?;
        let mut by_index: HashMap<u32, (String, LinkFacts)> =
            links.into_iter().map(|l| (l.1.ifindex, l)).collect();
        let request = c::dump_request(c::RTM_GETADDR, 0);
        let addrs = self.dump(&request, "dump addresses", c::parse_address);
        for (ifindex, addr, len) in addrs.await? {
            if let Some((_, facts)) = by_index.get_mut(&ifindex) {
                facts.addrs.push(addr);
                facts.networks.push((addr, len));
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

    /// Device `ifindex`'s packet counters (see [`super::stats`]).
    pub async fn counters(&mut self, ifindex: u32) -> Result<Counters, NetlinkError> {
        let op = format!("read counters of device {ifindex}");
        let mut found = None;
        let request = super::stats::request(ifindex);
        self.exchange(&request, &op, |payload| {
            found = found.or(super::stats::parse(payload, ifindex));
        })
        .await?;
        found.ok_or_else(|| NetlinkError::new(op, "no counters in the answer"))
    }

    /// Per device and family, the gateway of the system's default route with the lowest
    /// metric.
    async fn system_gateways(&mut self) -> Result<Vec<(u32, IpAddr)>, NetlinkError> {
        let mut defaults = self
            .dump_families(c::RTM_GETROUTE, "dump routes", system_default)
            .await?;
        // Lowest metric first; then one per device and family.
        crate::sort::stable_by_key(&mut defaults, |d| d.metric);
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

    /// Dumps with `request` and keeps what `pick` makes of each message's payload.
    async fn dump<T>(
        &mut self,
        request: &Request,
        op: &str,
        pick: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Vec<T>, NetlinkError> {
        for _ in 0..DUMP_TRIES {
            let mut out = Vec::new();
            let interrupted = self.exchange(request, op, |p| out.extend(pick(p))).await?;
            if !interrupted {
                return Ok(out);
            }
        }
        Err(NetlinkError {
            errno: Some(libc::EINTR),
            ..NetlinkError::new(op, format!("interrupted by changes {DUMP_TRIES} times"))
        })
    }

    /// [`Netlink::dump`] of `kind` for each of [`FAMILIES`], results together.
    async fn dump_families<T>(
        &mut self,
        kind: u16,
        op: &str,
        pick: impl Fn(&[u8]) -> Option<T>,
    ) -> Result<Vec<T>, NetlinkError> {
        let mut out = Vec::new();
        for family in FAMILIES {
            let request = c::dump_request(kind, family);
            out.extend(self.dump(&request, op, &pick).await?);
        }
        Ok(out)
    }

    /// Sends `request` and hands each answer of its sequence number to `each` until the
    /// dump's end or the kernel's acknowledgement; a negative code there is the kernel's
    /// refusal. Answers to an earlier, abandoned request carry another sequence number
    /// and are skipped. Returns whether the kernel marked the dump as interrupted.
    async fn exchange(
        &mut self,
        request: &Request,
        op: &str,
        mut each: impl FnMut(&[u8]),
    ) -> Result<bool, NetlinkError> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let sent = self.socket.send(&request.finish(seq)).await;
        sent.map_err(|e| NetlinkError::new(op, e))?;
        let mut interrupted = false;
        loop {
            let received = self.socket.recv_from_full().await;
            let (datagram, _) = received.map_err(|e| NetlinkError::new(op, e))?;
            for msg in wire::messages(&datagram).filter(|m| m.seq == seq) {
                interrupted |= msg.flags & wire::NLM_F_DUMP_INTR != 0;
                let code = match msg.kind {
                    // An error message too short for its code is no acknowledgement.
                    wire::NLMSG_ERROR => wire::error_code(msg.payload).unwrap_or(-libc::EPROTO),
                    wire::NLMSG_DONE => wire::error_code(msg.payload).unwrap_or(0),
                    // NOOP and OVERRUN carry nothing; the rest are the answers.
                    kind if kind < wire::NLMSG_MIN_TYPE => continue,
                    _ => {
                        each(msg.payload);
                        continue;
                    }
                };
                return match code {
                    code if code < 0 => Err(NetlinkError::refused(op, code)),
                    _ => Ok(interrupted),
                };
            }
        }
    }

    async fn request_ack(&mut self, request: Request, op: String) -> Result<(), NetlinkError> {
        self.exchange(&request, &op, |_| {}).await.map(|_| ())
    }
}

impl Routing for Netlink {
    type Error = NetlinkError;

    async fn owned_routes(&mut self) -> Result<Vec<Route>, NetlinkError> {
        self.dump_families(c::RTM_GETROUTE, "dump routes", parse_route)
            .await
    }

    async fn owned_rules(&mut self) -> Result<Vec<Rule>, NetlinkError> {
        self.dump_families(c::RTM_GETRULE, "dump rules", parse_rule)
            .await
    }

    async fn apply(&mut self, change: &Change) -> Result<(), NetlinkError> {
        let op = change.to_string();
        let ack = NLM_F_ACK | wire::NLM_F_REQUEST;
        let request = match change {
            Change::PutRoute(r) => {
                c::route_request(c::RTM_NEWROUTE, ack | NLM_F_CREATE | NLM_F_REPLACE, r)
            }
            Change::DeleteRoute(r) => c::route_request(c::RTM_DELROUTE, ack, r),
            Change::AddRule(r) => c::rule_request(c::RTM_NEWRULE, ack | NLM_F_CREATE, r),
            Change::DeleteRule(r) => c::rule_request(c::RTM_DELRULE, ack, r),
        };
        self.request_ack(request, op).await
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

/// rtnetlink multicast groups (`RTNLGRP_*`): link, IPv4 addresses, routes and rules, IPv6
/// addresses, routes and rules.
const GROUPS: [u32; 7] = [1, 5, 7, 8, 9, 11, 19];

/// Room for notification bursts (a link going down takes its addresses and routes with
/// it); the kernel caps it at `net.core.rmem_max`.
const MONITOR_BUFFER: usize = 1 << 20;

/// Subscribes to link, address, route and rule notifications; yields only the ones that
/// concern us, so that foreign route churn (a busy BGP daemon, say) costs nothing. The
/// stream ends when the socket fails, notably with ENOBUFS (the kernel dropped
/// notifications): the caller then subscribes again and re-reads everything.
pub fn monitor() -> Result<impl Stream<Item = KernelChange>, NetlinkError> {
    let fail = |e| NetlinkError::new("subscribe", e);
    let mut socket = TokioSocket::new(NETLINK_ROUTE).map_err(fail)?;
    let raw = socket.socket_mut();
    raw.bind_auto().map_err(fail)?;
    // Best effort: the default buffer works too, only overflows sooner.
    let _ = raw.set_rx_buf_sz(MONITOR_BUFFER);
    for group in GROUPS {
        raw.add_membership(group).map_err(fail)?;
    }
    let state = (socket, VecDeque::new());
    Ok(futures::stream::unfold(
        state,
        |(socket, mut pending)| async move {
            loop {
                if let Some(change) = pending.pop_front() {
                    return Some((change, (socket, pending)));
                }
                match socket.recv_from_full().await {
                    Ok((datagram, _)) => {
                        pending.extend(wire::messages(&datagram).filter_map(classify))
                    }
                    Err(e) => {
                        tracing::warn!("netlink monitor: {e}");
                        return None;
                    }
                }
            }
        },
    ))
}

/// Whether a notification concerns us, and how.
fn classify(msg: Message) -> Option<KernelChange> {
    match msg.kind {
        c::RTM_NEWLINK | c::RTM_DELLINK | c::RTM_NEWADDR | c::RTM_DELADDR => {
            Some(KernelChange::Link)
        }
        c::RTM_NEWROUTE | c::RTM_DELROUTE => {
            let owned = parse_route(msg.payload).map(|_| KernelChange::Owned);
            // A system default route may be a `gateway = "auto"` line's next hop.
            owned.or_else(|| system_default(msg.payload).map(|_| KernelChange::Link))
        }
        c::RTM_NEWRULE | c::RTM_DELRULE => parse_rule(msg.payload).map(|_| KernelChange::Owned),
        _ => None,
    }
}
