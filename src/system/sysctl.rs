//! Reads the kernel settings that change how uplink's routing behaves, to warn about them;
//! uplink never writes a sysctl (they belong to the system's own configuration).

use std::path::Path;

/// The reverse-path filter mode the kernel applies on `device`: the larger of the `all`
/// and the device's own value (ip-sysctl.rst, rp_filter). `None` when unreadable (no such
/// device yet, or no /proc).
pub fn rp_filter(device: &str) -> Option<u8> {
    let read = |scope: &str| -> Option<u8> {
        let path = Path::new("/proc/sys/net/ipv4/conf")
            .join(scope)
            .join("rp_filter");
        std::fs::read_to_string(path).ok()?.trim().parse().ok()
    };
    Some(effective_rp_filter(read("all")?, read(device)?))
}

/// ip-sysctl.rst: "The max value from conf/{all,interface}/rp_filter is used".
pub fn effective_rp_filter(all: u8, device: u8) -> u8 {
    all.max(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stricter_of_all_and_device_applies() {
        assert_eq!(effective_rp_filter(0, 1), 1);
        assert_eq!(effective_rp_filter(1, 0), 1);
        assert_eq!(effective_rp_filter(2, 1), 2);
        assert_eq!(effective_rp_filter(0, 0), 0);
    }
}
