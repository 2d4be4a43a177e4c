//! Probe responders for the lab, in Rust on threads of their own (no external daemons): an
//! HTTP server answering every request with one fixed status (a `generate_204` endpoint, or
//! a captive portal's 302), and a DNS server answering A queries from a small zone (and
//! NXDOMAIN for anything else). A TCP probe needs no responder of its own: the HTTP port
//! completes its handshake, and a closed port answers with a reset.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::faults::PORTAL_PORT;
use super::{Lab, LabError, Line, Role, ECHO_SERVER, PROBE_TARGETS};

/// How often a responder looks at its stop flags while idle.
const STOP_POLL: Duration = Duration::from_millis(20);
/// A request is read for at most this long, up to [`MAX_REQUEST`] bytes.
const REQUEST_WAIT: Duration = Duration::from_millis(500);
const MAX_REQUEST: usize = 2048;
/// The TTL of every A record the lab's DNS server gives.
pub const LAB_DNS_TTL: u32 = 30;
/// A name of the lab's zone: the web and DNS responders' host (the echo server's address).
pub const LAB_WEB_NAME: &str = "web.lab.test";
/// A name of the lab's zone: the first ICMP probe target.
pub const LAB_TARGET_NAME: &str = "target.lab.test";
/// A name no lab resolver knows (NXDOMAIN).
pub const LAB_MISSING_NAME: &str = "missing.lab.test";
/// The path the lab's web responder serves its 204 on (any path gets it).
pub const LAB_CHECK_PATH: &str = "/generate_204";

/// The lab's zone: names of `net`'s hosts.
fn lab_zone() -> Vec<(String, Ipv4Addr)> {
    vec![
        (LAB_WEB_NAME.into(), *ECHO_SERVER.ip()),
        (LAB_TARGET_NAME.into(), PROBE_TARGETS[0]),
    ]
}

/// The HTTP (port 80, answering 204) and DNS (port 53) responders on `net`'s web host.
#[derive(Debug)]
pub struct NetResponders {
    pub http: Responder,
    pub dns: Responder,
}

/// What the HTTP responder answers.
#[derive(Debug, Clone)]
pub enum HttpAnswer {
    /// `204 No Content`, as connectivity-check endpoints answer.
    NoContent,
    /// `302 Found` to this location, as a captive portal answers.
    Redirect(String),
}

/// A running responder thread; stops (and joins) on drop.
#[derive(Debug)]
pub struct Responder {
    worker: super::worker::Worker,
}

impl Responder {
    /// Stops the responder: its port is closed afterwards.
    pub fn stop(mut self) {
        self.worker.halt();
    }
}

impl Lab {
    /// Starts the HTTP and DNS responders on `net`'s web host (203.0.113.10, the echo
    /// server's address): targets `tcp://203.0.113.10:80`, `http://203.0.113.10/...` and
    /// `dns://203.0.113.10` answer through either line.
    pub fn start_net_responders(&self) -> Result<NetResponders, LabError> {
        let web = std::net::IpAddr::V4(*ECHO_SERVER.ip());
        Ok(NetResponders {
            http: self.start_http(Role::Net, (web, 80).into(), HttpAnswer::NoContent)?,
            dns: self.start_dns(Role::Net, (web, 53).into(), lab_zone())?,
        })
    }

    /// Starts `line`'s ISP resolver on its gateway address, port 53, with the lab's zone:
    /// the resolver a line's host-name targets are looked up with.
    pub fn start_isp_resolver(&self, line: Line) -> Result<Responder, LabError> {
        let at = SocketAddr::from((line.gateway(), 53));
        self.start_dns(Role::isp(line), at, lab_zone())
    }

    /// Starts `line`'s ISP captive portal (a 302 to its login page for every request), the
    /// other half of [`super::Fault::Portal`].
    pub fn start_portal(&self, line: Line) -> Result<Responder, LabError> {
        let at = SocketAddr::from((line.gateway(), PORTAL_PORT));
        let login = format!("http://{}:{PORTAL_PORT}/login", line.gateway());
        self.start_http(Role::isp(line), at, HttpAnswer::Redirect(login))
    }

    /// Starts an HTTP responder on `at` in `role`'s namespace.
    pub fn start_http(
        &self,
        role: Role,
        at: SocketAddr,
        answer: HttpAnswer,
    ) -> Result<Responder, LabError> {
        let listener = self
            .ns(role)
            .run_in(move || {
                let listener = TcpListener::bind(at)?;
                listener.set_nonblocking(true)?;
                Ok(listener)
            })?
            .map_err(LabError::io(format!("http responder on {at}")))?;
        let response = match answer {
            HttpAnswer::NoContent => {
                "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into()
            }
            HttpAnswer::Redirect(location) => format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            ),
        };
        self.spawn_responder("lab-http", move || {
            serve_http(&listener, response.as_bytes())
        })
    }

    /// Starts a DNS responder on `at` (UDP) in `role`'s namespace, answering A queries for
    /// the names of `zone` (lower case, no trailing dot), NOERROR without records for the
    /// root, and NXDOMAIN for any other name.
    pub fn start_dns(
        &self,
        role: Role,
        at: SocketAddr,
        zone: Vec<(String, Ipv4Addr)>,
    ) -> Result<Responder, LabError> {
        let socket = self
            .ns(role)
            .run_in(move || {
                let socket = UdpSocket::bind(at)?;
                socket.set_read_timeout(Some(STOP_POLL))?;
                Ok(socket)
            })?
            .map_err(LabError::io(format!("dns responder on {at}")))?;
        self.spawn_responder("lab-dns", move || {
            let mut buf = [0u8; 512];
            match socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    if let Some(reply) = dns_reply(&buf[..len], &zone) {
                        let _ = socket.send_to(&reply, from);
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => thread::sleep(STOP_POLL),
            }
        })
    }

    /// Runs `step` in a loop on a thread until the responder or the lab stops.
    fn spawn_responder(
        &self,
        name: &str,
        mut step: impl FnMut() + Send + 'static,
    ) -> Result<Responder, LabError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flags = [Arc::clone(&stop), self.shutdown_flag()];
        let thread = thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while !flags.iter().any(|f| f.load(Ordering::Relaxed)) {
                    step();
                }
            })
            .map_err(LabError::io(format!("{name} thread")))?;
        Ok(Responder {
            worker: super::worker::Worker::new(stop, thread),
        })
    }
}

/// Accepts one connection if any is waiting, reads its request and answers it.
fn serve_http(listener: &TcpListener, response: &[u8]) {
    let mut stream = match listener.accept() {
        Ok((stream, _)) => stream,
        Err(_) => return thread::sleep(STOP_POLL),
    };
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(REQUEST_WAIT));
    let mut request = Vec::new();
    let mut buf = [0u8; 512];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < MAX_REQUEST {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    if request.starts_with(b"GET ") {
        let _ = stream.write_all(response);
    }
}

/// The answer to a DNS query, or `None` for anything that is not a one-question query.
fn dns_reply(query: &[u8], zone: &[(String, Ipv4Addr)]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 || query[4..6] != [0, 1] {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(at)?);
        if len == 0 || len > 63 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at + 1..at + 1 + len)?).to_lowercase());
        at += 1 + len;
    }
    let question_end = at + 5;
    let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);
    let name = labels.join(".");
    let found = zone.iter().find(|(n, _)| *n == name).map(|(_, a)| *a);
    let rcode = if name.is_empty() || found.is_some() {
        0
    } else {
        3
    };
    let record = found.filter(|_| qtype == 1);
    let mut reply = query.get(..question_end)?.to_vec();
    reply[2] = 0x81 | (query[2] & 0x01);
    reply[3] = 0x80 | rcode;
    reply[6..12].copy_from_slice(&[0, u8::from(record.is_some()), 0, 0, 0, 0]);
    if let Some(addr) = record {
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
        reply.extend_from_slice(&LAB_DNS_TTL.to_be_bytes());
        reply.extend_from_slice(&[0, 4]);
        reply.extend_from_slice(&addr.octets());
    }
    Some(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_reply_answers_the_zone_and_nxdomain_otherwise() {
        use crate::probe::dns::{parse_answer, query};
        let zone = vec![("probe.test".to_string(), Ipv4Addr::new(203, 0, 113, 10))];
        let reply = dns_reply(&query(7, "Probe.test", 1), &zone).unwrap();
        let answer = parse_answer(&reply, 7, "probe.test", 1).unwrap();
        assert_eq!(answer.rcode, 0);
        assert_eq!(
            answer.addrs,
            [("203.0.113.10".parse().unwrap(), LAB_DNS_TTL)]
        );
        let reply = dns_reply(&query(8, "gone.test", 1), &zone).unwrap();
        let answer = parse_answer(&reply, 8, "gone.test", 1).unwrap();
        assert_eq!((answer.rcode, answer.addrs.len()), (3, 0));
        let root = dns_reply(&query(9, ".", 6), &zone).unwrap();
        assert_eq!(parse_answer(&root, 9, ".", 6).unwrap().rcode, 0);
        assert_eq!(dns_reply(&reply, &zone), None, "an answer is not answered");
    }
}
