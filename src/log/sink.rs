//! Where log lines go and how each receiver wants them written.
//!
//! Every formatter here is pure (text in, bytes out) so the exact wire format is unit
//! tested; only [`Sink::write`] does I/O.

use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tracing::Level;

/// syslog facility `daemon` (RFC 3164 / 5424 numbering).
const FACILITY_DAEMON: u8 = 3;

/// Longest datagram sent to syslog. RFC 3164 allows 1024 bytes and OpenWrt's logd keeps
/// lines of about that size; longer messages are cut on a character boundary.
const MAX_DATAGRAM: usize = 1024;

/// The tag syslog shows before the pid (`uplink[1234]: ...`).
const TAG: &str = "uplink";

/// The syslog/journald severity of a tracing level (sd-daemon(3) `SD_ERR`...).
pub fn severity(level: Level) -> u8 {
    match level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// The receiver of log lines.
#[derive(Debug)]
pub enum Sink {
    /// Plain stderr for a person: timestamps and the level word (colored on a terminal).
    Stderr { color: bool },
    /// stderr connected to journald: a `<N>` priority prefix per line, no timestamp
    /// (journald stamps each line itself).
    Journal,
    /// A syslog datagram socket such as /dev/log.
    Syslog(Syslog),
}

impl Sink {
    /// Writes one event's message (possibly several lines). Never blocks on syslog; a
    /// syslog socket that went away is reconnected once, else the line goes to stderr.
    pub fn write(&mut self, level: Level, message: &str) {
        match self {
            Sink::Stderr { color } => {
                let line = stderr_line(SystemTime::now(), level, message, *color);
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::Journal => {
                let _ = io::stderr()
                    .lock()
                    .write_all(journal_lines(level, message).as_bytes());
            }
            Sink::Syslog(syslog) => {
                for line in message.lines() {
                    if let Err(e) = syslog.send(level, line) {
                        // Still visible (procd and systemd both capture stderr), with why.
                        let text = format!("syslog {}: {e}: {line}", syslog.path.display());
                        let out = stderr_line(SystemTime::now(), level, &text, false);
                        let _ = io::stderr().lock().write_all(out.as_bytes());
                    }
                }
            }
        }
    }
}

/// A non-blocking connection to a syslog socket.
#[derive(Debug)]
pub struct Syslog {
    socket: UnixDatagram,
    path: PathBuf,
    pid: u32,
}

impl Syslog {
    /// Connects to the syslog socket at `path` (normally /dev/log).
    pub fn connect(path: &Path) -> io::Result<Syslog> {
        Ok(Syslog {
            socket: connect(path)?,
            path: path.to_path_buf(),
            pid: std::process::id(),
        })
    }

    /// Sends one line. A full socket (syslogd not keeping up) drops the line rather than
    /// stall the daemon; a refused or vanished socket (syslogd restarted) is reconnected
    /// once.
    fn send(&mut self, level: Level, line: &str) -> io::Result<()> {
        let datagram = syslog_datagram(level, self.pid, line);
        match self.socket.send(datagram.as_bytes()) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(_) => {
                self.socket = connect(&self.path)?;
                match self.socket.send(datagram.as_bytes()) {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }
}

fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.connect(path)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// `<PRI>uplink[PID]: LINE`, RFC 3164 without the timestamp, which syslogd (or OpenWrt's
/// logd) adds on receipt; cut to [`MAX_DATAGRAM`] bytes.
pub fn syslog_datagram(level: Level, pid: u32, line: &str) -> String {
    let pri = FACILITY_DAEMON * 8 + severity(level);
    let mut datagram = format!("<{pri}>{TAG}[{pid}]: {line}");
    if datagram.len() > MAX_DATAGRAM {
        let mut end = MAX_DATAGRAM;
        while !datagram.is_char_boundary(end) {
            end -= 1;
        }
        datagram.truncate(end);
    }
    datagram
}

/// Each line of `message` as `<N>LINE\n`: journald takes the priority of every stderr
/// line from its own prefix, so a continuation line needs one too.
pub fn journal_lines(level: Level, message: &str) -> String {
    let n = severity(level);
    let mut out = String::with_capacity(message.len() + 4);
    for line in message.lines() {
        out.push_str(&format!("<{n}>{line}\n"));
    }
    out
}

/// `2025-01-02T03:04:05.678901Z  INFO message\n`, the layout tracing's fmt writer used.
pub fn stderr_line(now: SystemTime, level: Level, message: &str, color: bool) -> String {
    let micros = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_micros());
    let mut stamp = crate::daemon::status::format_wall(now);
    if stamp.ends_with('Z') {
        stamp.insert_str(stamp.len() - 1, &format!(".{micros:06}"));
    }
    let word = format!("{:>5}", level.as_str());
    let word = match (color, level) {
        (false, _) => word,
        (true, Level::ERROR) => format!("\x1b[31m{word}\x1b[0m"),
        (true, Level::WARN) => format!("\x1b[33m{word}\x1b[0m"),
        (true, Level::INFO) => format!("\x1b[32m{word}\x1b[0m"),
        (true, Level::DEBUG) => format!("\x1b[34m{word}\x1b[0m"),
        (true, Level::TRACE) => format!("\x1b[35m{word}\x1b[0m"),
    };
    format!("{stamp} {word} {message}\n")
}
