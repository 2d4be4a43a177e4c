//! `/etc/config/uplink` (UCI) read natively, with the same meaning as the TOML keys.
//!
//! The UCI document is turned into the TOML table the equivalent TOML file would give
//! (the section name becomes `name`, probe options move into `probe`), then serde and
//! validation run exactly as for TOML. What differs is how errors point: every option
//! written is remembered with its line, so a validation error about `uplink "main"`,
//! key `probe.timeout_ms` comes out as `uplink "main" (line 9): option "timeout_ms" ...`.
//!
//! ```text
//! config uplink 'main'
//!     option device 'pppoe-wan'
//!     list target '192.0.2.100'
//!     option down_after_ms '2000'
//! ```

mod keys;

use super::parse::RawConfig;
use super::uci::{self, Section, UciOption, Value as UciValue};
use super::{validate, Config, ConfigError};
use keys::{Key, Kind, SectionType, SECTIONS};

/// Parses and validates UCI config text.
pub(super) fn parse(text: &str) -> Result<Config, ConfigError> {
    let doc = uci::parse(text).map_err(ConfigError::Uci)?;
    let (table, origins) = to_toml(&doc.sections)?;
    // Every option was typed above, so serde can only object to something this module
    // got wrong; its message is still better than a panic. The table goes through TOML
    // text so that `RawConfig` has one deserializer (`toml::from_str`, as TOML configs
    // use): a second one, from `toml::Value`, cost the router build 60 KB. The message
    // leaves out the position, which would point into that generated text.
    let raw: RawConfig = toml::from_str(&table.to_string())
        .map_err(|e| ConfigError::Syntax(e.message().trim_end().to_owned()))?;
    validate::config(raw).map_err(|e| origins.locate(e))
}

/// The section a TOML object came from and the options written in it.
struct Origin {
    /// The object as validation names it: `uplink "main"`, or `config` for globals.
    object: String,
    section: &'static SectionType,
    /// How messages name the section: `uplink "main"` or `globals`.
    label: String,
    line: usize,
    written: Vec<Written>,
}

/// One option as written: which key, under which name, where, and its list items.
struct Written {
    path: &'static str,
    name: String,
    line: usize,
    items: Vec<(String, usize)>,
}

/// Origins of every TOML object, in file order.
struct Origins(Vec<Origin>);

fn to_toml(sections: &[Section]) -> Result<(toml::Table, Origins), ConfigError> {
    let mut top = toml::Table::new();
    let mut origins: Vec<Origin> = Vec::new();
    for section in sections {
        let ty = section_type(section)?;
        let (table, origin) = section_table(section, ty)?;
        match ty.array {
            Some(array) => push_table(&mut top, array, table),
            None => {
                if let Some(first) = origins.iter().find(|o| o.section.array.is_none()) {
                    let reason = format!("only one is allowed (also on line {})", first.line);
                    return Err(at(section, section.line, "section type", "globals", reason));
                }
                top.extend(table);
            }
        }
        origins.push(origin);
    }
    let switched_off = top.get("enabled") == Some(&toml::Value::Boolean(false));
    if !top.contains_key("uplink") && !switched_off {
        return Err(ConfigError::NoUciUplinks);
    }
    Ok((top, Origins(origins)))
}

fn section_type(section: &Section) -> Result<&'static SectionType, ConfigError> {
    SECTIONS
        .iter()
        .find(|t| t.uci == section.kind)
        .ok_or_else(|| {
            let known: Vec<&str> = SECTIONS.iter().map(|t| t.uci).collect();
            let reason = format!("unknown (expected {})", known.join(", "));
            at(
                section,
                section.line,
                "section type",
                &quoted(&section.kind),
                reason,
            )
        })
}

/// `uplink "main"` for a named section, the bare type for an anonymous one.
fn label(section: &Section) -> String {
    match &section.name {
        Some(name) => format!("{} {}", section.kind, quoted(name)),
        None => section.kind.clone(),
    }
}

/// An error located in `section` at `line`.
fn at(
    section: &Section,
    line: usize,
    key: &str,
    value: &str,
    reason: impl Into<String>,
) -> ConfigError {
    ConfigError::Invalid {
        object: format!("{} (line {line})", label(section)),
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.into(),
    }
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn option_key(name: &str) -> String {
    format!("option {}", quoted(name))
}

fn section_table(
    section: &Section,
    ty: &'static SectionType,
) -> Result<(toml::Table, Origin), ConfigError> {
    let mut table = toml::Table::new();
    let object = match (ty.array, &section.name) {
        (None, _) => "config".to_owned(),
        (Some(_), Some(name)) => {
            table.insert("name".into(), name.clone().into());
            format!("{} {}", ty.uci, quoted(name))
        }
        (Some(_), None) => {
            let reason = format!("needed: it is the {0}'s name (config {0} 'NAME')", ty.uci);
            return Err(at(section, section.line, "section name", "", reason));
        }
    };
    let mut origin = Origin {
        object,
        section: ty,
        label: label(section),
        line: section.line,
        written: Vec::new(),
    };
    for option in &section.options {
        let key = ty.key(&option.name).ok_or_else(|| {
            let reason = format!("unknown option (expected {})", ty.option_names());
            at(section, option.line, &option_key(&option.name), "", reason)
        })?;
        if let Some(other) = origin.written.iter().find(|w| w.path == key.path) {
            let reason = format!("same as option {:?} (line {})", other.name, other.line);
            return Err(at(
                section,
                option.line,
                &option_key(&option.name),
                "",
                reason,
            ));
        }
        insert(&mut table, key.path, convert(section, option, key)?);
        origin.written.push(Written {
            path: key.path,
            name: option.name.clone(),
            line: option.line,
            items: items_with_lines(option),
        });
    }
    Ok((table, origin))
}

/// Adds `[[array]]`-style `table` to `top`.
fn push_table(top: &mut toml::Table, array: &str, table: toml::Table) {
    let entry = top
        .entry(array)
        .or_insert_with(|| toml::Value::Array(Vec::new()));
    if let toml::Value::Array(list) = entry {
        list.push(toml::Value::Table(table));
    }
}

/// Sets a dotted `path` in `table`, creating the tables on the way.
fn insert(table: &mut toml::Table, path: &str, value: toml::Value) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    match rest {
        None => {
            table.insert(head.to_owned(), value);
        }
        Some(rest) => {
            let sub = table
                .entry(head)
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(sub) = sub {
                insert(sub, rest, value);
            }
        }
    }
}

/// The TOML value an option stands for; wrong shapes and types are reported here, with
/// the option's line, since TOML's type errors would carry no UCI position.
fn convert(section: &Section, option: &UciOption, key: &Key) -> Result<toml::Value, ConfigError> {
    let bad = |value: &str, reason: &str| {
        at(
            section,
            option.line,
            &option_key(&option.name),
            &quoted(value),
            reason,
        )
    };
    let single = || match &option.value {
        UciValue::Single(text) => Ok(text.as_str()),
        UciValue::List(items) => Err(at(
            section,
            items.first().map_or(option.line, |i| i.line),
            &option_key(&option.name),
            "",
            "takes one value: write it with option, not list",
        )),
    };
    Ok(match key.kind {
        Kind::Text => toml::Value::String(single()?.to_owned()),
        Kind::Number => {
            let text = single()?;
            let n = text.parse::<i64>().map_err(|_| bad(text, "not a number"))?;
            toml::Value::Integer(n)
        }
        Kind::Bool => {
            let text = single()?;
            let b = crate::config::uci::parse_bool(text)
                .ok_or_else(|| bad(text, "not a boolean (1/0, yes/no, on/off, true/false)"))?;
            toml::Value::Boolean(b)
        }
        Kind::List => toml::Value::Array(words(option).map(toml::Value::from).collect()),
        Kind::Ports => toml::Value::Array(words(option).map(port).collect()),
    })
}

/// A list's items, or an option's space-separated words; empty items are dropped so that
/// `list flush_on ''` can say "none".
fn words(option: &UciOption) -> impl Iterator<Item = &str> {
    let texts: Vec<&str> = match &option.value {
        UciValue::Single(text) => text.split_whitespace().collect(),
        UciValue::List(items) => items.iter().map(|i| i.value.as_str()).collect(),
    };
    texts.into_iter().filter(|t| !t.is_empty())
}

/// A plain number as an integer, anything else (a "low-high" range) as text, the way
/// the TOML form writes them.
fn port(text: &str) -> toml::Value {
    match text.parse::<i64>() {
        Ok(n) if text.bytes().all(|b| b.is_ascii_digit()) => toml::Value::Integer(n),
        _ => toml::Value::String(text.to_owned()),
    }
}

fn items_with_lines(option: &UciOption) -> Vec<(String, usize)> {
    match &option.value {
        UciValue::Single(text) => vec![(text.clone(), option.line)],
        UciValue::List(items) => items.iter().map(|i| (i.value.clone(), i.line)).collect(),
    }
}

impl Origins {
    /// Rewrites a validation error in UCI terms: the section with its line, the option as
    /// written, and the line of the offending list item when the value names one.
    fn locate(&self, error: ConfigError) -> ConfigError {
        let ConfigError::Invalid {
            object,
            key,
            value,
            reason,
        } = error
        else {
            return error;
        };
        // Relations between probe keys name them the TOML way (`probe.interval_ms`).
        let reason = reason.replace("probe.", "");
        let Some(origin) = self.0.iter().find(|o| o.object == object) else {
            return ConfigError::Invalid {
                object,
                key,
                value,
                reason,
            };
        };
        let (key, line) = origin.option_and_line(&key, &value, &reason);
        ConfigError::Invalid {
            object: format!("{} (line {line})", origin.label),
            key,
            value,
            reason,
        }
    }
}

impl Origin {
    /// How to name validation key `path` here, and the line to point at: the list item
    /// that the error's value (or failing that, its reason) quotes, else the option. The
    /// last such item, since a duplicate is the later one.
    fn option_and_line(&self, path: &str, value: &str, reason: &str) -> (String, usize) {
        if path == "name" {
            return ("section name".to_owned(), self.line);
        }
        let Some(written) = self.written.iter().find(|w| w.path == path) else {
            // Not written: a default that conflicts with what was (timeout vs down_after).
            let name = self.section.by_path(path).map_or(path, |k| k.names[0]);
            return (option_key(name), self.line);
        };
        let items = &written.items;
        let line = items
            .iter()
            .rfind(|(item, _)| quoted(item) == value)
            .or_else(|| {
                items
                    .iter()
                    .rfind(|(item, _)| reason.contains(&quoted(item)))
            })
            .map_or(written.line, |(_, line)| *line);
        (option_key(&written.name), line)
    }
}

#[cfg(test)]
mod tests;
