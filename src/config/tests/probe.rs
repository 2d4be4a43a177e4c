//! `[uplink.probe]` keys.

use super::*;

/// The `main` uplink with a probe table holding `keys`.
fn probe_with(keys: &str) -> String {
    main_with(&format!("[uplink.probe]\n{keys}"))
}

fn probe_of(keys: &str) -> Probe {
    parse(&probe_with(keys)).unwrap().uplinks.remove(0).probe
}

#[test]
fn targets_only_keeps_default_timing() {
    let probe = probe_of("targets = [\"192.0.2.1\", \"198.51.100.2\"]");
    let expected = Probe {
        targets: vec![ip("192.0.2.1").into(), ip("198.51.100.2").into()],
        dampening: Some(crate::config::Dampening::default()),
        traffic_quiet: Some(Duration::from_millis(300)),
        ..Probe::default_timing()
    };
    assert_eq!(probe, expected);
}

#[test]
fn empty_probe_table_follows_link_only() {
    let config = parse(&probe_with("")).unwrap();
    assert!(config.uplinks[0].follows_link_only());
    assert_eq!(config.uplinks[0].probe, Probe::default_timing());
}

#[test]
fn at_most_sixteen_targets() {
    let list: Vec<String> = (1..=17).map(|i| format!("\"203.0.113.{i}\"")).collect();
    assert_eq!(
        error(&probe_with(&format!("targets = [{}]", list.join(", ")))),
        r#"uplink "main": probe.targets 17 entries: at most 16"#
    );
    let list = &list[..16];
    assert!(parse(&probe_with(&format!("targets = [{}]", list.join(", ")))).is_ok());
}

#[test]
fn target_neither_address_nor_name() {
    assert_eq!(
        error(&probe_with("targets = [\"192.0.2.1\", \"example com\"]")),
        r#"uplink "main": probe.targets "example com": not an IP address or host name: letters, digits, hyphens and dots only"#
    );
}

#[test]
fn probe_kinds_and_names_in_one_list() {
    let probe = probe_of(
        "targets = [\"192.0.2.1\", \"example.com\", \"tcp://203.0.113.10:443\", \
         \"dns://192.0.2.53\", \"http://connectivitycheck.example/generate_204\"]",
    );
    let kinds: Vec<&str> = probe.targets.iter().map(|t| t.kind.as_str()).collect();
    assert_eq!(kinds, ["icmp", "icmp", "tcp", "dns", "http"]);
    assert_eq!(
        probe.targets[4].to_string(),
        "http://connectivitycheck.example/generate_204"
    );
    // The same host by another kind is not a duplicate; the same target is.
    assert!(parse(&probe_with(
        "targets = [\"192.0.2.1\", \"tcp://192.0.2.1:22\"]"
    ))
    .is_ok());
    assert_eq!(
        error(&probe_with(
            "targets = [\"tcp://192.0.2.1:22\", \"tcp://192.0.2.1:22\"]"
        )),
        r#"uplink "main": probe.targets "tcp://192.0.2.1:22": duplicate"#
    );
}

#[test]
fn wrong_url_forms_name_uplink_key_and_value() {
    for (target, reason) in [
        ("tcp://192.0.2.1", "needs a port: tcp://HOST:PORT"),
        ("tcp://192.0.2.1:70000", "port \"70000\": must be 1..65535"),
        (
            "gopher://192.0.2.1",
            "unknown probe kind \"gopher\": expected tcp://, dns:// or http://",
        ),
        (
            "tcp://127.0.0.1:80",
            "a loopback address is the router itself",
        ),
    ] {
        let expected = format!("uplink \"main\": probe.targets \"{target}\": {reason}");
        assert_eq!(
            error(&probe_with(&format!("targets = [\"{target}\"]"))),
            expected
        );
    }
    assert_eq!(
        error(&probe_with(
            "targets = [\"192.0.2.1\", \"tcp://[2001:db8::1]:80\"]"
        )),
        r#"uplink "main": probe.targets "tcp://[2001:db8::1]:80": an IPv6 address on an IPv4 line (family = "ipv4")"#
    );
}

#[test]
fn url_targets_of_ipv6_make_an_ipv6_line() {
    let config = parse(&probe_with("targets = [\"tcp://[2001:db8::1]:443\"]")).unwrap();
    assert_eq!(config.uplinks[0].family, crate::config::Family::V6);
}

#[test]
fn dns_name_http_status_and_resolvers() {
    use crate::config::HttpStatus;
    let probe = probe_of(
        "targets = [\"dns://192.0.2.53\"]\ndns_name = \"Example.COM.\"\n\
         http_status = \"204\"\nresolvers = [\"192.0.2.53\"]",
    );
    assert_eq!(probe.dns_name, "example.com");
    assert_eq!(probe.http_status, HttpStatus::Code(204));
    assert_eq!(probe.resolvers, [std::net::IpAddr::from(ip("192.0.2.53"))]);
    assert_eq!(
        probe_of("http_status = \"3xx\"").http_status,
        HttpStatus::Class(3)
    );
    assert!(HttpStatus::Class(2).matches(204) && !HttpStatus::Class(2).matches(302));
    for (keys, expected) in [
        (
            "http_status = \"2x\"",
            r#"probe.http_status "2x": must be a status 100..599 or a class 1xx..5xx"#,
        ),
        (
            "http_status = \"600\"",
            r#"probe.http_status "600": must be a status 100..599 or a class 1xx..5xx"#,
        ),
        (
            "dns_name = \"a b\"",
            r#"probe.dns_name "a b": letters, digits, hyphens and dots only"#,
        ),
        (
            "resolvers = [\"x\"]",
            r#"probe.resolvers "x": not an IP address"#,
        ),
        (
            "resolvers = [\"2001:db8::53\"]",
            r#"probe.resolvers "2001:db8::53": an IPv6 address on an IPv4 line (family = "ipv4")"#,
        ),
    ] {
        assert_eq!(
            error(&probe_with(keys)),
            format!("uplink \"main\": {expected}"),
            "{keys}"
        );
    }
}

#[test]
fn ipv6_targets_make_an_ipv6_line_and_must_not_mix() {
    let probe = probe_of("targets = [\"2001:db8::1\"]");
    assert_eq!(
        probe.targets,
        vec![crate::config::Target::from(
            "2001:db8::1".parse::<std::net::IpAddr>().unwrap()
        )]
    );
    assert_eq!(
        error(&probe_with("targets = [\"2001:db8::1\", \"192.0.2.1\"]")),
        r#"uplink "main": probe.targets "2001:db8::1": an IPv6 address on an IPv4 line (family = "ipv4")"#
    );
    assert_eq!(
        error(&probe_with("targets = [\"fe80::1\"]")),
        r#"uplink "main": probe.targets "fe80::1": a link-local address is not beyond the first hop"#
    );
}

#[test]
fn duplicate_target() {
    assert_eq!(
        error(&probe_with("targets = [\"192.0.2.1\", \"192.0.2.1\"]")),
        r#"uplink "main": probe.targets "192.0.2.1": duplicate"#
    );
}

#[test]
fn target_must_be_a_host() {
    for (target, reason) in [
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "broadcast"),
        ("239.1.2.3", "multicast"),
        ("127.0.0.53", "loopback"),
    ] {
        let expected = format!("uplink \"main\": probe.targets \"{target}\": ");
        assert_error(
            &probe_with(&format!("targets = [\"{target}\"]")),
            &[&expected, reason],
        );
    }
}

#[test]
fn interval_minimum() {
    assert_eq!(
        error(&probe_with("interval_ms = 9")),
        r#"uplink "main": probe.interval_ms 9: must be at least 10"#
    );
    assert_eq!(
        probe_of("interval_ms = 10").interval,
        Duration::from_millis(10)
    );
}

#[test]
fn timeout_zero() {
    assert_eq!(
        error(&probe_with("timeout_ms = 0")),
        r#"uplink "main": probe.timeout_ms 0: must be at least 1"#
    );
}

#[test]
fn timeout_beyond_down_after() {
    assert_eq!(
        error(&probe_with("timeout_ms = 2001")),
        r#"uplink "main": probe.timeout_ms 2001: must not exceed probe.down_after_ms (2000)"#
    );
    assert_eq!(
        probe_of("timeout_ms = 2000").timeout,
        Duration::from_millis(2000)
    );
}

#[test]
fn down_after_below_interval() {
    assert_eq!(
        error(&probe_with(
            "interval_ms = 1000\ndown_after_ms = 999\ntimeout_ms = 500"
        )),
        r#"uplink "main": probe.down_after_ms 999: must be at least probe.interval_ms (1000)"#
    );
}

#[test]
fn up_after_below_interval() {
    assert_eq!(
        error(&probe_with("interval_ms = 1000\nup_after_ms = 999")),
        r#"uplink "main": probe.up_after_ms 999: must be at least probe.interval_ms (1000)"#
    );
}

#[test]
fn timings_that_would_overflow() {
    assert_error(
        &probe_with("up_after_ms = 9223372036854775807"),
        &["probe.up_after_ms 9223372036854775807: must be at most 86400000"],
    );
    assert_error(
        &probe_with("interval_ms = -500"),
        &["probe.interval_ms -500: must be at least 10"],
    );
    assert_error(
        &probe_with("down_after_ms = -1"),
        &["probe.down_after_ms -1"],
    );
}

#[test]
fn reliability_zero() {
    assert_eq!(
        error(&probe_with("targets = [\"192.0.2.1\"]\nreliability = 0")),
        r#"uplink "main": probe.reliability 0: must be at least 1"#
    );
}

#[test]
fn reliability_beyond_targets() {
    assert_eq!(
        error(&probe_with(
            "targets = [\"192.0.2.1\", \"192.0.2.2\"]\nreliability = 3"
        )),
        r#"uplink "main": probe.reliability 3: exceeds the number of probe.targets (2)"#
    );
    let probe = probe_of("targets = [\"192.0.2.1\", \"192.0.2.2\"]\nreliability = 2");
    assert_eq!(probe.reliability, 2);
}

#[test]
fn reliability_without_targets_is_not_counted() {
    assert_eq!(probe_of("reliability = 3").reliability, 3);
}

#[test]
fn fractional_number_is_a_type_error() {
    let err = parse(&probe_with("interval_ms = 0.5")).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax(_)));
    assert!(err.to_string().contains("interval_ms"), "{err}");
}

const TARGET: &str = "targets = [\"192.0.2.1\"]\n";

#[test]
fn quality_limits_default_their_window() {
    let probe = probe_of(&format!("{TARGET}max_loss_pct = 20\nmax_rtt_ms = 300"));
    let limits = probe.quality.unwrap();
    assert_eq!(limits.max_loss_pct, Some(20));
    assert_eq!(limits.max_rtt, Some(Duration::from_millis(300)));
    assert_eq!(limits.window, Duration::from_secs(10));
    assert_eq!(probe_of(TARGET).quality, None);
}

#[test]
fn quality_limit_errors_name_key_and_value() {
    assert_eq!(
        error(&probe_with(&format!("{TARGET}max_rtt_ms = 1000"))),
        r#"uplink "main": probe.max_rtt_ms 1000: must be less than probe.timeout_ms (1000)"#
    );
    assert_eq!(
        error(&probe_with(&format!("{TARGET}max_loss_pct = 100"))),
        r#"uplink "main": probe.max_loss_pct 100: must be at most 99"#
    );
    assert_eq!(
        error(&probe_with(&format!("{TARGET}quality_window_ms = 5000"))),
        r#"uplink "main": probe.quality_window_ms 5000: needs probe.max_rtt_ms or probe.max_loss_pct"#
    );
    assert_eq!(
        error(&probe_with(&format!(
            "{TARGET}max_loss_pct = 10\nquality_window_ms = 900"
        ))),
        r#"uplink "main": probe.quality_window_ms 900: must be at least 1000"#
    );
    assert!(error(&probe_with("max_loss_pct = 10")).contains("needs probe.targets"));
}

#[test]
fn dampening_is_on_by_default_with_targets_and_can_be_switched_off() {
    assert_eq!(
        probe_of(TARGET).dampening,
        Some(crate::config::Dampening::default())
    );
    let off = format!("{TARGET}dampening = false\ndampening_suppress = 3000");
    assert_eq!(
        probe_of(&off).dampening,
        None,
        "an off switch keeps its keys"
    );
    assert_eq!(
        probe_of("").dampening,
        None,
        "nothing to dampen without probes"
    );
    let keys = "dampening_half_life_ms = 30000\ndampening_suppress = 2500\n\
                dampening_reuse = 800\ndampening_max_suppress_ms = 120000";
    let d = probe_of(&format!("{TARGET}{keys}")).dampening.unwrap();
    assert_eq!(d.half_life, Duration::from_secs(30));
    assert_eq!((d.suppress, d.reuse), (2500, 800));
    assert_eq!(d.max_suppress, Duration::from_secs(120));
}

#[test]
fn dampening_errors_name_key_and_value() {
    let err = |keys: &str| error(&probe_with(&format!("{TARGET}{keys}")));
    assert_eq!(
        err("dampening_reuse = 1500"),
        r#"uplink "main": probe.dampening_reuse 1500: must be less than probe.dampening_suppress (1500)"#
    );
    assert_eq!(
        err("dampening_half_life_ms = 10"),
        r#"uplink "main": probe.dampening_half_life_ms 10: must be at least 1000"#
    );
    assert_eq!(
        err("dampening_suppress = 0"),
        r#"uplink "main": probe.dampening_suppress 0: must be at least 1"#
    );
    assert_eq!(
        err("dampening_max_suppress_ms = 30000"),
        r#"uplink "main": probe.dampening_max_suppress_ms 30000: must be at least 60000"#
    );
    assert_eq!(
        err("dampening_suppress = 100000\ndampening_max_suppress_ms = 60000"),
        "uplink \"main\": probe.dampening_max_suppress_ms 60000: too short for the penalty to \
         reach probe.dampening_suppress (100000) from probe.dampening_reuse (750) with a \
         half-life of 60000 ms"
    );
    assert!(error(&probe_with("dampening = true")).contains("needs probe.targets"));
}

#[test]
fn traffic_aware_detection_is_on_by_default_with_targets() {
    assert_eq!(
        probe_of(TARGET).traffic_quiet,
        Some(Duration::from_millis(300))
    );
    let quiet = probe_of(&format!("{TARGET}traffic_quiet_ms = 500")).traffic_quiet;
    assert_eq!(quiet, Some(Duration::from_millis(500)));
    let off = probe_of(&format!(
        "{TARGET}traffic_aware = false\ntraffic_quiet_ms = 500"
    ));
    assert_eq!(off.traffic_quiet, None);
    assert_eq!(probe_of("").traffic_quiet, None);
    assert_eq!(
        error(&probe_with(&format!("{TARGET}traffic_quiet_ms = 50"))),
        r#"uplink "main": probe.traffic_quiet_ms 50: must be at least 200"#
    );
    assert!(error(&probe_with("traffic_aware = true")).contains("needs probe.targets"));
}
