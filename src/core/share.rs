//! Load sharing among lines of equal metric, one connection at a time.
//!
//! The kernel's multipath route would pick a path per packet hash (by default over the
//! addresses only, so one client's connections all land on one path, and a change of
//! members remaps running connections). Instead each new connection is given a line
//! once, in nft (`numgen random` by weight, or a hash of the client's address), and keeps
//! it in its conntrack mark. The mark routes it through that line's serving table, which
//! holds the line's default route only while the line is in the selected group: a
//! connection stays put when another line joins or weights change, and moves (falls
//! through to the active table) when its own line leaves the group.
//!
//! The serving tables and their routes also keep every other connection on the line it
//! left through (its sticky mark, see `core::sessions`).
//!
//! The nft side has a static part (one chain per line setting its mark) and one rule,
//! in chain `share`, that depends on the selection and is replaced on its own.

use super::desired::{next_hop, Route, Rule, RuleMatch};
use super::owned::*;
use super::select::Selection;
use super::sessions::Keeping;
use super::LinkFacts;
use crate::config::{Family, Sticky, Uplink};

/// Whether some lines of `family` share a metric, and so load.
pub fn shares_load_in(uplinks: &[Uplink], family: Family) -> bool {
    uplinks.iter().enumerate().any(|(i, u)| {
        u.family == family
            && uplinks[..i]
                .iter()
                .any(|v| v.family == family && v.metric == u.metric)
    })
}

/// Whether lines share load in any family: the share chains, rules and tables exist only
/// then, so a plain failover setup keeps its connections unmarked.
pub fn shares_load(uplinks: &[Uplink]) -> bool {
    Family::ALL.iter().any(|f| shares_load_in(uplinks, *f))
}

/// The chain that picks a line for a new connection of `family`.
fn pick_chain(family: Family) -> &'static str {
    match family {
        Family::V4 => "share",
        Family::V6 => "share6",
    }
}

/// Name of the chain that gives a connection to line `index`.
fn line_chain(index: usize) -> String {
    format!("share_{index}")
}

/// The static chains: `share` and `share6` (filled by [`share_script`]) and one per line
/// that sets the line's share mark in our bits of the conntrack mark.
pub fn share_chains(uplinks: &[Uplink]) -> String {
    let mut out = String::new();
    for family in Family::ALL {
        out += &format!("\tchain {} {{\n\t}}\n", pick_chain(family));
    }
    for i in 0..uplinks.len() {
        out += &format!(
            "\tchain {} {{\n\t\tct mark set ct mark & {:#010x} | {:#010x}\n\t}}\n",
            line_chain(i),
            !MARK_MASK,
            share_mark(i)
        );
    }
    out
}

/// The jump into `share` for new connections that nothing else has claimed (no line or
/// policy mark yet). `output` also skips packets that already carry one of our marks:
/// probes are marked by their socket and must stay on the line they test.
pub fn share_jump(uplinks: &[Uplink], output: bool) -> String {
    let unmarked_packet = if output {
        format!("meta mark & {MARK_MASK:#010x} == 0x00000000 ")
    } else {
        String::new()
    };
    let mut out = String::new();
    for family in Family::ALL
        .into_iter()
        .filter(|f| shares_load_in(uplinks, *f))
    {
        out += &format!(
            "\t\tmeta nfproto {} ct state new {unmarked_packet}ct mark & {MARK_MASK:#010x} == 0x00000000 jump {}\n",
            family.as_str(),
            pick_chain(family)
        );
    }
    out
}

/// The nft commands that fill the pick chains for the current selection: applied after the
/// table, and on their own when only the selection changed.
pub fn share_script(uplinks: &[Uplink], selection: &Selection, sticky: Sticky) -> String {
    let mut out = String::new();
    for family in Family::ALL
        .into_iter()
        .filter(|f| shares_load_in(uplinks, *f))
    {
        let chain = pick_chain(family);
        out += &format!("flush chain inet {NFT_TABLE} {chain}\n");
        let members: Vec<(usize, u32)> = selection
            .members
            .iter()
            .copied()
            .filter(|(i, _)| uplinks[*i].family == family)
            .collect();
        let rule = share_rule(&members, sticky, family);
        if !rule.is_empty() {
            out += &format!("add rule inet {NFT_TABLE} {chain} {rule}\n");
        }
    }
    out
}

/// The one rule of a pick chain: which line a new connection gets, given the selected
/// group. Empty when nothing is selected (connections stay unmarked and follow `main`).
pub fn share_rule(members: &[(usize, u32)], sticky: Sticky, family: Family) -> String {
    match members {
        [] => String::new(),
        [(only, _)] => format!("goto {}", line_chain(*only)),
        members => {
            let total: u32 = members.iter().map(|&(_, w)| w).sum();
            let mut start = 0;
            let mut arms = Vec::new();
            for &(i, weight) in members {
                let end = start + weight - 1;
                let range = if end == start {
                    start.to_string()
                } else {
                    format!("{start}-{end}")
                };
                arms.push(format!("{range} : goto {}", line_chain(i)));
                start = end + 1;
            }
            let pick = match sticky {
                Sticky::Connection => format!("numgen random mod {total}"),
                // A fixed seed: the same client maps to the same line across restarts.
                Sticky::Source => {
                    let saddr = match family {
                        Family::V4 => "ip saddr",
                        Family::V6 => "ip6 saddr",
                    };
                    format!("jhash {saddr} mod {total} seed 0x75706c6b")
                }
            };
            format!("{pick} vmap {{ {} }}", arms.join(", "))
        }
    }
}

/// Serving tables: the default route of each line whose link is usable and that takes new
/// connections (selected) or keeps its existing ones (`keeping[i]`, see `core::sessions`).
pub fn share_routes(
    uplinks: &[Uplink],
    links: &[Option<&LinkFacts>],
    selection: &Selection,
    keeping: &[Keeping],
) -> Vec<Route> {
    (0..uplinks.len())
        .filter(|&i| selection.contains(i) || keeping.get(i).is_some_and(|k| k.holds))
        .filter_map(|i| {
            let link = links.get(i).copied().flatten().filter(|l| l.usable())?;
            Some(Route {
                family: uplinks[i].family,
                table: share_table(i),
                nexthops: vec![next_hop(&uplinks[i], link, 1)],
            })
        })
        .collect()
}

/// One rule per line, all at [`PRIO_STICKY`] (after the policies, [`PRIO_STICKY_STRICT`],
/// for a line with strict reverse-path filtering): a connection's sticky mark looks up its
/// line's serving table; an empty table falls through to the policies and the active table.
pub fn sticky_rules(uplinks: &[Uplink], keeping: &[Keeping]) -> Vec<Rule> {
    uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| Rule {
            family: u.family,
            priority: match keeping.get(i) {
                Some(k) if k.strict_rp => PRIO_STICKY_STRICT,
                _ => PRIO_STICKY,
            },
            matcher: RuleMatch::FwMark {
                mark: sticky_mark(i),
                mask: MARK_MASK,
            },
            table: share_table(i),
            suppress_prefixlen: None,
        })
        .collect()
}

/// One rule per line: its share mark looks up its serving table; an empty table falls
/// through to the active one.
pub fn share_rules(uplinks: &[Uplink]) -> Vec<Rule> {
    uplinks
        .iter()
        .enumerate()
        .filter(|(_, u)| shares_load_in(uplinks, u.family))
        .map(|(i, u)| Rule {
            family: u.family,
            priority: PRIO_SHARE_BASE + i as u32,
            matcher: RuleMatch::FwMark {
                mark: share_mark(i),
                mask: MARK_MASK,
            },
            table: share_table(i),
            suppress_prefixlen: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::select::SelectionBasis;

    fn selection(members: Vec<(usize, u32)>) -> Selection {
        Selection {
            members,
            basis: SelectionBasis::Healthy,
        }
    }

    #[test]
    fn weights_become_contiguous_ranges() {
        let rule = share_rule(&[(0, 3), (2, 1)], Sticky::Connection, Family::V4);
        assert_eq!(
            rule,
            "numgen random mod 4 vmap { 0-2 : goto share_0, 3 : goto share_2 }"
        );
    }

    #[test]
    fn source_stickiness_hashes_the_client_address() {
        let rule = share_rule(&[(0, 1), (1, 1)], Sticky::Source, Family::V4);
        assert!(rule.starts_with("jhash ip saddr mod 2 seed"), "{rule}");
        let rule6 = share_rule(&[(0, 1), (1, 1)], Sticky::Source, Family::V6);
        assert!(rule6.starts_with("jhash ip6 saddr mod 2 seed"), "{rule6}");
        assert!(rule.ends_with("vmap { 0 : goto share_0, 1 : goto share_1 }"));
    }

    #[test]
    fn one_member_takes_every_connection_and_none_leaves_them_unmarked() {
        assert_eq!(
            share_rule(&[(1, 5)], Sticky::Connection, Family::V4),
            "goto share_1"
        );
        assert_eq!(share_rule(&[], Sticky::Connection, Family::V4), "");
    }

    #[test]
    fn output_jump_spares_marked_packets() {
        let lines = two_equal(Family::V4);
        assert!(!share_jump(&lines, false).contains("meta mark"));
        assert!(share_jump(&lines, true).contains("meta mark & 0x00ff0000 == 0x00000000"));
    }

    fn two_equal(family: Family) -> Vec<Uplink> {
        let text = "[[uplink]]\nname = \"a\"\ndevice = \"eth1\"\n\
                    [[uplink]]\nname = \"b\"\ndevice = \"eth2\"\n";
        let mut lines = crate::config::parse(text).unwrap().uplinks;
        for line in &mut lines {
            line.family = family;
        }
        lines
    }

    #[test]
    fn each_family_shares_among_its_own_lines() {
        let mut lines = two_equal(Family::V4);
        lines.extend(two_equal(Family::V6));
        let script = share_script(
            &lines,
            &selection(vec![(0, 1), (1, 1), (3, 1)]),
            Sticky::Connection,
        );
        assert_eq!(
            script,
            "flush chain inet uplink share\n\
             add rule inet uplink share numgen random mod 2 vmap { 0 : goto share_0, 1 : goto share_1 }\n\
             flush chain inet uplink share6\n\
             add rule inet uplink share6 goto share_3\n"
        );
        let jumps = share_jump(&lines, false);
        assert!(
            jumps.contains("meta nfproto ipv4 ") && jumps.contains("jump share6"),
            "{jumps}"
        );
    }

    #[test]
    fn share_marks_do_not_overlap_line_or_policy_marks() {
        let mut shares: Vec<u32> = (0..MAX_LINES).map(share_mark).collect();
        shares.extend((0..MAX_LINES).map(sticky_mark));
        shares.sort();
        shares.dedup();
        assert_eq!(shares.len(), 2 * MAX_LINES);
        for i in 0..MAX_LINES {
            assert!(!shares.contains(&line_mark(i)));
        }
        for k in 0..MAX_POLICIES {
            assert!(!shares.contains(&policy_mark(k)));
        }
        assert!(shares.iter().all(|m| m & !MARK_MASK == 0));
        assert!(TABLES.contains(&share_table(MAX_LINES - 1)));
        assert!(PRIORITIES.contains(&(PRIO_SHARE_BASE + MAX_LINES as u32 - 1)));
        assert!(PRIO_SHARE_BASE + (MAX_LINES as u32) < PRIO_ACTIVE);
        // Sticky connections keep their line before policies decide, after main's routes
        // and the source rules.
        assert!(PRIO_SOURCE_BASE + (MAX_LINES as u32) <= PRIO_STICKY);
        assert!(PRIO_STICKY < PRIO_POLICY_BASE && PRIORITIES.contains(&PRIO_STICKY));
        assert!(PRIO_POLICY_BASE + MAX_POLICIES as u32 <= PRIO_STICKY_STRICT);
        const { assert!(PRIO_STICKY_STRICT < PRIO_SHARE_BASE) };
    }
}
