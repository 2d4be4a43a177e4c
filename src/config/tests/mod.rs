//! Unit tests for the config module: whole files, top-level keys and loading.

mod enabled;
mod policy;
mod prefix;
mod probe;
mod uplink;

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use super::*;

/// One valid uplink, for tests that vary something else.
const MAIN: &str = "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n";

/// The error message for `text`, which must not validate.
fn error(text: &str) -> String {
    match parse(text) {
        Ok(config) => panic!("expected an error, got {config:?}"),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `text` fails with a message containing every needle.
fn assert_error(text: &str, needles: &[&str]) {
    let message = error(text);
    for needle in needles {
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
}

/// The `main` uplink with extra keys.
fn main_with(keys: &str) -> String {
    format!("{MAIN}{keys}\n")
}

fn ip(text: &str) -> Ipv4Addr {
    text.parse().unwrap()
}

const HOME_ROUTER: &str = r#"
# PPPoE main line: point-to-point, no gateway.
[[uplink]]
name = "main"
device = "pppoe-wan"
[uplink.probe]
targets = ["192.0.2.100", "198.51.100.200"]

# Backup line behind another router: needs the next hop and masquerade.
[[uplink]]
name = "backup"
device = "eth2"
gateway = "203.0.113.1"
metric = 200
masquerade = true
[uplink.probe]
targets = ["192.0.2.100", "198.51.100.200"]
interval_ms = 1000
timeout_ms = 1500
down_after_ms = 3000
up_after_ms = 20000
reliability = 2

[[policy]]
name = "speaker"
from = ["192.168.1.50"]
uplinks = ["backup", "main"]
"#;

#[test]
fn home_router_example_sets_every_field() {
    let targets: Vec<crate::config::Target> =
        vec![ip("192.0.2.100").into(), ip("198.51.100.200").into()];
    let expected = Config {
        enabled: true,
        disabled: Default::default(),
        socket: PathBuf::from(crate::config::DEFAULT_SOCKET),
        hooks: Hooks {
            dir: PathBuf::from("/etc/uplink/hooks.d"),
            timeout: Duration::from_secs(10),
            hotplug_iface: true,
        },
        sets: vec![],
        sticky: crate::config::Sticky::Connection,
        observe: crate::config::Observe {
            history_size: 1000,
            events_file: None,
            http_listen: None,
            metrics_file: None,
        },
        log_level: tracing::Level::INFO,
        uplinks: vec![
            Uplink {
                name: "main".into(),
                device: "pppoe-wan".into(),
                interface: None,
                family: crate::config::Family::V4,
                gateway: crate::config::Gateway::None,
                metric: 100,
                weight: 1,
                masquerade: false,
                flush: crate::config::Flush::default(),
                keep_sessions: None,
                probe: Probe {
                    targets: targets.clone(),
                    interval: Duration::from_millis(500),
                    timeout: Duration::from_millis(1000),
                    down_after: Duration::from_millis(2000),
                    up_after: Duration::from_millis(10_000),
                    reliability: 1,
                    dampening: Some(crate::config::Dampening::default()),
                    traffic_quiet: Some(Duration::from_millis(300)),
                    ..Probe::default_timing()
                },
            },
            Uplink {
                name: "backup".into(),
                device: "eth2".into(),
                interface: None,
                family: crate::config::Family::V4,
                gateway: crate::config::Gateway::Fixed(ip("203.0.113.1").into()),
                metric: 200,
                weight: 1,
                masquerade: true,
                flush: crate::config::Flush::default(),
                keep_sessions: None,
                probe: Probe {
                    targets,
                    interval: Duration::from_millis(1000),
                    timeout: Duration::from_millis(1500),
                    down_after: Duration::from_millis(3000),
                    up_after: Duration::from_millis(20_000),
                    reliability: 2,
                    dampening: Some(crate::config::Dampening::default()),
                    traffic_quiet: Some(Duration::from_millis(300)),
                    ..Probe::default_timing()
                },
            },
        ],
        policies: vec![Policy {
            name: "speaker".into(),
            from: vec![Prefix {
                addr: ip("192.168.1.50"),
                len: 32,
            }],
            to: vec![],
            uplinks: vec!["backup".into(), "main".into()],
            fallback: Fallback::Default,
            proto: None,
            ports: vec![],
            set: None,
        }],
    };
    assert_eq!(parse(HOME_ROUTER).unwrap(), expected);
}

#[test]
fn minimal_uplink_gets_defaults() {
    let config = parse(MAIN).unwrap();
    assert_eq!(config.socket, PathBuf::from(DEFAULT_SOCKET));
    assert!(config.policies.is_empty());
    let up = &config.uplinks[0];
    assert_eq!(
        (up.metric, up.weight, up.masquerade, up.gateway),
        (100, 1, false, crate::config::Gateway::None)
    );
    assert_eq!(up.probe, Probe::default_timing());
    assert!(up.follows_link_only());
}

#[test]
fn default_timing_numbers() {
    let p = Probe::default_timing();
    assert!(p.targets.is_empty());
    assert_eq!(p.interval, Duration::from_millis(500));
    assert_eq!(p.timeout, Duration::from_millis(1000));
    assert_eq!(p.down_after, Duration::from_millis(2000));
    assert_eq!(p.up_after, Duration::from_millis(10_000));
    assert_eq!(p.reliability, 1);
}

#[test]
fn socket_absolute_path_is_kept() {
    let config = parse(&format!("socket = \"/tmp/u.sock\"\n{MAIN}")).unwrap();
    assert_eq!(config.socket, PathBuf::from("/tmp/u.sock"));
}

#[test]
fn socket_relative_path_is_rejected() {
    let message = error(&format!("socket = \"run/u.sock\"\n{MAIN}"));
    assert_eq!(
        message,
        r#"config: socket "run/u.sock": must be an absolute path"#
    );
    assert_error(
        &format!("socket = \"\"\n{MAIN}"),
        &["socket \"\"", "absolute"],
    );
}

#[test]
fn no_uplinks() {
    assert_eq!(error(""), "no [[uplink]] configured");
    assert_eq!(error("uplink = []"), "no [[uplink]] configured");
    assert!(matches!(
        parse("socket = \"/s\""),
        Err(ConfigError::NoUplinks)
    ));
}

#[test]
fn unknown_keys_are_rejected_with_position() {
    assert_error(&format!("sockett = \"/s\"\n{MAIN}"), &["sockett", "line 1"]);
    assert_error(&main_with("metrik = 5"), &["metrik", "line 4"]);
    assert_error(
        &main_with("[uplink.probe]\ntarget = []"),
        &["target", "line 5"],
    );
    let policy = "[[policy]]\nname = \"p\"\nuplinks = [\"main\"]\nvia = 1\n";
    assert_error(&format!("{MAIN}{policy}"), &["via", "line 7"]);
}

#[test]
fn wrong_types_are_rejected() {
    assert_error(
        &main_with("metric = \"100\""),
        &["metric", "\"100\"", "line 4"],
    );
    assert_error(
        &main_with("masquerade = \"yes\""),
        &["masquerade", "\"yes\""],
    );
    assert_error(
        &main_with("[uplink.probe]\ntargets = \"192.0.2.1\""),
        &["targets"],
    );
    assert_error(
        "[uplink]\nname = \"main\"\ndevice = \"eth0\"",
        &["uplink", "sequence"],
    );
}

#[test]
fn missing_required_keys_are_rejected() {
    assert_error("[[uplink]]\nname = \"main\"\n", &["device"]);
    assert_error("[[uplink]]\ndevice = \"eth0\"\n", &["name"]);
}

#[test]
fn toml_syntax_error_is_reported_with_position() {
    let err = parse("[[uplink]\nname = \"main\"\n").unwrap_err();
    assert!(matches!(err, ConfigError::Syntax(_)));
    assert!(err.to_string().contains("line 1"), "{err}");
    assert_error(&main_with("metric = 1 2"), &["line 4"]);
}

#[test]
fn load_reads_a_file() {
    let path = std::env::temp_dir().join(format!("uplink-config-{}.toml", std::process::id()));
    std::fs::write(&path, HOME_ROUTER).unwrap();
    let loaded = load(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded.unwrap(), parse(HOME_ROUTER).unwrap());
}

#[test]
fn load_refuses_a_fifo_at_once_and_a_file_over_one_mib() {
    let dir = std::env::temp_dir().join(crate::netns::unique_prefix("cfgfifo"));
    std::fs::create_dir(&dir).unwrap();
    let fifo = dir.join("uplink.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // A FIFO without a writer used to block the daemon (and a reload) for ever.
    let (tx, rx) = std::sync::mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(load(&path).map(|_| ()).map_err(|e| e.to_string()));
    });
    let result = rx.recv_timeout(std::time::Duration::from_secs(5));
    let big = dir.join("big.toml");
    let mut text = HOME_ROUTER.to_string();
    text.push_str(&"#".repeat(1 << 20));
    std::fs::write(&big, text).unwrap();
    let too_big = load(&big).map_err(|e| e.to_string());
    std::fs::remove_dir_all(&dir).unwrap();
    let err = result.expect("loading a FIFO blocked").unwrap_err();
    assert_eq!(
        err,
        format!(
            "cannot read config {}: is a FIFO, not a regular file",
            fifo.display()
        )
    );
    assert_eq!(
        too_big.unwrap_err(),
        format!(
            "cannot read config {}: larger than the limit of 1048576 bytes (1 MiB)",
            big.display()
        )
    );
}

#[test]
fn load_names_an_unreadable_path() {
    let path = std::path::Path::new("/nonexistent/uplink/config.toml");
    let err = load(path).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }));
    assert!(
        err.to_string().contains("/nonexistent/uplink/config.toml"),
        "{err}"
    );
    // `uplink` prints the whole chain ({:#}): the system's message once, not twice.
    let text = err.to_string();
    assert_eq!(format!("{:#}", anyhow::Error::from(err)), text);
}

#[test]
fn hooks_keys_are_checked() {
    let config = parse(&format!(
        "hooks_dir = \"/opt/hooks\"\nhook_timeout_ms = 2500\n{MAIN}"
    ))
    .unwrap();
    assert_eq!(config.hooks.dir, PathBuf::from("/opt/hooks"));
    assert_eq!(config.hooks.timeout, Duration::from_millis(2500));
    let err = parse(&format!("hooks_dir = \"hooks\"\n{MAIN}"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "config: hooks_dir \"hooks\": must be an absolute path");
    let err = parse(&format!("hook_timeout_ms = 0\n{MAIN}"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("config: hook_timeout_ms 0:"), "{err}");
}

#[test]
fn log_level_takes_the_five_tracing_levels() {
    let base = "[[uplink]]\nname = \"a\"\ndevice = \"eth1\"\n";
    let level = |v: &str| parse(&format!("log_level = \"{v}\"\n{base}")).map(|c| c.log_level);
    assert_eq!(parse(base).unwrap().log_level, tracing::Level::INFO);
    for (text, want) in [
        ("error", tracing::Level::ERROR),
        ("warn", tracing::Level::WARN),
        ("info", tracing::Level::INFO),
        ("debug", tracing::Level::DEBUG),
        ("trace", tracing::Level::TRACE),
    ] {
        assert_eq!(level(text).unwrap(), want);
    }
    let err = level("loud").unwrap_err().to_string();
    assert!(
        err.starts_with("config: log_level \"loud\": must be"),
        "{err}"
    );
}

#[test]
fn sticky_takes_connection_or_source() {
    let base = "[[uplink]]\nname = \"a\"\ndevice = \"eth1\"\n";
    let sticky = |v: &str| parse(&format!("sticky = \"{v}\"\n{base}")).map(|c| c.sticky);
    assert_eq!(sticky("source").unwrap(), crate::config::Sticky::Source);
    assert_eq!(
        sticky("connection").unwrap(),
        crate::config::Sticky::Connection
    );
    let err = sticky("client").unwrap_err().to_string();
    assert!(
        err.contains("sticky") && err.contains("\"client\""),
        "{err}"
    );
}
