//! SIGTERM and SIGINT: the first one asks the server to shut down gracefully, a second one exits at once.

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Exit status after a second SIGINT (128 + 2), as shells report it.
const EXIT_SIGINT: i32 = 130;
/// Exit status after a second SIGTERM (128 + 15).
const EXIT_SIGTERM: i32 = 143;

/// Installs the handlers (must be called inside the runtime) and spawns the task that watches them: the first
/// signal cancels `shutdown`; the next one ends the process immediately.
///
/// # Errors
/// When the signal handlers cannot be registered.
pub(crate) fn cancel_on_signal(shutdown: CancellationToken) -> std::io::Result<()> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let first = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(
            signal = first,
            "shutting down gracefully; send the signal again to exit immediately"
        );
        shutdown.cancel();
        let (second, code) = tokio::select! {
            _ = terminate.recv() => ("SIGTERM", EXIT_SIGTERM),
            _ = interrupt.recv() => ("SIGINT", EXIT_SIGINT),
        };
        tracing::warn!(signal = second, "second signal: exiting immediately");
        std::process::exit(code);
    });
    Ok(())
}
