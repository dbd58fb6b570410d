//! `fcp`: the multi-call binary. It chooses the server from argv[0] or the first argument ([`cli`]), sets up
//! logging, the async runtime and signal handling, and hands over to the server's crate. Nothing else lives
//! here.

mod cli;
mod local_up;
mod signals;
mod symlinks;

use std::{io::IsTerminal, process::ExitCode, time::Duration};

use cli::{
    Action, ApiServerCommand, ControllerManagerCommand, LocalUpCommand, LogFormat, SimClusterCommand,
    UsageError,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// How long the runtime may take to stop leftover tasks after the server returned.
const RUNTIME_SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let action = match cli::parse(std::env::args_os()) {
        Ok(action) => action,
        Err(UsageError { message, usage }) => {
            eprintln!("error: {message}");
            if let Some(usage) = usage {
                eprintln!();
                eprint!("{usage}");
            }
            return ExitCode::FAILURE;
        }
    };
    match action {
        Action::Help(help) => {
            // Printing help only fails when stdout is gone; nothing useful is left to do then.
            let _ = help.print();
            ExitCode::SUCCESS
        }
        Action::Version => {
            println!("{}", fcp_apiserver::version::summary());
            ExitCode::SUCCESS
        }
        Action::MakeSymlinks(dir) => make_symlinks(&dir),
        Action::ApiServer(command) => run_apiserver(*command),
        Action::ControllerManager(command) => run_controller_manager(*command),
        Action::SimCluster(command) => run_sim_cluster(*command),
        Action::LocalUp(command) => run_local_up(*command),
    }
}

fn make_symlinks(dir: &std::path::Path) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => {
            eprintln!("error: cannot find the running executable: {err}");
            return ExitCode::FAILURE;
        }
    };
    match symlinks::make_symlinks(dir, &exe) {
        Ok(links) => {
            for link in links {
                let what = if link.created { "created" } else { "exists" };
                println!("{what}: {} -> {}", link.path.display(), link.target.display());
            }
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run_apiserver(command: ApiServerCommand) -> ExitCode {
    init_logging(command.logging.log_format, "info");
    run_server(|shutdown| fcp_apiserver::run(command.options, shutdown))
}

fn run_controller_manager(command: ControllerManagerCommand) -> ExitCode {
    init_logging(command.logging.log_format, "info");
    run_server(|shutdown| fcp_controllers::run(command.options, shutdown))
}

fn run_sim_cluster(command: SimClusterCommand) -> ExitCode {
    init_logging(command.logging.log_format, "info");
    run_server(|shutdown| fcp_simcluster::run(command.options, shutdown))
}

fn run_local_up(command: LocalUpCommand) -> ExitCode {
    // One terminal shows every component: the audit line of each write the controllers make would
    // drown the rest, so it is opt-in (RUST_LOG=info) here.
    init_logging(command.logging.log_format, "info,audit=warn");
    run_server(|shutdown| local_up::run(command.options, shutdown))
}

/// Runs one server future on a multi-thread runtime, with SIGTERM/SIGINT cancelling its shutdown token.
/// A startup or serving error is printed as one `error:` line and exits 1.
fn run_server<F, Fut, E>(server: F) -> ExitCode
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fcp")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        signals::cancel_on_signal(shutdown.clone())
            .map_err(|err| format!("cannot install signal handlers: {err}"))?;
        server(shutdown).await.map_err(|err| err.to_string())
    });
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN_GRACE);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// `tracing` to stderr, filtered by `RUST_LOG` (else `default_filter`); colours only on a terminal.
fn init_logging(format: LogFormat, default_filter: &str) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::try_new(&directives).unwrap_or_else(|err| {
                eprintln!("warning: ignoring RUST_LOG={directives:?} ({err}); logging at {default_filter}");
                EnvFilter::new(default_filter)
            })
        }
        _ => EnvFilter::new(default_filter),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // Fails only when a subscriber is already installed, which cannot happen in this process.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
