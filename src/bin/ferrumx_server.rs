//! `ferrumx_server`: configured by ElectrumX's environment variables.

use std::process::ExitCode;

use ferrumx::config::{self, Config};
use tokio_util::sync::CancellationToken;

fn main() -> ExitCode {
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ferrumx_server: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = config::check_root(&config) {
        eprintln!("ferrumx_server: {e}");
        return ExitCode::FAILURE;
    }
    // Colours only on a terminal: log files and journald get plain text, as from ElectrumX.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    tracing_subscriber::fmt()
        .with_ansi(ansi)
        .with_env_filter(tracing_subscriber::EnvFilter::new(format!(
            "{},ferrumx={}",
            config.log_level.as_directive(),
            config.log_level.as_directive()
        )))
        .with_target(false)
        .init();
    for w in config.warnings.clone() {
        tracing::warn!("{w}");
    }
    for note in config.fit_open_file_limit() {
        tracing::info!("{note}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferrumx")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ferrumx_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let shutdown = CancellationToken::new();
    let result = runtime.block_on(async {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("shutting down: finishing the current block and flushing");
            stop.cancel();
        });
        ferrumx::server::run(config, shutdown).await
    });
    // Blocking daemon calls may still be waiting on a socket: do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    match result {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ferrumx_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
