//! A netifd interface name (what mwan3 speaks of) turned into the Linux device uplink
//! needs, from OpenWrt's `/etc/config/network` when it is given.

use crate::config::netifd::device_of;
use crate::config::uci::Document;

/// A line's device and next hop, and how they were found (for the comment beside them).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Device {
    pub name: String,
    pub gateway: Option<String>,
    /// Comments for the `device` key; the first one goes on the key's line.
    pub notes: Vec<String>,
}

/// mwan3 needs netifd to install a default route on every line; `gateway = "auto"` learns
/// the next hop from it (and needs none on a point-to-point device).
const AUTO: &str = "auto";
const AUTO_NOTE: &str = "gateway \"auto\": learned from the default route netifd installs on the device (mwan3 needs one on every line too)";

/// The device of netifd interface `iface`, from `network` if given.
pub(super) fn resolve(network: Option<&Document>, iface: &str) -> Device {
    let fix = |why: String| Device {
        name: iface.to_owned(),
        gateway: Some(AUTO.to_owned()),
        notes: vec![
            format!("FIX: {why}; put the line's Linux device here"),
            AUTO_NOTE.to_owned(),
        ],
    };
    let Some(network) = network else {
        return fix(format!(
            "mwan3 names the netifd interface {iface:?} (--network /etc/config/network resolves it)"
        ));
    };
    let found = match device_of(network, iface) {
        Ok(found) => found,
        Err(why) => return fix(why),
    };
    let mut notes = vec![found.how];
    let gateway = if found.point_to_point {
        None
    } else if let Some(gateway) = found.static_gateway {
        notes.push("gateway: network's option gateway (proto static)".to_owned());
        Some(gateway)
    } else {
        notes.push(AUTO_NOTE.to_owned());
        Some(AUTO.to_owned())
    };
    Device {
        name: found.device,
        gateway,
        notes,
    }
}
