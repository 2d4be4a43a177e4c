//! The traffic generator in the LAN host: a long-lived UDP flow and fresh flows towards the
//! echo server, each packet recorded with its send and reply time and the line it used.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::wire::{decode, encode, parse_echo_reply};
use super::{Flow, Lab, LabError, Line, PacketRecord, Role, TrafficLog, ECHO_SERVER};

/// Longest sleep between looks at the stop flags.
const MAX_WAIT: Duration = Duration::from_millis(50);

/// What traffic to send; the defaults are the ones DESIGN.md measures with.
#[derive(Debug, Clone)]
pub struct TrafficConfig {
    /// Where to send (the lab's echo server).
    pub target: SocketAddrV4,
    /// Fixed source port of the long-lived flow, so its conntrack entry is easy to find.
    pub long_lived_port: u16,
    /// Send period of the long-lived flow.
    pub long_lived_interval: Duration,
    /// How often a fresh flow (new socket, new source port) is started.
    pub fresh_interval: Duration,
    /// How long a fresh flow waits for its reply; also how long any unanswered packet
    /// counts as in flight rather than lost.
    pub reply_timeout: Duration,
    /// Which LAN host sends ([`Role::Lan`] or [`Role::Lan2`]).
    pub from: Role,
}

impl Default for TrafficConfig {
    fn default() -> Self {
        TrafficConfig {
            target: ECHO_SERVER,
            long_lived_port: 40000,
            long_lived_interval: Duration::from_millis(10),
            fresh_interval: Duration::from_millis(100),
            reply_timeout: Duration::from_secs(1),
            from: Role::Lan,
        }
    }
}

type SharedLog = Arc<Mutex<Vec<PacketRecord>>>;

/// Running traffic; [`Traffic::stop`] ends it and returns the log (dropping it just stops).
#[derive(Debug)]
pub struct Traffic {
    origin: Instant,
    pending_window: Duration,
    stop: Arc<AtomicBool>,
    long_lived: SharedLog,
    fresh: SharedLog,
    threads: Vec<JoinHandle<()>>,
}

impl Lab {
    /// Starts both flows from the LAN host, each on a thread of its own.
    pub fn start_traffic(&self, cfg: TrafficConfig) -> Result<Traffic, LabError> {
        let mut traffic = Traffic {
            origin: Instant::now(),
            pending_window: cfg.reply_timeout,
            stop: Arc::new(AtomicBool::new(false)),
            long_lived: SharedLog::default(),
            fresh: SharedLog::default(),
            threads: Vec::new(),
        };
        for flow in Flow::ALL {
            let ctx = FlowContext {
                flow,
                cfg: cfg.clone(),
                origin: traffic.origin,
                log: Arc::clone(traffic.log(flow)),
                stop: [Arc::clone(&traffic.stop), self.shutdown_flag()],
            };
            // On error `traffic` is dropped, which stops the flow already started.
            let thread = spawn_flow(self.ns(cfg.from).name(), ctx)?;
            traffic.threads.push(thread);
        }
        Ok(traffic)
    }
}

impl Traffic {
    /// When the traffic started.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// A copy of the log so far, while the traffic keeps running.
    pub fn snapshot(&self) -> TrafficLog {
        let (long_lived, fresh) = (lock(&self.long_lived), lock(&self.fresh));
        TrafficLog {
            origin: self.origin,
            taken_at: Instant::now(),
            pending_window: self.pending_window,
            long_lived: long_lived.clone(),
            fresh: fresh.clone(),
        }
    }

    /// Stops both flows and returns the complete log.
    pub fn stop(mut self) -> TrafficLog {
        self.halt();
        self.snapshot()
    }

    fn log(&self, flow: Flow) -> &SharedLog {
        match flow {
            Flow::LongLived => &self.long_lived,
            Flow::Fresh => &self.fresh,
        }
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A poisoned log is still a valid log: every update is a single field assignment.
fn lock(log: &SharedLog) -> MutexGuard<'_, Vec<PacketRecord>> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a flow thread needs.
struct FlowContext {
    flow: Flow,
    cfg: TrafficConfig,
    origin: Instant,
    log: SharedLog,
    /// The traffic's own stop flag and the lab's shutdown flag.
    stop: [Arc<AtomicBool>; 2],
}

/// Starts a flow on a thread that lives in namespace `ns` and waits until its sockets are
/// ready, so that set-up errors (e.g. the long-lived port is taken) are returned here.
fn spawn_flow(ns: &str, ctx: FlowContext) -> Result<JoinHandle<()>, LabError> {
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (ns, flow) = (ns.to_string(), ctx.flow);
    let what = format!("{flow} flow in {ns}");
    let thread = thread::Builder::new()
        .name(format!("lab-{flow}"))
        .spawn(
            move || match enter_netns(&ns).and_then(|()| FlowRunner::new(ctx)) {
                Ok(runner) => {
                    let _ = ready_tx.send(Ok(()));
                    runner.run();
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            },
        )
        .map_err(LabError::io(what.clone()))?;
    let ready = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("flow thread died")));
    ready.map_err(LabError::io(what))?;
    Ok(thread)
}

/// Moves the calling thread into namespace `ns` for good. `Netns::run_in` does the same
/// for one closure and then joins; a flow thread instead stays in the LAN host because
/// the fresh flow opens a socket there every 100 ms for as long as the traffic runs.
fn enter_netns(ns: &str) -> io::Result<()> {
    let file = File::open(format!("/run/netns/{ns}"))?;
    // SAFETY: setns on a valid namespace fd changes only this thread's namespace.
    if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A socket waiting for replies.
struct OpenSocket {
    socket: UdpSocket,
    /// When a fresh flow's socket gives up; `None` for the long-lived socket.
    expires: Option<Instant>,
    /// A fresh flow got its reply (or an error): the socket can go.
    done: bool,
}

/// One flow's send/receive loop: all its sockets are non-blocking and waited on together,
/// so a missing reply never delays the send schedule.
struct FlowRunner {
    ctx: FlowContext,
    interval: Duration,
    sockets: Vec<OpenSocket>,
    next_seq: u64,
    next_send: Instant,
}

impl FlowRunner {
    fn new(ctx: FlowContext) -> io::Result<FlowRunner> {
        let mut sockets = Vec::new();
        let interval = match ctx.flow {
            Flow::LongLived => {
                let socket = open_socket(ctx.cfg.long_lived_port, ctx.cfg.target)?;
                sockets.push(OpenSocket {
                    socket,
                    expires: None,
                    done: false,
                });
                ctx.cfg.long_lived_interval
            }
            Flow::Fresh => ctx.cfg.fresh_interval,
        };
        Ok(FlowRunner {
            ctx,
            interval,
            sockets,
            next_seq: 0,
            next_send: Instant::now(),
        })
    }

    fn run(mut self) {
        while !self.ctx.stop.iter().any(|f| f.load(Ordering::Relaxed)) {
            let now = Instant::now();
            if now >= self.next_send {
                if let Err(e) = self.send_next() {
                    tracing::debug!("lab {} flow: send: {e}", self.ctx.flow);
                }
                // On schedule without drift; after a stall, resume rather than burst.
                self.next_send += self.interval;
                if self.next_send <= now {
                    self.next_send = now + self.interval;
                }
            }
            self.wait_and_receive();
            let now = Instant::now();
            self.sockets
                .retain(|s| s.expires.is_none_or(|at| at > now && !s.done));
        }
    }

    /// Sends the next packet: on the long-lived socket, or on a new one for a fresh flow.
    fn send_next(&mut self) -> io::Result<()> {
        if self.ctx.flow == Flow::Fresh {
            let socket = open_socket(0, self.ctx.cfg.target)?;
            self.sockets.push(OpenSocket {
                socket,
                expires: Some(Instant::now() + self.ctx.cfg.reply_timeout),
                done: false,
            });
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let sent_at = Instant::now();
        lock(&self.ctx.log).push(PacketRecord {
            seq,
            sent_at,
            reply_at: None,
            line: None,
            seen_from: None,
        });
        let payload = encode(self.ctx.flow, seq, sent_at - self.ctx.origin);
        let socket = &self.sockets.last().expect("a socket was opened").socket;
        // A failed send leaves the packet unanswered: it counts as lost, as it should.
        socket.send(&payload).map(drop)
    }

    /// Waits until a reply arrives or the next send or expiry is due, and takes the replies.
    fn wait_and_receive(&mut self) {
        let deadline = self.sockets.iter().filter_map(|s| s.expires);
        let deadline = deadline.chain([self.next_send]).min().expect("non-empty");
        let timeout = deadline
            .saturating_duration_since(Instant::now())
            .min(MAX_WAIT);
        let mut fds: Vec<libc::pollfd> = self
            .sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.socket.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        poll(&mut fds, timeout);
        for (index, fd) in fds.iter().enumerate() {
            if fd.revents != 0 {
                self.drain(index);
            }
        }
    }

    fn drain(&mut self, index: usize) {
        let mut buf = [0u8; 256];
        loop {
            match self.sockets[index].socket.recv(&mut buf) {
                Ok(len) => {
                    let at = Instant::now();
                    if self.on_reply(&buf[..len], at) {
                        self.sockets[index].done = true;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // An ICMP error for a connected socket: that packet is lost anyway.
                Err(_) => {
                    self.sockets[index].done = true;
                    return;
                }
            }
        }
    }

    /// Records a reply; false if it is not one of this flow's packets.
    fn on_reply(&self, data: &[u8], at: Instant) -> bool {
        let Some((payload, seen)) = parse_echo_reply(data) else {
            return false;
        };
        let Some((flow, seq)) = decode(payload) else {
            return false;
        };
        let mut log = lock(&self.ctx.log);
        let Some(record) = log.get_mut(seq as usize).filter(|_| flow == self.ctx.flow) else {
            return false;
        };
        // Only the first reply counts; a duplicate must not move the reply time.
        if record.reply_at.is_none() {
            record.reply_at = Some(at);
            record.line = Line::from_addr(*seen.ip());
            record.seen_from = Some(seen);
        }
        true
    }
}

/// A non-blocking UDP socket from `port` (0: any) connected to `target`, so it only
/// receives from the echo server.
fn open_socket(port: u16, target: SocketAddrV4) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))?;
    socket.connect(target)?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// `ppoll` with nanosecond timeout: `poll`'s milliseconds would jitter a 10 ms schedule.
fn poll(fds: &mut [libc::pollfd], timeout: Duration) {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `fds` and `ts` are valid for the duration of the call; an error (EINTR)
    // just ends this wait early.
    unsafe {
        libc::ppoll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
}
