//! Sessions alive after failback: N TCP sessions opened on the backup while main's interface
//! is down, then main comes back; how many still answer 20 s after the failback. For the
//! static routes, uplink's default (sessions keep their line) and a bounded backup
//! (`keep_sessions_s`, shorter than the wait, so they are moved).

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use super::Contender;
use crate::lab::interrupt;
use crate::lab::{
    two_line_config, Fault, Lab, LabDaemon, LabError, LabOptions, Line, ProbeProfile, ECHO_SERVER,
};

/// Sessions opened on the backup.
pub const SESSIONS: usize = 20;
/// The sessions are asked this long after the failback.
const AFTER: Duration = Duration::from_secs(20);
/// The bounded setting: shorter than [`AFTER`].
const BOUND_S: u64 = 10;
const POLL: Duration = Duration::from_millis(50);
const WINDOW: Duration = Duration::from_secs(60);

/// Who is measured: the static routes, uplink as it comes, uplink with a bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    Static,
    Default,
    Bounded,
}

impl std::fmt::Display for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Setting::Static => write!(f, "{}", Contender::Static),
            Setting::Default => write!(f, "{}", Contender::Default),
            Setting::Bounded => write!(f, "uplink, keep_sessions_s = {BOUND_S}"),
        }
    }
}

/// The sessions row: sessions alive after failback, per setting (`None`: not measured).
#[derive(Debug, Clone, Default)]
pub struct SessionsRow {
    pub alive: Vec<(Setting, Option<usize>)>,
}

impl SessionsRow {
    pub fn markdown(&self) -> String {
        let mut out = format!(
            "## Sessions alive after failback (of {SESSIONS})\n\n{SESSIONS} TCP sessions opened \
             on the backup while main's interface is down; asked {} s after main carries \
             traffic again.\n\n| setting | alive |\n|---|---|\n",
            AFTER.as_secs()
        );
        for (setting, alive) in &self.alive {
            let alive = alive.map_or("failed".into(), |n| format!("{n} of {SESSIONS}"));
            writeln!(out, "| {setting} | {alive} |").unwrap();
        }
        out
    }
}

/// Measures every setting once; a setting that fails is reported as such.
pub fn measure(exe: &Path) -> Result<SessionsRow, LabError> {
    let mut row = SessionsRow::default();
    for setting in [Setting::Static, Setting::Default, Setting::Bounded] {
        let alive = match alive_after_failback(exe, setting) {
            Ok(n) => Some(n),
            Err(LabError::Interrupted) => return Err(LabError::Interrupted),
            Err(e) => {
                eprintln!("sessions | {setting}: failed: {e}");
                None
            }
        };
        eprintln!("sessions | {setting}: {alive:?} of {SESSIONS} alive");
        row.alive.push((setting, alive));
    }
    Ok(row)
}

fn poll(what: &str, done: impl FnMut() -> bool) -> Result<(), LabError> {
    interrupt::poll(WINDOW, POLL, &format!("bench sessions: {what}"), done)
}

fn alive_after_failback(exe: &Path, setting: Setting) -> Result<usize, LabError> {
    // Loose filtering, as sessions need (strict: a line that is not active keeps none).
    let lab = Lab::build(LabOptions {
        label: "bses".into(),
        rp_filter: false,
        static_routes: setting == Setting::Static,
    })?;
    let server: IpAddr = (*ECHO_SERVER.ip()).into();
    let _server = lab.start_session_server(server)?;
    let daemon = match setting {
        Setting::Static => None,
        Setting::Default => Some(start(exe, &lab, "")?),
        Setting::Bounded => Some(start(exe, &lab, &format!("keep_sessions_s = {BOUND_S}\n"))?),
    };
    let carrying = |name: &str| {
        daemon
            .as_ref()
            .is_none_or(|d| d.active().is_some_and(|a| a == [name]))
    };
    lab.inject(Fault::IfDown(Line::One))?;
    poll("backup active", || carrying("backup"))?;
    let mut sessions = (0..SESSIONS)
        .map(|_| lab.open_session(server))
        .collect::<Result<Vec<_>, _>>()?;
    for session in &mut sessions {
        let via = session.ask().map_err(LabError::io("a session on backup"))?;
        if via != IpAddr::from(Line::Two.addr()) {
            return Err(LabError::io("a session on backup")(std::io::Error::other(
                format!("answered via {via}"),
            )));
        }
    }
    lab.clear(Fault::IfDown(Line::One))?;
    poll("main active", || carrying("main"))?;
    interrupt::sleep(AFTER)?;
    Ok(sessions
        .iter_mut()
        .map(|s| s.ask())
        .filter(Result::is_ok)
        .count())
}

fn start(exe: &Path, lab: &Lab, backup_keys: &str) -> Result<LabDaemon, LabError> {
    let mut daemon = LabDaemon::new(exe, ProbeProfile::Default)?;
    let config = two_line_config(&daemon.socket(), ProbeProfile::Default).replace(
        "name = \"backup\"\n",
        &format!("name = \"backup\"\n{backup_keys}"),
    );
    daemon.write_config(&config)?;
    daemon.start(lab)?;
    poll("main active", || {
        daemon.active().is_some_and(|a| a == ["main"])
    })?;
    Ok(daemon)
}
