//! The desired kernel state as a value: routes, rules and the nft ruleset that the
//! reconciler makes the kernel hold.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use super::owned::*;
use super::select::Selection;
use super::sessions::Keeping;
use super::share::{share_routes, share_rules, share_script, sticky_rules};
use super::LinkFacts;
use crate::config::{Family, Policy, Prefix, Sticky, Uplink};
use std::sync::Arc;

/// One next hop of a default route.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NextHop {
    pub ifindex: u32,
    /// `None` on a point-to-point device: the route is `dev X scope link`.
    pub gateway: Option<IpAddr>,
    /// Multipath weight (1..=256); 1 for a single path.
    pub weight: u32,
}

/// A default route (`0.0.0.0/0` or `::/0`) in one of our tables; one per table and family.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub family: Family,
    pub table: u32,
    /// Sorted; more than one makes a multipath route; none makes an `unreachable` route
    /// (the kernel answers with ICMP unreachable instead of trying another table).
    pub nexthops: Vec<NextHop>,
}

/// What an ip rule matches.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleMatch {
    All,
    FwMark {
        mark: u32,
        mask: u32,
    },
    /// Source and/or destination prefix (at least one is set).
    Prefixes {
        from: Option<Prefix>,
        to: Option<Prefix>,
    },
    /// From one IPv6 address (a line's own: the source rule of an IPv6 line).
    From6(Ipv6Addr),
}

/// Where a policy's traffic goes now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChoice {
    /// Through line `index` (config order).
    Line(usize),
    /// Refused (`fallback = "unreachable"` and none of its lines is up).
    Unreachable,
    /// The normal selection (`fallback = "default"` and none of its lines is up).
    Fallthrough,
}

/// An ip rule we own: match, then look up `table`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rule {
    pub family: Family,
    pub priority: u32,
    pub matcher: RuleMatch,
    pub table: u32,
    /// `suppress_prefixlength N`: ignore results with a prefix this short or shorter.
    pub suppress_prefixlen: Option<u32>,
}

/// Everything uplink wants the kernel to hold, sorted so equal states compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Desired {
    pub routes: Vec<Route>,
    pub rules: Vec<Rule>,
    pub nft: Ruleset,
}

/// Our nft table in two parts, so that a change of selection does not reload large sets.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// The full `table inet uplink { ... }` definition. It depends on the config only,
    /// and can hold large sets, so it is built once per config and shared.
    pub table: Arc<str>,
    /// The nft commands that fill the load-sharing chains, which depend on the selection;
    /// empty when no lines share load.
    pub share: String,
}

impl Ruleset {
    /// Equal, comparing the shared table by pointer first: a large set is not compared
    /// byte by byte after every probe.
    pub fn same_as(&self, other: &Ruleset) -> bool {
        self.same_table(other) && self.share == other.share
    }

    /// Whether the config-only parts are equal (pointer first, as in [`Ruleset::same_as`]).
    pub fn same_table(&self, other: &Ruleset) -> bool {
        Arc::ptr_eq(&self.table, &other.table) || self.table == other.table
    }
}

pub use super::nft::nft_ruleset;

/// Builds the desired state from the configured lines, their link facts (same order), the
/// selection, and each policy's current choice (same order as `policies`).
pub fn desired_state(
    uplinks: &[Uplink],
    links: &[Option<&LinkFacts>],
    selection: &Selection,
    policies: &[(&Policy, PolicyChoice)],
) -> Desired {
    let only: Vec<&Policy> = policies.iter().map(|(p, _)| *p).collect();
    let table = nft_ruleset(uplinks, &only, &[]).into();
    desired_with_ruleset(
        uplinks,
        links,
        selection,
        policies,
        table,
        Sticky::default(),
        &[],
    )
}

/// [`desired_state`] with the nft table already built (see [`nft_ruleset`]) and the
/// config's way of sharing load; `keeping[i]`: whether line `i` keeps its existing
/// connections and filters reverse paths strictly (see `core::sessions`).
pub fn desired_with_ruleset(
    uplinks: &[Uplink],
    links: &[Option<&LinkFacts>],
    selection: &Selection,
    policies: &[(&Policy, PolicyChoice)],
    table: Arc<str>,
    sticky: Sticky,
    keeping: &[Keeping],
) -> Desired {
    let mut routes = line_routes(uplinks, links);
    routes.extend(active_routes(uplinks, links, selection));
    routes.extend(policy_routes(uplinks, links, policies));
    routes.extend(share_routes(uplinks, links, selection, keeping));
    crate::sort::stable(&mut routes);
    let mut rules = fixed_rules(uplinks);
    rules.extend(source_rules(links));
    rules.extend(policy_rules(policies));
    rules.extend(share_rules(uplinks));
    rules.extend(sticky_rules(uplinks, keeping));
    crate::sort::stable(&mut rules);
    let share = share_script(uplinks, selection, sticky);
    Desired {
        routes,
        rules,
        nft: Ruleset { table, share },
    }
}

/// The next hop of `uplink` over `link` (a learned gateway for `gateway = "auto"`).
pub(super) fn next_hop(uplink: &Uplink, link: &LinkFacts, weight: u32) -> NextHop {
    NextHop {
        ifindex: link.ifindex,
        gateway: super::gateway::resolve(uplink.gateway, link),
        weight,
    }
}

/// Each line's own table holds its default route while its link is usable, whether or not
/// the line is active: probes need it to leave through that line.
fn line_routes(uplinks: &[Uplink], links: &[Option<&LinkFacts>]) -> Vec<Route> {
    usable_links(uplinks, links)
        .map(|(i, uplink, link)| Route {
            family: uplink.family,
            table: line_table(i),
            nexthops: vec![next_hop(uplink, link, 1)],
        })
        .collect()
}

/// The families the config has lines of.
pub(super) fn families(uplinks: &[Uplink]) -> impl Iterator<Item = Family> + '_ {
    Family::ALL
        .into_iter()
        .filter(|f| uplinks.iter().any(|u| u.family == *f))
}

fn usable_links<'a>(
    uplinks: &'a [Uplink],
    links: &'a [Option<&'a LinkFacts>],
) -> impl Iterator<Item = (usize, &'a Uplink, &'a LinkFacts)> {
    uplinks
        .iter()
        .zip(links)
        .enumerate()
        .filter_map(|(i, (u, l))| l.filter(|l| l.usable()).map(|l| (i, u, l)))
}

/// The active table's default route of each family: the selected lines of that family.
fn active_routes(
    uplinks: &[Uplink],
    links: &[Option<&LinkFacts>],
    selection: &Selection,
) -> Vec<Route> {
    families(uplinks)
        .filter_map(|family| {
            let members: Vec<&(usize, u32)> = selection
                .members
                .iter()
                .filter(|(i, _)| uplinks[*i].family == family)
                .collect();
            let single = members.len() == 1;
            let mut nexthops: Vec<NextHop> = usable_links(uplinks, links)
                .filter_map(|(i, uplink, link)| {
                    let &&(_, weight) = members.iter().find(|(m, _)| *m == i)?;
                    Some(next_hop(uplink, link, if single { 1 } else { weight }))
                })
                .collect();
            crate::sort::stable(&mut nexthops);
            (!nexthops.is_empty()).then_some(Route {
                family,
                table: TABLE_ACTIVE,
                nexthops,
            })
        })
        .collect()
}

/// Rules that exist whatever the line states (an empty table simply falls through): each
/// line's mark rule, and `suppress main` and the active table per family in use.
fn fixed_rules(uplinks: &[Uplink]) -> Vec<Rule> {
    let mut rules: Vec<Rule> = uplinks
        .iter()
        .enumerate()
        .map(|(i, uplink)| Rule {
            family: uplink.family,
            priority: PRIO_MARK_BASE + i as u32,
            matcher: RuleMatch::FwMark {
                mark: line_mark(i),
                mask: MARK_MASK,
            },
            table: line_table(i),
            suppress_prefixlen: None,
        })
        .collect();
    for family in families(uplinks) {
        rules.push(Rule {
            family,
            priority: PRIO_SUPPRESS_MAIN,
            matcher: RuleMatch::All,
            table: libc::RT_TABLE_MAIN as u32,
            suppress_prefixlen: Some(0),
        });
        rules.push(Rule {
            family,
            priority: PRIO_ACTIVE,
            matcher: RuleMatch::All,
            table: TABLE_ACTIVE,
            suppress_prefixlen: None,
        });
    }
    rules
}

/// `from <address> lookup <line table>` for each address of each line (its family only).
fn source_rules(links: &[Option<&LinkFacts>]) -> Vec<Rule> {
    let mut rules = Vec::new();
    for (i, link) in links.iter().enumerate() {
        for addr in link.map(|l| l.addrs.as_slice()).unwrap_or_default() {
            let (family, matcher) = match addr {
                IpAddr::V4(v4) => (
                    Family::V4,
                    RuleMatch::Prefixes {
                        from: Some(Prefix::host(*v4)),
                        to: None,
                    },
                ),
                IpAddr::V6(v6) => (Family::V6, RuleMatch::From6(*v6)),
            };
            rules.push(Rule {
                family,
                priority: PRIO_SOURCE_BASE + i as u32,
                matcher,
                table: line_table(i),
                suppress_prefixlen: None,
            });
        }
    }
    rules
}

/// A policy's table holds a copy of its chosen line's default route, or an unreachable
/// route; switching line is one route replace, and its rules never change.
fn policy_routes<'a>(
    uplinks: &'a [Uplink],
    links: &'a [Option<&'a LinkFacts>],
    policies: &'a [(&Policy, PolicyChoice)],
) -> impl Iterator<Item = Route> + 'a {
    policies.iter().enumerate().filter_map(|(k, (_, choice))| {
        let nexthops = match *choice {
            PolicyChoice::Fallthrough => return None,
            PolicyChoice::Unreachable => Vec::new(),
            PolicyChoice::Line(i) => {
                let link = links.get(i).copied().flatten().filter(|l| l.usable())?;
                vec![next_hop(&uplinks[i], link, 1)]
            }
        };
        Some(Route {
            family: Family::V4,
            table: policy_table(k),
            nexthops,
        })
    })
}

/// Every (from, to) pair of a policy; an empty list matches anything.
fn policy_rules(policies: &[(&Policy, PolicyChoice)]) -> Vec<Rule> {
    let any = |prefixes: &[Prefix]| -> Vec<Option<Prefix>> {
        if prefixes.is_empty() {
            vec![None]
        } else {
            prefixes.iter().copied().map(Some).collect()
        }
    };
    let mut rules = Vec::new();
    for (k, (policy, _)) in policies.iter().enumerate() {
        if policy.marks_connections() {
            // Addresses, protocol and ports are matched in nft, which marks the connection.
            rules.push(Rule {
                family: Family::V4,
                priority: PRIO_POLICY_BASE + k as u32,
                matcher: RuleMatch::FwMark {
                    mark: policy_mark(k),
                    mask: MARK_MASK,
                },
                table: policy_table(k),
                suppress_prefixlen: None,
            });
            continue;
        }
        for from in any(&policy.from) {
            for to in any(&policy.to) {
                let matcher = match (from, to) {
                    (None, None) => RuleMatch::All,
                    (from, to) => RuleMatch::Prefixes { from, to },
                };
                rules.push(Rule {
                    family: Family::V4,
                    priority: PRIO_POLICY_BASE + k as u32,
                    matcher,
                    table: policy_table(k),
                    suppress_prefixlen: None,
                });
            }
        }
    }
    rules
}

impl NextHop {
    /// As the logs show it, with `dev` naming the device of an ifindex.
    pub fn describe(&self, dev: &dyn Fn(u32) -> String) -> String {
        let via = self
            .gateway
            .map(|gw| format!("via {gw} "))
            .unwrap_or_default();
        format!("{via}{} weight {}", dev(self.ifindex), self.weight)
    }
}

impl Route {
    /// As the logs show it, with `dev` naming the device of an ifindex.
    pub fn describe(&self, dev: &dyn Fn(u32) -> String) -> String {
        if self.nexthops.is_empty() {
            return format!(
                "unreachable default table {} proto {ROUTE_PROTOCOL}",
                self.table
            );
        }
        let six = if self.family == Family::V6 { "-6 " } else { "" };
        let mut out = format!("{six}default table {} proto {ROUTE_PROTOCOL}", self.table);
        for hop in &self.nexthops {
            out += &format!(" nexthop {}", hop.describe(dev));
        }
        out
    }
}

/// Names a device by its ifindex when nothing better is known.
pub fn ifindex_name(ifindex: u32) -> String {
    format!("ifindex {ifindex}")
}

impl fmt::Display for NextHop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&ifindex_name))
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&ifindex_name))
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.family == Family::V6 {
            f.write_str("-6 ")?;
        }
        write!(f, "{}: ", self.priority)?;
        match self.matcher {
            RuleMatch::All => write!(f, "from all")?,
            RuleMatch::From6(addr) => write!(f, "from {addr}")?,
            RuleMatch::FwMark { mark, mask } => write!(f, "from all fwmark {mark:#x}/{mask:#x}")?,
            RuleMatch::Prefixes { from, to } => {
                match from {
                    Some(p) => write!(f, "from {}", p.short())?,
                    None => write!(f, "from all")?,
                }
                if let Some(p) = to {
                    write!(f, " to {}", p.short())?;
                }
            }
        }
        write!(f, " lookup {}", self.table)?;
        if let Some(len) = self.suppress_prefixlen {
            write!(f, " suppress_prefixlength {len}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "desired_tests.rs"]
mod tests;
