//! Numbers that mark kernel objects as ours. Everything uplink creates carries one of them,
//! so start-up can adopt or remove leftovers and stop can remove exactly what it made,
//! without ever touching routes, rules or tables that belong to someone else.

use std::ops::RangeInclusive;

/// Route protocol number on every route we add (`ip route show proto 197`).
/// Unassigned in iproute2's `rt_protos` and by the kernel (`include/uapi/linux/rtnetlink.h`).
pub const ROUTE_PROTOCOL: u8 = 197;

/// The table holding the selected default route; consulted by the rule at [`PRIO_ACTIVE`].
pub const TABLE_ACTIVE: u32 = 7700;

/// At most this many lines: it bounds the table, mark and priority ranges below.
pub const MAX_LINES: usize = 32;

/// At most this many policies: it bounds the policy table and priority ranges.
pub const MAX_POLICIES: usize = 50;

/// First table of the per-policy tables: each holds the default route of the policy's
/// chosen line, an unreachable route, or nothing (fall through to the active table).
pub const TABLE_POLICY_BASE: u32 = 7740;

/// First table of the per-line serving tables: each holds its line's default route while
/// the line takes new connections or keeps its existing ones (see `core::sessions`),
/// nothing otherwise (so the connections pinned to it fall through to the active table).
pub const TABLE_SHARE_BASE: u32 = TABLE_POLICY_BASE + MAX_POLICIES as u32;

/// The per-line tables ([`line_table`] of every possible line).
pub const LINE_TABLES: RangeInclusive<u32> = TABLE_ACTIVE + 1..=TABLE_ACTIVE + MAX_LINES as u32;

/// Every table id we own: the active table, one per line, one per policy, one serving
/// table per line.
pub const TABLES: RangeInclusive<u32> = TABLE_ACTIVE..=TABLE_SHARE_BASE + MAX_LINES as u32 - 1;

/// Every rule priority we own. Lower runs first; `main` is at 32766, and OpenWrt's netifd
/// uses 10000 and above for its own source rules, so ours come before both.
pub const PRIORITIES: RangeInclusive<u32> = 7700..=7999;

/// Rules sending probe traffic (by firewall mark) to its line's table; first of all, so a
/// probe always leaves through the line it tests.
pub const PRIO_MARK_BASE: u32 = 7710;
/// `lookup main suppress_prefixlength 0`: main's specific routes (LAN, VPNs) still win.
pub const PRIO_SUPPRESS_MAIN: u32 = 7750;
/// Rules sending traffic from a line's own address to that line's table. Besides router
/// services answering on the line they were reached on, strict rp_filter needs this to
/// accept probe replies on a line that is not active (see DESIGN.md, measured facts).
pub const PRIO_SOURCE_BASE: u32 = 7760;
/// One rule per policy (source/destination match) pointing at the policy's table, in
/// config order, after the source rules and before the active table.
pub const PRIO_POLICY_BASE: u32 = 7800;
/// Rules sending each connection's later packets (by its sticky mark) to the serving table
/// of the line it left through: all lines' rules at this one priority (their marks
/// exclude each other), after the source rules and before the policies, so that a
/// connection keeps its line when a policy or the selection moves (see `core::sessions`).
pub const PRIO_STICKY: u32 = 7795;
/// The sticky rule of a line whose device filters reverse paths strictly (rp_filter=1):
/// after the policies. The kernel's reverse-path check looks a reply's source up by
/// address alone (no mark), so a policy's connection kept on another line would have its
/// replies dropped there; on such a line a policy's connections follow the policy instead.
pub const PRIO_STICKY_STRICT: u32 = PRIO_POLICY_BASE + MAX_POLICIES as u32;
/// Rules sending connections that load sharing gave to a line (by firewall mark) to that
/// line's serving table; after the policies, which take precedence.
pub const PRIO_SHARE_BASE: u32 = 7900;
/// The rule consulting [`TABLE_ACTIVE`]; last of ours, just before `main`.
pub const PRIO_ACTIVE: u32 = 7990;

/// Firewall mark bits we use; one value per line, so probe sockets can be routed per line.
pub const MARK_MASK: u32 = 0x00ff_0000;

/// The nftables table we own (family inet).
pub const NFT_TABLE: &str = "uplink";

/// Routing table of line `index` (config order).
pub fn line_table(index: usize) -> u32 {
    TABLE_ACTIVE + 1 + index as u32
}

/// Firewall mark of line `index`: probe sockets carry it.
pub fn line_mark(index: usize) -> u32 {
    ((index as u32) + 1) << 16
}

/// Routing table of policy `index` (config order).
pub fn policy_table(index: usize) -> u32 {
    TABLE_POLICY_BASE + index as u32
}

/// Connection mark of policy `index` when it matches by protocol or port: above every
/// line's mark ([`line_mark`] uses 0x01..=0x20 in the mask's byte).
pub fn policy_mark(index: usize) -> u32 {
    (0x40 + index as u32) << 16
}

/// Routing table serving the load-shared connections of line `index`.
pub fn share_table(index: usize) -> u32 {
    TABLE_SHARE_BASE + index as u32
}

/// Connection mark of the connections load sharing gave to line `index`: distinct from
/// [`line_mark`] (probes and inbound connections, always routed through the line) because
/// these must leave a line that drops out of the group. 0x80..=0x9f in the mask's byte.
pub fn share_mark(index: usize) -> u32 {
    mark_byte(SHARE_BYTE, index)
}

/// Connection mark of a connection that left through line `index` (set after routing, on
/// its first packet): its later packets use the line's serving table while the line keeps
/// its sessions. 0xa0..=0xbf in the mask's byte.
pub fn sticky_mark(index: usize) -> u32 {
    mark_byte(STICKY_BYTE, index)
}

/// The first value, in the mask's byte, of the share marks and of the sticky marks.
const SHARE_BYTE: usize = 0x80;
const STICKY_BYTE: usize = 0xa0;

fn mark_byte(base: usize, index: usize) -> u32 {
    ((base + index) as u32) << 16
}

/// The line a connection belongs to by its conntrack `mark`: its line mark (inbound
/// connections, probes), its share mark or its sticky mark; `None` for other marks
/// (policies' first-packet marks, none, someone else's).
pub fn line_of_mark(mark: u32) -> Option<usize> {
    let byte = ((mark & MARK_MASK) >> 16) as usize;
    [1, SHARE_BYTE, STICKY_BYTE]
        .into_iter()
        .find(|base| (*base..base + MAX_LINES).contains(&byte))
        .map(|base| byte - base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mark_of_a_line_leads_back_to_it_and_no_other_does() {
        for i in [0, 1, MAX_LINES - 1] {
            for mark in [line_mark(i), share_mark(i), sticky_mark(i)] {
                assert_eq!(line_of_mark(mark | 0x1234), Some(i), "{mark:#x}");
            }
        }
        for mark in [
            0,
            policy_mark(0),
            policy_mark(MAX_POLICIES - 1),
            0x00ff_0000,
        ] {
            assert_eq!(line_of_mark(mark), None, "{mark:#x}");
        }
        assert_eq!(line_of_mark(line_mark(MAX_LINES)), None);
    }
}
