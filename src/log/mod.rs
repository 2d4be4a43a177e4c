//! The daemon's log output: a small `tracing` subscriber writing to plain stderr, to
//! journald (stderr with sd-daemon `<N>` priority prefixes) or to syslog (/dev/log), with
//! a level the config sets and a reload changes.
//!
//! Why not tracing-subscriber: its `fmt` + `env-filter` pulled in `regex` and cost about
//! 0.4 MB of the 2.7 MB router binary (measured with cargo-bloat and by rebuilding without
//! it), while the daemon uses neither spans nor regular expressions in filters. What it
//! offered that is kept here: `RUST_LOG`'s `level` and `target=level` directives.

mod filter;
mod sink;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata};

pub use filter::Filter;
pub use sink::{journal_lines, severity, stderr_line, syslog_datagram, Sink, Syslog};

/// The standard syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Where the user asked logs to go (`uplink run --log`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// journald when stderr is the journal (`JOURNAL_STREAM`), else plain stderr.
    Auto,
    Stderr,
    Journal,
    Syslog,
}

/// What [`Mode::Auto`] becomes: [`Mode::Journal`] when `journal_stream` (the value of
/// `JOURNAL_STREAM`, "DEV:INODE") names the device and inode of stderr (`stderr`), as
/// systemd.exec(5) says to check, since a child whose stderr was redirected inherits the
/// variable; otherwise [`Mode::Stderr`].
pub fn resolve(mode: Mode, journal_stream: Option<&str>, stderr: Option<(u64, u64)>) -> Mode {
    if mode != Mode::Auto {
        return mode;
    }
    let named = journal_stream.and_then(|v| {
        let (dev, ino) = v.trim().split_once(':')?;
        Some((dev.parse::<u64>().ok()?, ino.parse::<u64>().ok()?))
    });
    match (named, stderr) {
        (Some(named), Some(actual)) if named == actual => Mode::Journal,
        _ => Mode::Stderr,
    }
}

/// Device and inode of this process's stderr.
fn stderr_identity() -> Option<(u64, u64)> {
    let meta = std::fs::metadata("/proc/self/fd/2").ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The filter shared between the installed subscriber and [`set_level`].
static FILTER: OnceLock<Arc<RwLock<Filter>>> = OnceLock::new();

/// Installs the global subscriber. `env` is `RUST_LOG`'s value, which (when set and not
/// empty) overrides the config's `log_level` for the life of the process. Returns a
/// problem worth logging once logging works (syslog unreachable, a bad directive).
pub fn init(mode: Mode, syslog_path: &Path, env: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    let journal_stream = std::env::var("JOURNAL_STREAM").ok();
    let sink = match resolve(mode, journal_stream.as_deref(), stderr_identity()) {
        Mode::Journal => Sink::Journal,
        Mode::Syslog => match Syslog::connect(syslog_path) {
            Ok(syslog) => Sink::Syslog(syslog),
            Err(e) => {
                notes.push(format!(
                    "syslog socket {}: {e}; logging to stderr",
                    syslog_path.display()
                ));
                stderr_sink()
            }
        },
        Mode::Auto | Mode::Stderr => stderr_sink(),
    };
    let filter = match env.filter(|v| !v.trim().is_empty()) {
        Some(text) => {
            let (filter, bad) = Filter::parse(text);
            notes.extend(bad.into_iter().map(|d| format!("RUST_LOG: ignoring {d:?}")));
            filter
        }
        None => Filter::level(LevelFilter::INFO),
    };
    let shared = FILTER.get_or_init(|| Arc::new(RwLock::new(filter))).clone();
    let logger = Logger {
        sink: Mutex::new(sink),
        filter: shared,
    };
    if tracing::subscriber::set_global_default(logger).is_err() {
        notes.push("logging was already set up".into());
    }
    notes
}

fn stderr_sink() -> Sink {
    Sink::Stderr {
        color: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    }
}

/// Sets the level from the config (at start and on every reload). A `RUST_LOG` given at
/// start wins; without [`init`] this does nothing.
pub fn set_level(level: Level) {
    let Some(shared) = FILTER.get() else { return };
    let changed = {
        let mut filter = shared.write().unwrap_or_else(|e| e.into_inner());
        filter.set_config_level(LevelFilter::from_level(level))
    };
    if changed {
        // Callsites cache whether they are enabled: ask them again.
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The subscriber: events only (the daemon opens no spans), filtered, then written.
struct Logger {
    sink: Mutex<Sink>,
    filter: Arc<RwLock<Filter>>,
}

impl Logger {
    fn allows(&self, meta: &Metadata<'_>) -> bool {
        let filter = self.filter.read().unwrap_or_else(|e| e.into_inner());
        meta.is_event() && filter.allows(meta.target(), *meta.level())
    }
}

impl tracing::Subscriber for Logger {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        // Cached per callsite until set_level rebuilds the cache.
        if self.allows(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.filter.read().unwrap_or_else(|e| e.into_inner()).max())
    }

    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        self.allows(meta)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Never called for a disabled span; an id is required all the same.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Message::default();
        event.record(&mut text);
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        sink.write(*event.metadata().level(), &text.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// An event's text: the message, then ` name=value` for any other field.
#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = if self.0.is_empty() {
                write!(self.0, "{value:?}")
            } else {
                // A field recorded before the message: keep the message first.
                let rest = std::mem::take(&mut self.0);
                write!(self.0, "{value:?}{rest}")
            };
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}
