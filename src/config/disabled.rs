//! What `enabled = false` left out of a config, and why a config may give the daemon
//! nothing to run.

use super::Config;

/// What a config disables, by name, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disabled {
    /// `[[uplink]]` tables with `enabled = false`.
    pub uplinks: Vec<String>,
    /// `[[policy]]` tables with `enabled = false`, or left without a line or set.
    pub policies: Vec<String>,
    /// `[[set]]` tables with `enabled = false`.
    pub sets: Vec<String>,
    /// Warnings about references to disabled sections: a policy that skips a disabled line,
    /// or that is disabled because its lines or its set are.
    pub notes: Vec<String>,
}

impl Disabled {
    /// True when nothing is disabled.
    pub fn is_empty(&self) -> bool {
        self.uplinks.is_empty() && self.policies.is_empty() && self.sets.is_empty()
    }
}

/// `uplink "a", policy "b", set "c"`: the disabled sections in one line.
pub fn describe_disabled(disabled: &Disabled) -> String {
    let kinds = [
        ("uplink", &disabled.uplinks),
        ("policy", &disabled.policies),
        ("set", &disabled.sets),
    ];
    let names: Vec<String> = kinds
        .iter()
        .flat_map(|(kind, names)| names.iter().map(move |n| format!("{kind} {n:?}")))
        .collect();
    names.join(", ")
}

/// Why a valid config gives the daemon nothing to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Off {
    /// The config switches uplink off as a whole.
    #[error(
        "uplink is switched off in the config (enabled = false; UCI: option enabled '0' \
         in config globals)"
    )]
    SwitchedOff,
    /// Every line is disabled.
    #[error(
        "every uplink is disabled (enabled = false; UCI: option enabled '0'): \
         there is no line to run"
    )]
    NoLines,
}

impl Config {
    /// Why the daemon would not run this config, if it would not.
    pub fn off(&self) -> Option<Off> {
        if !self.enabled {
            Some(Off::SwitchedOff)
        } else if self.uplinks.is_empty() {
            Some(Off::NoLines)
        } else {
            None
        }
    }
}
