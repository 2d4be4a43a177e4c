//! Finds the Linux device of an OpenWrt netifd interface (`interface = "wan"`). The running
//! system knows best: `ubus call network.interface.NAME status` gives `l3_device` (the
//! device traffic leaves through: `pppoe-wan` for PPPoE, the modem's for LTE). Where ubus
//! is missing or does not know the interface, `/etc/config/network` is read. Nothing is
//! ever written to netifd's config.

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

use crate::config::ifname::check_ifname;
use crate::config::netifd::device_of;
use crate::config::uci;

/// OpenWrt's network config.
pub const NETWORK_CONFIG: &str = "/etc/config/network";

/// Why an interface could not be resolved.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("netifd interface \"{interface}\": {reason}")]
pub struct NetifdError {
    pub interface: String,
    pub reason: String,
}

/// Resolves interface names: `ubus` if found, then the network config file.
#[derive(Debug, Clone)]
pub struct Resolver {
    ubus: Option<PathBuf>,
    network: PathBuf,
}

impl Resolver {
    /// `ubus` in /bin (OpenWrt) or on PATH; the network config in its usual place, or
    /// where `UPLINK_NETIFD_NETWORK` says (other layouts, and tests).
    pub fn from_env() -> Self {
        let path = std::env::var_os("PATH");
        let network = std::env::var_os("UPLINK_NETIFD_NETWORK")
            .map_or_else(|| PathBuf::from(NETWORK_CONFIG), PathBuf::from);
        Resolver {
            ubus: crate::hooks::find_program("ubus", Path::new("/bin"), path.as_deref()),
            network,
        }
    }

    /// A resolver with explicit sources.
    pub fn new(ubus: Option<PathBuf>, network: PathBuf) -> Self {
        Resolver { ubus, network }
    }

    /// The device of `interface` now; always a valid interface name (see
    /// [`check_ifname`]): an invalid one, from either source, is an error.
    pub fn device(&self, interface: &str) -> Result<String, NetifdError> {
        let error = |reason: String| NetifdError {
            interface: interface.to_string(),
            reason,
        };
        let from_ubus = self.ubus.as_deref().map(|ubus| ask_ubus(ubus, interface));
        match from_ubus {
            // ubus speaks for the running system: when its name is unusable, the file
            // (which may name another device) is no better guess. Not resolved.
            Some(Ok(device)) => match check_ifname(&device) {
                Ok(()) => Ok(device),
                Err(why) => Err(error(format!("ubus: device {device:?}: {why}"))),
            },
            Some(Err(ubus_says)) => self
                .read_network_config(interface)
                .map_err(|file_says| error(format!("{ubus_says}; {file_says}"))),
            None => self.read_network_config(interface).map_err(error),
        }
    }

    fn read_network_config(&self, interface: &str) -> Result<String, String> {
        let shown = self.network.display();
        let text = crate::files::read_limited(&self.network, crate::files::CONFIG_LIMIT)
            .map_err(|e| format!("cannot read {e}"))?;
        let document = uci::parse(&text).map_err(|e| format!("{shown}: {e}"))?;
        device_of(&document, interface)
            .map(|found| found.device)
            .map_err(|why| format!("{shown}: {why}"))
    }
}

/// `ubus call network.interface.NAME status`: `l3_device` when the interface is up,
/// else its `device`.
fn ask_ubus(ubus: &Path, interface: &str) -> Result<String, String> {
    let object = format!("network.interface.{interface}");
    let out = Command::new(ubus)
        // -t: ubus waits 30 s by default for a busy netifd; the lookup must stay short.
        .args(["-t", "2", "call", &object, "status"])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", ubus.display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("ubus: {object}: {}", stderr.trim()));
    }
    device_from_status(&out.stdout)
        .ok_or_else(|| format!("ubus: {object}: no device in its status"))
}

fn device_from_status(json: &[u8]) -> Option<String> {
    let status: serde_json::Value = serde_json::from_slice(json).ok()?;
    ["l3_device", "device"]
        .iter()
        .find_map(|key| status.get(key)?.as_str().filter(|d| !d.is_empty()))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(label: &str) -> Dir {
        let path = std::env::temp_dir().join(crate::netns::unique_prefix(label));
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    const NETWORK: &str =
        "config interface 'wan'\n\toption device 'eth0.2'\n\toption proto 'pppoe'\n\
                           config interface 'lte'\n\toption device 'eth2'\n\toption proto 'dhcp'\n";

    #[test]
    fn the_network_config_names_the_device_without_ubus() {
        let d = dir("netifd");
        let network = d.0.join("network");
        std::fs::write(&network, NETWORK).unwrap();
        let resolver = Resolver::new(None, network.clone());
        assert_eq!(resolver.device("wan").unwrap(), "pppoe-wan");
        assert_eq!(resolver.device("lte").unwrap(), "eth2");
        let err = resolver.device("wwan").unwrap_err().to_string();
        assert!(err.starts_with("netifd interface \"wwan\": "), "{err}");
        assert!(err.contains("no interface \"wwan\""), "{err}");
    }

    #[test]
    fn a_network_config_that_is_not_a_regular_file_is_refused() {
        let resolver = Resolver::new(None, PathBuf::from("/dev/zero"));
        assert_eq!(
            resolver.device("wan").unwrap_err().to_string(),
            "netifd interface \"wan\": cannot read /dev/zero: is a character device, not a regular file"
        );
    }

    /// A stand-in `ubus` (a shell script) answers like OpenWrt's for one interface and
    /// fails for others, so the file is the fallback.
    #[test]
    fn ubus_knows_best_and_the_file_is_the_fallback() {
        let d = dir("ubus");
        let ubus = d.0.join("ubus");
        std::fs::write(
            &ubus,
            "#!/bin/sh\n[ \"$1 $2 $3\" = \"-t 2 call\" ] && [ \"$4\" = network.interface.lte ] || { echo 'Not found' >&2; exit 4; }\n\
             echo '{ \"up\": true, \"l3_device\": \"wwan0\", \"device\": \"eth2\" }'\n",
        )
        .unwrap();
        std::fs::set_permissions(&ubus, std::fs::Permissions::from_mode(0o755)).unwrap();
        let network = d.0.join("network");
        std::fs::write(&network, NETWORK).unwrap();
        let resolver = Resolver::new(Some(ubus), network);
        assert_eq!(resolver.device("lte").unwrap(), "wwan0");
        assert_eq!(resolver.device("wan").unwrap(), "pppoe-wan");
        let err = resolver.device("nope").unwrap_err().to_string();
        assert!(
            err.contains("ubus: network.interface.nope: Not found"),
            "{err}"
        );
    }

    /// A stand-in `ubus` that answers `json` for every interface.
    fn ubus_answering(d: &Dir, json: &str) -> PathBuf {
        let ubus = d.0.join("ubus");
        let script = format!("#!/bin/sh\ncat <<'EOF'\n{json}\nEOF\n");
        std::fs::write(&ubus, script).unwrap();
        std::fs::set_permissions(&ubus, std::fs::Permissions::from_mode(0o755)).unwrap();
        ubus
    }

    /// A name from ubus that is no valid interface name leaves the interface unresolved,
    /// with the name escaped in the error, even where the file names a device.
    #[test]
    fn an_invalid_name_from_ubus_is_not_resolved() {
        let d = dir("ubus-bad");
        let network = d.0.join("network");
        std::fs::write(&network, NETWORK).unwrap();
        for (json, shown) in [
            (r#"{ "l3_device": "wan\nx" }"#, r#""wan\nx""#),
            (r#"{ "l3_device": "a\"; }" }"#, r#""a\"; }""#),
            (r#"{ "l3_device": "l\u001b[2J" }"#, r#""l\u{1b}[2J""#),
            (
                r#"{ "device": "a234567890123456" }"#,
                r#""a234567890123456""#,
            ),
        ] {
            let resolver = Resolver::new(Some(ubus_answering(&d, json)), network.clone());
            let err = resolver.device("lte").unwrap_err().to_string();
            let expected = format!("netifd interface \"lte\": ubus: device {shown}: ");
            assert!(err.starts_with(&expected), "{err}");
        }
        let resolver = Resolver::new(
            Some(ubus_answering(&d, r#"{ "l3_device": "wwan0" }"#)),
            network,
        );
        assert_eq!(resolver.device("lte").unwrap(), "wwan0");
    }

    /// The same for /etc/config/network: a quote or a control character in a device, or a
    /// PPP device name that netifd would build too long. (Whitespace, newlines included,
    /// separates the words of a device list, of which the first is taken.)
    #[test]
    fn an_invalid_name_from_the_network_config_is_not_resolved() {
        let d = dir("netifd-bad");
        let network = d.0.join("network");
        std::fs::write(
            &network,
            "config interface 'q'\n\toption device 'x\"y'\n\
             config interface 'esc'\n\toption device 'eth\u{1b}0'\n\
             config interface 'longname12'\n\toption proto 'pppoe'\n\
             config interface 'wan'\n\toption device 'eth0.2'\n",
        )
        .unwrap();
        let resolver = Resolver::new(None, network);
        for (iface, shown, reason) in [
            ("q", r#""x\"y""#, "nftables cannot match"),
            ("esc", r#""eth\u{1b}0""#, "control characters"),
            (
                "longname12",
                r#""pppoe-longname12""#,
                "longer than 15 bytes",
            ),
        ] {
            let err = resolver.device(iface).unwrap_err().to_string();
            let expected = format!("interface {iface:?}: device {shown}: ");
            assert!(err.contains(&expected) && err.contains(reason), "{err}");
        }
        assert_eq!(resolver.device("wan").unwrap(), "eth0.2");
    }

    #[test]
    fn status_without_l3_device_falls_back_to_device() {
        assert_eq!(
            device_from_status(br#"{"up": false, "device": "eth2"}"#).as_deref(),
            Some("eth2")
        );
        assert_eq!(device_from_status(br#"{"up": false}"#), None);
    }
}
