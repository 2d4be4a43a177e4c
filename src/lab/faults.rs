//! Fault injection: each fault is undone by [`Lab::clear`] with the same value.

use std::fmt;

use super::cmd::{nft, replace_table};
use super::{Lab, LabError, Line, Role};

/// Table (family inet, in the ISP namespace) holding a [`Fault::Blackhole`].
const BLACKHOLE_TABLE: &str = "labblackhole";
/// nft table (in the ISP) of an IPv6-only blackhole.
const BLACKHOLE6_TABLE: &str = "labblackhole6";
/// Table (family inet, in the ISP namespace) holding a [`Fault::Loss`]; separate from the
/// blackhole's so that injecting or clearing one leaves the other alone.
const LOSS_TABLE: &str = "labloss";
/// Table (family inet, in the ISP) dropping the ICMP it would forward ([`Fault::IcmpFilter`]).
const ICMP_TABLE: &str = "labicmp";
/// Table (family ip, in the ISP) sending the customer's port 80 to its portal.
const PORTAL_TABLE: &str = "labportal";
/// Where the ISP's captive portal listens (on its own address, see [`Lab::start_portal`]).
pub const PORTAL_PORT: u16 = 8080;

/// Something that can go wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// `ip link set wanN down` on the router: the kernel removes the line's routes at once.
    IfDown(Line),
    /// The ISP's end of the link (`cust`) goes down, so the router's `wanN` shows
    /// NO-CARRIER; its routes stay (flagged `linkdown`) and are still used.
    Carrier(Line),
    /// The ISP drops everything it would forward (nft drop in its forward hook); the
    /// gateway itself still answers, the link stays up: only probes beyond it notice.
    Blackhole(Line),
    /// Like [`Fault::Blackhole`] for IPv6 only: the line still carries IPv4 (a broken
    /// DS-Lite tunnel or a dead prefix delegation looks like this).
    Blackhole6(Line),
    /// The ISP drops this percentage (0..=100) of the packets it forwards *from* the router
    /// (`numgen random mod 100 < N`), so N is the loss of a request/reply exchange such
    /// as a probe; replies are not dropped a second time. [`Lab::clear`] ignores N.
    Loss(Line, u8),
    /// The ISP drops all ICMP it would forward (many mobile networks do); TCP and UDP pass.
    IcmpFilter(Line),
    /// The ISP intercepts the customer's TCP port 80 and hands it to its captive portal on
    /// its own address ([`PORTAL_PORT`]; start it with [`Lab::start_portal`]); everything
    /// else, ICMP included, passes.
    Portal(Line),
}

impl Fault {
    /// The line this fault hits.
    pub fn line(self) -> Line {
        match self {
            Fault::IfDown(line)
            | Fault::Carrier(line)
            | Fault::Blackhole(line)
            | Fault::Blackhole6(line)
            | Fault::Loss(line, _)
            | Fault::IcmpFilter(line)
            | Fault::Portal(line) => line,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::IfDown(line) => write!(f, "ifdown {line}"),
            Fault::Carrier(line) => write!(f, "carrier loss on {line}"),
            Fault::Blackhole(line) => write!(f, "blackhole beyond {line}"),
            Fault::Blackhole6(line) => write!(f, "IPv6 blackhole beyond {line}"),
            Fault::Loss(line, pct) => write!(f, "{pct}% loss on {line}"),
            Fault::IcmpFilter(line) => write!(f, "ICMP filtered beyond {line}"),
            Fault::Portal(line) => write!(f, "captive portal on {line}"),
        }
    }
}

impl Lab {
    /// Injects `fault`. Injecting the same kind again on a line replaces it (e.g. a new
    /// loss rate); faults of different kinds coexist.
    pub fn inject(&self, fault: Fault) -> Result<(), LabError> {
        match fault {
            Fault::IfDown(line) => self.set_wan_link(line, "down"),
            Fault::Carrier(line) => self.set_isp_link(line, "down"),
            Fault::Blackhole(line) => self.isp_nft(line, BLACKHOLE_TABLE, "drop"),
            Fault::Blackhole6(line) => {
                self.isp_nft(line, BLACKHOLE6_TABLE, "meta nfproto ipv6 drop")
            }
            Fault::Loss(line, pct) => {
                if pct > 100 {
                    return Err(LabError::InvalidFault(format!("{pct}% loss on {line}")));
                }
                let rule = format!("iifname \"cust\" numgen random mod 100 < {pct} drop");
                self.isp_nft(line, LOSS_TABLE, &rule)
            }
            Fault::IcmpFilter(line) => {
                self.isp_nft(line, ICMP_TABLE, "meta l4proto { icmp, ipv6-icmp } drop")
            }
            Fault::Portal(line) => self.portal_nat(line, true),
        }
    }

    /// Undoes `fault`; clearing a fault that is not there is not an error. Clearing
    /// `IfDown` also puts back the line's static default route when the lab installed the
    /// static routes, because the kernel deleted it with the link.
    pub fn clear(&self, fault: Fault) -> Result<(), LabError> {
        match fault {
            Fault::IfDown(line) => {
                self.set_wan_link(line, "up")?;
                self.restore_static_route(line)
            }
            Fault::Carrier(line) => self.set_isp_link(line, "up"),
            Fault::Blackhole(line) => self.isp_nft(line, BLACKHOLE_TABLE, ""),
            Fault::Blackhole6(line) => self.isp_nft(line, BLACKHOLE6_TABLE, ""),
            Fault::Loss(line, _) => self.isp_nft(line, LOSS_TABLE, ""),
            Fault::IcmpFilter(line) => self.isp_nft(line, ICMP_TABLE, ""),
            Fault::Portal(line) => self.portal_nat(line, false),
        }
    }

    /// Redirects (or stops redirecting) the customer's port 80 to the ISP's portal port.
    fn portal_nat(&self, line: Line, on: bool) -> Result<(), LabError> {
        let definition = if on {
            format!(
                "table ip {PORTAL_TABLE} {{\n\
                 \tchain pre {{\n\
                 \t\ttype nat hook prerouting priority dstnat; policy accept;\n\
                 \t\tiifname \"cust\" tcp dport 80 redirect to :{PORTAL_PORT}\n\
                 \t}}\n}}\n"
            )
        } else {
            String::new()
        };
        nft(
            self.ns(Role::isp(line)),
            &replace_table("ip", PORTAL_TABLE, &definition),
        )
    }

    fn set_wan_link(&self, line: Line, state: &str) -> Result<(), LabError> {
        self.ns(Role::Router)
            .ip(&["link", "set", line.device(), state])?;
        Ok(())
    }

    fn set_isp_link(&self, line: Line, state: &str) -> Result<(), LabError> {
        self.ns(Role::isp(line))
            .ip(&["link", "set", "cust", state])?;
        Ok(())
    }

    /// Replaces the ISP's table `table` by one whose forward chain holds `rule`; an empty
    /// rule removes the table. The forward hook spares traffic to and from the ISP itself.
    fn isp_nft(&self, line: Line, table: &str, rule: &str) -> Result<(), LabError> {
        let definition = if rule.is_empty() {
            String::new()
        } else {
            format!(
                "table inet {table} {{\n\
                 \tchain forward {{\n\
                 \t\ttype filter hook forward priority filter; policy accept;\n\
                 \t\t{rule}\n\
                 \t}}\n}}\n"
            )
        };
        nft(
            self.ns(Role::isp(line)),
            &replace_table("inet", table, &definition),
        )
    }
}
