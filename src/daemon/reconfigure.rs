//! The daemon's answers to its control socket, and config reloads: read beside the loop,
//! adopted on it.

use std::sync::Arc;
use std::time::Instant;

use super::control::{Request, DEFAULT_EVENTS, MAX_EVENTS};
use super::{interfaces, warn_about_system, Daemon, Done};
use crate::config::{self, Config};
use crate::hooks::{HookConfig, HookRunner};

impl Daemon {
    pub(super) fn answer(&mut self, request: Request) -> serde_json::Value {
        let (line, drained, now) = match request {
            Request::Status => {
                self.want_connections(Instant::now(), super::sessions::ASKED_PERIOD);
                let report = self.observer.status(&self.engine);
                return serde_json::to_value(report).expect("status serializes");
            }
            Request::Events { limit, since } => {
                let limit = limit.unwrap_or(DEFAULT_EVENTS).min(MAX_EVENTS);
                let events = self.observer.history.recent_since(limit, since.as_deref());
                return serde_json::json!({ "events": events });
            }
            Request::Follow { after } => {
                let events = self.observer.history.after(after.unwrap_or(u64::MAX));
                return serde_json::json!({ "events": events });
            }
            Request::Drain { line, now } => (line, true, now),
            Request::Undrain { line } => (line, false, false),
        };
        match self.engine.set_drained(&line, drained) {
            Ok(mut notices) => {
                if now {
                    notices.extend(self.engine.move_sessions(&line));
                }
                self.handle(notices);
                if drained && self.engine.all_drained() {
                    let warning = "every line is drained: uplink routes nothing, the system's own default routes (if any) carry the traffic";
                    tracing::warn!("{warning}");
                    return serde_json::json!({ "ok": true, "warning": warning });
                }
                serde_json::json!({ "ok": true })
            }
            Err(e) => serde_json::json!({ "error": e }),
        }
    }

    /// Reads the config beside the loop (a config or set file may be large, slow or not
    /// a file at all; resolving netifd interfaces may run ubus); [`Daemon::on_done`] takes
    /// the result.
    pub(super) fn reload(&mut self) {
        self.notifier.send("RELOADING=1");
        // The next pass of the loop sends READY=1 again, old config or new.
        self.ready_sent = false;
        if self.reload_running {
            self.reload_again = true;
            return;
        }
        self.reload_running = true;
        let (path, format) = (self.config_path.clone(), self.config_format);
        let resolver = self.interfaces.resolver().clone();
        let done = self.done.clone();
        tokio::task::spawn_blocking(move || {
            let loaded = config::load_as(&path, format).map(|mut config| {
                interfaces::resolve_devices(&resolver, &mut config);
                let table = crate::core::engine::nft_table_of(&config);
                (config, table)
            });
            let _ = done.send(Done::Reload(loaded));
        });
    }

    pub(super) fn on_done(&mut self, done: Done) {
        match done {
            Done::Firewall(nft, ruleset, result) => self.on_firewall(nft, ruleset, result),
            Done::Suspect { index, name, quiet } => self.on_suspect(index, &name, quiet),
            Done::Connections(result, took) => self.on_connections(result, took),
            Done::Followed(found) => {
                self.following = false;
                if let Some(config) = self.interfaces.apply(self.engine.config(), found) {
                    // A device move is rare: its table is rendered here.
                    self.adopt(config, None);
                }
            }
            Done::Reload(loaded) => {
                self.reload_running = false;
                match loaded {
                    Ok((config, _)) if config.off().is_some() => {
                        let off = config.off().map(|o| o.to_string()).unwrap_or_default();
                        let message = format!(
                            "reload: keeping the running config: {off} (stop the service to \
                             switch uplink off)"
                        );
                        tracing::warn!("{message}");
                        self.observer.counters.reload(false);
                        self.observer.event("reload-refused", None, message);
                    }
                    Ok((config, table)) => self.take_config(config, table),
                    Err(e) => {
                        let message = format!("reload: keeping the running config: {e}");
                        tracing::warn!("{message}");
                        self.observer.counters.reload(false);
                        self.observer.event("reload-refused", None, message);
                    }
                }
                if std::mem::take(&mut self.reload_again) {
                    self.reload();
                }
            }
        }
    }

    fn take_config(&mut self, config: Config, table: Arc<str>) {
        // First, so the new level already applies to this reload's own lines.
        crate::log::set_level(config.log_level);
        let message = format!("reload: new config from {}", self.config_path.display());
        tracing::info!("{message}");
        self.observer.counters.reload(true);
        self.observer.event("reload", None, message);
        self.observer.reconfigure(&config.observe);
        self.interfaces.looked_up(&config, Instant::now());
        // Hooks settings take effect on reload too; an unchanged runner keeps its queues.
        let hooks = &config.hooks;
        if hooks != &self.engine.config().hooks {
            self.hooks = HookRunner::new(HookConfig::new(
                hooks.dir.clone(),
                hooks.timeout,
                hooks.hotplug_iface,
            ));
        }
        self.adopt(config, Some(table));
    }

    /// Runs `config` from now on (with its nft `table` if already rendered); lines whose
    /// settings did not change keep their state.
    fn adopt(&mut self, config: Config, table: Option<Arc<str>>) {
        warn_about_system(&config);
        let now = Instant::now();
        let notices = match table {
            Some(table) => self.engine.reconfigure_rendered(config, table, now),
            None => self.engine.reconfigure(config, now),
        };
        // At once: an event of a prober is mapped to its line through the slots, which
        // must follow the new line order before the next event is taken.
        self.probes.sync(&self.engine);
        self.observer.forget_old_targets(&self.engine);
        self.handle(notices);
        self.links_dirty = true;
        self.routing_applied = None;
    }
}
