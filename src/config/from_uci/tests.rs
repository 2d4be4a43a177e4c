//! `/etc/config/uplink`: same meaning as TOML, errors pointing at sections and options.

use super::keys::SECTIONS;
use crate::config::{parse, parse_as, ConfigError, Format};

fn uci(text: &str) -> Result<crate::config::Config, ConfigError> {
    parse_as(text, Format::Uci)
}

fn error(text: &str) -> String {
    match uci(text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

const MAIN: &str = "config uplink 'main'\n\toption device 'eth0'\n";

/// Every key of the TOML form, written once in each format.
const FULL_TOML: &str = r#"
socket = "/run/u.sock"
hooks_dir = "/etc/u/hooks.d"
hook_timeout_ms = 5000
sticky = "source"
log_level = "debug"

[[uplink]]
name = "main"
device = "pppoe-wan"
metric = 10
weight = 3
flush_on = ["down", "up"]
[uplink.probe]
targets = ["192.0.2.100", "198.51.100.200"]
interval_ms = 250
timeout_ms = 800
down_after_ms = 1000
up_after_ms = 5000
reliability = 2
max_rtt_ms = 400
max_loss_pct = 20
quality_window_ms = 20000
dampening = true
dampening_half_life_ms = 30000
dampening_suppress = 2500
dampening_reuse = 800
dampening_max_suppress_ms = 120000
traffic_aware = true
traffic_quiet_ms = 400

[[uplink]]
name = "backup"
device = "eth2"
gateway = "203.0.113.1"
masquerade = true
flush_on = []

[[set]]
name = "streaming"
prefixes = ["198.51.100.0/24", "192.0.2.7"]

[[policy]]
name = "speaker"
from = ["192.168.1.50", "192.168.1.0/28"]
to = ["0.0.0.0/0"]
uplinks = ["backup", "main"]
fallback = "unreachable"

[[policy]]
name = "games"
proto = "udp"
ports = [27015, "27000-27050"]
uplinks = ["backup"]

[[policy]]
name = "tv"
set = "streaming"
uplinks = ["backup", "main"]
"#;

const FULL_UCI: &str = r#"
# The same config as FULL_TOML.
config globals
	option socket '/run/u.sock'
	option hooks_dir /etc/u/hooks.d
	option hook_timeout_ms "5000"
	option sticky source
	option log_level debug

config uplink 'main'
	option device 'pppoe-wan'
	option metric '10'
	option weight '3'
	list flush_on 'down'
	list flush_on 'up'
	list target '192.0.2.100'
	list target '198.51.100.200'
	option interval_ms '250'
	option timeout_ms '800'
	option down_after_ms '1000'
	option up_after_ms '5000'
	option reliability '2'
	option max_rtt_ms '400'
	option max_loss_pct '20'
	option quality_window_ms '20000'
	option dampening '1'
	option dampening_half_life_ms '30000'
	option dampening_suppress '2500'
	option dampening_reuse '800'
	option dampening_max_suppress_ms '120000'
	option traffic_aware '1'
	option traffic_quiet_ms '400'

config uplink 'backup'
	option device 'eth2'
	option gateway '203.0.113.1'
	option masquerade 'yes'
	list flush_on ''

config set 'streaming'
	list prefix '198.51.100.0/24'
	list prefix '192.0.2.7'

config policy 'speaker'
	list from '192.168.1.50'
	list from '192.168.1.0/28'
	list to '0.0.0.0/0'
	list uplinks 'backup'
	list uplinks 'main'
	option fallback 'unreachable'

config policy 'games'
	option proto 'udp'
	option ports '27015 27000-27050'
	list uplink 'backup'

config policy 'tv'
	option set 'streaming'
	list uplinks 'backup'
	list uplinks 'main'
"#;

#[test]
fn every_key_means_what_it_means_in_toml() {
    assert_eq!(uci(FULL_UCI).unwrap(), parse(FULL_TOML).unwrap());
}

#[test]
fn detected_by_content_when_loading() {
    let dir = std::env::temp_dir().join(format!("uplink-uci-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("uplink");
    std::fs::write(&path, FULL_UCI).unwrap();
    let loaded = crate::config::load(&path);
    let forced = crate::config::load_as(&path, Some(Format::Toml));
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(loaded.unwrap(), parse(FULL_TOML).unwrap());
    assert!(matches!(forced, Err(ConfigError::Syntax(_))), "{forced:?}");
}

#[test]
fn example_file_is_valid() {
    let text = include_str!("../../../examples/uplink.uci");
    assert_eq!(Format::detect(text), Format::Uci);
    let config = uci(text).unwrap_or_else(|e| panic!("examples/uplink.uci: {e}"));
    assert_eq!(config.uplinks.len(), 2);
}

#[test]
fn booleans_in_every_uci_spelling() {
    for (text, expected) in [
        ("1", true),
        ("yes", true),
        ("on", true),
        ("true", true),
        ("0", false),
        ("no", false),
        ("off", false),
        ("false", false),
    ] {
        let config = uci(&format!("{MAIN}\toption masquerade '{text}'\n")).unwrap();
        assert_eq!(config.uplinks[0].masquerade, expected, "{text}");
    }
    assert_eq!(
        error(&format!("{MAIN}\toption masquerade 'maybe'\n")),
        r#"uplink "main" (line 3): option "masquerade" "maybe": not a boolean (1/0, yes/no, on/off, true/false)"#
    );
}

#[test]
fn type_errors_name_section_line_and_option() {
    assert_eq!(
        error(&format!("{MAIN}\n\toption metric 'abc'\n")),
        r#"uplink "main" (line 4): option "metric" "abc": not a number"#
    );
    assert_eq!(
        error(&format!("{MAIN}\tlist metric '1'\n")),
        r#"uplink "main" (line 3): option "metric": takes one value: write it with option, not list"#
    );
}

#[test]
fn validation_errors_are_pointed_at_the_option() {
    assert_eq!(
        error(&format!("{MAIN}\toption metric '-1'\n")),
        r#"uplink "main" (line 3): option "metric" -1: must be at least 0"#
    );
    assert_eq!(
        error(&format!(
            "{MAIN}\toption down_after_ms '500'\n\toption timeout_ms '900'\n"
        )),
        r#"uplink "main" (line 4): option "timeout_ms" 900: must not exceed down_after_ms (500)"#
    );
    // A default that conflicts with what was written points at the section.
    assert_eq!(
        error(&format!("{MAIN}\toption down_after_ms '500'\n")),
        r#"uplink "main" (line 1): option "timeout_ms" 1000: must not exceed down_after_ms (500)"#
    );
    let policy = "config policy 'p'\n\tlist uplinks 'main'\n\tlist uplinks 'nope'\n";
    assert_eq!(
        error(&format!("{MAIN}{policy}")),
        r#"policy "p" (line 5): option "uplinks": unknown uplink "nope""#
    );
    assert_eq!(
        error(&format!(
            "{MAIN}\tlist targets '192.0.2.1'\n\tlist targets '192.0.2.1'\n"
        )),
        r#"uplink "main" (line 4): option "targets" "192.0.2.1": duplicate"#
    );
    assert_eq!(
        error("config uplink 'a_very_long_name_indeed'\n\toption device 'eth0'\n"),
        r#"uplink "a_very_long_name_indeed" (line 1): section name: only letters, digits, '_' and '-' are allowed (1..15 characters)"#
    );
    assert_eq!(
        error(
            "config globals\n\toption socket 'relative'\nconfig uplink 'm'\n\toption device 'e'\n"
        ),
        r#"globals (line 2): option "socket" "relative": must be an absolute path"#
    );
}

/// The device check is the TOML loader's: hostile names are refused, pointed at the
/// option, shown escaped. A quote that spans lines puts a newline into the value.
#[test]
fn hostile_device_names_are_refused() {
    for (device, shown, reason) in [
        ("x\"y", r#""x\"y""#, "nftables cannot match"),
        ("x\\y", r#""x\\y""#, "nftables cannot match"),
        ("wan\nx", r#""wan\nx""#, "whitespace"),
        ("eth\u{1b}0", r#""eth\u{1b}0""#, "control characters"),
    ] {
        let text = format!("config uplink 'main'\n\toption device '{device}'\n");
        let expected = format!(r#"uplink "main" (line 2): option "device" {shown}: "#);
        let message = error(&text);
        assert!(
            message.starts_with(&expected) && message.contains(reason),
            "{message}"
        );
    }
    let odd = uci("config uplink 'main'\n\toption device 'l*'\n").unwrap();
    assert_eq!(odd.uplinks[0].device, "l*");
}

#[test]
fn structure_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "config uplink\n\toption device 'eth0'\n",
            "uplink (line 1): section name: needed: it is the uplink's name (config uplink 'NAME')",
        ),
        (
            "config uplink 'main'\n\toption metric '1'\n",
            r#"uplink "main" (line 1): option "device": missing: give the line's device (or, on OpenWrt, its netifd interface)"#,
        ),
        (
            "config uplink 'main'\n\toption device 'eth0'\n\toption metrik '1'\n",
            "uplink \"main\" (line 3): option \"metrik\": unknown option (expected device, interface, family, gateway, metric, weight, masquerade, flush_on, keep_sessions_s, target, interval_ms, timeout_ms, down_after_ms, up_after_ms, reliability, max_rtt_ms, max_loss_pct, quality_window_ms, dampening, dampening_half_life_ms, dampening_suppress, dampening_reuse, dampening_max_suppress_ms, traffic_aware, traffic_quiet_ms, dns_name, http_status, resolver, enabled)",
        ),
        (
            "config interface 'wan'\n",
            r#"interface "wan" (line 1): section type "interface": unknown (expected uplink, policy, set, globals)"#,
        ),
        (
            "config uplink 'main'\n\toption device 'eth0'\n\tlist target '192.0.2.1'\n\tlist targets '192.0.2.2'\n",
            r#"uplink "main" (line 4): option "targets": same as option "target" (line 3)"#,
        ),
        (
            "config globals\nconfig uplink 'm'\n\toption device 'e'\nconfig globals 'g'\n",
            r#"globals "g" (line 4): section type globals: only one is allowed (also on line 1)"#,
        ),
        ("config globals\n", "no uplink configured (config uplink 'NAME')"),
        ("# nothing\n", "no uplink configured (config uplink 'NAME')"),
        (
            "config uplink 'main'\n\toption device 'eth0\n",
            r#"line 2: option "device": unterminated quote"#,
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(error(text), *expected, "{text:?}");
    }
}

/// Every key of the TOML structs has a UCI option, so a key added to TOML and not here
/// fails this test. serde lists a struct's fields when it meets an unknown one.
#[test]
fn every_toml_key_has_a_uci_option() {
    use crate::config::parse::{RawConfig, RawPolicy, RawProbe, RawSet, RawUplink};
    fn fields<T: for<'de> serde::Deserialize<'de>>() -> Vec<String> {
        let e = toml::from_str::<T>("zzz_unknown = 1")
            .err()
            .unwrap()
            .to_string();
        let list = e
            .split("expected one of")
            .nth(1)
            .unwrap_or_else(|| panic!("{e}"));
        list.split(',')
            .map(|f| {
                f.trim()
                    .trim_matches(|c: char| c == '`' || c.is_whitespace())
                    .to_owned()
            })
            .filter(|f| !f.is_empty())
            .collect()
    }
    let section = |uci: &str| SECTIONS.iter().find(|s| s.uci == uci).unwrap();
    let check = |uci: &str, prefix: &str, fields: Vec<String>, skip: &[&str]| {
        for field in fields.iter().filter(|f| !skip.contains(&f.as_str())) {
            let path = format!("{prefix}{field}");
            assert!(
                section(uci).by_path(&path).is_some(),
                "{uci}: no option for {path}"
            );
        }
    };
    check(
        "globals",
        "",
        fields::<RawConfig>(),
        &["uplink", "policy", "set"],
    );
    check("uplink", "", fields::<RawUplink>(), &["name", "probe"]);
    check("uplink", "probe.", fields::<RawProbe>(), &[]);
    check("policy", "", fields::<RawPolicy>(), &["name"]);
    check("set", "", fields::<RawSet>(), &["name"]);
}
