//! A minimal DNS message codec (RFC 1035): one question out, and a defensive reading of the
//! answer that comes back. Enough for `dns://` probes (any well-formed answer counts) and
//! for resolving host-name targets to A/AAAA records through the line itself.
//!
//! Written by hand: a resolver crate would cost far more flash than these few hundred bytes
//! of logic, and the daemon needs no recursion, caching or DNSSEC, only one question.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use thiserror::Error;

/// Record type A (RFC 1035).
pub(crate) const TYPE_A: u16 = 1;
/// Record type SOA, asked for the root zone by default.
pub(crate) const TYPE_SOA: u16 = 6;
/// Record type AAAA (RFC 3596).
pub(crate) const TYPE_AAAA: u16 = 28;
/// Class IN.
const CLASS_IN: u16 = 1;
/// Header length.
const HEADER: usize = 12;
/// Rcode of a name that does not exist.
pub(crate) const NXDOMAIN: u8 = 3;
/// At most this many records are read from an answer; the rest is ignored.
const MAX_RECORDS: usize = 32;
/// Compression pointers followed per name: a loop in a hostile message ends here.
const MAX_JUMPS: usize = 16;

/// Why an answer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum DnsError {
    /// Shorter than its header or its counts claim.
    #[error("truncated dns message")]
    Short,
    /// A query, not an answer, or an answer to another query.
    #[error("dns message is not the answer to our query")]
    NotOurs,
    /// A name with a bad label or a pointer loop.
    #[error("malformed name in dns message")]
    BadName,
}

/// What an answer says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// Response code: 0 no error, 3 NXDOMAIN...
    pub rcode: u8,
    /// A or AAAA records of class IN in the answer section, with their TTL in seconds.
    pub addrs: Vec<(IpAddr, u32)>,
}

/// Encodes a recursive query for `name` (`.` or a host name without trailing dot, already
/// validated as labels of at most 63 octets) and record type `qtype`.
pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER + name.len() + 6);
    msg.extend_from_slice(&id.to_be_bytes());
    // Flags: RD (recursion desired); one question, no other records.
    msg.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    encode_name(&mut msg, name);
    msg.extend_from_slice(&qtype.to_be_bytes());
    msg.extend_from_slice(&CLASS_IN.to_be_bytes());
    msg
}

fn encode_name(msg: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        // Validated names have labels of 1..63 octets; a longer one is cut, never a panic.
        let bytes = &label.as_bytes()[..label.len().min(63)];
        msg.push(bytes.len() as u8);
        msg.extend(bytes.iter().map(u8::to_ascii_lowercase));
    }
    msg.push(0);
}

/// Reads `msg` as the answer to the query `id` for `name`/`qtype`: it must be a response
/// with the same id and the same single question (names compared case-insensitively), so a
/// stray or forged datagram is not taken for the answer.
pub(crate) fn parse_answer(
    msg: &[u8],
    id: u16,
    name: &str,
    qtype: u16,
) -> Result<Answer, DnsError> {
    if msg.len() < HEADER {
        return Err(DnsError::Short);
    }
    let word = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
    let flags = word(2);
    let is_response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0xf;
    if word(0) != id || !is_response || opcode != 0 || word(4) != 1 {
        return Err(DnsError::NotOurs);
    }
    let mut expected = Vec::new();
    encode_name(&mut expected, name);
    let (qname, mut at) = read_name(msg, HEADER)?;
    let question = msg.get(at..at + 4).ok_or(DnsError::Short)?;
    if qname != expected[..] || question != [qtype.to_be_bytes(), CLASS_IN.to_be_bytes()].concat() {
        return Err(DnsError::NotOurs);
    }
    at += 4;
    let mut addrs = Vec::new();
    for _ in 0..usize::from(word(6)).min(MAX_RECORDS) {
        let (_, after) = read_name(msg, at)?;
        let fixed = msg.get(after..after + 10).ok_or(DnsError::Short)?;
        let rtype = u16::from_be_bytes([fixed[0], fixed[1]]);
        let class = u16::from_be_bytes([fixed[2], fixed[3]]);
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = msg
            .get(after + 10..after + 10 + len)
            .ok_or(DnsError::Short)?;
        at = after + 10 + len;
        if class != CLASS_IN {
            continue;
        }
        match (rtype, data.len()) {
            (TYPE_A, 4) => {
                let octets: [u8; 4] = data.try_into().map_err(|_| DnsError::Short)?;
                addrs.push((Ipv4Addr::from(octets).into(), ttl));
            }
            (TYPE_AAAA, 16) => {
                let octets: [u8; 16] = data.try_into().map_err(|_| DnsError::Short)?;
                addrs.push((Ipv6Addr::from(octets).into(), ttl));
            }
            _ => {}
        }
    }
    Ok(Answer {
        rcode: (flags & 0xf) as u8,
        addrs,
    })
}

/// Reads the name at `start`, following compression pointers: the name in wire form,
/// lower-cased and uncompressed, and the offset just after it in the message.
fn read_name(msg: &[u8], start: usize) -> Result<(Vec<u8>, usize), DnsError> {
    let mut name = Vec::new();
    let mut at = start;
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(at).ok_or(DnsError::Short)?;
        match len {
            0 => {
                name.push(0);
                return Ok((name, end.unwrap_or(at + 1)));
            }
            1..=63 => {
                let label = msg
                    .get(at + 1..at + 1 + usize::from(len))
                    .ok_or(DnsError::Short)?;
                name.push(len);
                name.extend(label.iter().map(u8::to_ascii_lowercase));
                at += 1 + usize::from(len);
                if name.len() > 255 {
                    return Err(DnsError::BadName);
                }
            }
            0xc0..=0xff => {
                let low = *msg.get(at + 1).ok_or(DnsError::Short)?;
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return Err(DnsError::BadName);
                }
                end.get_or_insert(at + 2);
                at = usize::from(u16::from_be_bytes([len & 0x3f, low]));
            }
            _ => return Err(DnsError::BadName),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply to query 0x1234 for `probe.test` A: one CNAME-less A record (203.0.113.10,
    /// TTL 300) whose owner is a compression pointer to the question.
    fn reply_a() -> Vec<u8> {
        let mut msg = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x05probe\x04test\x00\x00\x01\x00\x01");
        msg.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 203, 0, 113, 10]);
        msg
    }

    #[test]
    fn query_is_byte_exact() {
        let msg = query(0xabcd, "Probe.Test", TYPE_AAAA);
        let expected = b"\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05probe\x04test\x00\x00\x1c\x00\x01";
        assert_eq!(msg, expected);
        let root = query(1, ".", TYPE_SOA);
        assert_eq!(&root[12..], b"\x00\x00\x06\x00\x01");
    }

    #[test]
    fn answer_with_a_compressed_a_record() {
        let answer = parse_answer(&reply_a(), 0x1234, "probe.test", TYPE_A).unwrap();
        assert_eq!(answer.rcode, 0);
        assert_eq!(answer.addrs, vec![(IpAddr::from([203, 0, 113, 10]), 300)]);
    }

    #[test]
    fn nxdomain_is_an_answer_with_its_rcode() {
        let mut msg = vec![0, 7, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x00\x00\x06\x00\x01");
        let answer = parse_answer(&msg, 7, ".", TYPE_SOA).unwrap();
        assert_eq!((answer.rcode, answer.addrs.len()), (NXDOMAIN, 0));
    }

    #[test]
    fn aaaa_record_is_read() {
        let mut msg = vec![0, 9, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        msg.extend_from_slice(b"\x01a\x04test\x00\x00\x1c\x00\x01");
        msg.extend_from_slice(b"\x01a\x04test\x00\x00\x1c\x00\x01\x00\x00\x00\x3c\x00\x10");
        msg.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let answer = parse_answer(&msg, 9, "a.test", TYPE_AAAA).unwrap();
        assert_eq!(answer.addrs, vec![("2001:db8::1".parse().unwrap(), 60)]);
    }

    #[test]
    fn other_ids_questions_and_queries_are_not_ours() {
        let msg = reply_a();
        assert_eq!(
            parse_answer(&msg, 0x1235, "probe.test", TYPE_A),
            Err(DnsError::NotOurs)
        );
        assert_eq!(
            parse_answer(&msg, 0x1234, "other.test", TYPE_A),
            Err(DnsError::NotOurs)
        );
        assert_eq!(
            parse_answer(&msg, 0x1234, "probe.test", TYPE_AAAA),
            Err(DnsError::NotOurs)
        );
        let as_query = query(0x1234, "probe.test", TYPE_A);
        assert_eq!(
            parse_answer(&as_query, 0x1234, "probe.test", TYPE_A),
            Err(DnsError::NotOurs)
        );
    }

    #[test]
    fn malformed_messages_are_errors_never_panics() {
        let msg = reply_a();
        // Every truncation of a valid message.
        for len in 0..msg.len() {
            assert!(
                parse_answer(&msg[..len], 0x1234, "probe.test", TYPE_A).is_err(),
                "{len}"
            );
        }
        // A pointer loop in the answer's owner name.
        let mut looped = msg.clone();
        let owner = 12 + 16;
        looped[owner..owner + 2].copy_from_slice(&[0xc0, owner as u8]);
        assert_eq!(
            parse_answer(&looped, 0x1234, "probe.test", TYPE_A),
            Err(DnsError::BadName)
        );
        // A reserved label type (0x40).
        let mut reserved = msg.clone();
        reserved[12] = 0x45;
        assert!(parse_answer(&reserved, 0x1234, "probe.test", TYPE_A).is_err());
        // Every single-byte corruption either parses or errs, without panicking.
        for at in 0..msg.len() {
            for byte in [0x00, 0x3f, 0xc0, 0xff] {
                let mut bad = msg.clone();
                bad[at] = byte;
                let _ = parse_answer(&bad, 0x1234, "probe.test", TYPE_A);
            }
        }
    }

    #[test]
    fn a_record_with_a_wrong_length_is_skipped() {
        let mut msg = reply_a();
        let len_at = msg.len() - 6;
        msg[len_at + 1] = 3;
        msg.pop();
        let answer = parse_answer(&msg, 0x1234, "probe.test", TYPE_A).unwrap();
        assert!(answer.addrs.is_empty());
    }
}
