//! The `uplink` command.

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Command, Invocation, TopCommand};
use uplink::config::Off;
use uplink::daemon::{control, status};

fn main() -> ExitCode {
    let result = match Invocation::parse().command {
        TopCommand::Uplink(command) => execute(command),
        #[cfg(feature = "docs")]
        TopCommand::Completions { shell } => {
            cli::docs::completions(shell, &mut std::io::stdout().lock()).map_err(Into::into)
        }
        #[cfg(feature = "docs")]
        TopCommand::Man { dir: None } => {
            cli::docs::man(&mut std::io::stdout().lock()).map_err(Into::into)
        }
        #[cfg(feature = "docs")]
        TopCommand::Man { dir: Some(dir) } => cli::docs::man_pages(&dir)
            .map(|_| ())
            .map_err(|e| anyhow::anyhow!("writing man pages to {}: {e}", dir.display())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Finished>().is_some() => {
            let finished = e.downcast_ref::<Finished>().expect("checked above");
            eprintln!("uplink: {}", finished.message);
            ExitCode::from(finished.code)
        }
        Err(e) => {
            // Messages quote config text and system names: no raw control characters.
            let message = format!("{e:#}");
            eprintln!("uplink: {}", uplink::text::printable_lines(&message));
            ExitCode::FAILURE
        }
    }
}

fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Run {
            config,
            format,
            socket,
            log,
            syslog_socket,
        } => {
            init_logging(log.into(), &syslog_socket);
            // A panic in any task or thread ends the daemon (with unwinding, OpenWrt's
            // setting, the runtime would catch it and run on half-broken).
            uplink::daemon::crash::install_panic_hook();
            let ran =
                runtime().block_on(uplink::daemon::run(&config, format.map(Into::into), socket));
            match ran.as_ref().map_err(|e| e.downcast_ref::<Off>()) {
                // Switched off on purpose: not a failure (a service manager need not retry).
                Err(Some(Off::SwitchedOff)) => Err(Finished {
                    message: format!("{}: not running", Off::SwitchedOff),
                    code: 0,
                }
                .into()),
                _ => ran,
            }
        }
        Command::Check { config, format } => check(&config, format.map(Into::into)),
        Command::ImportMwan3 {
            network,
            file,
            hooks_dir,
            mwan3_user,
        } => {
            import_mwan3(&file, network.as_deref())?;
            cli::mwan3_user::migrate(&mwan3_user, hooks_dir.as_deref())
        }
        Command::Status { json, target } => {
            runtime().block_on(show_status(json, &target.socket_path()))
        }
        Command::Drain { line, now, target } => {
            runtime().block_on(drain(control::Request::Drain { line, now }, &target))
        }
        Command::Undrain { line, target } => {
            runtime().block_on(drain(control::Request::Undrain { line }, &target))
        }
        Command::Events {
            json,
            limit,
            since,
            follow,
            target,
        } => {
            let now = std::time::SystemTime::now();
            let since = since
                .map(|s| cli::since::parse_since(&s, now))
                .transpose()
                .map_err(anyhow::Error::msg)?;
            let socket = target.socket_path();
            let query = cli::events::Query {
                json,
                limit,
                since,
                follow,
            };
            runtime().block_on(cli::events::show(&query, &socket))
        }
        Command::Rpcd {
            config,
            socket,
            action,
        } => {
            let answer = cli::rpcd::answer(action, config, socket);
            println!("{answer}");
            Ok(())
        }
        #[cfg(feature = "lab")]
        Command::Lab { fault, keep } => lab(fault, keep),
        #[cfg(feature = "lab")]
        Command::Bench(args) => bench(args),
        #[cfg(feature = "lab")]
        Command::Soak {
            secs,
            max_rss_growth_kib,
        } => soak(secs, max_rss_growth_kib),
    }
}

/// One thread is plenty for a router daemon and keeps memory small on 16 MB devices.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn init_logging(mode: uplink::log::Mode, syslog_socket: &std::path::Path) {
    let env = std::env::var("RUST_LOG").ok();
    for note in uplink::log::init(mode, syslog_socket, env.as_deref()) {
        tracing::warn!("{note}");
    }
}

/// Ends the program with `message` on stderr and exit status `code`, for outcomes that are
/// not failures (or not the usual failure status).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
struct Finished {
    message: String,
    code: u8,
}

/// `uplink check`'s exit status for a valid config the daemon would not run (switched off,
/// or every line disabled); the init script reads it.
const CHECK_OFF: u8 = 3;

fn check(path: &std::path::Path, format: Option<uplink::config::Format>) -> anyhow::Result<()> {
    let config = uplink::config::load_as(path, format)?;
    if !config.disabled.is_empty() {
        println!(
            "disabled: {}",
            uplink::config::describe_disabled(&config.disabled)
        );
    }
    for note in &config.disabled.notes {
        eprintln!("warning: {note}");
    }
    if let Some(off) = config.off() {
        let message = format!("{off}: the daemon would not run");
        return Err(Finished {
            message,
            code: CHECK_OFF,
        }
        .into());
    }
    print!("{}", cli::check::render_plan(&config));
    match current_links() {
        Ok(links) => {
            for warning in cli::check::system_warnings(&config, &links) {
                eprintln!("warning: {warning}");
            }
        }
        Err(e) => eprintln!("note: devices not checked: {e}"),
    }
    Ok(())
}

/// This network namespace's devices, as the daemon would see them.
pub(crate) fn current_links(
) -> anyhow::Result<std::collections::HashMap<String, uplink::core::LinkFacts>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut netlink = uplink::system::Netlink::connect()?;
        Ok(netlink.links(false).await?)
    })
}

fn import_mwan3(file: &std::path::Path, network: Option<&std::path::Path>) -> anyhow::Result<()> {
    let read = |path: &std::path::Path| {
        uplink::files::read_limited(path, uplink::files::CONFIG_LIMIT)
            .map_err(|e| anyhow::anyhow!("cannot read {e}"))
    };
    let network = network.map(read).transpose()?;
    let toml = uplink::config::mwan3::import(&read(file)?, network.as_deref())?;
    print!("{toml}");
    Ok(())
}

impl cli::DaemonTarget {
    /// `--socket`, else the config's socket, else the default.
    fn socket_path(&self) -> std::path::PathBuf {
        self.socket.clone().unwrap_or_else(|| {
            uplink::config::load(&self.config)
                .map(|c| c.socket)
                .unwrap_or_else(|_| uplink::config::DEFAULT_SOCKET.into())
        })
    }
}

async fn drain(request: control::Request, target: &cli::DaemonTarget) -> anyhow::Result<()> {
    let answer = control::request(&target.socket_path(), &request).await?;
    if let Some(warning) = answer.get("warning").and_then(|w| w.as_str()) {
        eprintln!("warning: {}", uplink::text::printable(warning));
    }
    Ok(())
}

async fn show_status(json: bool, socket: &std::path::Path) -> anyhow::Result<()> {
    let value = control::request(socket, &control::Request::Status).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let report: status::Status = serde_json::from_value(value)?;
    print!("{}", uplink::daemon::status_table::render_table(&report));
    Ok(())
}

#[cfg(feature = "lab")]
fn lab(fault: cli::LabFault, keep: bool) -> anyhow::Result<()> {
    use uplink::lab::demo::{run, DemoFault};
    anyhow::ensure!(
        uplink::netns::is_root(),
        "the lab needs root (it creates network namespaces)"
    );
    let fault = match fault {
        cli::LabFault::Blackhole => DemoFault::Blackhole,
        cli::LabFault::Carrier => DemoFault::Carrier,
        cli::LabFault::Ifdown => DemoFault::IfDown,
        cli::LabFault::Loss => DemoFault::Loss,
    };
    let exe = std::env::current_exe()?;
    let result = run(&exe, fault, keep)?;
    anyhow::ensure!(result.success(), "failover or failback did not happen");
    Ok(())
}

#[cfg(feature = "lab")]
fn soak(secs: u64, max_rss_growth_kib: i64) -> anyhow::Result<()> {
    anyhow::ensure!(
        uplink::netns::is_root(),
        "the soak test needs root (it creates network namespaces)"
    );
    uplink::netns::delete_all_on_panic();
    uplink::lab::interrupt::catch_interrupts();
    let exe = std::env::current_exe()?;
    let length = std::time::Duration::from_secs(secs);
    let report = uplink::lab::soak::run(&exe, length, |line| eprintln!("{line}"))?;
    print!("{}", report.render());
    anyhow::ensure!(report.alive, "the daemon died");
    anyhow::ensure!(report.unanswered == 0, "the daemon stopped answering");
    anyhow::ensure!(report.mismatches.is_empty(), "status and kernel disagreed");
    anyhow::ensure!(report.fd_growth() <= 0, "open descriptors grew");
    anyhow::ensure!(
        report.rss_growth_kib() <= max_rss_growth_kib,
        "RSS grew by more than {max_rss_growth_kib} KiB"
    );
    Ok(())
}

#[cfg(feature = "lab")]
fn bench(args: cli::BenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        uplink::netns::is_root(),
        "the benchmark needs root (it creates network namespaces)"
    );
    let opts = uplink::lab::bench::BenchOptions {
        runs: args.runs.max(1),
        loss_hold: std::time::Duration::from_secs(args.loss_secs),
        out: args.out,
        skip_footprint: args.skip_footprint,
        only: args.only,
    };
    let dir = uplink::lab::bench::run(&std::env::current_exe()?, &opts)?;
    eprintln!("results written to {}", dir.display());
    Ok(())
}
