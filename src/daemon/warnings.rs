//! Warnings about the system's own settings, read but never changed.

use crate::config::Config;

/// Warns about system settings that defeat part of what the config asks for. With strict
/// reverse-path filtering the kernel drops, before uplink's marks can help, packets that
/// arrive on a line that is not active and whose reply would not route back through it:
/// port forwards, and the replies of proto/ports/set policies (README, Inbound connections),
/// and the replies of connections kept on a line that is no longer active: such a line
/// keeps none (they move, reset, when it stops being active; `core::sessions`).
pub(super) fn warn_about_system(config: &Config) {
    log_disabled(config);
    if config.uplinks.len() < 2 {
        return;
    }
    for uplink in &config.uplinks {
        if crate::system::sysctl::rp_filter(&uplink.device) == Some(1) {
            tracing::warn!(
                "uplink \"{}\": strict reverse-path filtering on {dev} (rp_filter=1) drops port \
                 forwards, and traffic of proto/ports/set policies, on this line while it is not \
                 active; set net.ipv4.conf.{dev}.rp_filter=2 (loose) if you use either. Its \
                 connections do not keep it once it is not active (their replies would be \
                 dropped): they move at once (reset); rp_filter=2 lets them keep it",
                uplink.name,
                dev = uplink.device
            );
        }
    }
}

/// Says which sections the config disables, and warns about references to them.
fn log_disabled(config: &Config) {
    let disabled = &config.disabled;
    if !disabled.is_empty() {
        tracing::info!("disabled: {}", crate::config::describe_disabled(disabled));
    }
    for note in &disabled.notes {
        tracing::warn!("{note}");
    }
}
