//! Raw config -> typed [`Config`], stopping at the first problem.
//!
//! Order: `socket`, then each uplink in file order, then each policy in file order,
//! so the reported error is the first one a reader meets going down the file.

mod dampening;
mod enabled;
mod family;
mod observe;
mod policy;
mod quality;
mod set;
mod uplink;

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use super::parse::RawConfig;
use super::{Config, ConfigError, Disabled, Hooks, Sticky, DEFAULT_HOOKS_DIR, DEFAULT_SOCKET};
use std::time::Duration;

/// Longest name, so that names fit wherever the kernel takes an interface-sized name.
const MAX_NAME_LEN: usize = 15;

use crate::core::owned::{MAX_LINES, MAX_POLICIES};

pub(super) fn config(raw: RawConfig) -> Result<Config, ConfigError> {
    let observe = observe::observe(&raw)?;
    let socket = absolute("socket", raw.socket, DEFAULT_SOCKET)?;
    let hooks = Hooks {
        dir: absolute("hooks_dir", raw.hooks_dir, DEFAULT_HOOKS_DIR)?,
        timeout: raw.hook_timeout_ms.map_or(Ok(DEFAULT_HOOK_TIMEOUT), |ms| {
            let ms = number("config", "hook_timeout_ms", ms, 100..=3_600_000u64)?;
            Ok(Duration::from_millis(ms))
        })?,
        hotplug_iface: raw.hotplug_iface.unwrap_or(true),
    };
    // A config that switches uplink off needs no line yet (a packaged example, say).
    let enabled = raw.enabled.unwrap_or(true);
    if raw.uplink.is_empty() && enabled {
        return Err(ConfigError::NoUplinks);
    }
    let (raw_uplinks, off_uplinks) = enabled::split(raw.uplink)?;
    let (raw_sets, off_sets) = enabled::split(raw.set)?;
    let (raw_policies, off_policies) = enabled::split(raw.policy)?;
    check_count("[[uplink]]", raw_uplinks.len(), MAX_LINES)?;
    check_count("[[policy]]", raw_policies.len(), MAX_POLICIES)?;
    let mut disabled = Disabled {
        uplinks: off_uplinks,
        policies: off_policies,
        sets: off_sets,
        notes: Vec::new(),
    };
    let uplinks = uplink::all(raw_uplinks)?;
    let sets = set::all(raw_sets)?;
    let raw_policies = enabled::policies(raw_policies, &mut disabled);
    let policies = policy::all(raw_policies, &uplinks, &sets)?;
    Ok(Config {
        enabled,
        disabled,
        socket,
        uplinks,
        policies,
        hooks,
        sets,
        sticky: sticky(raw.sticky.as_deref())?,
        observe,
        log_level: log_level(raw.log_level.as_deref())?,
    })
}

fn log_level(text: Option<&str>) -> Result<tracing::Level, ConfigError> {
    match text {
        None | Some("info") => Ok(tracing::Level::INFO),
        Some("error") => Ok(tracing::Level::ERROR),
        Some("warn") => Ok(tracing::Level::WARN),
        Some("debug") => Ok(tracing::Level::DEBUG),
        Some("trace") => Ok(tracing::Level::TRACE),
        Some(other) => Err(invalid(
            "config",
            "log_level",
            quoted(other),
            "must be \"error\", \"warn\", \"info\", \"debug\" or \"trace\"",
        )),
    }
}

fn sticky(text: Option<&str>) -> Result<Sticky, ConfigError> {
    match text {
        None | Some("connection") => Ok(Sticky::Connection),
        Some("source") => Ok(Sticky::Source),
        Some(other) => Err(invalid(
            "config",
            "sticky",
            quoted(other),
            "must be \"connection\" or \"source\"",
        )),
    }
}

/// Our table, mark and rule-priority ranges have room for this many (core::owned).
fn check_count(table: &str, count: usize, max: usize) -> Result<(), ConfigError> {
    if count > max {
        return Err(invalid(
            "config",
            table,
            "",
            format!("{count} tables configured, at most {max} are supported"),
        ));
    }
    Ok(())
}

const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// A path key; relative paths are refused because the daemon and the CLI may run from
/// different directories.
fn absolute(key: &str, raw: Option<String>, default: &str) -> Result<PathBuf, ConfigError> {
    let Some(path) = raw else {
        return Ok(PathBuf::from(default));
    };
    if !Path::new(&path).is_absolute() {
        return Err(invalid(
            "config",
            key,
            quoted(&path),
            "must be an absolute path",
        ));
    }
    Ok(PathBuf::from(path))
}

/// An optional path key: absolute when given.
fn absolute_opt(key: &str, raw: Option<String>) -> Result<Option<PathBuf>, ConfigError> {
    raw.map(|path| absolute(key, Some(path), "")).transpose()
}

/// Builds [`ConfigError::Invalid`]; `value` is already rendered (see [`quoted`]).
fn invalid(
    object: &str,
    key: &str,
    value: impl Into<String>,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        object: object.to_owned(),
        key: key.to_owned(),
        value: value.into(),
        reason: reason.into(),
    }
}

/// Renders a string value the way it would be written in TOML.
/// An IPv4 address or prefix of `key`; errors name the object, key and text.
fn prefix(obj: &str, key: &str, text: &str) -> Result<crate::config::Prefix, ConfigError> {
    text.parse()
        .map_err(|e: crate::config::PrefixError| invalid(obj, key, quoted(text), e.to_string()))
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

/// Checks an uplink or policy name; `object` already shows the name itself.
fn check_name(object: &str, name: &str) -> Result<(), ConfigError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if !name.is_empty() && name.len() <= MAX_NAME_LEN && name.chars().all(allowed) {
        return Ok(());
    }
    Err(invalid(
        object,
        "name",
        "",
        format!("only letters, digits, '_' and '-' are allowed (1..{MAX_NAME_LEN} characters)"),
    ))
}

/// Converts a TOML integer into `T` within `range`.
fn number<T>(
    object: &str,
    key: &str,
    value: i64,
    range: RangeInclusive<T>,
) -> Result<T, ConfigError>
where
    T: TryFrom<i64> + PartialOrd + Display,
{
    let (min, max) = (range.start(), range.end());
    let reason = match T::try_from(value) {
        Ok(v) if v < *min => format!("must be at least {min}"),
        Ok(v) if v > *max => format!("must be at most {max}"),
        Ok(v) => return Ok(v),
        Err(_) if value < 0 => format!("must be at least {min}"),
        Err(_) => format!("must be at most {max}"),
    };
    Err(invalid(object, key, value.to_string(), reason))
}
