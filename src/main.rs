//! Binary entry point: parse the command line, load the data, serve or check.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use partnership_map::cache::TileCache;
use partnership_map::config::{Cli, Command};
use partnership_map::dataset::Dataset;
use partnership_map::http::{AppState, DataSource, router};
use partnership_map::store::{SqliteStore, SubmissionStore};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let started = Instant::now();
    let dataset = match Dataset::load(&cli.data.boundaries, &cli.data.data, cli.data.max_zoom) {
        Ok(ds) => ds,
        Err(e) => {
            eprint!("partnership-map: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let s = &dataset.summary;
    let loaded = format!(
        "{} local authorities ({} vertices), {} partnerships; {} LAs with partnership data, {} with an LA-role entry, {} with any data; data version {}",
        s.las,
        s.vertices,
        s.partnerships,
        s.las_with_partnerships,
        s.las_with_role,
        s.las_with_data,
        dataset.version
    );
    match cli.command.unwrap_or(Command::Serve) {
        Command::Check => {
            println!("ok: {loaded}");
            for (old, new) in &s.joined_by_former_code {
                println!("note: boundary {old} joined to {new} through former_codes");
            }
            ExitCode::SUCCESS
        }
        Command::Export {
            format,
            out,
            min_zoom,
        } => {
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            match partnership_map::export::export(
                &dataset,
                format,
                &out,
                min_zoom,
                cli.data.max_zoom,
                progress,
            ) {
                Ok(s) => {
                    println!(
                        "wrote {} ({:?}): {} tiles of {} examined, zooms {min_zoom}-{}, {} tile bytes, {} file bytes, in {:.2} s",
                        out.display(),
                        format,
                        s.tiles,
                        s.examined,
                        cli.data.max_zoom,
                        s.tile_bytes,
                        s.file_bytes,
                        s.elapsed.as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("partnership-map: export failed: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Serve => {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "loaded {loaded}"
            );
            for (old, new) in &s.joined_by_former_code {
                tracing::info!("boundary {old} joined to {new} through former_codes");
            }
            let mut config = match cli.serve.http_config() {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("partnership-map: cannot start: {e}");
                    return ExitCode::FAILURE;
                }
            };
            config.data_source = Some(DataSource {
                boundaries: cli.data.boundaries.clone(),
                data: cli.data.data.clone(),
                max_zoom: cli.data.max_zoom,
            });
            if config.admin_token.is_none() {
                tracing::info!(
                    "no admin token configured: the admin API and /admin/reload are off"
                );
            }
            let store: Arc<dyn SubmissionStore> = match SqliteStore::open(&cli.serve.db) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!(
                        "partnership-map: cannot open the submissions database {}: {e}",
                        cli.serve.db.display()
                    );
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(db = %cli.serve.db.display(), "submissions database ready (WAL, synchronous=FULL)");
            let cache = TileCache::new(cli.serve.cache_bytes());
            let retention_days = cli.serve.retention_days;
            let state = match AppState::new(dataset, cache, config, store) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!(
                        "partnership-map: cannot start: styles/default.json is not valid JSON: {e}"
                    );
                    return ExitCode::FAILURE;
                }
            };
            match serve(state, cli.serve.bind, retention_days) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("partnership-map: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn serve(state: AppState, bind: std::net::SocketAddr, retention_days: u32) -> Result<(), String> {
    let rt =
        tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))?;
    rt.block_on(async move {
        tokio::spawn(reload_on_sighup(state.clone()));
        tokio::spawn(purge_personal_data(state.clone(), retention_days));
        state.warm_downloads();
        let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
            format!(
                "cannot listen on {bind}: {e} (is another server using it? try --bind 127.0.0.1:0)"
            )
        })?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        // Tests and scripts read this line to find the port.
        println!("partnership-map listening on http://{addr}");
        tracing::info!("listening on http://{addr}");
        axum::serve(
            listener,
            router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))?;
        tracing::info!("shut down cleanly");
        Ok(())
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// SIGHUP reloads the data, like `POST /admin/reload`; invalid data is logged and not served.
async fn reload_on_sighup(state: AppState) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading data");
            if let Err(e) = partnership_map::http::admin::reload(&state).await {
                tracing::warn!("reload on SIGHUP failed: {e}");
            }
        }
    }
}

/// Hourly: delete personal fields of submissions reviewed more than `days` days ago.
async fn purge_personal_data(state: AppState, days: u32) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        let cutoff = (now - chrono::Duration::days(i64::from(days)))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let now = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let store = state.store.clone();
        match tokio::task::spawn_blocking(move || store.purge_personal(&cutoff, &now)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(
                purged = n,
                "deleted personal details of reviewed submissions (retention {days} days)"
            ),
            Ok(Err(e)) => tracing::warn!("retention purge failed: {e}"),
            Err(e) => tracing::warn!("retention purge task failed: {e}"),
        }
    }
}
