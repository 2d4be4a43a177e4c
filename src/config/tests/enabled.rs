//! `enabled = false` on lines, policies, sets and the whole config, in both forms.

use super::super::*;

/// Both forms of one config must mean the same; returns it.
fn both(toml: &str, uci: &str) -> Config {
    let from_toml = parse(toml).unwrap_or_else(|e| panic!("toml: {e}"));
    let from_uci = parse_as(uci, Format::Uci).unwrap_or_else(|e| panic!("uci: {e}"));
    assert_eq!(from_toml, from_uci);
    from_toml
}

/// Three lines, `lte` disabled (and half written: its gateway is not an address, which
/// must not matter), a disabled set, and policies that name them.
const TOML: &str = r#"
[[uplink]]
name = "main"
device = "eth0"
[[uplink]]
name = "lte"
enabled = false
device = "wwan0"
gateway = "fill me in"
[[uplink]]
name = "backup"
device = "eth1"
[[set]]
name = "video"
enabled = false
prefixes = ["198.51.100.0/24"]
[[policy]]
name = "speaker"
from = ["192.168.1.50"]
uplinks = ["lte", "backup"]
[[policy]]
name = "tv"
from = ["192.168.1.51"]
uplinks = ["lte"]
[[policy]]
name = "stream"
set = "video"
uplinks = ["main"]
[[policy]]
name = "guest"
enabled = false
uplinks = ["nowhere"]
"#;

const UCI: &str = "
config uplink 'main'
\toption device 'eth0'
config uplink 'lte'
\toption enabled '0'
\toption device 'wwan0'
\toption gateway 'fill me in'
config uplink 'backup'
\toption device 'eth1'
config set 'video'
\toption enabled 'no'
\tlist prefix '198.51.100.0/24'
config policy 'speaker'
\tlist from '192.168.1.50'
\tlist uplinks 'lte'
\tlist uplinks 'backup'
config policy 'tv'
\tlist from '192.168.1.51'
\tlist uplinks 'lte'
config policy 'stream'
\toption set 'video'
\tlist uplinks 'main'
config policy 'guest'
\toption enabled 'off'
\tlist uplinks 'nowhere'
";

#[test]
fn disabled_sections_are_left_out_and_references_to_them_follow() {
    let config = both(TOML, UCI);
    let names = |list: &[Uplink]| list.iter().map(|u| u.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&config.uplinks), ["main", "backup"]);
    assert!(config.sets.is_empty());
    // speaker skips lte; tv had only lte; stream's set is off; guest is off itself.
    let policies: Vec<(&str, &[String])> = config
        .policies
        .iter()
        .map(|p| (p.name.as_str(), p.uplinks.as_slice()))
        .collect();
    assert_eq!(policies, [("speaker", &["backup".to_owned()][..])]);
    assert_eq!(config.disabled.uplinks, ["lte"]);
    assert_eq!(config.disabled.sets, ["video"]);
    assert_eq!(config.disabled.policies, ["guest", "tv", "stream"]);
    assert_eq!(
        config.disabled.notes,
        [
            "policy \"speaker\": skips disabled uplinks \"lte\"",
            "policy \"tv\": disabled: every uplink it names is disabled (\"lte\")",
            "policy \"stream\": disabled: its set \"video\" is disabled",
        ]
    );
    assert!(config.enabled);
    assert_eq!(config.off(), None);
    assert_eq!(
        describe_disabled(&config.disabled),
        "uplink \"lte\", policy \"guest\", policy \"tv\", policy \"stream\", set \"video\""
    );
}

#[test]
fn explicit_enabled_true_is_the_default() {
    let plain = parse("[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n").unwrap();
    let explicit = both(
        "enabled = true\n[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\nenabled = true\n",
        "config globals\n\toption enabled '1'\nconfig uplink 'main'\n\toption device 'eth0'\n\toption enabled 'yes'\n",
    );
    assert_eq!(plain, explicit);
    assert!(plain.disabled.is_empty());
}

#[test]
fn every_line_disabled_is_valid_but_off() {
    let config = both(
        "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\nenabled = false\n",
        "config uplink 'main'\n\toption device 'eth0'\n\toption enabled '0'\n",
    );
    assert!(config.uplinks.is_empty());
    assert_eq!(config.off(), Some(Off::NoLines));
    assert!(Off::NoLines
        .to_string()
        .contains("every uplink is disabled"));
}

#[test]
fn switched_off_needs_no_line_but_still_validates_the_rest() {
    let config = both(
        "enabled = false\n",
        "config globals\n\toption enabled '0'\n",
    );
    assert_eq!(config.off(), Some(Off::SwitchedOff));
    let config = both(
        "enabled = false\n[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n",
        "config globals\n\toption enabled 'false'\nconfig uplink 'main'\n\toption device 'eth0'\n",
    );
    assert_eq!(config.off(), Some(Off::SwitchedOff));
    assert_eq!(config.uplinks.len(), 1);
    // An enabled line is checked as always, so the config is ready when switched on.
    let bad = "enabled = false\n[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\nmetric = -1\n";
    super::assert_error(bad, &["uplink \"main\"", "metric -1"]);
    let bad = "config globals\n\toption enabled '0'\nconfig uplink 'main'\n\toption metric '-1'\n";
    assert!(parse_as(bad, Format::Uci).is_err());
}

#[test]
fn references_to_unknown_lines_are_still_errors() {
    let text = "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n\
                [[uplink]]\nname = \"lte\"\nenabled = false\n\
                [[policy]]\nname = \"p\"\nuplinks = [\"lte\", \"typo\"]\n";
    super::assert_error(text, &["policy \"p\"", "\"typo\""]);
}

#[test]
fn a_disabled_section_still_needs_a_valid_unique_name() {
    super::assert_error(
        "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n\
         [[uplink]]\nname = \"bad name\"\nenabled = false\n",
        &["uplink \"bad name\"", "name"],
    );
    super::assert_error(
        "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n\
         [[uplink]]\nname = \"main\"\nenabled = false\n",
        &["uplink \"main\"", "duplicate (also uplink #1)"],
    );
}

#[test]
fn enabled_must_be_a_boolean() {
    super::assert_error(
        "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\nenabled = \"no\"\n",
        &["enabled"],
    );
    let uci = "config uplink 'main'\n\toption device 'eth0'\n\toption enabled 'maybe'\n";
    let message = parse_as(uci, Format::Uci).unwrap_err().to_string();
    assert!(
        message.contains("uplink \"main\" (line 3): option \"enabled\" \"maybe\": not a boolean"),
        "{message}"
    );
}
