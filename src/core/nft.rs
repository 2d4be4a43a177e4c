//! The nft ruleset of uplink's one table: masquerade, connection marks for inbound
//! symmetry and for policies by protocol, port or address set, and those sets. It depends
//! on the config only.

use super::owned::*;
use super::share::{share_chains, share_jump, shares_load};
use crate::config::ifname::nft_ifname;
use crate::config::{Policy, Prefix, PrefixSet, Uplink};

/// The whole table, always present (it also holds the inbound-symmetry chains) so that
/// its disappearance, e.g. `nft flush ruleset`, is noticed and repaired.
///
/// Every name is checked again here, although config validation and the netifd resolver
/// refuse bad ones: one name nft cannot parse fails the whole table (no masquerade: the
/// LAN offline), and one it reads as a wildcard masquerades traffic on other devices. A
/// line, set or policy whose name cannot be rendered is left out and logged instead.
pub fn nft_ruleset(uplinks: &[Uplink], policies: &[&Policy], sets: &[PrefixSet]) -> String {
    let devices: Vec<Option<String>> = uplinks.iter().map(line_device).collect();
    let sets: Vec<&PrefixSet> = sets.iter().filter(|s| renderable_set(s)).collect();
    let mut out = format!("table inet {NFT_TABLE} {{\n");
    for set in sets
        .iter()
        .filter(|s| policies.iter().any(|p| p.set.as_ref() == Some(&s.name)))
    {
        out += &nft_set(set);
    }
    out += &marking_chains(uplinks, &devices, policies, &sets);
    out += &sticky_chain(uplinks, &devices);
    out += "\tchain postrouting {\n";
    // After fw4's srcnat (100): its own masquerade, if any, keeps precedence.
    out += "\t\ttype nat hook postrouting priority srcnat + 10; policy accept;\n";
    for (uplink, device) in uplinks.iter().zip(&devices) {
        let Some(device) = device.as_ref().filter(|_| uplink.masquerade) else {
            continue;
        };
        // Per family: a dual-stack device carries an IPv4 line and an IPv6 line, and the
        // one's masquerade must not apply to the other's traffic.
        out += &format!(
            "\t\toifname {device} meta nfproto {} masquerade comment \"uplink {}\"\n",
            uplink.family.as_str(),
            uplink.name
        );
    }
    out += "\t}\n}\n";
    out
}

/// The quoted device of a line for nft (see [`nft_ifname`]); `None` while a line given
/// by netifd interface has no device yet, and (logged) when its device or name cannot be
/// rendered safely.
fn line_device(uplink: &Uplink) -> Option<String> {
    if uplink.device.is_empty() {
        return None;
    }
    // The name goes into a comment: the config allows only these characters.
    let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    let device = nft_ifname(&uplink.device).filter(|_| uplink.name.chars().all(plain));
    if device.is_none() {
        tracing::error!(
            "uplink {:?}: device {:?}: cannot be written into the nft table; the line's nft rules are left out",
            uplink.name,
            uplink.device
        );
    }
    device
}

/// Whether a set's name makes an nft identifier (a letter or `_`, then letters, digits,
/// `_` and `-`), as config validation requires; logged when not.
fn renderable_set(set: &PrefixSet) -> bool {
    let mut chars = set.name.chars();
    let ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        tracing::error!(
            "set {:?}: not an nft name; the set and the policies using it are left out of the nft table",
            set.name
        );
    }
    ok
}

/// Connection marks, in our bits of the conntrack mark:
/// - inbound symmetry: a connection that arrives on a line (a port forward, say) remembers
///   the line, so that it is answered through that line whichever line is active;
/// - policies by protocol or port: a new connection from inside that matches remembers
///   the policy.
///
/// Packets of a marked connection that come from inside (not from a line) get the mark as
/// firewall mark, which an ip rule routes through the line's or policy's table; when that
/// table is empty the rule falls through to normal routing.
fn marking_chains(
    uplinks: &[Uplink],
    devices: &[Option<String>],
    policies: &[&Policy],
    sets: &[&PrefixSet],
) -> String {
    let mut inbound: Vec<&str> = devices.iter().flatten().map(String::as_str).collect();
    crate::sort::stable(&mut inbound);
    inbound.dedup();
    let mut marks: Vec<u32> = (0..uplinks.len()).map(line_mark).collect();
    let sharing = shares_load(uplinks);
    // Before the base chains that jump to them: nft resolves a jump when it reads it.
    let mut out = if sharing {
        share_chains(uplinks)
    } else {
        String::new()
    };
    out += "\tchain prerouting {\n\t\ttype filter hook prerouting priority mangle + 10; policy accept;\n";
    for (i, (uplink, dev)) in uplinks.iter().zip(devices).enumerate() {
        let Some(dev) = dev else {
            continue;
        };
        out += &format!(
            "\t\tct state new iifname {dev} meta nfproto {} {}\n",
            uplink.family.as_str(),
            set_ct_mark(line_mark(i))
        );
    }
    if !inbound.is_empty() {
        out += &format!("\t\tiifname {{ {} }} return\n", inbound.join(", "));
    }
    for (k, policy) in policies
        .iter()
        .enumerate()
        .filter(|(_, p)| p.marks_connections())
    {
        for matcher in policy_matches(policy, sets) {
            out += &format!(
                "\t\tct state new {matcher}{}\n",
                set_ct_mark(policy_mark(k))
            );
        }
        marks.push(policy_mark(k));
    }
    if sharing {
        out += &share_jump(uplinks, false);
        marks.extend((0..uplinks.len()).map(share_mark));
    }
    marks.extend((0..uplinks.len()).map(sticky_mark));
    let restore: String = marks.iter().map(|m| restore_mark(*m)).collect();
    out += &restore;
    out +=
        "\t}\n\tchain output {\n\t\ttype route hook output priority mangle + 10; policy accept;\n";
    if sharing {
        out += &share_jump(uplinks, true);
    }
    out += &restore;
    out += "\t}\n";
    out
}

/// Marks each new connection, after routing, with the line it leaves through (its sticky
/// mark), whatever routed it: the selection, a policy, load sharing. Its later packets
/// get the mark back in prerouting/output and keep that line while the line keeps its
/// sessions, so a failback, a drain or a policy's move takes new connections only.
///
/// Probes (their socket carries a line mark) and inbound connections (their conntrack
/// holds a line mark) are left alone: they are routed by the line mark already. A first
/// packet's policy or share mark is replaced: it only chose the route.
fn sticky_chain(uplinks: &[Uplink], devices: &[Option<String>]) -> String {
    let lines = format!("{:#010x}-{:#010x}", line_mark(0), line_mark(MAX_LINES - 1));
    let mut out = String::from(
        "\tchain sticky {\n\t\ttype filter hook postrouting priority mangle + 10; policy accept;\n",
    );
    // Cheapest test first: every packet but a connection's first leaves here.
    out += "\t\tct state != new return\n";
    out += &format!("\t\tmeta mark & {MARK_MASK:#010x} {lines} return\n");
    out += &format!("\t\tct mark & {MARK_MASK:#010x} {lines} return\n");
    for (i, (uplink, dev)) in uplinks.iter().zip(devices).enumerate() {
        let Some(dev) = dev else {
            continue;
        };
        out += &format!(
            "\t\toifname {dev} meta nfproto {} {}\n",
            uplink.family.as_str(),
            set_ct_mark(sticky_mark(i))
        );
    }
    out += "\t}\n";
    out
}

/// The halves of a configured set: single hosts go into a hash set (`NAME_h`), which nft
/// loads about ten times faster than an interval set (100k entries: 0.3 s against 3 s),
/// and real prefixes into an interval set (`NAME_n`). Empty halves are left out.
fn set_halves(set: &PrefixSet) -> Vec<(String, &'static str, Vec<&Prefix>)> {
    let (hosts, nets): (Vec<&Prefix>, Vec<&Prefix>) =
        set.prefixes.iter().partition(|p| p.len == 32);
    [
        (format!("{}_h", set.name), "", hosts),
        (format!("{}_n", set.name), " flags interval;", nets),
    ]
    .into_iter()
    .filter(|(_, _, items)| !items.is_empty())
    .collect()
}

/// The nft definitions of a set's halves. Config validation has removed overlapping
/// prefixes, which nft would refuse in an interval set.
fn nft_set(set: &PrefixSet) -> String {
    let mut out = String::new();
    for (name, flags, items) in set_halves(set) {
        let items: Vec<String> = items.into_iter().map(Prefix::short).collect();
        out += &format!("\tset {name} {{\n\t\ttype ipv4_addr;{flags}\n\t\telements = {{ ");
        out += &items.join(", ");
        out += " }\n\t}\n";
    }
    out
}

fn set_ct_mark(mark: u32) -> String {
    format!("ct mark set ct mark & {:#010x} | {mark:#010x}", !MARK_MASK)
}

fn restore_mark(mark: u32) -> String {
    let keep = !MARK_MASK;
    format!("\t\tct mark & {MARK_MASK:#010x} == {mark:#010x} meta mark set meta mark & {keep:#010x} | {mark:#010x}\n")
}

/// The nft matches of a policy: one, or one per half of its set.
/// None when the policy's set is missing (left out by [`renderable_set`]): without it
/// the policy would match every destination.
fn policy_matches(policy: &Policy, sets: &[&PrefixSet]) -> Vec<String> {
    let base = policy_match(policy);
    let Some(name) = &policy.set else {
        return vec![base];
    };
    let Some(set) = sets.iter().find(|s| &s.name == name) else {
        return Vec::new();
    };
    set_halves(set)
        .into_iter()
        .map(|(name, _, _)| format!("ip daddr @{name} {base}"))
        .collect()
}

/// The nft match of a policy: addresses, protocol and destination ports.
fn policy_match(policy: &Policy) -> String {
    let set = |prefixes: &[Prefix]| {
        let items: Vec<String> = prefixes.iter().map(Prefix::short).collect();
        format!("{{ {} }}", items.join(", "))
    };
    let mut out = String::new();
    if !policy.from.is_empty() {
        out += &format!("ip saddr {} ", set(&policy.from));
    }
    if !policy.to.is_empty() {
        out += &format!("ip daddr {} ", set(&policy.to));
    }
    if let Some(proto) = policy.proto {
        out += &format!("meta l4proto {} ", proto.as_str());
    }
    if !policy.ports.is_empty() {
        let ports: Vec<String> = policy
            .ports
            .iter()
            .map(|&(l, h)| {
                if l == h {
                    l.to_string()
                } else {
                    format!("{l}-{h}")
                }
            })
            .collect();
        out += &format!("th dport {{ {} }} ", ports.join(", "));
    }
    out
}

#[cfg(test)]
#[path = "nft_tests.rs"]
mod tests;
