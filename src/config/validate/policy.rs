//! `[[policy]]` tables, checked against the already validated uplinks.

use super::{check_name, invalid, quoted};
use crate::config::parse::RawPolicy;
use crate::config::{ConfigError, Fallback, Policy, Prefix, Uplink};

pub(super) fn all(raw: Vec<RawPolicy>, uplinks: &[Uplink]) -> Result<Vec<Policy>, ConfigError> {
    let mut done: Vec<Policy> = Vec::with_capacity(raw.len());
    for r in raw {
        let policy = policy(r, uplinks, &done)?;
        done.push(policy);
    }
    Ok(done)
}

fn policy(raw: RawPolicy, uplinks: &[Uplink], earlier: &[Policy]) -> Result<Policy, ConfigError> {
    let obj = format!("policy {}", quoted(&raw.name));
    check_name(&obj, &raw.name)?;
    if let Some(i) = earlier.iter().position(|p| p.name == raw.name) {
        return Err(invalid(
            &obj,
            "name",
            "",
            format!("duplicate (also policy #{})", i + 1),
        ));
    }
    let from = prefixes(&obj, "from", &raw.from)?;
    let to = prefixes(&obj, "to", &raw.to)?;
    check_uplinks(&obj, &raw.uplinks, uplinks)?;
    let fallback = fallback(&obj, raw.fallback.as_deref())?;
    Ok(Policy {
        name: raw.name,
        from,
        to,
        uplinks: raw.uplinks,
        fallback,
    })
}

fn fallback(obj: &str, text: Option<&str>) -> Result<Fallback, ConfigError> {
    match text {
        None | Some("default") => Ok(Fallback::Default),
        Some("unreachable") => Ok(Fallback::Unreachable),
        Some(other) => Err(invalid(
            obj,
            "fallback",
            quoted(other),
            "must be \"default\" or \"unreachable\"",
        )),
    }
}

fn prefixes(obj: &str, key: &str, texts: &[String]) -> Result<Vec<Prefix>, ConfigError> {
    let mut prefixes = Vec::with_capacity(texts.len());
    for text in texts {
        let prefix: Prefix = text.parse().map_err(|e: crate::config::PrefixError| {
            invalid(obj, key, quoted(text), e.to_string())
        })?;
        // "10.0.0.1" and "10.0.0.1/32" are the same prefix, so compare parsed values.
        if prefixes.contains(&prefix) {
            return Err(invalid(obj, key, quoted(text), "duplicate"));
        }
        prefixes.push(prefix);
    }
    Ok(prefixes)
}

fn check_uplinks(obj: &str, names: &[String], uplinks: &[Uplink]) -> Result<(), ConfigError> {
    if names.is_empty() {
        return Err(invalid(obj, "uplinks", "", "must name at least one uplink"));
    }
    for (i, name) in names.iter().enumerate() {
        if !uplinks.iter().any(|u| &u.name == name) {
            return Err(invalid(
                obj,
                "uplinks",
                "",
                format!("unknown uplink {}", quoted(name)),
            ));
        }
        if names[..i].contains(name) {
            return Err(invalid(
                obj,
                "uplinks",
                "",
                format!("duplicate uplink {}", quoted(name)),
            ));
        }
    }
    Ok(())
}
