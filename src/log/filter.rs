//! Which events are logged: the config's `log_level`, or `RUST_LOG`-style directives
//! (`info`, `uplink::probe=debug`, comma-separated) that override it.

use tracing::level_filters::LevelFilter;
use tracing::Level;

/// A default level plus per-target levels (the longest matching target wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    default: LevelFilter,
    targets: Vec<(String, LevelFilter)>,
    /// Set from `RUST_LOG`: the environment of one run wins over the config file.
    from_env: bool,
}

impl Filter {
    /// Everything at `level` or more severe.
    pub fn level(level: LevelFilter) -> Filter {
        Filter {
            default: level,
            targets: Vec::new(),
            from_env: false,
        }
    }

    /// Parses `RUST_LOG`-style directives; returns the filter and the directives it did
    /// not understand (span and field filters among them), which are left out.
    pub fn parse(text: &str) -> (Filter, Vec<String>) {
        let mut filter = Filter::level(LevelFilter::INFO);
        filter.from_env = true;
        let mut bad = Vec::new();
        for directive in text.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            match directive.split_once('=') {
                None => match level_of(directive) {
                    Some(level) => filter.default = level,
                    // A bare target means "everything from it".
                    None if is_target(directive) => {
                        filter.targets.push((directive.into(), LevelFilter::TRACE))
                    }
                    None => bad.push(directive.into()),
                },
                Some((target, level)) => match level_of(level) {
                    Some(level) if is_target(target) => filter.targets.push((target.into(), level)),
                    _ => bad.push(directive.into()),
                },
            }
        }
        (filter, bad)
    }

    /// Takes the config's level unless `RUST_LOG` set the filter; true if it changed.
    pub fn set_config_level(&mut self, level: LevelFilter) -> bool {
        let changed = !self.from_env && self.default != level;
        if changed {
            self.default = level;
        }
        changed
    }

    /// Whether an event of `level` from `target` is logged.
    pub fn allows(&self, target: &str, level: Level) -> bool {
        let best = self
            .targets
            .iter()
            .filter(|(t, _)| {
                target == t
                    || (target.starts_with(t.as_str()) && target[t.len()..].starts_with("::"))
            })
            .max_by_key(|(t, _)| t.len());
        level <= best.map_or(self.default, |(_, l)| *l)
    }

    /// The most verbose level any target may log.
    pub fn max(&self) -> LevelFilter {
        self.targets
            .iter()
            .map(|(_, l)| *l)
            .fold(self.default, std::cmp::max)
    }
}

fn level_of(text: &str) -> Option<LevelFilter> {
    match text.to_ascii_lowercase().as_str() {
        "off" => Some(LevelFilter::OFF),
        "error" => Some(LevelFilter::ERROR),
        "warn" => Some(LevelFilter::WARN),
        "info" => Some(LevelFilter::INFO),
        "debug" => Some(LevelFilter::DEBUG),
        "trace" => Some(LevelFilter::TRACE),
        _ => None,
    }
}

/// A module path such as `uplink::probe`.
fn is_target(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}
