//! What happens to real lines without them failing: a DHCP renewal that moves the gateway,
//! a device unplugged and plugged back (a USB LTE stick), a new address after a PPPoE
//! reconnect. Each is done the way the system would do it.

use std::net::Ipv4Addr;

use super::cmd::{ip_batch, sysctl};
use super::{Lab, LabError, Line, Role};

impl Lab {
    /// A DHCP renewal with a new gateway: the ISP takes `new_gateway` (in the line's /24)
    /// and the router's client replaces its default route the way dhclient and udhcpc do
    /// (delete the old, add the new), then the ISP gives up the old address.
    pub fn renew_gateway(
        &self,
        line: Line,
        old_gateway: Ipv4Addr,
        new_gateway: Ipv4Addr,
    ) -> Result<(), LabError> {
        let (isp, router) = (self.ns(Role::isp(line)), self.ns(Role::Router));
        // Deleting a primary address deletes the secondaries of its subnet too, unless
        // they are promoted (ip-sysctl.rst, promote_secondaries).
        sysctl(
            isp,
            &["net.ipv4.conf.cust.promote_secondaries=1".to_string()],
        )?;
        isp.ip(&["addr", "add", &format!("{new_gateway}/24"), "dev", "cust"])?;
        let dev = line.device();
        let metric = line.static_metric().to_string();
        let old = old_gateway.to_string();
        let _ = router.ip(&["route", "del", "default", "via", &old, "dev", dev]);
        let new = new_gateway.to_string();
        router.ip(&[
            "route", "add", "default", "via", &new, "dev", dev, "metric", &metric,
        ])?;
        isp.ip(&["addr", "del", &format!("{old_gateway}/24"), "dev", "cust"])?;
        Ok(())
    }

    /// The line's device disappears (both veth ends go).
    pub fn unplug(&self, line: Line) -> Result<(), LabError> {
        self.ns(Role::Router).ip(&["link", "del", line.device()])?;
        Ok(())
    }

    /// The device comes back as a new device (new ifindex) with its address, and the
    /// system's default route on it (as netifd or a DHCP client would add), via `gateway`.
    pub fn plug(&self, line: Line, gateway: Ipv4Addr) -> Result<(), LabError> {
        let (dev, isp) = (line.device(), self.ns(Role::isp(line)));
        ip_batch(
            self.ns(Role::Router),
            &[
                format!(
                    "link add {dev} type veth peer name cust netns {}",
                    isp.name()
                ),
                format!("addr add {}/24 dev {dev}", line.addr()),
                format!("link set {dev} up"),
            ],
        )?;
        ip_batch(
            isp,
            &[
                format!("addr add {gateway}/24 dev cust"),
                "link set cust up".to_string(),
            ],
        )?;
        sysctl(isp, &["net.ipv4.conf.cust.rp_filter=1".to_string()])?;
        let metric = line.static_metric().to_string();
        let via = gateway.to_string();
        let route = [
            "route", "replace", "default", "via", &via, "dev", dev, "metric", &metric,
        ];
        self.ns(Role::Router).ip(&route)?;
        Ok(())
    }

    /// A new address on the line's device (a PPPoE reconnect): `new` replaces the current
    /// one, in the same /24.
    pub fn readdress(&self, line: Line, old: Ipv4Addr, new: Ipv4Addr) -> Result<(), LabError> {
        let dev = line.device();
        let promote = format!("net.ipv4.conf.{dev}.promote_secondaries=1");
        sysctl(self.ns(Role::Router), &[promote])?;
        ip_batch(
            self.ns(Role::Router),
            &[
                format!("addr add {new}/24 dev {dev}"),
                format!("addr del {old}/24 dev {dev}"),
            ],
        )
    }
}
