//! The defaults `--help` shows are the ones the code uses, for this build's features.

use clap::CommandFactory;

use super::{default_config, default_config_with, Invocation, SOCKET_HELP, TOML_CONFIG};

fn help_of(subcommand: &str) -> String {
    let mut command = Invocation::command();
    command
        .find_subcommand_mut(subcommand)
        .unwrap_or_else(|| panic!("no subcommand {subcommand}"))
        .render_long_help()
        .to_string()
}

#[test]
fn help_shows_the_config_default_this_run_uses() {
    let default = default_config();
    for subcommand in ["run", "check", "status", "drain", "undrain"] {
        let help = help_of(subcommand);
        let shown = format!("[default: {}]", default.display());
        assert!(
            help.contains(&shown),
            "{subcommand}: {shown} not in\n{help}"
        );
    }
}

#[test]
fn help_shows_the_socket_default_of_this_build() {
    let socket = uplink::config::DEFAULT_SOCKET;
    assert!(SOCKET_HELP.contains(&format!("else {socket}]")));
    assert!(help_of("status").contains(SOCKET_HELP));
}

#[cfg(not(feature = "openwrt"))]
#[test]
fn generic_build_reads_the_toml_config_and_uses_run() {
    assert_eq!(default_config_with(|_| false).to_str(), Some(TOML_CONFIG));
    assert_eq!(uplink::config::DEFAULT_SOCKET, "/run/uplink/uplink.sock");
}

/// As the init script chooses: the TOML file import-mwan3 writes when present, else UCI.
#[cfg(feature = "openwrt")]
#[test]
fn openwrt_build_reads_uci_unless_a_toml_config_exists_and_uses_var_run() {
    assert_eq!(
        default_config_with(|_| false).to_str(),
        Some("/etc/config/uplink")
    );
    assert_eq!(
        default_config_with(|p| p == TOML_CONFIG).to_str(),
        Some(TOML_CONFIG)
    );
    assert_eq!(
        uplink::config::DEFAULT_SOCKET,
        "/var/run/uplink/uplink.sock"
    );
}
