//! Lines given by netifd interface (`interface = "wan"`): their devices are resolved when a
//! config is taken, and again when a line's device has vanished (a USB modem that comes
//! back under another name, a protocol change), at most every few seconds.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::core::LinkFacts;
use crate::system::netifd::{NetifdError, Resolver};

/// Shortest time between two lookups for the same line: a lookup may fork `ubus`.
const RETRY: Duration = Duration::from_secs(5);

/// Resolves and follows the interfaces of the running config.
pub struct Interfaces {
    resolver: Resolver,
    last_lookup: HashMap<String, Instant>,
    /// When a lookup held back by [`RETRY`] is due: the daemon re-reads links then.
    held_back: Option<Instant>,
    /// The last failed lookup of each line, logged once rather than at every retry.
    failed: HashMap<String, NetifdError>,
}

impl Interfaces {
    pub fn new(resolver: Resolver) -> Self {
        Interfaces {
            resolver,
            last_lookup: HashMap::new(),
            held_back: None,
            failed: HashMap::new(),
        }
    }

    /// The resolver, for lookups done beside the event loop (see [`resolve_devices`]).
    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    /// Resolves on the spot (start-up, before the event loop runs).
    pub fn resolve_all(&mut self, config: &mut Config, now: Instant) {
        resolve_devices(&self.resolver, config);
        self.looked_up(config, now);
    }

    /// Records that `config`'s interface lines were just looked up, for [`RETRY`].
    pub fn looked_up(&mut self, config: &Config, now: Instant) {
        for uplink in config.uplinks.iter().filter(|u| u.interface.is_some()) {
            self.last_lookup.insert(uplink.name.clone(), now);
            // A failed lookup leaves the device empty and was logged by resolve_devices.
            if !uplink.device.is_empty() {
                self.failed.remove(&uplink.name);
            }
        }
    }

    /// The interface lines whose device is not among `links` and that are due for a
    /// lookup (at most one per [`RETRY`] per line), as (line, interface).
    pub fn due(
        &mut self,
        config: &Config,
        links: &HashMap<String, LinkFacts>,
        now: Instant,
    ) -> Vec<(String, String)> {
        self.held_back = None;
        let mut due = Vec::new();
        for uplink in &config.uplinks {
            let Some(interface) = &uplink.interface else {
                continue;
            };
            if links.contains_key(&uplink.device) {
                continue;
            }
            let due_at = self.last_lookup.get(&uplink.name).map(|at| *at + RETRY);
            if let Some(at) = due_at.filter(|at| *at > now) {
                self.held_back = Some(self.held_back.map_or(at, |h| h.min(at)));
                continue;
            }
            self.last_lookup.insert(uplink.name.clone(), now);
            due.push((uplink.name.clone(), interface.clone()));
        }
        due
    }

    /// A copy of `config` with the devices `found` by [`lookup`] where they differ;
    /// `None` when nothing changed. A failed lookup is logged once per reason, and the
    /// line keeps its old device (or none).
    pub fn apply(&mut self, config: &Config, found: Vec<Lookup>) -> Option<Config> {
        let mut next: Option<Config> = None;
        for (name, interface, result) in found {
            let device = match result {
                Ok(device) => {
                    self.failed.remove(&name);
                    device
                }
                Err(e) => {
                    if self.failed.get(&name) != Some(&e) {
                        tracing::warn!("uplink \"{name}\": {e}");
                        self.failed.insert(name, e);
                    }
                    continue;
                }
            };
            let current = next.as_ref().unwrap_or(config);
            let Some(i) = current.uplinks.iter().position(|u| u.name == name) else {
                continue;
            };
            let old = &current.uplinks[i].device;
            if &device == old {
                continue;
            }
            tracing::info!(
                "uplink \"{name}\": interface {interface} moved from device {} to {device}",
                if old.is_empty() { "(none)" } else { old }
            );
            next.get_or_insert_with(|| config.clone()).uplinks[i].device = device;
        }
        next
    }

    /// [`Interfaces::due`], [`lookup`] and [`Interfaces::apply`] on the spot (tests).
    #[cfg(test)]
    pub fn follow(
        &mut self,
        config: &Config,
        links: &HashMap<String, LinkFacts>,
        now: Instant,
    ) -> Option<Config> {
        let due = self.due(config, links, now);
        let found = lookup(&self.resolver, due);
        self.apply(config, found)
    }

    /// When to look again for a line whose device is missing, if a lookup was held back.
    pub fn held_back(&self) -> Option<Instant> {
        self.held_back
    }
}

/// A lookup's answer: (line, interface, its device or why not).
pub type Lookup = (String, String, Result<String, NetifdError>);

/// Asks netifd for the device of each (line, interface). May run `ubus`: call it beside
/// the event loop.
pub fn lookup(resolver: &Resolver, due: Vec<(String, String)>) -> Vec<Lookup> {
    due.into_iter()
        .map(|(name, interface)| {
            let device = resolver.device(&interface);
            (name, interface, device)
        })
        .collect()
}

/// Fills in the device of every interface line. One that cannot be resolved keeps an
/// empty device (the line stays down, "device not found") and is retried later. May run
/// `ubus`: call it beside the event loop.
pub fn resolve_devices(resolver: &Resolver, config: &mut Config) {
    for uplink in &mut config.uplinks {
        let Some(interface) = uplink.interface.clone() else {
            continue;
        };
        match resolver.device(&interface) {
            Ok(device) => {
                tracing::info!(
                    "uplink \"{}\": interface {interface} is device {device}",
                    uplink.name
                );
                uplink.device = device;
            }
            Err(e) => tracing::warn!("uplink \"{}\": {e}", uplink.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A device name from netifd that is no valid interface name never becomes a line's
    /// device, at start or when followed later: the line stays unresolved.
    #[test]
    fn an_invalid_device_from_netifd_is_never_taken() {
        let dir = std::env::temp_dir().join(crate::netns::unique_prefix("interfaces"));
        std::fs::create_dir_all(&dir).unwrap();
        let network = dir.join("network");
        std::fs::write(
            &network,
            "config interface 'wan'\n\toption device 'x\"; }'\n",
        )
        .unwrap();
        let mut config =
            crate::config::parse("[[uplink]]\nname = \"main\"\ninterface = \"wan\"\n").unwrap();
        let mut interfaces = Interfaces::new(Resolver::new(None, network));
        let start = Instant::now();
        interfaces.resolve_all(&mut config, start);
        assert_eq!(config.uplinks[0].device, "");
        let later = start + RETRY * 2;
        assert!(interfaces.follow(&config, &HashMap::new(), later).is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
