//! mwan3's config (`/etc/config/mwan3`) read into typed sections, with mwan3's own
//! defaults (those of `mwan3track` and `mwan3.sh`) filled in, and references between
//! sections checked.

use super::ImportError;
use crate::config::uci::{Document, Section};

/// The parts of an mwan3 config the import uses.
#[derive(Debug, Default)]
pub(super) struct Mwan3 {
    pub interfaces: Vec<Interface>,
    pub members: Vec<Member>,
    pub policies: Vec<Policy>,
    pub rules: Vec<Rule>,
    /// Options of `config globals`, none of which has an equivalent.
    pub globals: Vec<(String, String)>,
    /// Sections of other types, described, with their line.
    pub other_sections: Vec<(String, usize)>,
}

/// `config interface`: one tracked line.
#[derive(Debug)]
pub(super) struct Interface {
    pub name: String,
    pub line: usize,
    pub enabled: bool,
    pub ipv6: bool,
    pub track_ip: Vec<String>,
    pub reliability: i64,
    pub count: i64,
    /// Seconds, like all timings here.
    pub timeout: f64,
    pub interval: f64,
    pub failure_interval: f64,
    pub recovery_interval: f64,
    pub down: i64,
    pub up: i64,
    pub check_quality: bool,
    pub failure_latency: i64,
    pub failure_loss: i64,
    pub recovery_latency: i64,
    pub recovery_loss: i64,
    pub flush_conntrack: Vec<String>,
    /// Options with no equivalent, as written.
    pub extra: Vec<(String, String)>,
}

/// `config member`: an interface with a metric and weight, for policies.
#[derive(Debug)]
pub(super) struct Member {
    pub name: String,
    pub interface: String,
    pub metric: i64,
    pub weight: i64,
}

/// `config policy`: members to use, lowest metric first.
#[derive(Debug)]
pub(super) struct Policy {
    pub name: String,
    pub members: Vec<String>,
    /// `unreachable` (mwan3's default), `blackhole` or `default`.
    pub last_resort: String,
    pub last_resort_set: bool,
}

/// `config rule`: traffic matched in order, sent to a policy.
#[derive(Debug)]
pub(super) struct Rule {
    pub name: String,
    pub line: usize,
    pub src_ip: Option<String>,
    pub dest_ip: Option<String>,
    /// `all` when not set.
    pub proto: String,
    pub src_port: Option<String>,
    pub dest_port: Option<String>,
    pub ipset: Option<String>,
    pub src_iface: Option<String>,
    pub sticky: bool,
    pub timeout: Option<String>,
    pub use_policy: Option<String>,
    /// `any` (mwan3's default), `ipv4` or `ipv6`.
    pub family: String,
    pub extra: Vec<(String, String)>,
}

/// Policies every mwan3 rule may name without defining them.
pub(super) const BUILTIN_POLICIES: &[&str] = &["default", "unreachable", "blackhole"];

/// Typed access to one section's options, with errors naming section, option and line.
struct Options<'a> {
    section: &'a Section,
    file: &'static str,
}

impl<'a> Options<'a> {
    fn error(&self, option: &str, value: &str, reason: impl Into<String>) -> ImportError {
        let line = self
            .section
            .option(option)
            .map_or(self.section.line, |o| o.line);
        ImportError::Invalid {
            file: self.file,
            section: self.section.describe(),
            line,
            option: option.to_owned(),
            value: if value.is_empty() {
                String::new()
            } else {
                format!("{value:?}")
            },
            reason: reason.into(),
        }
    }

    fn text(&self, option: &str) -> Option<String> {
        self.section.get(option).map(str::to_owned)
    }

    fn list(&self, option: &str) -> Vec<String> {
        let Some(o) = self.section.option(option) else {
            return Vec::new();
        };
        o.value.items().into_iter().map(str::to_owned).collect()
    }

    fn int(&self, option: &str, default: i64) -> Result<i64, ImportError> {
        let Some(text) = self.section.get(option) else {
            return Ok(default);
        };
        match text.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(n),
            _ => Err(self.error(option, text, "not a whole number")),
        }
    }

    /// A duration in seconds; mwan3 passes it to `sleep` and `ping -W`.
    fn secs(&self, option: &str, default: f64) -> Result<f64, ImportError> {
        let Some(text) = self.section.get(option) else {
            return Ok(default);
        };
        match text.trim().parse::<f64>() {
            Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
            _ => Err(self.error(option, text, "not a number of seconds (0 < s <= 86400)")),
        }
    }

    fn boolean(&self, option: &str, default: bool) -> Result<bool, ImportError> {
        let Some(text) = self.section.get(option) else {
            return Ok(default);
        };
        crate::config::uci::parse_bool(text).ok_or_else(|| {
            self.error(
                option,
                text,
                "not a boolean (1/0, yes/no, on/off, true/false)",
            )
        })
    }

    fn one_of(&self, option: &str, default: &str, allowed: &[&str]) -> Result<String, ImportError> {
        let value = self.text(option).unwrap_or_else(|| default.to_owned());
        if allowed.contains(&value.as_str()) {
            return Ok(value);
        }
        Err(self.error(
            option,
            &value,
            format!("must be one of {}", allowed.join(", ")),
        ))
    }

    /// Options not in `known`, as written (lists joined by spaces).
    fn extra(&self, known: &[&str]) -> Vec<(String, String)> {
        let unknown = self
            .section
            .options
            .iter()
            .filter(|o| !known.contains(&o.name.as_str()));
        unknown
            .map(|o| (o.name.clone(), o.value.items().join(" ")))
            .collect()
    }

    fn name(&self) -> Result<String, ImportError> {
        self.section
            .name
            .clone()
            .ok_or_else(|| ImportError::Invalid {
                file: self.file,
                section: self.section.describe(),
                line: self.section.line,
                option: String::new(),
                value: String::new(),
                reason: format!(
                    "needs a name (config {} 'NAME'): other sections refer to it",
                    self.section.kind
                ),
            })
    }
}

const INTERFACE_OPTIONS: &[&str] = &[
    "enabled",
    "family",
    "track_ip",
    "reliability",
    "count",
    "timeout",
    "interval",
    "failure_interval",
    "recovery_interval",
    "down",
    "up",
    "check_quality",
    "failure_latency",
    "failure_loss",
    "recovery_latency",
    "recovery_loss",
    "flush_conntrack",
];

fn interface(o: &Options) -> Result<Interface, ImportError> {
    let interval = o.secs("interval", 10.0)?;
    Ok(Interface {
        name: o.name()?,
        line: o.section.line,
        enabled: o.boolean("enabled", false)?,
        ipv6: o.one_of("family", "ipv4", &["ipv4", "ipv6"])? == "ipv6",
        track_ip: o.list("track_ip"),
        reliability: o.int("reliability", 1)?,
        count: o.int("count", 1)?,
        timeout: o.secs("timeout", 4.0)?,
        interval,
        failure_interval: o.secs("failure_interval", interval)?,
        recovery_interval: o.secs("recovery_interval", interval)?,
        down: o.int("down", 5)?.max(1),
        up: o.int("up", 5)?.max(1),
        check_quality: o.boolean("check_quality", false)?,
        failure_latency: o.int("failure_latency", 1000)?,
        failure_loss: o.int("failure_loss", 40)?,
        recovery_latency: o.int("recovery_latency", 500)?,
        recovery_loss: o.int("recovery_loss", 10)?,
        flush_conntrack: o.list("flush_conntrack"),
        extra: o.extra(INTERFACE_OPTIONS),
    })
}

fn member(o: &Options, interfaces: &[Interface]) -> Result<Member, ImportError> {
    let Some(interface) = o.text("interface") else {
        return Err(o.error("interface", "", "missing"));
    };
    if !interfaces.iter().any(|i| i.name == interface) {
        return Err(o.error(
            "interface",
            &interface,
            "no interface section has this name",
        ));
    }
    Ok(Member {
        name: o.name()?,
        interface,
        metric: o.int("metric", 1)?,
        weight: o.int("weight", 1)?,
    })
}

fn policy(o: &Options, members: &[Member]) -> Result<Policy, ImportError> {
    let names = o.list("use_member");
    if let Some(bad) = names
        .iter()
        .find(|n| !members.iter().any(|m| &m.name == *n))
    {
        return Err(o.error("use_member", bad, "no member section has this name"));
    }
    Ok(Policy {
        name: o.name()?,
        members: names,
        last_resort: o.one_of("last_resort", "unreachable", BUILTIN_POLICIES)?,
        last_resort_set: o.text("last_resort").is_some(),
    })
}

const RULE_OPTIONS: &[&str] = &[
    "src_ip",
    "dest_ip",
    "proto",
    "src_port",
    "dest_port",
    "ipset",
    "src_iface",
    "sticky",
    "timeout",
    "use_policy",
    "family",
];

fn rule(o: &Options, policies: &[Policy]) -> Result<Rule, ImportError> {
    let use_policy = o.text("use_policy");
    if let Some(p) = &use_policy {
        let known = BUILTIN_POLICIES.contains(&p.as_str()) || policies.iter().any(|q| &q.name == p);
        if !known {
            let reason =
                "no policy section has this name (nor is it default, unreachable or blackhole)";
            return Err(o.error("use_policy", p, reason));
        }
    }
    Ok(Rule {
        name: o.name()?,
        line: o.section.line,
        src_ip: o.text("src_ip"),
        dest_ip: o.text("dest_ip"),
        proto: o.text("proto").unwrap_or_else(|| "all".to_owned()),
        src_port: o.text("src_port"),
        dest_port: o.text("dest_port"),
        ipset: o.text("ipset"),
        src_iface: o.text("src_iface"),
        sticky: o.boolean("sticky", false)?,
        timeout: o.text("timeout"),
        use_policy,
        family: o.one_of("family", "any", &["any", "ipv4", "ipv6"])?,
        extra: o.extra(RULE_OPTIONS),
    })
}

/// Reads the sections in dependency order (interfaces, members, policies, rules), so a
/// reference to a missing section is reported where it is written.
pub(super) fn read(doc: &Document) -> Result<Mwan3, ImportError> {
    let opts = |section| Options {
        section,
        file: "mwan3",
    };
    let mut m = Mwan3::default();
    for s in doc.sections_of("interface") {
        m.interfaces.push(interface(&opts(s))?);
    }
    for s in doc.sections_of("member") {
        m.members.push(member(&opts(s), &m.interfaces)?);
    }
    for s in doc.sections_of("policy") {
        m.policies.push(policy(&opts(s), &m.members)?);
    }
    for s in doc.sections_of("rule") {
        m.rules.push(rule(&opts(s), &m.policies)?);
    }
    for s in doc.sections_of("globals") {
        m.globals.extend(opts(s).extra(&[]));
    }
    let known = ["interface", "member", "policy", "rule", "globals"];
    let others = doc
        .sections
        .iter()
        .filter(|s| !known.contains(&s.kind.as_str()));
    m.other_sections = others.map(|s| (s.describe(), s.line)).collect();
    Ok(m)
}

impl Mwan3 {
    pub(super) fn interface(&self, name: &str) -> Option<&Interface> {
        self.interfaces.iter().find(|i| i.name == name)
    }

    pub(super) fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub(super) fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
}
