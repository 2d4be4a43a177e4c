//! The observability keys: `history_size`, `events_file`, `http_listen`, `metrics_file`.

use std::net::SocketAddr;

use super::{absolute_opt, invalid, number, quoted};
use crate::config::parse::RawConfig;
use crate::config::{ConfigError, Observe};

/// Events kept when `history_size` is not set.
pub(crate) const DEFAULT_HISTORY: usize = 1000;

pub(super) fn observe(raw: &RawConfig) -> Result<Observe, ConfigError> {
    let history_size = match raw.history_size {
        Some(n) => number("config", "history_size", n, 10..=100_000usize)?,
        None => DEFAULT_HISTORY,
    };
    Ok(Observe {
        history_size,
        events_file: absolute_opt("events_file", raw.events_file.clone())?,
        http_listen: raw.http_listen.as_deref().map(listen).transpose()?,
        metrics_file: absolute_opt("metrics_file", raw.metrics_file.clone())?,
    })
}

/// `ADDRESS:PORT`, `[ADDRESS]:PORT` for IPv6. No host names: the listener must not wait
/// for DNS, and which address it binds must be plain to read.
fn listen(text: &str) -> Result<SocketAddr, ConfigError> {
    let bad = |reason: &str| invalid("config", "http_listen", quoted(text), reason);
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| bad("must be ADDRESS:PORT, e.g. \"192.168.1.1:9101\" or \"[::1]:9101\""))?;
    if addr.port() == 0 {
        return Err(bad("needs a port other than 0"));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    const LINE: &str = "[[uplink]]\nname = \"main\"\ndevice = \"eth0\"\n";

    fn observe(top: &str) -> Result<crate::config::Observe, String> {
        parse(&format!("{top}\n{LINE}"))
            .map(|c| c.observe)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_keep_a_thousand_events_and_serve_nothing() {
        let o = observe("").unwrap();
        assert_eq!(o.history_size, 1000);
        assert_eq!(
            (o.http_listen, o.metrics_file, o.events_file),
            (None, None, None)
        );
    }

    #[test]
    fn keys_are_validated() {
        let o = observe(
            "http_listen = \"[::1]:9101\"\nmetrics_file = \"/tmp/m.prom\"\nhistory_size = 50",
        )
        .unwrap();
        assert_eq!(o.http_listen.unwrap().to_string(), "[::1]:9101");
        assert_eq!(o.history_size, 50);
        for (top, expected) in [
            (
                "http_listen = \"localhost:80\"",
                "config: http_listen \"localhost:80\": must be ADDRESS:PORT",
            ),
            ("http_listen = \"127.0.0.1:0\"", "needs a port other than 0"),
            (
                "events_file = \"events.log\"",
                "config: events_file \"events.log\": must be an absolute path",
            ),
            (
                "history_size = 5",
                "config: history_size 5: must be at least 10",
            ),
        ] {
            let err = observe(top).unwrap_err();
            assert!(err.contains(expected), "{top}: {err}");
        }
    }
}
