//! Where in the config an error is, as a UCI section and option: for tools that point at
//! the field to fix (LuCI's forms, through the ubus `check` method).

use serde::Serialize;

use super::ConfigError;

/// The section and option an error is about; `None` where it is not about one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Location {
    /// The section's name (`main` of `config uplink 'main'` or `[[uplink]] name = "main"`).
    pub section: Option<String>,
    /// The option's name as UCI writes it (`gateway`, `timeout_ms`, `target`).
    pub option: Option<String>,
}

impl ConfigError {
    /// The section and option this error names, read from its object and key.
    pub fn location(&self) -> Location {
        let ConfigError::Invalid { object, key, .. } = self else {
            return Location::default();
        };
        Location {
            section: section_of(object),
            option: option_of(key),
        }
    }
}

/// `main` of `uplink "main"` or `uplink "main" (line 3)`; `None` for `config` (the
/// top level) or an anonymous section.
fn section_of(object: &str) -> Option<String> {
    let object = match object.rfind(" (line ") {
        Some(at) if object.ends_with(')') => &object[..at],
        _ => object,
    };
    let quoted = &object[object.find('"')?..];
    serde_json::from_str::<String>(quoted).ok()
}

/// `gateway` of `option "gateway"` (UCI) or of `gateway` (TOML); `timeout_ms` of
/// `probe.timeout_ms`; `target` of `probe.targets`. `None` for the section name.
fn option_of(key: &str) -> Option<String> {
    if key == "name" || key == "section name" || key.is_empty() {
        return None;
    }
    if let Some(quoted) = key.strip_prefix("option ") {
        return serde_json::from_str::<String>(quoted).ok();
    }
    let last = key.rsplit('.').next().unwrap_or(key);
    let uci = match last {
        "targets" => "target",
        other => other,
    };
    // An indexed TOML key (`prefixes[2]`) names the option without its index.
    Some(uci.split('[').next().unwrap_or(uci).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(text: &str, format: crate::config::Format) -> Location {
        crate::config::parse_as(text, format)
            .unwrap_err()
            .location()
    }

    #[test]
    fn uci_errors_name_section_and_option() {
        let uci = "config uplink 'main'\n\toption device 'eth0'\n\toption gateway 'x.y'\n";
        let at = located(uci, crate::config::Format::Uci);
        assert_eq!(at.section.as_deref(), Some("main"));
        assert_eq!(at.option.as_deref(), Some("gateway"));
        let unknown = "config uplink 'wan2'\n\toption device 'eth0'\n\toption gatewy 'x'\n";
        let at = located(unknown, crate::config::Format::Uci);
        assert_eq!(at.section.as_deref(), Some("wan2"));
        assert_eq!(at.option.as_deref(), Some("gatewy"));
    }

    #[test]
    fn toml_errors_name_section_and_uci_option() {
        let toml = "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n[uplink.probe]\ntargets = [\"192.0.2.1\"]\ntimeout_ms = 0\n";
        let at = located(toml, crate::config::Format::Toml);
        assert_eq!(at.section.as_deref(), Some("main"));
        assert_eq!(at.option.as_deref(), Some("timeout_ms"));
    }

    #[test]
    fn errors_about_no_one_option_have_no_location() {
        let at = located("", crate::config::Format::Toml);
        assert_eq!(at, Location::default());
    }
}
