//! Binary entry point: parse the command line, load the data, then serve, check or export.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use partnership_map::cache::TileCache;
use partnership_map::changes;
use partnership_map::config::{Cli, Command, DataCommand, MetricsBind, ServeArgs};
use partnership_map::data_export::{self, Marker};
use partnership_map::dataset::Dataset;
use partnership_map::error::AppError;
use partnership_map::http::server::{self, Limits};
use partnership_map::http::tiles::CachedTiles;
use partnership_map::http::{AppState, HttpConfig, router};
use partnership_map::stewardship::DataSource;
use partnership_map::store::{PostgresStore, SqliteStore, Store, StoreError};

// jemalloc, with a background thread returning freed pages to the system within about a second
// (configured in .cargo/config.toml): RSS follows the memory in use. glibc's per-thread arenas
// kept the high-water mark of the data load and of hostile traffic.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _log = partnership_map::logging::init(cli.log_format);
    let result = run(cli);
    partnership_map::logging::flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("partnership-map: {message}");
            ExitCode::FAILURE
        }
    }
}

fn summary_line(ds: &Dataset) -> String {
    let s = &ds.summary;
    format!(
        "{} local authorities ({} vertices), {} partnerships; {} LAs with partnership data, {} with an LA-role entry, {} with any data; data version {}",
        s.las,
        s.vertices,
        s.partnerships,
        s.las_with_partnerships,
        s.las_with_role,
        s.las_with_data,
        ds.version
    )
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Runtime::new().map_err(|e| format!("cannot start the runtime: {e}"))
}

fn run(mut cli: Cli) -> Result<(), String> {
    let started = Instant::now();
    let dataset = Dataset::load(&cli.data.boundaries, &cli.data.data, cli.data.max_zoom)
        .map_err(|e| format!("cannot start: {e}"))?;
    let marker = data_export::read_marker(&cli.data.data)?;
    match cli.command.take().unwrap_or(Command::Serve) {
        Command::Check => {
            println!("ok: {}", summary_line(&dataset));
            // The invitation template (and, with --smtp-url, the mail settings) are checked
            // here as at startup: a mistake is found before a round is started.
            let mails = cli.serve.mailer()?.is_some();
            println!(
                "ok: invitation mail template {}{}",
                cli.serve
                    .mail_template
                    .as_ref()
                    .map_or_else(|| "(built in)".to_owned(), |p| p.display().to_string()),
                if mails {
                    ", mailed through --smtp-url"
                } else {
                    " (no --smtp-url: nothing is mailed)"
                }
            );
            for (old, new) in &dataset.summary.joined_by_former_code {
                println!("note: boundary {old} joined to {new} through former_codes");
            }
            for m in &dataset.shapes.coverage {
                println!("ok: {}", m.summary());
            }
            // Every later vintage is built and summarised too, so a reorganisation's councils
            // are known to load before their vesting day.
            for (date, rows) in dataset.timeline().vesting_dates() {
                let k = dataset.timeline().vintage_of(date).unwrap_or(0);
                let v = dataset.on_vintage(k);
                let made: Vec<&str> = rows.iter().map(|r| r.new_name.as_str()).collect();
                println!(
                    "vintage from {date}: {} (new: {})",
                    summary_line(&v),
                    made.join(", ")
                );
            }
            if let Some(m) = &marker {
                println!(
                    "note: {}: these files contain change log {} through change {}",
                    data_export::MARKER_FILE,
                    m.log_id,
                    m.through_change
                );
            }
            Ok(())
        }
        Command::Export {
            format,
            out,
            min_zoom,
        } => {
            // A machine that never served has no database: the files alone are published.
            let ds = if cli.serve.database_url.is_some() || cli.serve.db.exists() {
                runtime()?.block_on(async {
                    let store = open_store(&cli).await?;
                    published(store.as_ref(), dataset, marker.as_ref()).await
                })?
            } else {
                dataset
            };
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let s = partnership_map::export::export(
                &ds,
                format,
                &out,
                min_zoom,
                cli.data.max_zoom,
                progress,
            )
            .map_err(|e| format!("export failed: {e}"))?;
            println!(
                "wrote {} ({:?}): {} tiles of {} examined, zooms {min_zoom}-{}, {} tile bytes, {} file bytes, in {:.2} s; data version {}",
                out.display(),
                format,
                s.tiles,
                s.examined,
                cli.data.max_zoom,
                s.tile_bytes,
                s.file_bytes,
                s.elapsed.as_secs_f64(),
                ds.version
            );
            Ok(())
        }
        Command::Data {
            action: DataCommand::Export { out },
        } => runtime()?.block_on(async {
            let store = open_store(&cli).await?;
            let log_id = store.log_id().await.map_err(|e| e.to_string())?;
            let through = store
                .changes_after(0)
                .await
                .map_err(|e| e.to_string())?
                .last()
                .map_or(0, |c| c.id);
            let ds = published(store.as_ref(), dataset, marker.as_ref()).await?;
            let m = Marker {
                log_id,
                through_change: through,
                data_version: ds.version.clone(),
                exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            };
            let files = data_export::write(&out, &ds, &m)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            println!("{}; through change {through}", summary_line(&ds));
            Ok(())
        }),
        Command::Serve => {
            tracing::info!(
                elapsed_ms = started.elapsed().as_millis() as u64,
                "loaded the data files: {}",
                summary_line(&dataset)
            );
            for (old, new) in &dataset.summary.joined_by_former_code {
                tracing::info!("boundary {old} joined to {new} through former_codes");
            }
            let mut config =
                HttpConfig::from_args(&cli.serve).map_err(|e| format!("cannot start: {e}"))?;
            config.data_source = Some(DataSource {
                boundaries: cli.data.boundaries.clone(),
                data: cli.data.data.clone(),
                max_zoom: cli.data.max_zoom,
            });
            if config.editors.is_empty() {
                tracing::info!(
                    "no editor configured: the admin API, edits and /admin/reload are off"
                );
            } else {
                tracing::info!(editors = config.editors.len(), "admin API on");
            }
            let cache = TileCache::new(cli.serve.cache_bytes());
            let retention_days = cli.serve.retention_days;
            let mut limits = Limits::from_args(&cli.serve);
            fit_connection_cap(&mut limits);
            let rt = runtime()?;
            let result = rt.block_on(async move {
                let store = open_store(&cli).await?;
                let state = AppState::new(dataset, cache, config, store).map_err(|e| {
                    format!("cannot start: styles/default.json is not valid JSON: {e}")
                })?;
                state.steward.set_marker(marker).await;
                let mut wait = std::time::Duration::from_millis(500);
                loop {
                    match state.steward.replay_all().await.map_err(AppError::from) {
                        Ok(_) => break,
                        Err(AppError::Unavailable { .. }) => {
                            tracing::warn!(
                                "cannot read the change log: the database is unavailable; retrying in {:.1} s",
                                wait.as_secs_f64()
                            );
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(std::time::Duration::from_secs(30));
                        }
                        Err(e) => return Err(format!("cannot start: the change log: {e}")),
                    }
                }
                if let Some(wake) = state.store.notifications() {
                    tokio::spawn(follow_the_log(
                        state.clone(),
                        wake,
                        std::time::Duration::from_millis(cli.serve.log_poll_ms),
                    ));
                }
                serve(state, &cli.serve, limits, retention_days).await
            });
            // Blocking tasks (a pre-render, a download build) are abandoned, not awaited.
            rt.shutdown_timeout(std::time::Duration::from_secs(1));
            result
        }
    }
}

/// Open the configured store: PostgreSQL with `--database-url` (retrying with backoff while it
/// cannot be reached, saying so in the log), else SQLite.
async fn open_store(cli: &Cli) -> Result<Arc<dyn Store>, String> {
    if let Some(url) = &cli.serve.database_url {
        let mut wait = std::time::Duration::from_millis(500);
        loop {
            match PostgresStore::connect(url).await {
                Ok(s) => {
                    tracing::info!("database ready (PostgreSQL, migrated)");
                    return Ok(Arc::new(s));
                }
                Err(StoreError::Unavailable(why)) => {
                    tracing::warn!(
                        "PostgreSQL is unavailable ({why}); retrying in {:.1} s",
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(std::time::Duration::from_secs(30));
                }
                Err(e) => return Err(format!("cannot use the database: {e}")),
            }
        }
    }
    let path = cli.serve.db.clone();
    let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot open the database {}: {e}", cli.serve.db.display()))?;
    tracing::info!(db = %cli.serve.db.display(), "database ready (SQLite, WAL, synchronous=FULL)");
    Ok(Arc::new(store))
}

/// The published data: the files plus the change log, as the server would publish it.
async fn published(
    store: &dyn Store,
    files: Dataset,
    marker: Option<&Marker>,
) -> Result<Dataset, String> {
    let log_id = store.log_id().await.map_err(|e| e.to_string())?;
    let log = store.changes_after(0).await.map_err(|e| e.to_string())?;
    let r = changes::replay_after(
        &files.tables,
        &log,
        data_export::in_files_through(marker, &log_id),
    );
    for c in &r.conflicts {
        eprintln!(
            "warning: change {} ({}) does not apply to these files and is left out: {:?}",
            c.change, c.summary, c.problems
        );
    }
    eprintln!(
        "change log: {} applied, {} already in the files, {} in conflict",
        r.applied,
        r.in_files,
        r.conflicts.len()
    );
    let as_of = match (
        files.data_as_of.clone(),
        r.last_applied_at
            .and_then(|t| t.get(..10).map(str::to_owned)),
    ) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    files
        .with_tables(r.tables, as_of)
        .map_err(|e| format!("the published data is invalid: {e}"))
}

/// Raise the open-file limit to its hard maximum (each connection is a descriptor) and keep
/// the connection cap below it.
fn fit_connection_cap(limits: &mut Limits) {
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    // Descriptors beside connections: listeners, the database, the runtime's own.
    let room = usize::try_from(nofile.saturating_sub(64)).unwrap_or(usize::MAX);
    if limits.max_connections > room {
        tracing::warn!(
            max_connections = limits.max_connections,
            open_files = nofile,
            "--max-connections is above what the open-file limit allows; using {room}"
        );
        limits.max_connections = room.max(1);
    }
}

/// Listen (the public port, and `/metrics` on a port of its own if configured so), start the
/// background tasks, and serve until SIGTERM/SIGINT; then let open requests finish within the
/// drain deadline.
async fn serve(
    state: AppState,
    args: &ServeArgs,
    limits: Limits,
    retention_days: u32,
) -> Result<(), String> {
    let bind = args.bind;
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| {
        format!("cannot listen on {bind}: {e} (is another server using it? try --bind 127.0.0.1:0)")
    })?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics_listener = match args.metrics_bind() {
        MetricsBind::Addr(a) => Some(tokio::net::TcpListener::bind(a).await.map_err(|e| {
            format!(
                "cannot listen for /metrics on {a}: {e} (choose another --metrics-bind, or `local` \
                 for the main port, which is the default)"
            )
        })?),
        MetricsBind::Local | MetricsBind::Main | MetricsBind::Off => None,
    };
    // Tests and scripts read these lines to find the ports: the main one first. Nobody
    // reading stdout is not an error.
    let say = |line: String| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}").and_then(|()| out.flush());
    };
    say(format!("partnership-map listening on http://{addr}"));
    match args.metrics_bind() {
        MetricsBind::Local => {
            say(format!("partnership-map metrics on http://{addr}/metrics"));
            tracing::info!("metrics on http://{addr}/metrics, for clients on this host only");
        }
        MetricsBind::Main => {
            say(format!("partnership-map metrics on http://{addr}/metrics"));
            tracing::info!("metrics on http://{addr}/metrics, for every client");
        }
        MetricsBind::Addr(_) | MetricsBind::Off => {}
    }
    tracing::info!(
        head_timeout_ms = u64::try_from(limits.head_timeout.as_millis()).unwrap_or(u64::MAX),
        keep_alive_ms = u64::try_from(limits.idle_timeout.as_millis()).unwrap_or(u64::MAX),
        max_connections = limits.max_connections,
        max_in_flight = limits.max_in_flight,
        trusted_proxies = state.config.trusted_proxies.len(),
        "listening on http://{addr}"
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let metrics_server = match metrics_listener {
        Some(l) => {
            let maddr = l.local_addr().map_err(|e| e.to_string())?;
            say(format!("partnership-map metrics on http://{maddr}/metrics"));
            tracing::info!("metrics on http://{maddr}/metrics");
            let metrics_limits = Limits {
                max_connections: 64,
                max_in_flight: 16,
                ..limits.clone()
            };
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(server::serve(
                l,
                partnership_map::http::metrics::router(state.clone()),
                metrics_limits,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    tokio::spawn(reload_on_sighup(state.clone()));
    tokio::spawn(purge_personal_data(state.clone(), retention_days));
    let shortcut: Arc<dyn server::Shortcut> = Arc::new(CachedTiles(state.clone()));
    server::serve_with(
        listener,
        router(state),
        Some(shortcut),
        limits,
        async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        },
    )
    .await;
    if let Some(m) = metrics_server {
        let _ = m.await;
    }
    tracing::info!("shut down cleanly");
    Ok(())
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

/// With a shared database: publish other replicas' changes when PostgreSQL notifies, and poll
/// as well, so a notification lost while the listener reconnected costs at most `every`.
async fn follow_the_log(
    state: AppState,
    wake: Arc<tokio::sync::Notify>,
    every: std::time::Duration,
) {
    let mut failing = false;
    loop {
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(every) => {}
        }
        match state.steward.catch_up().await.map_err(AppError::from) {
            Ok(_) if failing => {
                failing = false;
                tracing::info!("the change log is reachable again");
            }
            Ok(_) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(
                    "cannot read the change log ({e}); serving the data as it is and retrying"
                );
            }
            Err(_) => {}
        }
    }
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
            if let Err(e) = state.steward.reload().await.map_err(AppError::from) {
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
        match state.store.purge_personal(&cutoff, &now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                purged = n,
                "deleted personal details of reviewed submissions (retention {days} days)"
            ),
            Err(e) => tracing::warn!("retention purge failed: {e}"),
        }
    }
}
