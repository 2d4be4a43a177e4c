//! Real TCP sessions through the router: a server in `net` that answers each line a client
//! sends with the address it sees the client as (behind the masquerade: the router's
//! address on the line the session uses), and LAN clients that keep a session open and
//! ask it which line it uses. A session moved to another line is reset by the server,
//! which has never seen that address: the client sees an error.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::{Lab, LabError, Role};

/// How often the accept loop looks at its stop flags.
const STOP_POLL: Duration = Duration::from_millis(50);
/// A session answers within this, or it counts as lost.
const ANSWER_WITHIN: Duration = Duration::from_secs(3);
/// The TCP port of the session server (beside the UDP echo server's address).
pub const SESSION_PORT: u16 = 7007;

/// A running session server; stops (and joins its thread) on drop.
#[derive(Debug)]
pub struct SessionServer {
    /// Held for its drop, which stops and joins the accept thread.
    _worker: super::worker::Worker,
}

/// One TCP session from the LAN host to the session server.
#[derive(Debug)]
pub struct Session {
    reader: BufReader<TcpStream>,
}

impl Lab {
    /// Starts the session server on `addr` (port [`SESSION_PORT`]) in `net`.
    pub fn start_session_server(&self, addr: IpAddr) -> Result<SessionServer, LabError> {
        let at = SocketAddr::new(addr, SESSION_PORT);
        let listener = self
            .ns(Role::Net)
            .run_in(move || {
                let listener = TcpListener::bind(at)?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })?
            .map_err(LabError::io(format!("session server socket on {at}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flags = [Arc::clone(&stop), self.shutdown_flag()];
        let thread = thread::Builder::new()
            .name("lab-sessions".to_string())
            .spawn(move || accept(&listener, &flags))
            .map_err(LabError::io("session server thread"))?;
        Ok(SessionServer {
            _worker: super::worker::Worker::new(stop, thread),
        })
    }

    /// Opens a session from the LAN host to the server at `addr`.
    pub fn open_session(&self, addr: IpAddr) -> Result<Session, LabError> {
        let at = SocketAddr::new(addr, SESSION_PORT);
        let stream = self
            .ns(Role::Lan)
            .run_in(move || TcpStream::connect_timeout(&at, ANSWER_WITHIN))?
            .map_err(LabError::io(format!("session to {at}")))?;
        stream
            .set_read_timeout(Some(ANSWER_WITHIN))
            .map_err(LabError::io("session read timeout"))?;
        Ok(Session {
            reader: BufReader::new(stream),
        })
    }
}

impl Session {
    /// Asks the server which address it sees this session come from; an error when the
    /// session was reset or does not answer.
    pub fn ask(&mut self) -> std::io::Result<IpAddr> {
        self.reader.get_mut().write_all(b"?\n")?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        line.trim()
            .parse()
            .map_err(|_| std::io::Error::new(ErrorKind::InvalidData, line))
    }
}

fn stopped(flags: &[Arc<AtomicBool>]) -> bool {
    flags.iter().any(|f| f.load(Ordering::SeqCst))
}

/// Accepts sessions until stopped; each is served on a thread of its own, which ends with
/// its session (or when the server stops).
fn accept(listener: &TcpListener, flags: &[Arc<AtomicBool>; 2]) {
    while !stopped(flags) {
        match listener.accept() {
            Ok((stream, peer)) => {
                let flags = flags.clone();
                let _ = thread::Builder::new()
                    .name("lab-session".to_string())
                    .spawn(move || serve(stream, peer, &flags));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(STOP_POLL),
            Err(_) => thread::sleep(STOP_POLL),
        }
    }
}

fn serve(stream: TcpStream, peer: SocketAddr, flags: &[Arc<AtomicBool>]) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(STOP_POLL * 4));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    while !stopped(flags) {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) => {
                if writeln!(writer, "{}", peer.ip()).is_err() {
                    return;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
