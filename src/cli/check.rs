//! `uplink check`: what the config means in kernel objects, without touching the kernel.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use uplink::config::{Config, Fallback, Family, Gateway, Policy};
use uplink::core::desired::PolicyChoice;
use uplink::core::desired::{desired_with_ruleset, nft_ruleset};
use uplink::core::owned::*;
use uplink::core::select::{merged, select_each_family};
use uplink::core::sessions::Keeping;
use uplink::core::{Candidate, LinkFacts, RuleMatch};
use uplink::text::printable_lines;

/// The plan for `config`, assuming every line's link is up and every line healthy.
/// Device indices and addresses are only known at run time, so they are shown by name.
pub fn render_plan(config: &Config) -> String {
    let uplinks = &config.uplinks;
    // Placeholder facts: ifindex i+1 stands for device i (so line table TABLE_ACTIVE+1+i
    // belongs to ifindex table - TABLE_ACTIVE); addresses are shown symbolically.
    let facts: Vec<LinkFacts> = uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let unspecified: IpAddr = match u.family {
                Family::V4 => Ipv4Addr::UNSPECIFIED.into(),
                Family::V6 => Ipv6Addr::UNSPECIFIED.into(),
            };
            LinkFacts {
                ifindex: i as u32 + 1,
                admin_up: true,
                carrier: true,
                addrs: vec![unspecified],
                // Stands for the learned gateway of an "auto" line (shown as such).
                gateway: Some(unspecified),
                ..LinkFacts::default()
            }
        })
        .collect();
    let candidates: Vec<Candidate> = uplinks
        .iter()
        .map(|u| Candidate {
            family: u.family,
            metric: u.metric,
            weight: u.weight,
            up: true,
            degraded: false,
            suppressed: false,
            pending: false,
            link_usable: true,
            recency: None,
        })
        .collect();
    let selection = merged(select_each_family(&candidates));
    let links: Vec<Option<&LinkFacts>> = facts.iter().map(Some).collect();
    // With every line healthy each policy uses its first line.
    let policies: Vec<(&Policy, PolicyChoice)> = config
        .policies
        .iter()
        .map(|p| {
            let first = uplinks.iter().position(|u| u.name == p.uplinks[0]);
            (
                p,
                first.map_or(PolicyChoice::Fallthrough, PolicyChoice::Line),
            )
        })
        .collect();
    let table = nft_ruleset(
        uplinks,
        &config.policies.iter().collect::<Vec<_>>(),
        &config.sets,
    );
    // The lines taking new connections keep their own (serving tables).
    let keeping: Vec<Keeping> = (0..uplinks.len())
        .map(|i| Keeping {
            holds: policies.iter().any(|(_, c)| *c == PolicyChoice::Line(i)),
            strict_rp: false,
        })
        .collect();
    let desired = desired_with_ruleset(
        uplinks,
        &links,
        &selection,
        &policies,
        table.into(),
        config.sticky,
        &keeping,
    );
    let device: HashMap<u32, String> = uplinks
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let name = match &u.interface {
                Some(iface) => format!("<device of {iface}>"),
                None => u.device.clone(),
            };
            (i as u32 + 1, name)
        })
        .collect();

    let mut out = String::new();
    writeln!(
        out,
        "config OK: {} uplinks, control socket {}\n",
        uplinks.len(),
        config.socket.display()
    )
    .unwrap();
    out += &render_lines(config);
    out += "\nroutes (proto 197; the active table shown with every line healthy):\n";
    for route in &desired.routes {
        let hops: Vec<String> = route
            .nexthops
            .iter()
            .map(|h| {
                let via = match h.gateway {
                    Some(g) if g.is_unspecified() => "via <learned gateway> ".to_string(),
                    Some(g) => format!("via {g} "),
                    None => String::new(),
                };
                let weight = if route.nexthops.len() > 1 {
                    format!(" weight {}", h.weight)
                } else {
                    String::new()
                };
                format!("{via}dev {}{weight}", device[&h.ifindex])
            })
            .collect();
        let six = if route.family == Family::V6 {
            "-6 "
        } else {
            ""
        };
        writeln!(
            out,
            "  {six}table {}: default {}",
            route.table,
            hops.join(" nexthop ")
        )
        .unwrap();
    }
    out += "\nip rules (proto 197):\n";
    for rule in &desired.rules {
        let is_source_rule = (PRIO_SOURCE_BASE..PRIO_POLICY_BASE).contains(&rule.priority);
        let text = match rule.matcher {
            RuleMatch::Prefixes { .. } | RuleMatch::From6(_) if is_source_rule => {
                let (six, family) = match rule.family {
                    Family::V4 => ("", "IPv4"),
                    Family::V6 => ("-6 ", "IPv6"),
                };
                format!(
                    "{six}{}: from <each {family} address of {}> lookup {}",
                    rule.priority,
                    device[&(rule.table - TABLE_ACTIVE)],
                    rule.table
                )
            }
            _ => rule.to_string().replace("lookup 254", "lookup main"),
        };
        writeln!(out, "  {text}").unwrap();
    }
    out += &render_policies(config);
    out += "\nnft ruleset (nft -f -):\n";
    for line in desired.nft.table.lines() {
        writeln!(out, "  {line}").unwrap();
    }
    if !desired.nft.share.is_empty() {
        out += "\nload sharing (chain share, replaced when the group changes; every line up):\n";
        writeln!(out, "  {}", desired.nft.share).unwrap();
    }
    // Validation leaves no control character in a name; should one get through all the
    // same, it is shown escaped rather than sent to the terminal.
    match printable_lines(&out) {
        Cow::Borrowed(_) => out,
        Cow::Owned(escaped) => escaped,
    }
}

fn render_lines(config: &Config) -> String {
    let mut out = String::from("uplinks:\n");
    for (i, u) in config.uplinks.iter().enumerate() {
        let gw = match u.gateway {
            Gateway::None => "point-to-point (no gateway)".to_string(),
            Gateway::Fixed(g) => format!("gateway {g}"),
            Gateway::Auto => "gateway learned from the device's default route".to_string(),
        };
        let on = match &u.interface {
            Some(iface) => format!("netifd interface {iface} (device found at run time)"),
            None => u.device.clone(),
        };
        writeln!(
            out,
            "  {} on {on}: {gw}, metric {}, weight {}, table {}, probe mark {:#x}{}",
            u.name,
            u.metric,
            u.weight,
            line_table(i),
            line_mark(i),
            if u.masquerade { ", masquerade" } else { "" }
        )
        .unwrap();
        if u.follows_link_only() {
            out += "    probes: none: follows link state only (carrier, admin state, address)\n";
        } else {
            let p = &u.probe;
            let targets: Vec<String> = p.targets.iter().map(ToString::to_string).collect();
            writeln!(out, "    probes: {} every {} ms, timeout {} ms; down after {} ms without replies from {} target(s), up after {} ms of replies", targets.join(", "), p.interval.as_millis(), p.timeout.as_millis(), p.down_after.as_millis(), p.reliability, p.up_after.as_millis()).unwrap();
        }
    }
    out
}

fn render_policies(config: &Config) -> String {
    if config.policies.is_empty() {
        return String::new();
    }
    let mut out = String::from("\npolicies (table 7740+k holds the chosen line's route):\n");
    for (k, p) in config.policies.iter().enumerate() {
        let fallback = match p.fallback {
            Fallback::Default => "the normal selection",
            Fallback::Unreachable => "unreachable (never another line)",
        };
        writeln!(
            out,
            "  {} (table {}): {}; none up: {fallback}",
            p.name,
            policy_table(k),
            p.uplinks.join(" > ")
        )
        .unwrap();
    }
    out
}

/// Warnings about the system as it is now: a fixed gateway that no address of its device
/// covers (the kernel would refuse the line's route, so the line would stay down), or a
/// device that does not exist yet. `links` is a netlink dump by device name.
pub fn system_warnings(config: &Config, links: &HashMap<String, LinkFacts>) -> Vec<String> {
    let mut warnings = Vec::new();
    for uplink in &config.uplinks {
        let name = &uplink.name;
        let Some(link) = links.get(&uplink.device) else {
            if !uplink.device.is_empty() {
                warnings.push(format!(
                    "uplink {name:?}: device {:?} does not exist (yet): the line stays down until it does",
                    uplink.device
                ));
            }
            continue;
        };
        let own_address =
            |t: &&uplink::config::Target| t.addr().is_some_and(|a| link.addrs.contains(&a));
        if let Some(own) = uplink.probe.targets.iter().find(own_address) {
            warnings.push(format!(
                "uplink {name:?}: probe target {own} is an address of {:?} itself: it always answers, so it cannot tell whether the line works",
                uplink.device
            ));
        }
        let Some(gateway) = uplink.gateway.fixed() else {
            continue;
        };
        let networks: Vec<(IpAddr, u8)> = link
            .networks
            .iter()
            .copied()
            .filter(|(a, _)| Family::of(a) == uplink.family)
            .collect();
        if link.point_to_point || uplink::core::gateway::on_link(gateway, &networks) {
            continue;
        }
        let shown: Vec<String> = networks.iter().map(|(a, l)| format!("{a}/{l}")).collect();
        warnings.push(format!(
            "uplink {name:?}: gateway {gateway} is not on-link on {:?} (addresses: {}): the kernel would refuse its route and the line would stay down",
            uplink.device,
            if shown.is_empty() { "none".to_string() } else { shown.join(", ") }
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_off_link_gateway_and_a_missing_device_are_warned_about() {
        let config = uplink::config::parse(
            "[[uplink]]\nname = \"main\"\ndevice = \"wan1\"\ngateway = \"198.18.200.1\"\n\
             [[uplink]]\nname = \"backup\"\ndevice = \"wan2\"\ngateway = \"198.51.100.1\"\n\
             [uplink.probe]\ntargets = [\"198.51.100.2\"]\n\
             [[uplink]]\nname = \"lte\"\ndevice = \"wwan0\"\ngateway = \"203.0.113.1\"\n",
        )
        .unwrap();
        let link = |addr: &str, len| LinkFacts {
            addrs: vec![addr.parse().unwrap()],
            networks: vec![(addr.parse().unwrap(), len)],
            ..LinkFacts::default()
        };
        let links = HashMap::from([
            ("wan1".to_string(), link("192.0.2.2", 24)),
            ("wan2".to_string(), link("198.51.100.2", 24)),
        ]);
        let warnings = system_warnings(&config, &links);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with(
            "uplink \"main\": gateway 198.18.200.1 is not on-link on \"wan1\" (addresses: 192.0.2.2/24)"
        ));
        assert!(warnings[1].starts_with(
            "uplink \"backup\": probe target 198.51.100.2 is an address of \"wan2\" itself"
        ));
        assert!(warnings[2].contains("device \"wwan0\" does not exist"));
    }

    /// A device name with an escape sequence, as if it had slipped past validation: shown
    /// escaped in every part of the plan, and its nft rules left out.
    #[test]
    fn control_characters_in_names_are_shown_escaped() {
        let mut config = uplink::config::parse(
            "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\nmasquerade = true\n",
        )
        .unwrap();
        config.uplinks[0].device = "eth0\u{1b}[2J".into();
        let plan = render_plan(&config);
        assert!(!plan.contains('\u{1b}'), "{plan:?}");
        assert!(
            plan.contains("main on eth0\\u{1b}[2J: point-to-point"),
            "{plan}"
        );
        assert!(plan.contains("default dev eth0\\u{1b}[2J"), "{plan}");
        assert!(!plan.contains("oifname"), "{plan}");
    }
}
