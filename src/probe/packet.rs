//! ICMPv4 and ICMPv6 echo request encoding and echo reply decoding.
//!
//! Written by hand on purpose: an echo message is 8 header bytes and a checksum, while a
//! ping or packet crate would pull in pnet or similar, far too large for 16 MB routers.

/// ICMP type of an echo reply (RFC 792).
const ECHO_REPLY: u8 = 0;
/// ICMP type of an echo request (RFC 792).
const ECHO_REQUEST: u8 = 8;
/// Type, code, checksum, identifier, sequence number.
const HEADER_LEN: usize = 8;
/// Recognisable in a packet capture, so an operator can tell whose probes these are.
const MARKER: &[u8; 12] = b"uplink-probe";
/// The payload: a 4-byte token followed by [`MARKER`].
const PAYLOAD_LEN: usize = 4 + MARKER.len();
/// Length of every echo request this module encodes.
pub(crate) const REQUEST_LEN: usize = HEADER_LEN + PAYLOAD_LEN;
/// Smallest valid IPv4 header (IHL 5).
const MIN_IP_HEADER: usize = 20;

/// The fields that tie an echo reply to the request it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Echo {
    /// ICMP identifier: one per prober, so probers sharing an address ignore each other.
    pub ident: u16,
    /// ICMP sequence number: one per probe sent.
    pub seq: u16,
    /// Random per prober instance, so replies to an earlier run with the same identifier
    /// (a restarted daemon) are not mistaken for this run's.
    pub token: u32,
}

/// Encodes an echo request carrying `echo`, checksum included.
pub(crate) fn encode_request(echo: Echo) -> [u8; REQUEST_LEN] {
    let mut packet = [0u8; REQUEST_LEN];
    packet[0] = ECHO_REQUEST;
    packet[4..6].copy_from_slice(&echo.ident.to_be_bytes());
    packet[6..8].copy_from_slice(&echo.seq.to_be_bytes());
    packet[8..12].copy_from_slice(&echo.token.to_be_bytes());
    packet[12..].copy_from_slice(MARKER);
    let sum = checksum(&packet);
    packet[2..4].copy_from_slice(&sum.to_be_bytes());
    packet
}

/// Decodes an IPv4 datagram as read from a raw socket (IP header included) into the echo
/// fields, or `None` unless it is a well-formed echo reply with a payload like ours.
pub(crate) fn parse_reply(datagram: &[u8]) -> Option<Echo> {
    let icmp = ip_payload(datagram)?;
    if icmp.len() < HEADER_LEN + 4 || icmp[0] != ECHO_REPLY || icmp[1] != 0 {
        return None;
    }
    // Summing a message together with its checksum field yields zero when it is intact.
    if checksum(icmp) != 0 {
        return None;
    }
    Some(Echo {
        ident: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        token: u32::from_be_bytes([icmp[8], icmp[9], icmp[10], icmp[11]]),
    })
}

/// ICMPv6 type of an echo request (RFC 4443).
const ECHO_REQUEST6: u8 = 128;
/// ICMPv6 type of an echo reply (RFC 4443).
pub(crate) const ECHO_REPLY6: u8 = 129;

/// Encodes an ICMPv6 echo request carrying `echo`. The checksum covers an IPv6
/// pseudo-header, which the kernel fills in for raw ICMPv6 sockets (RFC 3542, 3.1), so it
/// is left zero here.
pub(crate) fn encode_request6(echo: Echo) -> [u8; REQUEST_LEN] {
    let mut packet = encode_request(echo);
    packet[0] = ECHO_REQUEST6;
    packet[2..4].copy_from_slice(&[0, 0]);
    packet
}

/// Decodes an ICMPv6 message as read from a raw ICMPv6 socket (no IP header; the kernel
/// has checked its checksum) into the echo fields, or `None` unless it is an echo reply.
pub(crate) fn parse_reply6(icmp: &[u8]) -> Option<Echo> {
    if icmp.len() < HEADER_LEN + 4 || icmp[0] != ECHO_REPLY6 || icmp[1] != 0 {
        return None;
    }
    Some(Echo {
        ident: u16::from_be_bytes([icmp[4], icmp[5]]),
        seq: u16::from_be_bytes([icmp[6], icmp[7]]),
        token: u32::from_be_bytes([icmp[8], icmp[9], icmp[10], icmp[11]]),
    })
}

/// The bytes after the IPv4 header, whose length (IHL) varies with options.
fn ip_payload(datagram: &[u8]) -> Option<&[u8]> {
    let first = *datagram.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < MIN_IP_HEADER || datagram.len() < header_len {
        return None;
    }
    Some(&datagram[header_len..])
}

/// The Internet checksum (RFC 1071): one's complement of the one's complement sum of
/// 16-bit big-endian words, an odd trailing byte padded with zero.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)])))
        .sum();
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECHO: Echo = Echo {
        ident: 0x1234,
        seq: 0xfffe,
        token: 0xdead_beef,
    };

    /// What a target would send back: the request with type 0 and a fresh checksum, behind
    /// an IPv4 header of `ihl` words.
    fn reply_datagram(echo: Echo, ihl: u8) -> Vec<u8> {
        let mut icmp = encode_request(echo).to_vec();
        icmp[0] = ECHO_REPLY;
        icmp[2..4].fill(0);
        let sum = checksum(&icmp);
        icmp[2..4].copy_from_slice(&sum.to_be_bytes());
        let mut datagram = vec![0u8; usize::from(ihl) * 4];
        datagram[0] = 0x40 | ihl;
        datagram.extend_from_slice(&icmp);
        datagram
    }

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 section 3: the sum of these words is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn checksum_pads_odd_length_with_zero() {
        assert_eq!(
            checksum(&[0x12, 0x34, 0x56]),
            checksum(&[0x12, 0x34, 0x56, 0x00])
        );
    }

    #[test]
    fn checksum_folds_carries() {
        // 0xffff + 0x0001 = 0x10000 -> folds to 0x0001 -> complement 0xfffe.
        assert_eq!(checksum(&[0xff, 0xff, 0x00, 0x01]), 0xfffe);
    }

    #[test]
    fn request_has_header_fields_and_valid_checksum() {
        let packet = encode_request(ECHO);
        assert_eq!(packet[0], ECHO_REQUEST);
        assert_eq!(packet[1], 0);
        assert_eq!(&packet[4..8], &[0x12, 0x34, 0xff, 0xfe]);
        assert_eq!(&packet[8..12], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(checksum(&packet), 0);
    }

    #[test]
    fn reply_round_trips() {
        assert_eq!(parse_reply(&reply_datagram(ECHO, 5)), Some(ECHO));
    }

    #[test]
    fn reply_behind_ip_options_is_found() {
        assert_eq!(parse_reply(&reply_datagram(ECHO, 6)), Some(ECHO));
    }

    #[test]
    fn echo_request_is_not_a_reply() {
        let mut datagram = vec![0x45; 1];
        datagram.resize(20, 0);
        datagram.extend_from_slice(&encode_request(ECHO));
        assert_eq!(parse_reply(&datagram), None);
    }

    #[test]
    fn corrupted_reply_is_rejected() {
        let mut datagram = reply_datagram(ECHO, 5);
        let last = datagram.len() - 1;
        datagram[last] ^= 0x01;
        assert_eq!(parse_reply(&datagram), None);
    }

    #[test]
    fn truncated_or_malformed_datagrams_are_rejected() {
        let datagram = reply_datagram(ECHO, 5);
        assert_eq!(parse_reply(&datagram[..20 + 10]), None);
        assert_eq!(parse_reply(&datagram[..12]), None);
        assert_eq!(parse_reply(&[]), None);
        assert_eq!(parse_reply6(&[]), None);
        let mut ipv6 = datagram.clone();
        ipv6[0] = 0x65;
        assert_eq!(parse_reply(&ipv6), None);
        let mut short_ihl = datagram;
        short_ihl[0] = 0x44;
        assert_eq!(parse_reply(&short_ihl), None);
    }
}

#[cfg(test)]
mod tests6 {
    use super::*;

    #[test]
    fn icmpv6_echo_round_trip() {
        let echo = Echo {
            ident: 0x1234,
            seq: 7,
            token: 0xdead_beef,
        };
        let mut message = encode_request6(echo);
        assert_eq!(message[0], 128);
        assert_eq!(&message[2..4], &[0, 0], "the kernel fills the checksum in");
        message[0] = ECHO_REPLY6;
        assert_eq!(parse_reply6(&message), Some(echo));
        message[0] = 128;
        assert_eq!(parse_reply6(&message), None, "a request is not a reply");
    }
}
