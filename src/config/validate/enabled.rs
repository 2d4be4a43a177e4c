//! `enabled = false` (UCI `option enabled '0'`) on a line, policy or set: the section is left
//! out instead of being validated, as OpenWrt users expect of a disabled section (it may be
//! half written). Only its name is checked, so references to it can be told from typos.
//! Policies that name disabled lines skip them; one left without a line, or whose set is
//! disabled, is disabled too, with a note rather than an error.

use super::{check_name, invalid, quoted};
use crate::config::parse::{RawPolicy, RawSet, RawUplink};
use crate::config::{ConfigError, Disabled};

/// A section type's name and enabled switch, for [`split`].
pub(super) trait Switchable {
    /// How errors name the section type (`uplink`).
    const KIND: &'static str;
    fn name(&self) -> &str;
    fn enabled(&self) -> bool;
}

impl Switchable for RawUplink {
    const KIND: &'static str = "uplink";
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl Switchable for RawPolicy {
    const KIND: &'static str = "policy";
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

impl Switchable for RawSet {
    const KIND: &'static str = "set";
    fn name(&self) -> &str {
        &self.name
    }
    fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}

/// The enabled sections, and the names of the disabled ones. A disabled section's name
/// must still be a valid name, unique among all sections of its type (the enabled ones'
/// names are checked by their own validation).
pub(super) fn split<T: Switchable>(raw: Vec<T>) -> Result<(Vec<T>, Vec<String>), ConfigError> {
    let names: Vec<String> = raw.iter().map(|r| r.name().to_owned()).collect();
    let mut enabled = Vec::with_capacity(raw.len());
    let mut disabled = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        if r.enabled() {
            enabled.push(r);
            continue;
        }
        let obj = format!("{} {}", T::KIND, quoted(r.name()));
        check_name(&obj, r.name())?;
        if let Some(other) = names.iter().position(|n| n == r.name()).filter(|&o| o != i) {
            let reason = format!("duplicate (also {} #{})", T::KIND, other + 1);
            return Err(invalid(&obj, "name", "", reason));
        }
        disabled.push(r.name().to_owned());
    }
    Ok((enabled, disabled))
}

/// Drops disabled lines from each policy's list and disables the policies that are left
/// without a line or whose set is disabled; `disabled` already holds the disabled lines
/// and sets and gets the policies and notes.
pub(super) fn policies(raw: Vec<RawPolicy>, disabled: &mut Disabled) -> Vec<RawPolicy> {
    let mut kept = Vec::with_capacity(raw.len());
    for mut policy in raw {
        let obj = format!("policy {}", quoted(&policy.name));
        if let Some(set) = policy.set.as_ref().filter(|s| disabled.sets.contains(s)) {
            let note = format!("{obj}: disabled: its set {} is disabled", quoted(set));
            disabled.notes.push(note);
            disabled.policies.push(policy.name);
            continue;
        }
        let (off, on): (Vec<String>, Vec<String>) = policy
            .uplinks
            .into_iter()
            .partition(|name| disabled.uplinks.contains(name));
        policy.uplinks = on;
        if off.is_empty() {
            kept.push(policy);
            continue;
        }
        let names = off.iter().map(|n| quoted(n)).collect::<Vec<_>>().join(", ");
        if policy.uplinks.is_empty() {
            let note = format!("{obj}: disabled: every uplink it names is disabled ({names})");
            disabled.notes.push(note);
            disabled.policies.push(policy.name);
        } else {
            disabled
                .notes
                .push(format!("{obj}: skips disabled uplinks {names}"));
            kept.push(policy);
        }
    }
    kept
}
