//! `uplink import-mwan3`: an mwan3 config (`/etc/config/mwan3`) turned into an equivalent
//! uplink TOML config, with a `#` comment on everything that has no equivalent or changes
//! meaning.
//!
//! - `config interface` -> `[[uplink]]` (device from `/etc/config/network` when given,
//!   count-based probe timing turned into time-based keys, see `lines`);
//! - the policy of the rule that matches all traffic -> the lines' `metric` and `weight`;
//! - other rules -> `[[policy]]` in rule order, lines in member-metric order;
//! - what uplink cannot run yet (IPv6, disabled interfaces, ipsets...) is written commented
//!   out, with the reason.

mod lines;
mod model;
mod network;
mod out;
mod rules;
pub mod user;

#[cfg(test)]
mod tests;

use crate::config::uci::{self, UciError};
use out::Out;

/// Why an mwan3 (or network) config could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not valid UCI.
    #[error("{file}: {source}")]
    Syntax {
        /// `mwan3` or `network`.
        file: &'static str,
        source: UciError,
    },
    /// A value mwan3 itself would not accept, or a reference to a missing section.
    #[error("{file}: {section} (line {line}): {}", detail(option, value, reason))]
    Invalid {
        /// `mwan3` or `network`.
        file: &'static str,
        /// `member "wan_m1"`.
        section: String,
        line: usize,
        /// Empty when the section itself is the problem.
        option: String,
        /// Quoted, or empty.
        value: String,
        reason: String,
    },
}

/// `option "x" "v": reason`, leaving out what is empty.
fn detail(option: &str, value: &str, reason: &str) -> String {
    match (option.is_empty(), value.is_empty()) {
        (true, _) => reason.to_owned(),
        (false, true) => format!("option {option:?}: {reason}"),
        (false, false) => format!("option {option:?} {value}: {reason}"),
    }
}

/// Converts mwan3 config text into uplink TOML text; `network` is the text of OpenWrt's
/// `/etc/config/network`, used to find each interface's device.
pub fn import(mwan3: &str, network: Option<&str>) -> Result<String, ImportError> {
    let doc = uci::parse(mwan3).map_err(|source| ImportError::Syntax {
        file: "mwan3",
        source,
    })?;
    let network = network
        .map(uci::parse)
        .transpose()
        .map_err(|source| ImportError::Syntax {
            file: "network",
            source,
        })?;
    let m = model::read(&doc)?;
    let main_rule = rules::catch_all(&m.rules);
    let main_policy = main_rule
        .and_then(|i| m.rules[i].use_policy.as_deref())
        .and_then(|name| m.policy(name));
    let mut out = Out::default();
    header(&mut out, &m, main_rule, main_policy);
    let ranks = lines::ranks(&m, main_policy);
    for iface in &m.interfaces {
        let device = network::resolve(network.as_ref(), &iface.name);
        lines::line(&mut out, iface, device, &ranks[&iface.name]);
    }
    rules::rules(&mut out, &m, main_rule);
    Ok(out.text())
}

fn header(
    out: &mut Out,
    m: &model::Mwan3,
    main_rule: Option<usize>,
    main_policy: Option<&model::Policy>,
) {
    out.comment("uplink config converted from mwan3 by `uplink import-mwan3`.");
    out.comment("Read every comment (FIX ones need an edit), then: uplink check -c <this file>");
    if !m.interfaces.iter().any(|i| i.enabled) {
        out.comment("FIX: no enabled interface in mwan3: uncomment at least one [[uplink]] below");
    }
    match (main_rule, main_policy) {
        (Some(i), Some(p)) => {
            out.comment(format!(
                "Lines' metric and weight: mwan3 policy {} (rule '{}' sends all other traffic to it).",
                p.name, m.rules[i].name
            ));
            let refuse = if p.last_resort == "default" {
                "used the system's routing table"
            } else {
                "refused traffic"
            };
            out.comment(format!(
                "With all its lines down mwan3 {refuse}; uplink keeps the best line whose link is up, else the system's routes."
            ));
        }
        _ => out.comment("No mwan3 rule sends all traffic to a policy: metrics follow the order of the interfaces."),
    }
    if let Some(rule) = rules::sticky_rule(m, main_rule) {
        let note = format!(
            "mwan3 rule '{}' was sticky: uplink's sticky applies to all traffic shared over equal-metric lines",
            rule.name
        );
        out.key_note("sticky", "source", &note);
    }
    for (option, value) in &m.globals {
        out.comment(format!(
            "mwan3 globals option {option} '{value}': no equivalent, ignored"
        ));
    }
    for (section, line) in &m.other_sections {
        out.comment(format!(
            "mwan3 section {section} (line {line}): not understood, ignored"
        ));
    }
}
