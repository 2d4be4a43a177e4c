//! `[[uplink]]` keys other than the probe.

use super::*;

fn uplink(name: &str, device: &str) -> String {
    format!("[[uplink]]\nname = \"{name}\"\ndevice = \"{device}\"\n")
}

#[test]
fn bad_name_characters() {
    assert_eq!(
        error(&uplink("bad name!", "eth0")),
        r#"uplink "bad name!": name: only letters, digits, '_' and '-' are allowed (1..15 characters)"#
    );
}

#[test]
fn bad_name_length() {
    assert_error(&uplink("", "eth0"), &["uplink \"\": name:", "1..15"]);
    assert_error(
        &uplink("a234567890123456", "eth0"),
        &["uplink \"a234567890123456\": name:"],
    );
    assert!(parse(&uplink("a23456789012345", "eth0")).is_ok());
    assert!(parse(&uplink("Lte_2-b", "eth0")).is_ok());
}

#[test]
fn duplicate_name() {
    let text = format!("{}{}", uplink("b", "eth0"), uplink("b", "eth1"));
    assert_eq!(
        error(&text),
        r#"uplink "b": name: duplicate (also uplink #1)"#
    );
}

#[test]
fn bad_device_names() {
    for (device, reason) in [
        ("", "must not be empty"),
        ("a234567890123456", "longer than 15"),
        ("eth0/1", "'/'"),
        ("eth0:1", "':'"),
        ("eth 0", "whitespace"),
        (".", "not a valid interface name"),
        ("..", "not a valid interface name"),
    ] {
        let expected = format!("uplink \"main\": device \"{device}\": ");
        assert_error(&uplink("main", device), &[&expected, reason]);
    }
    assert!(parse(&uplink("main", "a23456789012345")).is_ok());
    assert!(parse(&uplink("main", "wwan0.1")).is_ok());
}

/// Names the kernel accepts but that broke the nft table, could not be shown safely, or
/// can never be a device's: each refused with its reason and the name escaped.
#[test]
fn hostile_device_names() {
    for (device, shown, reason) in [
        (
            "x\"y",
            r#""x\"y""#,
            "'\"' or '\\': nftables cannot match them literally",
        ),
        ("x\\y", r#""x\\y""#, "nftables cannot match"),
        ("eth\u{0}0", r#""eth\00""#, "control characters"),
        ("eth\u{1b}[2J", r#""eth\u{1b}[2J""#, "control characters"),
        ("wan\nx", r#""wan\nx""#, "whitespace"),
        ("wän", r#""wän""#, "printable ASCII"),
        ("ppp%d", r#""ppp%d""#, "'%'"),
    ] {
        // toml's own quoting, so that the TOML text carries exactly `device`.
        let text = format!(
            "[[uplink]]\nname = \"main\"\ndevice = {}\n",
            toml::Value::from(device)
        );
        let expected = format!("uplink \"main\": device {shown}: ");
        assert_error(&text, &[&expected, reason]);
    }
}

/// Odd names that are real devices' names and that nft matches exactly once quoted (and,
/// for a trailing `*`, escaped).
#[test]
fn odd_but_valid_device_names() {
    for device in ["l-1.2", "wan@x", "a+b", "a;b", "a#b{", "l*", "a}b,c", "$x"] {
        let config = parse(&uplink("main", device)).unwrap();
        assert_eq!(config.uplinks[0].device, device);
    }
}

#[test]
fn duplicate_device() {
    let text = format!("{}{}", uplink("a", "eth0"), uplink("b", "eth0"));
    assert_eq!(
        error(&text),
        r#"uplink "b": device "eth0": duplicate (also used by uplink "a")"#
    );
}

#[test]
fn gateway_not_an_address() {
    assert_eq!(
        error(&main_with("gateway = \"x.y\"")),
        r#"uplink "main": gateway "x.y": not an IP address"#
    );
    assert_error(
        &main_with("gateway = \"\""),
        &["gateway \"\": not an IP address"],
    );
    assert_error(
        &main_with("gateway = \"10.0.0.1/24\""),
        &["gateway \"10.0.0.1/24\""],
    );
}

#[test]
fn an_ipv6_gateway_makes_an_ipv6_line() {
    let config = parse(&main_with("gateway = \"fe80::1\"")).unwrap();
    assert_eq!(config.uplinks[0].family, crate::config::Family::V6);
    let both = "[[uplink]]\nname = \"main\"\ndevice = \"ppp0\"\n\
                [[uplink]]\nname = \"main6\"\ndevice = \"ppp0\"\nfamily = \"ipv6\"\n";
    let config = parse(both).unwrap();
    assert_eq!(
        config.uplinks[1].family,
        crate::config::Family::V6,
        "one device, two families"
    );
    assert_eq!(
        error(&main_with("family = \"ipv6\"\ngateway = \"192.0.2.1\"")),
        r#"uplink "main": gateway "192.0.2.1": an IPv4 address on an IPv6 line (family = "ipv6")"#
    );
    assert_eq!(
        error(&main_with("family = \"ip6\"")),
        r#"uplink "main": family "ip6": must be "ipv4" or "ipv6""#
    );
}

#[test]
fn gateway_auto_is_learned_at_run_time() {
    let config = parse(&main_with("gateway = \"auto\"")).unwrap();
    assert_eq!(config.uplinks[0].gateway, crate::config::Gateway::Auto);
}

#[test]
fn gateway_must_be_a_host() {
    for (gateway, reason) in [
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("224.0.0.1", "multicast"),
        ("127.0.0.1", "loopback"),
    ] {
        let expected = format!("uplink \"main\": gateway \"{gateway}\": ");
        assert_error(
            &main_with(&format!("gateway = \"{gateway}\"")),
            &[&expected, reason],
        );
    }
}

#[test]
fn weight_range() {
    assert_eq!(
        error(&main_with("weight = 0")),
        r#"uplink "main": weight 0: must be at least 1"#
    );
    assert_eq!(
        error(&main_with("weight = 257")),
        r#"uplink "main": weight 257: must be at most 256"#
    );
    assert_eq!(
        parse(&main_with("weight = 256")).unwrap().uplinks[0].weight,
        256
    );
}

#[test]
fn metric_range() {
    assert_error(
        &main_with("metric = -1"),
        &["uplink \"main\": metric -1: must be at least 0"],
    );
    assert_error(
        &main_with("metric = 4294967296"),
        &["uplink \"main\": metric 4294967296: must be at most 4294967295"],
    );
    assert_eq!(
        parse(&main_with("metric = 0")).unwrap().uplinks[0].metric,
        0
    );
    let max = parse(&main_with("metric = 4294967295")).unwrap();
    assert_eq!(max.uplinks[0].metric, u32::MAX);
}

#[test]
fn integer_beyond_toml_range_is_a_syntax_error() {
    let err = parse(&main_with("metric = 99999999999999999999")).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax(_)));
    assert!(err.to_string().contains("metric"), "{err}");
}

#[test]
fn invalid_error_has_structured_fields() {
    let err = parse(&main_with("weight = 0")).unwrap_err();
    let ConfigError::Invalid {
        object,
        key,
        value,
        reason,
    } = err
    else {
        panic!("not Invalid: {err:?}");
    };
    assert_eq!(object, "uplink \"main\"");
    assert_eq!((key.as_str(), value.as_str()), ("weight", "0"));
    assert_eq!(reason, "must be at least 1");
}

#[test]
fn first_error_wins() {
    let text = main_with("gateway = \"x\"\nweight = 0");
    assert_error(&text, &["gateway"]);
    let text = format!("{}{}", uplink("bad!", "eth0"), uplink("b", "eth0"));
    assert_error(&text, &["uplink \"bad!\": name"]);
}

#[test]
fn flush_on_defaults_to_down_and_accepts_up() {
    let config = parse(MAIN).unwrap();
    assert_eq!(
        config.uplinks[0].flush,
        Flush {
            down: true,
            up: false
        }
    );
    let both = MAIN.replace("device = ", "flush_on = [\"down\", \"up\"]\ndevice = ");
    assert_eq!(
        parse(&both).unwrap().uplinks[0].flush,
        Flush {
            down: true,
            up: true
        }
    );
    let none = MAIN.replace("device = ", "flush_on = []\ndevice = ");
    assert_eq!(
        parse(&none).unwrap().uplinks[0].flush,
        Flush {
            down: false,
            up: false
        }
    );
    let bad = MAIN.replace("device = ", "flush_on = [\"sideways\"]\ndevice = ");
    let err = parse(&bad).unwrap_err().to_string();
    assert!(
        err.ends_with("flush_on \"sideways\": must be \"down\" or \"up\""),
        "{err}"
    );
}

#[test]
fn a_netifd_interface_instead_of_a_device() {
    let config = parse("[[uplink]]\nname = \"main\"\ninterface = \"wan\"\n").unwrap();
    assert_eq!(config.uplinks[0].interface.as_deref(), Some("wan"));
    assert_eq!(config.uplinks[0].device, "");
    assert_eq!(
        error("[[uplink]]\nname = \"main\"\ninterface = \"wan\"\ndevice = \"eth0\"\n"),
        r#"uplink "main": device "eth0": give device or interface, not both"#
    );
    assert_eq!(
        error("[[uplink]]\nname = \"main\"\n"),
        r#"uplink "main": device: missing: give the line's device (or, on OpenWrt, its netifd interface)"#
    );
    assert_eq!(
        error("[[uplink]]\nname = \"a\"\ninterface = \"wan\"\n[[uplink]]\nname = \"b\"\ninterface = \"wan\"\n"),
        r#"uplink "b": interface "wan": duplicate (also used by uplink "a")"#
    );
    assert!(error("[[uplink]]\nname = \"a\"\ninterface = \"wan-1\"\n")
        .contains("netifd interface name"));
}
