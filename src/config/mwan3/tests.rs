//! `uplink import-mwan3`: realistic configs in tests/data/mwan3/, output checked by
//! loading it with the real config loader.

use super::{import, rules, ImportError};
use crate::config::{parse, Config, Fallback, Gateway, Proto, Sticky};
use std::time::Duration;

const DEFAULT: &str = include_str!("../../../tests/data/mwan3/default.mwan3");
const FAILOVER: &str = include_str!("../../../tests/data/mwan3/failover.mwan3");
const NETWORK: &str = include_str!("../../../tests/data/mwan3/failover.network");
const BROKEN: &str = include_str!("../../../tests/data/mwan3/broken.mwan3");

/// Imports and loads the result, which must validate.
fn converted(mwan3: &str, network: Option<&str>) -> (String, Config) {
    let toml = import(mwan3, network).unwrap_or_else(|e| panic!("import: {e}"));
    let config = parse(&toml).unwrap_or_else(|e| panic!("{e}\n{toml}"));
    (toml, config)
}

fn import_error(mwan3: &str, network: Option<&str>) -> String {
    match import(mwan3, network) {
        Ok(toml) => panic!("expected an error, got\n{toml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn shipped_default_gives_the_enabled_ipv4_line() {
    let (toml, config) = converted(DEFAULT, None);
    let names: Vec<&str> = config.uplinks.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["wan"], "wanb, wan6 and wanb6 are disabled");
    let wan = &config.uplinks[0];
    assert_eq!((wan.device.as_str(), wan.metric, wan.weight), ("wan", 1, 3));
    assert_eq!(wan.probe.targets.len(), 4);
    assert_eq!(wan.probe.reliability, 2);
    // mwan3's defaults: interval 10 s, timeout 4 s, down 5, up 5.
    assert_eq!(wan.probe.interval, Duration::from_secs(10));
    assert_eq!(wan.probe.timeout, Duration::from_secs(4));
    assert_eq!(wan.probe.down_after, Duration::from_secs(50));
    assert_eq!(wan.probe.up_after, Duration::from_secs(50));
    assert!(
        config.policies.is_empty(),
        "every IPv4 rule uses the catch-all policy"
    );
    assert_eq!(config.sticky, Sticky::Source, "the https rule is sticky");
    assert_eq!(wan.gateway, Gateway::Auto);
    for needle in [
        "device = \"wan\"  # FIX: mwan3 names the netifd interface \"wan\"",
        "#family = \"ipv6\"  # mwan3 family ipv6",
        "#[[uplink]]\n#name = \"wanb\"",
        "# disabled in mwan3 (enabled '0' or not set)",
        "# mwan3 rule 'https' (line",
        "# sticky (timeout 600 s): see sticky = \"source\" at the top",
        "sticky = \"source\"  # mwan3 rule 'https' was sticky",
        "# IPv6 rules are not supported yet: left commented out\n#[[policy]]\n#name = \"default_rule_v6\"",
        "#uplinks = [\"wan\", \"wanb\", \"wan6\", \"wanb6\"]",
        "mwan3 declared a dead line down after up to ~70 s; with these values uplink takes 50.0-60.0 s",
        "# mwan3 globals option mmx_mask '0x3F00': no equivalent, ignored",
    ] {
        assert!(toml.contains(needle), "{needle:?} not in\n{toml}");
    }
}

#[test]
fn uncommenting_a_disabled_line_gives_a_valid_config() {
    let toml = import(DEFAULT, None).unwrap();
    let start = toml.find("#[[uplink]]\n#name = \"wanb\"").unwrap();
    let end = start + toml[start..].find("\n\n").unwrap();
    let block: String = toml[start..end]
        .lines()
        .map(|l| match l.strip_prefix('#') {
            Some(rest) if !rest.starts_with(' ') => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let enabled = format!("{}{block}{}", &toml[..start], &toml[end..]);
    let config = parse(&enabled).unwrap_or_else(|e| panic!("{e}\n{enabled}"));
    let wanb = &config.uplinks[1];
    assert_eq!(
        (wanb.name.as_str(), wanb.metric, wanb.weight),
        ("wanb", 1, 3)
    );
}

#[test]
fn failover_with_network_resolves_devices_and_pins_clients() {
    let (toml, config) = converted(FAILOVER, Some(NETWORK));
    let wan = &config.uplinks[0];
    let wanb = &config.uplinks[1];
    assert_eq!(
        (wan.device.as_str(), wan.gateway, wan.metric),
        ("pppoe-wan", Gateway::None, 1)
    );
    let gateway = Gateway::Fixed("203.0.113.1".parse().unwrap());
    assert_eq!(
        (wanb.device.as_str(), wanb.gateway, wanb.metric),
        ("eth2", gateway, 2)
    );
    // interval 5 s, timeout 2 s, down 3 × failure_interval 2 s, up 4 × recovery_interval 3 s.
    let p = &wan.probe;
    assert_eq!(
        (p.interval, p.timeout, p.down_after, p.up_after),
        (
            Duration::from_secs(5),
            Duration::from_secs(2),
            Duration::from_secs(6),
            Duration::from_secs(12)
        )
    );
    assert!(wan.flush.down && !wan.flush.up);
    assert_eq!(
        wanb.probe.targets.len(),
        2,
        "the IPv6 track_ip is dropped from an IPv4 line"
    );
    assert_eq!(
        wanb.probe.reliability, 2,
        "clamped to the number of targets"
    );
    let quality = wanb
        .probe
        .quality
        .as_ref()
        .expect("check_quality converted");
    assert_eq!(quality.max_rtt, Some(Duration::from_millis(800)));
    assert_eq!(
        quality.max_loss_pct,
        Some(40),
        "mwan3's default failure_loss"
    );
    assert_eq!(quality.window, Duration::from_secs(50), "down 5 × 10 s");
    assert_eq!(config.sticky, Sticky::Connection);

    let names: Vec<&str> = config.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["speaker", "games_long_rule"]);
    let speaker = &config.policies[0];
    assert_eq!(speaker.uplinks, ["wanb", "wan"], "member metric order");
    assert_eq!(speaker.from[0].to_string(), "192.168.1.50/32");
    assert_eq!(
        speaker.fallback,
        Fallback::Unreachable,
        "mwan3's default last_resort"
    );
    let games = &config.policies[1];
    assert_eq!(games.proto, Some(Proto::Udp));
    assert_eq!(games.ports, [(27015, 27015), (27000, 27050)]);
    assert_eq!(games.uplinks, ["wanb"]);
    for needle in [
        "proto pppoe: netifd names the device pppoe-wan",
        "# src_port '5060': uplink matches destination ports only: left commented out",
        "# never reached: rule 'default_rule' before it matches all IPv4 traffic",
        "max_rtt_ms = 800  # mwan3 failure_latency 800 ms",
        "mwan3 used the system's routing table",
        "dropped silently",
        "# mwan3 option track_method 'ping': no equivalent, ignored",
    ] {
        assert!(toml.contains(needle), "{needle:?} not in\n{toml}");
    }
}

#[test]
fn failover_without_network_names_interfaces_and_says_to_fix_them() {
    let (toml, config) = converted(FAILOVER, None);
    let devices: Vec<&str> = config.uplinks.iter().map(|u| u.device.as_str()).collect();
    assert_eq!(devices, ["wan", "wanb"]);
    assert_eq!(toml.matches("device = ").count(), 2);
    assert_eq!(
        toml.matches("  # FIX: mwan3 names the netifd interface")
            .count(),
        2
    );
}

#[test]
fn dhcp_and_bridge_devices() {
    let network = "config interface 'wan'\n\toption ifname 'eth1'\n\toption type 'bridge'\n\toption proto 'dhcp'\n";
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\nconfig member 'm'\n\toption interface 'wan'\nconfig policy 'p'\n\tlist use_member 'm'\nconfig rule 'all'\n\toption use_policy 'p'\n";
    let (toml, config) = converted(mwan3, Some(network));
    assert_eq!(config.uplinks[0].device, "br-wan");
    assert_eq!(config.uplinks[0].gateway, Gateway::Auto, "{toml}");
    assert!(toml.contains("no track_ip of the line's family"), "{toml}");
}

#[test]
fn timeout_is_kept_within_down_after() {
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\n\tlist track_ip '192.0.2.1'\n\toption interval '1'\n\toption down '1'\n\toption timeout '4'\n";
    let (toml, config) = converted(mwan3, None);
    let p = &config.uplinks[0].probe;
    assert_eq!(
        (p.timeout, p.down_after),
        (Duration::from_secs(1), Duration::from_secs(1))
    );
    assert!(
        toml.contains("timeout_ms lowered to down_after_ms"),
        "{toml}"
    );
}

#[test]
fn broken_configs_name_section_and_option() {
    assert_eq!(
        import_error(BROKEN, None),
        r#"mwan3: member "wanc_m2" (line 12): option "interface" "wanc": no interface section has this name"#
    );
    let cases: &[(&str, &str)] = &[
        (
            "config interface 'wan'\n\toption interval 'often'\n",
            r#"mwan3: interface "wan" (line 2): option "interval" "often": not a number of seconds (0 < s <= 86400)"#,
        ),
        (
            "config interface 'wan'\n\toption down '-3'\n",
            r#"mwan3: interface "wan" (line 2): option "down" "-3": not a whole number"#,
        ),
        (
            "config interface 'wan'\n\toption enabled 'maybe'\n",
            r#"mwan3: interface "wan" (line 2): option "enabled" "maybe": not a boolean (1/0, yes/no, on/off, true/false)"#,
        ),
        (
            "config interface 'wan'\nconfig member 'm'\n\toption interface 'wan'\nconfig policy 'p'\n\tlist use_member 'm'\n\tlist use_member 'x'\n",
            r#"mwan3: policy "p" (line 5): option "use_member" "x": no member section has this name"#,
        ),
        (
            "config rule 'r'\n\toption use_policy 'nope'\n",
            r#"mwan3: rule "r" (line 2): option "use_policy" "nope": no policy section has this name (nor is it default, unreachable or blackhole)"#,
        ),
        (
            "config policy 'p'\n\toption last_resort 'drop'\n",
            r#"mwan3: policy "p" (line 2): option "last_resort" "drop": must be one of default, unreachable, blackhole"#,
        ),
        (
            "config interface\n",
            "mwan3: interface (anonymous) (line 1): needs a name (config interface 'NAME'): other sections refer to it",
        ),
        ("config interface 'wan\n", r#"mwan3: line 1: config: unterminated quote"#),
    ];
    for (text, expected) in cases {
        assert_eq!(import_error(text, None), *expected, "{text:?}");
    }
    let network = import_error(
        FAILOVER,
        Some("config interface 'wan'\n\toption device eth1 eth2\n"),
    );
    assert!(
        network.starts_with("network: line 2: option \"device\": unexpected"),
        "{network}"
    );
    assert!(matches!(
        import(BROKEN, None),
        Err(ImportError::Invalid { line: 12, .. })
    ));
}

#[test]
fn policy_names_are_cut_and_made_unique() {
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\nconfig member 'm'\n\toption interface 'wan'\nconfig policy 'p'\n\tlist use_member 'm'\nconfig rule 'a_very_long_rule_name'\n\toption src_ip '192.0.2.1'\n\toption use_policy 'p'\nconfig rule 'a_very_long_rule_name_2'\n\toption src_ip '192.0.2.2'\n\toption use_policy 'p'\n";
    let (_, config) = converted(mwan3, None);
    let names: Vec<&str> = config.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a_very_long_rul", "a_very_long_r_2"]);
}

#[test]
fn catch_all_rule_is_the_first_matching_everything() {
    let (_, config) = converted(FAILOVER, Some(NETWORK));
    assert_eq!(config.uplinks.len(), 2);
    let doc = crate::config::uci::parse(FAILOVER).unwrap();
    let m = super::model::read(&doc).unwrap();
    assert_eq!(
        rules::catch_all(&m.rules).map(|i| m.rules[i].name.as_str()),
        Some("default_rule")
    );
}

/// Whatever the input, the import answers (never panics) and what it prints is TOML.
#[test]
fn every_prefix_of_the_test_configs_imports_or_fails_cleanly() {
    for text in [DEFAULT, FAILOVER] {
        let chars: Vec<char> = text.chars().collect();
        for end in (0..=chars.len()).step_by(7) {
            let prefix: String = chars[..end].iter().collect();
            if let Ok(toml) = import(&prefix, Some(NETWORK)) {
                toml.parse::<toml::Table>()
                    .unwrap_or_else(|e| panic!("{e}\n{toml}"));
            }
        }
    }
}

#[test]
fn an_ipv6_interface_becomes_an_ipv6_line_on_its_alias_device() {
    let network = "config interface 'wan'\n\toption device 'eth0.2'\n\toption proto 'pppoe'\n\
                   config interface 'wan6'\n\toption device '@wan'\n\toption proto 'dhcpv6'\n";
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\n\tlist track_ip '192.0.2.1'\n\
                 config interface 'wan6'\n\toption enabled '1'\n\toption family 'ipv6'\n\
                 \tlist track_ip '2001:db8::1'\n\tlist track_ip '192.0.2.1'\n";
    let (toml, config) = converted(mwan3, Some(network));
    let wan6 = &config.uplinks[1];
    assert_eq!(wan6.family, crate::config::Family::V6, "{toml}");
    assert_eq!(wan6.device, "pppoe-wan", "alias of wan: {toml}");
    assert_eq!(wan6.probe.targets.len(), 1, "the IPv4 track_ip is dropped");
    assert_eq!(config.uplinks[0].device, "pppoe-wan");
}

#[test]
fn a_rule_policy_keeps_only_its_ipv4_lines() {
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\n\tlist track_ip '192.0.2.1'\n\
                 config interface 'wan6'\n\toption enabled '1'\n\toption family 'ipv6'\n\
                 \tlist track_ip '2001:db8::1'\n\
                 config member 'wan_m1'\n\toption interface 'wan'\n\toption metric '1'\n\
                 config member 'wan6_m1'\n\toption interface 'wan6'\n\toption metric '1'\n\
                 config policy 'both'\n\tlist use_member 'wan_m1'\n\tlist use_member 'wan6_m1'\n\
                 config rule 'dns'\n\toption dest_ip '192.0.2.53'\n\toption use_policy 'both'\n";
    let (toml, config) = converted(mwan3, None);
    assert_eq!(config.policies.len(), 1, "{toml}");
    assert_eq!(config.policies[0].uplinks, ["wan"], "{toml}");
    assert!(toml.contains("left out (disabled or IPv6): wan6"), "{toml}");
}

/// A device from the network config that is no valid interface name is not written as
/// the line's device: the line gets the FIX placeholder, with the name escaped in the note
/// (no raw control character reaches the TOML text, where it would be invalid).
#[test]
fn an_invalid_device_in_the_network_config_needs_a_fix() {
    let mwan3 = "config interface 'wan'\n\toption enabled '1'\n\
                 config interface 'lan2'\n\toption enabled '1'\n";
    let network = "config interface 'wan'\n\toption device 'x\";{'\n\
                   config interface 'lan2'\n\toption type 'bridge'\n\toption ifname 'e\u{1b}0'\n";
    let (toml, config) = converted(mwan3, Some(network));
    assert_eq!(config.uplinks[0].device, "wan", "{toml}");
    assert!(
        toml.contains(r#"FIX: interface "wan": device "x\";{": must not contain '"' or '\'"#),
        "{toml}"
    );
    assert_eq!(config.uplinks[1].device, "br-lan2", "{toml}");
    assert!(toml.contains(r#"bridge over "e\u{1b}0""#), "{toml}");
    assert!(!toml.contains('\u{1b}'), "{toml}");
}
