//! OpenWrt netifd interfaces (`wan`, `wwan`...) and the Linux device each one uses, read
//! from `/etc/config/network`. Shared by `interface = "..."` lines and `import-mwan3`.

use super::ifname::check_ifname;
use super::uci::Document;

/// netifd protocols whose device is the `<proto>-<interface>` PPP device.
const PPP_PROTOS: &[&str] = &["pppoe", "pppoa", "ppp", "3g", "pptp", "l2tp"];

/// The device of an interface, and how the network config says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetifdDevice {
    pub device: String,
    /// A point-to-point device (PPP, WireGuard): no gateway needed.
    pub point_to_point: bool,
    /// `option gateway` of a `proto static` interface.
    pub static_gateway: Option<String>,
    /// How the device was found, for comments and logs.
    pub how: String,
}

/// The device of netifd interface `iface` according to `network`; the error says why it
/// cannot be told from the file (the running system may still know: `ubus`). A name that
/// is not a valid interface name is an error too: it can name no device, and would reach
/// routes and the nft table otherwise.
pub fn device_of(network: &Document, iface: &str) -> Result<NetifdDevice, String> {
    let found = device_following_aliases(network, iface, 0)?;
    check_ifname(&found.device)
        .map_err(|why| format!("interface {iface:?}: device {:?}: {why}", found.device))?;
    Ok(found)
}

/// An alias interface (`option device '@wan'`, as OpenWrt's `wan6` usually is) uses the
/// device of the interface it names.
fn device_following_aliases(
    network: &Document,
    iface: &str,
    depth: usize,
) -> Result<NetifdDevice, String> {
    let section = network
        .sections_of("interface")
        .find(|s| s.name.as_deref() == Some(iface))
        .ok_or_else(|| format!("no interface {iface:?} in the network config"))?;
    let proto = section.get("proto").unwrap_or("none");
    let point_to_point = |device: String, how: String| NetifdDevice {
        device,
        point_to_point: true,
        static_gateway: None,
        how,
    };
    if PPP_PROTOS.contains(&proto) {
        let how = format!(
            "proto {proto}: netifd names the device {proto}-{iface} (point-to-point, no gateway needed)"
        );
        return Ok(point_to_point(format!("{proto}-{iface}"), how));
    }
    if proto == "wireguard" {
        let how = "proto wireguard: the device is named after the interface".to_owned();
        return Ok(point_to_point(iface.to_owned(), how));
    }
    let (option, device) = match (section.get("device"), section.get("ifname")) {
        (Some(d), _) => ("device", d),
        (None, Some(d)) => ("ifname", d),
        (None, None) => {
            return Err(format!(
                "interface {iface:?} has no device in the network config"
            ))
        }
    };
    let device = device.split_whitespace().next().unwrap_or("");
    if let Some(parent) = device.strip_prefix('@') {
        if depth >= 4 || parent == iface {
            return Err(format!("interface {iface:?}: alias loop at {device:?}"));
        }
        let mut found = device_following_aliases(network, parent, depth + 1)?;
        found.static_gateway = None;
        found.how = format!("alias of {parent}: {}", found.how);
        return Ok(found);
    }
    if device.is_empty() {
        return Err(format!("interface {iface:?} has an empty device"));
    }
    let (device, how) = if section.get("type") == Some("bridge") {
        // Quoted: the port's name is not checked (it is not the line's device), and this
        // text ends up in logs and comments.
        let how = format!("network: bridge over {device:?}, netifd names it br-{iface}");
        (format!("br-{iface}"), how)
    } else {
        (device.to_owned(), format!("network: option {option}"))
    };
    Ok(NetifdDevice {
        device,
        point_to_point: false,
        static_gateway: section
            .get("gateway")
            .filter(|_| proto == "static")
            .map(str::to_owned),
        how,
    })
}
