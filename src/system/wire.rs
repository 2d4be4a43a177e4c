//! Netlink framing by hand: message headers, attributes and the kernel's answers, for the
//! few rtnetlink messages uplink sends and reads (see [`super::convert`]).
//!
//! Why not rtnetlink + netlink-packet-route: those crates model every rtnetlink message and
//! link kind (cargo bloat: netlink-packet-route 336 KiB, rtnetlink 85 KiB of `.text`), while
//! uplink reads and writes only links, addresses, routes and rules. Doing that by hand took
//! the stripped router build from 2,624,408 to 1,934,832 bytes (gzip -9: 1,153,614 to
//! 908,133), 2026-12-01: on 16 MB of flash that is worth a few hundred lines of our own.
//!
//! Byte order: netlink headers, attribute headers and integer attributes are host-endian
//! (big-endian on MIPS routers), so every field goes through `{to,from}_ne_bytes`; only
//! addresses are network byte order (`Ipv4Addr::octets` is). Parsing is defensive: every
//! length is checked, and a malformed message or attribute ends the walk instead of
//! panicking.

/// Length of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// An error or, with code 0, an acknowledgement.
pub const NLMSG_ERROR: u16 = 2;
/// End of a dump.
pub const NLMSG_DONE: u16 = 3;
/// Types below this are netlink's own (NOOP, ERROR, DONE, OVERRUN).
pub const NLMSG_MIN_TYPE: u16 = 16;
pub const NLM_F_REQUEST: u16 = 1;
pub const NLM_F_ACK: u16 = 4;
/// Set on a dump's messages when the dumped objects changed while it ran.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_REPLACE: u16 = 0x100;
pub const NLM_F_CREATE: u16 = 0x400;
pub const NLM_F_DUMP: u16 = 0x300;
/// The attribute type without the `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` bits.
const NLA_TYPE_MASK: u16 = 0x3fff;

/// `len` rounded up to netlink's 4-byte alignment.
pub fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// The host-endian u16 at `at`, if the buffer holds it.
pub fn u16_at(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_ne_bytes([bytes[0], bytes[1]]))
}

/// The host-endian u32 at `at`, if the buffer holds it.
pub fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The host-endian u64 at `at`, if the buffer holds it.
pub fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Some(u64::from_ne_bytes(bytes.try_into().ok()?))
}

/// A u32 attribute's value: exactly four bytes, or nothing.
pub fn u32_attr(payload: &[u8]) -> Option<u32> {
    (payload.len() == 4).then(|| u32_at(payload, 0)).flatten()
}

/// An address attribute: four bytes are IPv4, sixteen IPv6, anything else is malformed.
pub fn ip_attr(payload: &[u8]) -> Option<std::net::IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(payload) {
        return Some(std::net::Ipv4Addr::from(v4).into());
    }
    <[u8; 16]>::try_from(payload)
        .ok()
        .map(|v6| std::net::Ipv6Addr::from(v6).into())
}

/// One netlink message of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub kind: u16,
    pub flags: u16,
    pub seq: u32,
    /// What follows the header, up to the header's length.
    pub payload: &'a [u8],
}

/// The messages of a datagram, in order; stops at the first header that is short or whose
/// length does not fit.
pub fn messages(datagram: &[u8]) -> impl Iterator<Item = Message<'_>> {
    let mut rest = datagram;
    std::iter::from_fn(move || {
        let len = u32_at(rest, 0)? as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            rest = &[];
            return None;
        }
        let msg = Message {
            kind: u16_at(rest, 4)?,
            flags: u16_at(rest, 6)?,
            seq: u32_at(rest, 8)?,
            payload: &rest[NLMSG_HDRLEN..len],
        };
        rest = rest.get(align(len)..).unwrap_or(&[]);
        Some(msg)
    })
}

/// The attributes in `buf` as (type, payload), in order; stops at the first malformed one.
pub fn attrs(buf: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        let len = usize::from(u16_at(rest, 0)?);
        if len < 4 || len > rest.len() {
            rest = &[];
            return None;
        }
        let kind = u16_at(rest, 2)? & NLA_TYPE_MASK;
        let payload = &rest[4..len];
        rest = rest.get(align(len)..).unwrap_or(&[]);
        Some((kind, payload))
    })
}

/// The payload of the first attribute of type `kind`.
pub fn find(buf: &[u8], kind: u16) -> Option<&[u8]> {
    attrs(buf).find(|(k, _)| *k == kind).map(|(_, p)| p)
}

/// The code of an `NLMSG_ERROR` or `NLMSG_DONE` payload: 0 for success, else a negative
/// errno. `None` when the payload is too short to hold one.
pub fn error_code(payload: &[u8]) -> Option<i32> {
    u32_at(payload, 0).map(|c| c as i32)
}

/// Appends one attribute, padded to alignment. Payloads longer than an attribute can say
/// are a bug of ours (we only write fixed-size values), so they are cut rather than sent
/// with a wrong length.
pub fn push_attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let payload = &payload[..payload.len().min(usize::from(u16::MAX) - 4)];
    buf.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(align(buf.len()), 0);
}

/// A request being built: header, family-specific fixed part, then attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    buf: Vec<u8>,
}

impl Request {
    /// A message of type `kind` with `flags` whose payload starts with `fixed` (rtmsg,
    /// fib_rule_hdr, ifinfomsg...: all multiples of four bytes).
    pub fn new(kind: u16, flags: u16, fixed: &[u8]) -> Self {
        let mut buf = vec![0; NLMSG_HDRLEN];
        buf[4..6].copy_from_slice(&kind.to_ne_bytes());
        buf[6..8].copy_from_slice(&flags.to_ne_bytes());
        buf.extend_from_slice(fixed);
        buf.resize(align(buf.len()), 0);
        Request { buf }
    }

    /// Appends an attribute.
    pub fn attr(&mut self, kind: u16, payload: &[u8]) {
        push_attr(&mut self.buf, kind, payload);
    }

    /// Appends a host-endian u32 attribute.
    pub fn attr_u32(&mut self, kind: u16, value: u32) {
        self.attr(kind, &value.to_ne_bytes());
    }

    /// Everything after the netlink header, as the kernel's answer would carry it.
    pub fn payload(&self) -> &[u8] {
        &self.buf[NLMSG_HDRLEN..]
    }

    /// The message type and flags.
    pub fn kind_and_flags(&self) -> (u16, u16) {
        (
            u16_at(&self.buf, 4).unwrap_or(0),
            u16_at(&self.buf, 6).unwrap_or(0),
        )
    }

    /// The bytes to send, with length and sequence number filled in (port id 0: the
    /// kernel).
    pub fn finish(&self, seq: u32) -> Vec<u8> {
        let mut out = self.buf.clone();
        let len = out.len() as u32;
        out[0..4].copy_from_slice(&len.to_ne_bytes());
        out[8..12].copy_from_slice(&seq.to_ne_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne16(v: u16) -> [u8; 2] {
        v.to_ne_bytes()
    }

    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    #[test]
    fn request_is_framed_host_endian_and_padded() {
        let mut req = Request::new(24, NLM_F_REQUEST | NLM_F_ACK, &[2, 0, 0, 0]);
        req.attr(21, &[186]);
        req.attr_u32(15, 7700);
        let bytes = req.finish(9);
        let mut want = Vec::new();
        want.extend(ne32(36));
        want.extend(ne16(24));
        want.extend(ne16(5));
        want.extend(ne32(9));
        want.extend(ne32(0));
        want.extend([2, 0, 0, 0]);
        want.extend(ne16(5));
        want.extend(ne16(21));
        want.extend([186, 0, 0, 0]);
        want.extend(ne16(8));
        want.extend(ne16(15));
        want.extend(ne32(7700));
        assert_eq!(bytes, want);
        assert_eq!(req.payload(), &want[16..]);
    }

    #[test]
    fn messages_split_a_datagram_and_stop_at_garbage() {
        let a = Request::new(16, 2, &[1, 2, 3, 4]).finish(1);
        let b = Request::new(3, 2, &[]).finish(2);
        let mut datagram = [a.clone(), b.clone()].concat();
        let found: Vec<_> = messages(&datagram).map(|m| (m.kind, m.seq)).collect();
        assert_eq!(found, [(16, 1), (3, 2)]);
        assert_eq!(messages(&datagram).next().unwrap().payload, &[1, 2, 3, 4]);
        // A length beyond the datagram, one below the header size, a truncated header.
        datagram.extend(ne32(400));
        datagram.extend([0; 12]);
        assert_eq!(messages(&datagram).count(), 2);
        let short = [ne32(8).as_slice(), &[0; 12]].concat();
        assert_eq!(messages(&short).count(), 0);
        assert_eq!(messages(&a[..10]).count(), 0);
        assert_eq!(messages(&[]).count(), 0);
    }

    #[test]
    fn attributes_are_walked_defensively() {
        let mut buf = Vec::new();
        push_attr(&mut buf, 3, b"wan\0");
        push_attr(&mut buf, 0x8000 | 9, &[1, 2]);
        let found: Vec<_> = attrs(&buf).collect();
        assert_eq!(found, [(3, &b"wan\0"[..]), (9, &[1, 2][..])]);
        assert_eq!(find(&buf, 9), Some(&[1, 2][..]));
        assert_eq!(find(&buf, 4), None);
        // Truncated in the payload, a length below the header, a lone byte.
        assert_eq!(attrs(&buf[..6]).count(), 0);
        let bad = [ne16(2).as_slice(), &ne16(1), &[0; 8]].concat();
        assert_eq!(attrs(&bad).count(), 0);
        assert_eq!(attrs(&[1]).count(), 0);
        // The last attribute may lack its padding.
        assert_eq!(attrs(&buf[..buf.len() - 2]).count(), 2);
    }

    #[test]
    fn values_need_their_exact_size() {
        assert_eq!(u32_attr(&ne32(7)), Some(7));
        assert_eq!(u32_attr(&[1, 2, 3]), None);
        assert_eq!(u32_attr(&[0; 8]), None);
        assert_eq!(ip_attr(&[192, 0, 2, 1]), Some("192.0.2.1".parse().unwrap()));
        let v6 = "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap();
        assert_eq!(ip_attr(&v6.octets()), Some(v6.into()));
        assert_eq!(ip_attr(&[1, 2, 3]), None);
        assert_eq!(error_code(&(-17i32).to_ne_bytes()), Some(-17));
        assert_eq!(error_code(&[0, 0]), None);
        assert_eq!(u32_at(&[0; 4], usize::MAX), None);
    }
}
