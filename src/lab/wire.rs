//! What the lab's traffic looks like on the wire.
//!
//! A measured packet: `"ULAB" | flow (1 byte) | sequence number (u64) | send time in ns
//! since the traffic started (u64)`, big-endian. The echo server's reply: that payload
//! followed by the source it saw, `IPv4 address (4 bytes) | port (u16, big-endian)`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use super::Flow;

const MAGIC: &[u8; 4] = b"ULAB";
const PAYLOAD_LEN: usize = 21;
/// Bytes the echo server appends to each payload.
const TRAILER: usize = 6;

fn flow_id(flow: Flow) -> u8 {
    match flow {
        Flow::LongLived => 1,
        Flow::Fresh => 2,
    }
}

/// The payload of packet `seq` of `flow`, sent `since_origin` after the traffic started.
pub(super) fn encode(flow: Flow, seq: u64, since_origin: Duration) -> [u8; PAYLOAD_LEN] {
    let mut payload = [0u8; PAYLOAD_LEN];
    payload[..4].copy_from_slice(MAGIC);
    payload[4] = flow_id(flow);
    payload[5..13].copy_from_slice(&seq.to_be_bytes());
    payload[13..].copy_from_slice(&(since_origin.as_nanos() as u64).to_be_bytes());
    payload
}

/// The flow and sequence number of one of our packets.
pub(super) fn decode(payload: &[u8]) -> Option<(Flow, u64)> {
    if payload.len() != PAYLOAD_LEN || &payload[..4] != MAGIC {
        return None;
    }
    let flow = Flow::ALL.into_iter().find(|f| flow_id(*f) == payload[4])?;
    let seq = u64::from_be_bytes(payload[5..13].try_into().ok()?);
    Some((flow, seq))
}

/// The echo server's answer to `payload` received from `from`.
pub(super) fn echo_reply(payload: &[u8], from: SocketAddrV4) -> Vec<u8> {
    let mut reply = Vec::with_capacity(payload.len() + TRAILER);
    reply.extend_from_slice(payload);
    reply.extend_from_slice(&from.ip().octets());
    reply.extend_from_slice(&from.port().to_be_bytes());
    reply
}

/// Splits an echo reply into the original payload and the source the server saw.
pub(super) fn parse_echo_reply(reply: &[u8]) -> Option<(&[u8], SocketAddrV4)> {
    let split = reply.len().checked_sub(TRAILER)?;
    let (payload, trailer) = reply.split_at(split);
    let ip = Ipv4Addr::new(trailer[0], trailer[1], trailer[2], trailer[3]);
    let port = u16::from_be_bytes([trailer[4], trailer[5]]);
    Some((payload, SocketAddrV4::new(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_rejects_strangers() {
        let payload = encode(Flow::Fresh, 42, Duration::from_millis(5));
        assert_eq!(decode(&payload), Some((Flow::Fresh, 42)));
        assert_eq!(decode(&payload[..20]), None);
        let mut wrong = payload;
        wrong[0] = b'X';
        assert_eq!(decode(&wrong), None);
    }

    #[test]
    fn reply_round_trips() {
        let from = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 40000);
        let reply = echo_reply(b"hello", from);
        assert_eq!(parse_echo_reply(&reply), Some((&b"hello"[..], from)));
        assert_eq!(parse_echo_reply(&reply[..5]), None);
    }
}
