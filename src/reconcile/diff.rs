//! The pure diff between desired and actual routes and rules.

use std::collections::HashSet;
use std::fmt;

use crate::config::Family;
use crate::core::{Desired, Route, Rule};

/// One kernel change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Add or replace the default route of the route's table (one netlink replace, so a
    /// switch of line never leaves a moment without a route).
    PutRoute(Route),
    DeleteRoute(Route),
    AddRule(Rule),
    DeleteRule(Rule),
}

impl Change {
    /// As the logs show it, with `dev` naming the device of an ifindex.
    pub fn describe(&self, dev: &dyn Fn(u32) -> String) -> String {
        match self {
            Change::PutRoute(r) => format!("route replace {}", r.describe(dev)),
            Change::DeleteRoute(r) => format!("route delete {}", r.describe(dev)),
            Change::AddRule(r) => format!("rule add {r}"),
            Change::DeleteRule(r) => format!("rule delete {r}"),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(&crate::core::desired::ifindex_name))
    }
}

/// The changes that turn `routes` + `rules` (ours, as the kernel has them) into `desired`.
/// Order matters for traffic: new routes and rules go in before old ones go out.
pub fn diff(desired: &Desired, routes: &[Route], rules: &[Rule]) -> Vec<Change> {
    let mut changes = Vec::new();
    for route in &desired.routes {
        if !routes.contains(route) {
            changes.push(Change::PutRoute(route.clone()));
        }
    }
    for rule in &desired.rules {
        if !rules.contains(rule) {
            changes.push(Change::AddRule(rule.clone()));
        }
    }
    changes.extend(surplus_rules(&desired.rules, rules).map(Change::DeleteRule));
    // Keyed by family too: an IPv6 table we no longer want may share its number with an
    // IPv4 table we still want (the active table of each family is 7700).
    let wanted_tables: HashSet<(Family, u32)> =
        desired.routes.iter().map(|r| (r.family, r.table)).collect();
    for route in routes {
        // A differing route in a table we still want is overwritten by the PutRoute above.
        if !wanted_tables.contains(&(route.family, route.table)) {
            changes.push(Change::DeleteRoute(route.clone()));
        }
    }
    changes
}

/// Actual rules not desired, and second copies of desired ones (left by an older kernel
/// or a crashed run).
fn surplus_rules<'a>(desired: &'a [Rule], actual: &'a [Rule]) -> impl Iterator<Item = Rule> + 'a {
    let mut kept = HashSet::new();
    actual
        .iter()
        .filter(move |rule| !(desired.contains(rule) && kept.insert(*rule)))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::{NextHop, RuleMatch};

    fn route(table: u32, ifindex: u32) -> Route {
        Route {
            family: crate::config::Family::V4,
            table,
            nexthops: vec![NextHop {
                ifindex,
                gateway: None,
                weight: 1,
            }],
        }
    }

    fn rule(priority: u32) -> Rule {
        Rule {
            family: crate::config::Family::V4,
            priority,
            matcher: RuleMatch::All,
            table: 7700,
            suppress_prefixlen: None,
        }
    }

    fn desired(routes: Vec<Route>, rules: Vec<Rule>) -> Desired {
        Desired {
            routes,
            rules,
            nft: Default::default(),
        }
    }

    #[test]
    fn nothing_to_do_when_equal() {
        let d = desired(vec![route(7700, 2)], vec![rule(7990)]);
        assert!(diff(&d, &d.routes, &d.rules).is_empty());
    }

    #[test]
    fn switching_line_is_one_replace() {
        let d = desired(vec![route(7700, 3)], vec![]);
        assert_eq!(
            diff(&d, &[route(7700, 2)], &[]),
            vec![Change::PutRoute(route(7700, 3))]
        );
    }

    #[test]
    fn leftovers_are_removed_and_missing_added() {
        let d = desired(vec![route(7701, 2)], vec![rule(7990)]);
        let changes = diff(&d, &[route(7702, 3)], &[rule(7750)]);
        assert_eq!(
            changes,
            vec![
                Change::PutRoute(route(7701, 2)),
                Change::AddRule(rule(7990)),
                Change::DeleteRule(rule(7750)),
                Change::DeleteRoute(route(7702, 3)),
            ]
        );
    }

    #[test]
    fn duplicate_rules_are_reduced_to_one() {
        let d = desired(vec![], vec![rule(7990)]);
        assert_eq!(
            diff(&d, &[], &[rule(7990), rule(7990)]),
            vec![Change::DeleteRule(rule(7990))]
        );
    }

    #[test]
    fn a_table_is_judged_per_family() {
        let v6 = Route {
            family: Family::V6,
            ..route(7700, 2)
        };
        let d = desired(vec![route(7700, 3)], vec![]);
        assert_eq!(
            diff(&d, &[route(7700, 3), v6.clone()], &[]),
            vec![Change::DeleteRoute(v6)],
            "the last IPv6 default route goes although IPv4 still uses table 7700"
        );
    }

    #[test]
    fn empty_desired_removes_everything() {
        let d = Desired::default();
        let changes = diff(&d, &[route(7700, 1)], &[rule(7750)]);
        assert_eq!(
            changes,
            vec![
                Change::DeleteRule(rule(7750)),
                Change::DeleteRoute(route(7700, 1))
            ]
        );
    }
}
