//! Deletes selected connection-tracking entries over nfnetlink (ctnetlink), so that the
//! flows of a line that went down move at once — only those entries, never a global flush.
//!
//! The few messages needed are encoded by hand on a `netlink_sys` socket: the crate that
//! models ctnetlink (netlink-packet-netfilter) has had it for a few months only, pulls in
//! several dependencies and skips its tests on big-endian targets (big-endian MIPS routers
//! matter here); and a delete only has to echo back the original-tuple and id attributes
//! the dump gave us, so no per-protocol field is re-encoded.
//! Attribute numbers: include/uapi/linux/netfilter/nfnetlink_conntrack.h.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netlink_sys::{protocols::NETLINK_NETFILTER, Socket};
use thiserror::Error;

const NFNL_SUBSYS_CTNETLINK: u16 = 1;
const IPCTNL_MSG_CT_GET: u16 = 1;
const IPCTNL_MSG_CT_DELETE: u16 = 2;
const CTA_TUPLE_ORIG: u16 = 1;
const CTA_TUPLE_REPLY: u16 = 2;
const CTA_MARK: u16 = 8;
const CTA_ID: u16 = 12;
const CTA_TUPLE_IP: u16 = 1;
const CTA_IP_V4_DST: u16 = 2;
const CTA_IP_V6_DST: u16 = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_HDRLEN: usize = 16;
const NFGENMSG_LEN: usize = 4;

/// Which entries to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConntrackFilter {
    /// Entries whose reply direction is addressed to `addr`: connections masqueraded
    /// (source-NATed) to it, or opened by the router from it.
    NatAddress(IpAddr),
    /// Entries whose conntrack mark & `mask` == `value`.
    Mark { value: u32, mask: u32 },
}

impl std::fmt::Display for ConntrackFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConntrackFilter::NatAddress(a) => write!(f, "entries masqueraded to {a}"),
            ConntrackFilter::Mark { value, mask } => {
                write!(f, "entries marked {value:#x}/{mask:#x}")
            }
        }
    }
}

/// A failed conntrack operation.
#[derive(Debug, Error)]
#[error("conntrack: delete {filter}: {source}")]
pub struct ConntrackError {
    filter: ConntrackFilter,
    source: io::Error,
}

/// A failed count of the conntrack table.
#[derive(Debug, Error)]
#[error("conntrack: count entries: {0}")]
pub struct CountError(#[from] io::Error);

/// How long a count waits for the kernel's next answer before giving up.
const COUNT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Counts the entries of the current network namespace by `mark & mask`, reading at most
/// `limit` entries (a router's table is bounded by nf_conntrack_max; this bounds the work
/// whatever it is). Blocking: run it beside the event loop (`spawn_blocking`).
pub fn count_by_mark(mask: u32, limit: usize) -> Result<HashMap<u32, u64>, CountError> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    // A dump that stalls (it should not) ends the count with an error instead of holding
    // its thread forever.
    socket2::SockRef::from(&socket).set_read_timeout(Some(COUNT_WAIT))?;
    let mut counts = HashMap::new();
    dump_entries(&socket, limit, |payload| {
        *counts.entry(mark_of(payload) & mask).or_insert(0) += 1;
    })?;
    Ok(counts)
}

/// The conntrack mark of a dumped entry; 0 when it has none.
fn mark_of(payload: &[u8]) -> u32 {
    let attrs = payload.get(NFGENMSG_LEN..).unwrap_or_default();
    let mark = find(attrs, CTA_MARK).and_then(|(_, v)| v.get(0..4));
    mark.map_or(0, |m| u32::from_be_bytes(m.try_into().unwrap()))
}

/// Deletes the matching entries of the current network namespace; returns how many.
pub async fn delete_matching(filter: ConntrackFilter) -> Result<usize, ConntrackError> {
    let work = tokio::task::spawn_blocking(move || delete_blocking(filter));
    let result = work
        .await
        .unwrap_or_else(|e| Err(io::Error::other(e.to_string())));
    result.map_err(|source| ConntrackError { filter, source })
}

fn delete_blocking(filter: ConntrackFilter) -> io::Result<usize> {
    let mut socket = Socket::new(NETLINK_NETFILTER)?;
    socket.bind_auto()?;
    let originals = dump_matching(&socket, filter)?;
    let mut deleted = 0;
    for (seq, (family, original)) in originals.iter().enumerate() {
        if delete_one(&socket, *family, original, seq as u32 + 2)? {
            deleted += 1;
        }
    }
    Ok(deleted)
}

/// The family and raw CTA_TUPLE_ORIG (and CTA_ID) attributes of the entries that match.
/// The dump asks for every family (AF_UNSPEC): an IPv6 line's entries are IPv6.
fn dump_matching(socket: &Socket, filter: ConntrackFilter) -> io::Result<Vec<(u8, Vec<u8>)>> {
    let mut found = Vec::new();
    dump_entries(socket, usize::MAX, |payload| {
        found.extend(matching_original(payload, filter));
    })?;
    Ok(found)
}

/// Dumps the namespace's table (every family) and hands each entry's payload to `each`,
/// until the dump ends or `limit` entries have been handed over.
fn dump_entries(socket: &Socket, limit: usize, mut each: impl FnMut(&[u8])) -> io::Result<()> {
    let dump = request(IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 1, 0, &[]);
    socket.send(&dump, 0)?;
    let mut seen = 0;
    while seen < limit {
        let (datagram, _) = socket.recv_from_full()?;
        for (kind, payload) in messages(&datagram) {
            match kind {
                NLMSG_DONE => return Ok(()),
                NLMSG_ERROR => check_ack(payload)?,
                _ => {
                    seen += 1;
                    each(payload);
                }
            }
        }
    }
    Ok(())
}

/// Deletes one entry by its original tuple and id (so that a new entry with the same tuple,
/// created since the dump, is left alone); `false` if it was already gone.
/// The kernel parses the tuple by the request's family, so it is the entry's own.
fn delete_one(socket: &Socket, family: u8, original: &[u8], seq: u32) -> io::Result<bool> {
    let flags = NLM_F_REQUEST | NLM_F_ACK;
    socket.send(
        &request(IPCTNL_MSG_CT_DELETE, flags, seq, family, original),
        0,
    )?;
    let (datagram, _) = socket.recv_from_full()?;
    for (kind, payload) in messages(&datagram) {
        if kind == NLMSG_ERROR {
            return match check_ack(payload) {
                Ok(()) => Ok(true),
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
                Err(e) => Err(e),
            };
        }
    }
    Ok(true)
}

/// nlmsghdr + nfgenmsg (`family`, version 0, res_id 0) + `attributes`.
fn request(msg: u16, flags: u16, seq: u32, family: u8, attributes: &[u8]) -> Vec<u8> {
    let len = NLMSG_HDRLEN + NFGENMSG_LEN + attributes.len();
    let mut buf = Vec::with_capacity(len);
    buf.extend_from_slice(&(len as u32).to_ne_bytes());
    buf.extend_from_slice(&((NFNL_SUBSYS_CTNETLINK << 8) | msg).to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes());
    buf.extend_from_slice(&[family, 0, 0, 0]);
    buf.extend_from_slice(attributes);
    buf
}

/// The (type, payload) of each netlink message in a datagram.
fn messages(datagram: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut rest = datagram;
    while rest.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            break;
        }
        let kind = u16::from_ne_bytes(rest[4..6].try_into().unwrap());
        out.push((kind, &rest[NLMSG_HDRLEN..len]));
        rest = &rest[align(len).min(rest.len())..];
    }
    out
}

/// An NLMSG_ERROR payload: error 0 is an ACK.
fn check_ack(payload: &[u8]) -> io::Result<()> {
    let code = payload
        .get(0..4)
        .map_or(0, |b| i32::from_ne_bytes(b.try_into().unwrap()));
    match code {
        0 => Ok(()),
        negative => Err(io::Error::from_raw_os_error(-negative)),
    }
}

/// The family (from nfgenmsg) and raw CTA_TUPLE_ORIG and CTA_ID attributes of a dumped
/// entry, if it matches `filter`.
fn matching_original(payload: &[u8], filter: ConntrackFilter) -> Option<(u8, Vec<u8>)> {
    let family = *payload.first()?;
    let attrs = payload.get(NFGENMSG_LEN..)?;
    let matches = match filter {
        ConntrackFilter::NatAddress(addr) => reply_destination(attrs) == Some(addr),
        ConntrackFilter::Mark { value, mask } => {
            let mark = find(attrs, CTA_MARK).and_then(|(_, v)| v.get(0..4));
            mark.is_some_and(|m| u32::from_be_bytes(m.try_into().unwrap()) & mask == value)
        }
    };
    if !matches {
        return None;
    }
    let mut out = find(attrs, CTA_TUPLE_ORIG)?.0.to_vec();
    out.resize(align(out.len()), 0);
    if let Some((id, _)) = find(attrs, CTA_ID) {
        out.extend_from_slice(id);
    }
    Some((family, out))
}

fn reply_destination(attrs: &[u8]) -> Option<IpAddr> {
    let (_, reply) = find(attrs, CTA_TUPLE_REPLY)?;
    let (_, ip) = find(reply, CTA_TUPLE_IP)?;
    if let Some((_, dst)) = find(ip, CTA_IP_V4_DST) {
        return Some(Ipv4Addr::from(<[u8; 4]>::try_from(dst.get(0..4)?).ok()?).into());
    }
    let (_, dst) = find(ip, CTA_IP_V6_DST)?;
    Some(Ipv6Addr::from(<[u8; 16]>::try_from(dst.get(0..16)?).ok()?).into())
}

/// The first attribute of type `kind`: (its raw bytes with header, its value).
fn find(attrs: &[u8], kind: u16) -> Option<(&[u8], &[u8])> {
    let mut rest = attrs;
    while rest.len() >= 4 {
        let len = u16::from_ne_bytes(rest[0..2].try_into().unwrap()) as usize;
        let this = u16::from_ne_bytes(rest[2..4].try_into().unwrap()) & NLA_TYPE_MASK;
        if len < 4 || len > rest.len() {
            return None;
        }
        if this == kind {
            return Some((&rest[..len], &rest[4..len]));
        }
        rest = &rest[align(len).min(rest.len())..];
    }
    None
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = ((4 + value.len()) as u16).to_ne_bytes().to_vec();
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align(out.len()), 0);
        out
    }

    fn entry(reply_dst: [u8; 4], mark: u32) -> Vec<u8> {
        let tuple = |dst: [u8; 4]| nla(CTA_TUPLE_IP | 0x8000, &nla(CTA_IP_V4_DST, &dst));
        let mut payload = vec![2, 0, 0, 0];
        payload.extend(nla(CTA_TUPLE_ORIG | 0x8000, &tuple([203, 0, 113, 10])));
        payload.extend(nla(CTA_TUPLE_REPLY | 0x8000, &tuple(reply_dst)));
        payload.extend(nla(CTA_MARK, &mark.to_be_bytes()));
        payload
    }

    #[test]
    fn entries_match_by_reply_destination_or_mark() {
        let e = entry([192, 0, 2, 2], 0x0001_0042);
        let wan1 = ConntrackFilter::NatAddress(Ipv4Addr::new(192, 0, 2, 2).into());
        let (family, original) = matching_original(&e, wan1).expect("masqueraded to 192.0.2.2");
        assert_eq!(family, libc::AF_INET as u8);
        assert_eq!(
            u16::from_ne_bytes([original[2], original[3]]) & NLA_TYPE_MASK,
            CTA_TUPLE_ORIG
        );
        assert!(matching_original(
            &e,
            ConntrackFilter::NatAddress(Ipv4Addr::new(198, 51, 100, 2).into())
        )
        .is_none());
        let mark = |value| ConntrackFilter::Mark {
            value,
            mask: 0x00ff_0000,
        };
        assert!(matching_original(&e, mark(0x0001_0000)).is_some());
        assert!(matching_original(&e, mark(0x0002_0000)).is_none());
        assert_eq!(mark_of(&e), 0x0001_0042);
        assert_eq!(mark_of(&e[..e.len() - 8]), 0, "no mark attribute");
    }

    #[test]
    fn ipv6_entries_match_by_reply_destination() {
        let tuple = |dst: Ipv6Addr| nla(CTA_TUPLE_IP | 0x8000, &nla(CTA_IP_V6_DST, &dst.octets()));
        let mut e = vec![libc::AF_INET6 as u8, 0, 0, 0];
        let ours: Ipv6Addr = "2001:db8:1::2".parse().unwrap();
        e.extend(nla(
            CTA_TUPLE_ORIG | 0x8000,
            &tuple("2001:db8:ff::10".parse().unwrap()),
        ));
        e.extend(nla(CTA_TUPLE_REPLY | 0x8000, &tuple(ours)));
        let (family, _) = matching_original(&e, ConntrackFilter::NatAddress(ours.into())).unwrap();
        assert_eq!(family, libc::AF_INET6 as u8);
        let other: Ipv6Addr = "2001:db8:2::2".parse().unwrap();
        assert!(matching_original(&e, ConntrackFilter::NatAddress(other.into())).is_none());
    }

    #[test]
    fn requests_carry_the_ctnetlink_type_and_family() {
        let req = request(
            IPCTNL_MSG_CT_DELETE,
            NLM_F_REQUEST | NLM_F_ACK,
            7,
            libc::AF_INET6 as u8,
            &[1, 2, 3, 4],
        );
        assert_eq!(req.len(), 24);
        assert_eq!(u32::from_ne_bytes(req[0..4].try_into().unwrap()), 24);
        assert_eq!(u16::from_ne_bytes(req[4..6].try_into().unwrap()), 0x0102);
        assert_eq!(req[16], libc::AF_INET6 as u8);
    }
}
