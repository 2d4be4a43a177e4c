//! Host-name targets: which address each one has now, when to look it up again, and which
//! resolvers to ask. Lookups run as tasks beside the prober and report back; a probe due
//! while its name has no address is a failed probe that says why.

use std::net::IpAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::config::{Family, Host, Target};

/// A TTL below this is raised: a name is not looked up more often than this.
pub(crate) const MIN_TTL: Duration = Duration::from_secs(10);
/// A TTL above this is lowered, so a moved target is followed within the hour.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(3600);
/// After a failed lookup, the next one waits this long.
pub(crate) const RETRY: Duration = Duration::from_secs(5);
/// Resolver files larger than this are not read further.
const MAX_FILE: u64 = 64 * 1024;
/// OpenWrt's netifd writes each interface's DNS servers here, under `# Interface NAME`.
const OPENWRT_AUTO: &str = "/tmp/resolv.conf.d/resolv.conf.auto";
/// Older OpenWrt releases keep it here.
const OPENWRT_AUTO_OLD: &str = "/tmp/resolv.conf.auto";
/// Everyone else's.
const RESOLV_CONF: &str = "/etc/resolv.conf";

/// One target's address.
#[derive(Debug)]
enum Slot {
    /// A literal address: never looked up.
    Fixed(IpAddr),
    /// A name: the last lookup's outcome and when the next is due.
    Name {
        current: Option<std::result::Result<IpAddr, String>>,
        next: Instant,
        in_flight: bool,
    },
}

/// What a probe due now should do about its target's address.
#[derive(Debug, PartialEq)]
pub(crate) enum Address {
    /// Probe this address.
    Use(IpAddr),
    /// The first lookup is still under way: skip this slot (no outcome yet).
    Wait,
    /// The name does not resolve: a failed probe, with why.
    Failed(String),
}

/// The addresses of a prober's targets.
#[derive(Debug)]
pub(crate) struct Names {
    slots: Vec<Slot>,
}

impl Names {
    /// Every name is due for lookup at `now`.
    pub(crate) fn new(targets: &[Target], now: Instant) -> Self {
        let slots = targets
            .iter()
            .map(|t| match &t.host {
                Host::Addr(addr) => Slot::Fixed(*addr),
                Host::Name(_) => Slot::Name {
                    current: None,
                    next: now,
                    in_flight: false,
                },
            })
            .collect();
        Names { slots }
    }

    /// The address to probe target `index` at, and whether a lookup should start now
    /// (the caller starts it and reports with [`Names::looked_up`]).
    pub(crate) fn address(&mut self, index: usize, now: Instant) -> (Address, bool) {
        match self.slots.get_mut(index) {
            None => (Address::Failed("no such target".into()), false),
            Some(Slot::Fixed(addr)) => (Address::Use(*addr), false),
            Some(Slot::Name {
                current,
                next,
                in_flight,
            }) => {
                let start = !*in_flight && now >= *next;
                *in_flight |= start;
                let address = match current {
                    None => Address::Wait,
                    Some(Ok(addr)) => Address::Use(*addr),
                    Some(Err(why)) => Address::Failed(why.clone()),
                };
                (address, start)
            }
        }
    }

    /// Records a lookup's outcome at `now`: the address until its TTL (bounded) runs out,
    /// or the failure until the retry.
    pub(crate) fn looked_up(
        &mut self,
        index: usize,
        outcome: std::result::Result<(IpAddr, Duration), String>,
        now: Instant,
    ) {
        if let Some(Slot::Name {
            current,
            next,
            in_flight,
        }) = self.slots.get_mut(index)
        {
            *in_flight = false;
            let (value, wait) = match outcome {
                Ok((addr, ttl)) => (Ok(addr), ttl.clamp(MIN_TTL, MAX_TTL)),
                Err(why) => (Err(why), RETRY),
            };
            *current = Some(value);
            *next = now + wait;
        }
    }
}

/// The resolvers to ask for a line's names when `probe.resolvers` is empty: on OpenWrt
/// the DNS servers netifd learnt on the line's interface; else the non-loopback servers of
/// /etc/resolv.conf (a local cache on 127.0.0.1 cannot be asked through a line). Reads
/// small files: call it off the event loop.
pub(crate) fn system_resolvers(interface: Option<&str>, family: Family) -> Vec<IpAddr> {
    let read = |path: &str| read_bounded(Path::new(path)).unwrap_or_default();
    let auto = [OPENWRT_AUTO, OPENWRT_AUTO_OLD]
        .iter()
        .map(|p| read(p))
        .find(|text| !text.is_empty())
        .unwrap_or_default();
    let mut found = interface
        .map(|iface| nameservers(&auto, Some(iface), family))
        .unwrap_or_default();
    if found.is_empty() {
        found = nameservers(&read(RESOLV_CONF), None, family);
    }
    if found.is_empty() {
        found = nameservers(&auto, None, family);
    }
    found
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_FILE)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The `nameserver` addresses of `text` of `family`, loopback excluded; with `interface`,
/// only those under netifd's `# Interface NAME` heading.
pub(crate) fn nameservers(text: &str, interface: Option<&str>, family: Family) -> Vec<IpAddr> {
    let mut section: Option<&str> = None;
    let mut found = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix("# Interface ") {
            section = Some(name.trim());
            continue;
        }
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(Ok(addr)) = words.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let wanted = interface.is_none_or(|iface| section == Some(iface));
        if wanted && Family::of(&addr) == family && !addr.is_loopback() && !found.contains(&addr) {
            found.push(addr);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTO: &str = "# Interface wan\nnameserver 192.0.2.53\nnameserver 2001:db8::53\n\
                        # Interface lte\nnameserver 198.51.100.53\nsearch lan\n";

    #[test]
    fn openwrt_sections_give_each_interface_its_servers() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            nameservers(AUTO, Some("wan"), Family::V4),
            [ip("192.0.2.53")]
        );
        assert_eq!(
            nameservers(AUTO, Some("wan"), Family::V6),
            [ip("2001:db8::53")]
        );
        assert_eq!(
            nameservers(AUTO, Some("lte"), Family::V4),
            [ip("198.51.100.53")]
        );
        assert!(nameservers(AUTO, Some("wwan"), Family::V4).is_empty());
        assert_eq!(nameservers(AUTO, None, Family::V4).len(), 2);
    }

    #[test]
    fn loopback_and_junk_are_skipped() {
        let text = "nameserver 127.0.0.53\nnameserver ::1\nnameserver x\nnameserver\n\
                    options edns0\nnameserver 203.0.113.53 # comment\n";
        assert_eq!(
            nameservers(text, None, Family::V4),
            ["203.0.113.53".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn names_wait_then_use_then_refresh_on_ttl() {
        let t0 = Instant::now();
        let targets = [
            Target::parse("tcp://probe.test:80").unwrap(),
            Target::parse("192.0.2.9").unwrap(),
        ];
        let mut names = Names::new(&targets, t0);
        assert_eq!(
            names.address(1, t0),
            (Address::Use("192.0.2.9".parse().unwrap()), false)
        );
        assert_eq!(names.address(0, t0), (Address::Wait, true));
        assert_eq!(
            names.address(0, t0),
            (Address::Wait, false),
            "one lookup at a time"
        );
        let addr: IpAddr = "203.0.113.10".parse().unwrap();
        names.looked_up(0, Ok((addr, Duration::from_secs(1))), t0);
        assert_eq!(
            names.address(0, t0 + Duration::from_secs(5)),
            (Address::Use(addr), false)
        );
        // A TTL of 1 s is raised to MIN_TTL; the old address is used while refreshing.
        assert_eq!(names.address(0, t0 + MIN_TTL), (Address::Use(addr), true));
        names.looked_up(0, Err("does not exist".into()), t0 + MIN_TTL);
        let later = t0 + MIN_TTL + Duration::from_secs(1);
        assert_eq!(
            names.address(0, later),
            (Address::Failed("does not exist".into()), false)
        );
        assert!(names.address(0, t0 + MIN_TTL + RETRY).1, "retried");
    }
}
