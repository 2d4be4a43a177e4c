//! A netifd interface name (what mwan3 speaks of) turned into the Linux device uplink
//! needs, from OpenWrt's `/etc/config/network` when it is given.

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

/// netifd protocols whose device is the `<proto>-<interface>` PPP device.
const PPP_PROTOS: &[&str] = &["pppoe", "pppoa", "ppp", "3g", "pptp", "l2tp"];

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
    let section = network
        .sections_of("interface")
        .find(|s| s.name.as_deref() == Some(iface));
    let Some(section) = section else {
        return fix(format!("no interface {iface:?} in the network config"));
    };
    let proto = section.get("proto").unwrap_or("none");
    if PPP_PROTOS.contains(&proto) {
        return Device {
            name: format!("{proto}-{iface}"),
            gateway: None,
            notes: vec![format!(
                "proto {proto}: netifd names the device {proto}-{iface} (point-to-point, no gateway needed)"
            )],
        };
    }
    if proto == "wireguard" {
        return Device {
            name: iface.to_owned(),
            gateway: None,
            notes: vec!["proto wireguard: the device is named after the interface".to_owned()],
        };
    }
    let (option, device) = match (section.get("device"), section.get("ifname")) {
        (Some(d), _) => ("device", d),
        (None, Some(d)) => ("ifname", d),
        (None, None) => {
            return fix(format!(
                "interface {iface:?} has no device in the network config"
            ))
        }
    };
    let device = device.split_whitespace().next().unwrap_or("");
    if device.is_empty() || device.starts_with('@') {
        return fix(format!("interface {iface:?} is an alias ({device:?})"));
    }
    let (name, mut notes) = if section.get("type") == Some("bridge") {
        let note = format!("network: bridge over {device}, netifd names it br-{iface}");
        (format!("br-{iface}"), vec![note])
    } else {
        (device.to_owned(), vec![format!("network: option {option}")])
    };
    let fixed = section.get("gateway").filter(|_| proto == "static");
    let gateway = match fixed {
        Some(gateway) => {
            notes.push("gateway: network's option gateway (proto static)".to_owned());
            gateway.to_owned()
        }
        None => {
            notes.push(AUTO_NOTE.to_owned());
            AUTO.to_owned()
        }
    };
    Device {
        name,
        gateway: Some(gateway),
        notes,
    }
}
