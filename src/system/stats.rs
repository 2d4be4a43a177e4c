//! A device's packet counters over rtnetlink: RTM_GETSTATS for one device with only the
//! 64-bit link statistics (`IFLA_STATS_LINK_64`), answered by one small RTM_NEWSTATS.
//!
//! Why this and not RTM_GETLINK's IFLA_STATS64: a link message carries every attribute of
//! the device (about 1.5 KiB on a veth, more with VFs or XDP), a stats message only the
//! 200-byte counters; both are one request and one answer. Constants:
//! include/uapi/linux/rtnetlink.h and if_link.h.

use super::wire::{self, find, u32_at, u64_at, Request};
use crate::core::traffic::Counters;

pub const RTM_NEWSTATS: u16 = 92;
pub const RTM_GETSTATS: u16 = 94;
/// `struct if_stats_msg`: family, two pads, ifindex, filter mask.
const IF_STATS_MSG_LEN: usize = 12;
/// The attribute holding `struct rtnl_link_stats64`.
const IFLA_STATS_LINK_64: u16 = 1;
/// `IFLA_STATS_FILTER_BIT(IFLA_STATS_LINK_64)`.
const FILTER_LINK_64: u32 = 1 << (IFLA_STATS_LINK_64 - 1);

/// The request for device `ifindex`'s counters, acknowledged so that the answer's end is
/// known without a dump.
pub fn request(ifindex: u32) -> Request {
    let mut fixed = [0u8; IF_STATS_MSG_LEN];
    fixed[4..8].copy_from_slice(&ifindex.to_ne_bytes());
    fixed[8..12].copy_from_slice(&FILTER_LINK_64.to_ne_bytes());
    Request::new(RTM_GETSTATS, wire::NLM_F_REQUEST | wire::NLM_F_ACK, &fixed)
}

/// The counters of an RTM_NEWSTATS payload for device `ifindex`; `None` when malformed
/// or for another device.
pub fn parse(payload: &[u8], ifindex: u32) -> Option<Counters> {
    let fixed = payload.get(..IF_STATS_MSG_LEN)?;
    if u32_at(fixed, 4)? != ifindex {
        return None;
    }
    let stats = find(&payload[IF_STATS_MSG_LEN..], IFLA_STATS_LINK_64)?;
    Some(Counters {
        rx_packets: u64_at(stats, 0)?,
        tx_packets: u64_at(stats, 8)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(ifindex: u32, rx: u64, tx: u64) -> Vec<u8> {
        let mut payload = vec![0u8; IF_STATS_MSG_LEN];
        payload[4..8].copy_from_slice(&ifindex.to_ne_bytes());
        let mut stats = vec![0u8; 200];
        stats[0..8].copy_from_slice(&rx.to_ne_bytes());
        stats[8..16].copy_from_slice(&tx.to_ne_bytes());
        wire::push_attr(&mut payload, IFLA_STATS_LINK_64, &stats);
        payload
    }

    #[test]
    fn the_request_names_the_device_and_only_the_64_bit_link_counters() {
        let r = request(7);
        assert_eq!(
            r.kind_and_flags(),
            (RTM_GETSTATS, wire::NLM_F_REQUEST | wire::NLM_F_ACK)
        );
        assert_eq!(u32_at(r.payload(), 4), Some(7));
        assert_eq!(u32_at(r.payload(), 8), Some(1));
    }

    #[test]
    fn counters_are_read_for_the_device_asked_for() {
        let c = parse(&answer(7, 1 << 40, 12), 7).unwrap();
        assert_eq!((c.rx_packets, c.tx_packets), (1 << 40, 12));
        assert_eq!(parse(&answer(8, 1, 2), 7), None, "another device");
        let mut short = answer(7, 1, 2);
        short.truncate(IF_STATS_MSG_LEN + 4 + 12);
        assert_eq!(parse(&short, 7), None, "truncated counters");
        assert_eq!(parse(&[0; 6], 7), None);
    }
}
