//! mwan3 rules -> `[[policy]]` tables, in rule order (first match wins in both).
//!
//! The rule that matches all IPv4 traffic names the policy whose members became the lines'
//! metrics and weights; it needs no `[[policy]]`, nor do rules using that same policy.
//! Every other rule becomes a policy with its policy's lines in member-metric order.

use super::lines::is_ipv4;
use super::model::{Mwan3, Policy, Rule, BUILTIN_POLICIES};
use super::out::Out;

/// Longest policy name uplink accepts.
const MAX_NAME: usize = 15;

/// Index of the first rule that matches all IPv4 traffic.
pub(super) fn catch_all(rules: &[Rule]) -> Option<usize> {
    rules.iter().position(|r| {
        r.family != "ipv6"
            && r.use_policy.is_some()
            && r.src_ip.is_none()
            && r.dest_ip.as_deref().is_none_or(|d| d == "0.0.0.0/0")
            && r.proto == "all"
            && r.src_port.is_none()
            && r.dest_port.is_none()
            && r.ipset.is_none()
            && r.src_iface.is_none()
    })
}

/// Writes what each rule becomes.
pub(super) fn rules(out: &mut Out, m: &Mwan3, main_rule: Option<usize>) {
    let main_policy = main_rule.and_then(|i| m.rules[i].use_policy.as_deref());
    let mut names: Vec<String> = Vec::new();
    for (i, rule) in m.rules.iter().enumerate() {
        out.blank();
        out.comment(format!("mwan3 rule '{}' (line {})", rule.name, rule.line));
        let ipv6 = is_ipv6(rule);
        let Some(policy) = rule.use_policy.as_deref() else {
            out.comment("no use_policy: mwan3 ignores this rule");
            continue;
        };
        if Some(i) == main_rule {
            out.comment(format!(
                "matches all other IPv4 traffic: policy {policy} set the lines' metric and weight"
            ));
            sticky_note(out, rule, true);
        } else if main_rule.is_some_and(|first| first < i) && !ipv6 {
            let first = &m.rules[main_rule.unwrap_or(0)].name;
            out.comment(format!(
                "never reached: rule '{first}' before it matches all IPv4 traffic"
            ));
        } else if BUILTIN_POLICIES.contains(&policy) {
            out.comment(format!("use_policy {policy}: no equivalent (an uplink policy names lines); matching traffic follows the lines' metrics"));
        } else if Some(policy) == main_policy && !ipv6 {
            out.comment(format!("uses policy {policy} like all other traffic: no [[policy]] needed (in mwan3 it also went before the rules below it)"));
            sticky_note(out, rule, true);
        } else if let Some(p) = m.policy(policy) {
            let name = unique_name(&rule.name, &mut names);
            policy_block(out, m, rule, p, &name);
        }
    }
}

fn is_ipv6(rule: &Rule) -> bool {
    let v6 = |a: &Option<String>| a.as_deref().is_some_and(|a| !is_ipv4(a));
    rule.family == "ipv6" || v6(&rule.src_ip) || v6(&rule.dest_ip)
}

/// `shared`: the rule uses the lines' shared load (the catch-all policy).
fn sticky_note(out: &mut Out, rule: &Rule, shared: bool) {
    if !rule.sticky {
        return;
    }
    let timeout = rule.timeout.as_deref().unwrap_or("600");
    out.comment(if shared {
        format!("sticky (timeout {timeout} s): see sticky = \"source\" at the top")
    } else {
        format!("sticky (timeout {timeout} s): an uplink policy uses one line at a time, so a client stays on it anyway")
    });
}

/// The first IPv4 rule that is sticky and shares the lines' load (uses the catch-all
/// policy): uplink's `sticky` is global, so one such rule turns it on.
pub(super) fn sticky_rule(m: &Mwan3, main_rule: Option<usize>) -> Option<&Rule> {
    let main_policy = main_rule.and_then(|i| m.rules[i].use_policy.as_deref())?;
    let reachable = &m.rules[..=main_rule?];
    reachable
        .iter()
        .find(|r| r.sticky && !is_ipv6(r) && r.use_policy.as_deref() == Some(main_policy))
}

/// The rule's name, cut to uplink's limit and made unique.
fn unique_name(name: &str, taken: &mut Vec<String>) -> String {
    let mut candidate: String = name.chars().take(MAX_NAME).collect();
    let mut n = 2;
    while taken.contains(&candidate) {
        let suffix = format!("_{n}");
        let keep = MAX_NAME - suffix.len();
        candidate = format!("{}{suffix}", name.chars().take(keep).collect::<String>());
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

fn policy_block(out: &mut Out, m: &Mwan3, rule: &Rule, policy: &Policy, name: &str) {
    let mut reasons: Vec<String> = Vec::new();
    if is_ipv6(rule) {
        reasons.push("IPv6 rules are not supported yet".into());
    }
    let mut block = Out::default();
    block.raw("[[policy]]");
    if name != rule.name {
        block.key_note(
            "name",
            name,
            format!(
                "mwan3 rule '{}'; uplink names have at most {MAX_NAME} characters",
                rule.name
            ),
        );
    } else {
        block.key("name", name);
    }
    if let Some(src) = &rule.src_ip {
        block.key("from", vec![src.as_str()]);
    }
    if let Some(dest) = rule.dest_ip.as_deref().filter(|d| *d != "0.0.0.0/0") {
        block.key("to", vec![dest]);
    }
    matchers(&mut block, rule, &mut reasons);
    uplinks(&mut block, m, policy, &mut reasons);
    fallback(&mut block, policy);
    sticky_note(&mut block, rule, false);
    for (option, value) in &rule.extra {
        block.comment(format!(
            "mwan3 option {option} '{value}': no equivalent, ignored"
        ));
    }
    for reason in &reasons {
        out.comment(format!("{reason}: left commented out"));
    }
    out.append(block, !reasons.is_empty());
}

/// Protocol and ports; what uplink cannot match makes the policy unusable.
fn matchers(out: &mut Out, rule: &Rule, reasons: &mut Vec<String>) {
    match rule.proto.as_str() {
        "all" => {}
        "tcp" | "udp" | "icmp" => out.key("proto", rule.proto.as_str()),
        other => reasons.push(format!("proto {other}: uplink matches tcp, udp or icmp")),
    }
    if let Some(ports) = &rule.dest_port {
        match parse_ports(ports) {
            Some(list) => out.key("ports", list),
            None => reasons.push(format!("dest_port '{ports}' not understood")),
        }
    }
    if let Some(port) = &rule.src_port {
        reasons.push(format!(
            "src_port '{port}': uplink matches destination ports only"
        ));
    }
    if let Some(set) = &rule.ipset {
        reasons.push(format!(
            "ipset '{set}': uplink matches destinations in a [[set]] of prefixes (inline or from a file), not a kernel ipset filled at run time"
        ));
    }
    if let Some(iface) = &rule.src_iface {
        reasons.push(format!(
            "src_iface '{iface}': uplink matches source addresses, not interfaces"
        ));
    }
}

/// mwan3 (iptables multiport) writes `80,443,8000:8080`.
fn parse_ports(text: &str) -> Option<Vec<toml::Value>> {
    let mut list = Vec::new();
    for part in text.split([',', ' ']).filter(|p| !p.is_empty()) {
        let value = match part.split_once(':') {
            Some((low, high)) => {
                low.parse::<u16>().ok()?;
                high.parse::<u16>().ok()?;
                toml::Value::String(format!("{low}-{high}"))
            }
            None => toml::Value::Integer(part.parse::<u16>().ok()?.into()),
        };
        list.push(value);
    }
    (!list.is_empty()).then_some(list)
}

/// The policy's lines by member metric (stable); lines uplink cannot run are noted.
fn uplinks(out: &mut Out, m: &Mwan3, policy: &Policy, reasons: &mut Vec<String>) {
    let mut members: Vec<_> = policy.members.iter().filter_map(|n| m.member(n)).collect();
    crate::sort::stable_by_key(&mut members, |mem| mem.metric);
    // Each line once, in member-metric order.
    let mut lines: Vec<&str> = Vec::new();
    for mem in &members {
        if !lines.contains(&mem.interface.as_str()) {
            lines.push(&mem.interface);
        }
    }
    // uplink's policies take IPv4 lines only.
    let (usable, dropped): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|name| m.interface(name).is_some_and(|i| i.enabled && !i.ipv6));
    let note = format!("mwan3 policy {}, lowest member metric first", policy.name);
    if usable.is_empty() {
        reasons.push(format!("policy {} has no enabled IPv4 line", policy.name));
    }
    if !reasons.is_empty() {
        // Commented out anyway: show every line, for whoever enables them later.
        out.key_note("uplinks", lines, &note);
        return;
    }
    out.key_note("uplinks", usable.clone(), &note);
    if !dropped.is_empty() {
        out.comment(format!(
            "left out (disabled or IPv6): {}",
            dropped.join(", ")
        ));
    }
    let first = members
        .iter()
        .find(|mem| usable.contains(&mem.interface.as_str()));
    if let Some(first) = first {
        let shared = members
            .iter()
            .filter(|mem| mem.metric == first.metric && usable.contains(&mem.interface.as_str()));
        if shared.count() > 1 {
            out.comment(format!(
                "several members share metric {} (mwan3 balanced them by weight); an uplink policy uses one line at a time, in this order",
                first.metric
            ));
        }
    }
}

fn fallback(out: &mut Out, policy: &Policy) {
    let note = if policy.last_resort == "blackhole" {
        "mwan3 last_resort blackhole (dropped silently; uplink refuses with unreachable)".to_owned()
    } else if policy.last_resort_set {
        format!("mwan3 last_resort {}", policy.last_resort)
    } else {
        "mwan3's last_resort default (unreachable)".to_owned()
    };
    match policy.last_resort.as_str() {
        "default" => out.comment(format!("{note}: the normal selection (fallback default)")),
        _ => out.key_note("fallback", "unreachable", &note),
    }
}
