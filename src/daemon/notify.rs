//! systemd's notify protocol (sd_notify(3)): datagrams to `$NOTIFY_SOCKET` saying the
//! daemon is ready, reloading, stopping, or still alive (watchdog). Without the variable,
//! as on OpenWrt under procd, every call does nothing. Written by hand: it is one
//! datagram per message, and libsystemd is not on the routers we target.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Where to send notifications, if systemd asked for them.
pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET` and `WATCHDOG_USEC` (only if `WATCHDOG_PID` is unset or ours).
    pub fn from_env() -> Self {
        let socket = std::env::var("NOTIFY_SOCKET").ok().and_then(|path| {
            let datagram = UnixDatagram::unbound().ok()?;
            Some((datagram, path))
        });
        let ours = std::env::var("WATCHDOG_PID")
            .map_or(true, |pid| pid.trim() == std::process::id().to_string());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|us| us.trim().parse::<u64>().ok())
            .filter(|&us| us > 0 && ours)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// How often to send `WATCHDOG=1`: half the interval systemd allows, as sd_watchdog_enabled(3)
    /// recommends.
    pub fn watchdog_period(&self) -> Option<Duration> {
        self.watchdog.map(|w| w / 2)
    }

    /// Sends one notification (e.g. "READY=1"); failures are logged at debug and ignored,
    /// since the daemon works the same without a supervisor.
    pub fn send(&self, state: &str) {
        let Some((socket, path)) = &self.socket else {
            return;
        };
        let result = match path.strip_prefix('@') {
            // An abstract socket: the name starts with a NUL byte instead of '@'.
            Some(name) => send_abstract(socket, name, state),
            None => socket.send_to(state.as_bytes(), path).map(|_| ()),
        };
        if let Err(e) = result {
            tracing::debug!("sd_notify {state}: {e}");
        }
    }
}

fn send_abstract(socket: &UnixDatagram, name: &str, state: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    socket.send_to_addr(state.as_bytes(), &addr).map(|_| ())
}
