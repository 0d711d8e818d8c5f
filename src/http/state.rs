//! The state every handler shares: the served dataset (swapped atomically on publish), the
//! tile cache, settings, the store and the change log's status, and the caches of glyphs,
//! downloads and pictures. Handlers import it from here; it imports no handler and knows
//! nothing of the router.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use axum::http::HeaderValue;

use super::publish;
use crate::cache::{TileCache, version_key};
use crate::config::{ClientIpHeader, MetricsBind, ServeArgs};
use crate::dataset::Dataset;
use crate::downloads::DownloadCache;
use crate::editors::Editors;
use crate::glyphs::GlyphCache;
use crate::render::PictureCache;
use crate::store::Store;
use crate::style::{QGIS_STYLE_TEMPLATE, STYLE_TEMPLATE};

/// Where the data was loaded from, for live reloads.
#[derive(Debug, Clone)]
pub struct DataSource {
    /// `--boundaries`.
    pub boundaries: PathBuf,
    /// `--data`.
    pub data: PathBuf,
    /// `--max-zoom`.
    pub max_zoom: u8,
}

/// Settings the handlers need, validated at startup.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `Cache-Control` for tiles, TileJSON and style.
    pub cache_control: HeaderValue,
    /// Public base URL (no trailing slash), if configured.
    pub public_url: Option<String>,
    /// Editors of the admin API; none turns it off.
    pub editors: Editors,
    /// Submissions allowed per client IP per hour.
    pub submissions_per_hour: NonZeroU32,
    /// Data directories, so `POST /admin/reload` and SIGHUP can reload.
    pub data_source: Option<DataSource>,
    /// Peers whose `X-Forwarded-For` / `Forwarded` is believed (`--trusted-proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Which of the two headers the trusted proxies set.
    pub client_ip_header: ClientIpHeader,
    /// Render every tile of each published data version in the background.
    pub prerender: bool,
    /// Serve `/metrics` on the public router too (`--metrics-bind main`).
    pub metrics_on_main: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            cache_control: HeaderValue::from_static("public, max-age=3600"),
            public_url: None,
            editors: Editors::none(),
            submissions_per_hour: NonZeroU32::new(20).unwrap_or(NonZeroU32::MIN),
            data_source: None,
            trusted_proxies: Vec::new(),
            client_ip_header: ClientIpHeader::default(),
            prerender: false,
            metrics_on_main: false,
        }
    }
}

impl HttpConfig {
    /// Check and convert the HTTP settings of the command line (`data_source` is left unset).
    ///
    /// # Errors
    /// A message naming the bad flag.
    pub fn from_args(args: &ServeArgs) -> Result<Self, String> {
        let cache_control = HeaderValue::from_str(&args.cache_control).map_err(|_| {
            format!(
                "--cache-control {:?} is not a valid header value",
                args.cache_control
            )
        })?;
        let public_url = match &args.public_url {
            None => None,
            Some(u) => {
                let parsed = url::Url::parse(u).map_err(|e| format!("--public-url {u:?}: {e}"))?;
                if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
                    return Err(format!(
                        "--public-url {u:?} must be an http(s) URL without a query"
                    ));
                }
                Some(u.trim_end_matches('/').to_owned())
            }
        };
        let editors = args.editors()?;
        Ok(Self {
            cache_control,
            public_url,
            editors,
            submissions_per_hour: NonZeroU32::new(args.submissions_per_hour)
                .unwrap_or(NonZeroU32::MIN),
            data_source: None,
            trusted_proxies: args.trusted_proxies.clone(),
            client_ip_header: args.client_ip_header,
            prerender: !args.no_prerender,
            metrics_on_main: args.metrics_bind() == MetricsBind::Main,
        })
    }
}

/// State shared by all handlers: one reference count to clone (every handler's `State`
/// extractor clones it, once per request).
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct StateInner {
    dataset: Arc<ArcSwap<Dataset>>,
    /// Tile cache.
    pub cache: TileCache,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// Parsed `styles/default.json`.
    pub style_template: Arc<serde_json::Value>,
    /// Parsed `styles/qgis.json`.
    pub qgis_style_template: Arc<serde_json::Value>,
    /// Submissions, the change log and the submission limit.
    pub store: Arc<dyn Store>,
    /// The change log as published here; one publisher at a time.
    pub log: Arc<tokio::sync::Mutex<publish::LogState>>,
    /// What `/health` and the admin API read of the log, without waiting for the publisher.
    log_status: Arc<std::sync::RwLock<publish::LogStatus>>,
    /// Rendered label glyphs.
    pub glyphs: GlyphCache,
    /// Open-data downloads of the current data version.
    pub downloads: DownloadCache,
    /// Drawn map pictures (`/render/…`), by data version.
    pub pictures: PictureCache,
    /// Unix time at which the served data version was published.
    published: Arc<AtomicU64>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl AppState {
    /// Build the state.
    ///
    /// # Errors
    /// If the compiled-in style template is not valid JSON.
    pub fn new(
        dataset: Dataset,
        cache: TileCache,
        config: HttpConfig,
        store: Arc<dyn Store>,
    ) -> Result<Self, serde_json::Error> {
        let dataset = Arc::new(dataset);
        cache.publish(
            Arc::clone(&dataset),
            version_key(&dataset),
            config.prerender,
        );
        Ok(Self(Arc::new(StateInner {
            log: Arc::new(tokio::sync::Mutex::new(publish::LogState::new(&dataset))),
            log_status: Arc::default(),
            dataset: Arc::new(ArcSwap::new(dataset)),
            cache,
            config: Arc::new(config),
            style_template: Arc::new(serde_json::from_str(STYLE_TEMPLATE)?),
            qgis_style_template: Arc::new(serde_json::from_str(QGIS_STYLE_TEMPLATE)?),
            store,
            glyphs: GlyphCache::default(),
            downloads: DownloadCache::default(),
            pictures: PictureCache::default(),
            published: Arc::new(AtomicU64::new(unix_now())),
        })))
    }

    /// Publish a new dataset: swap it in atomically (in-flight requests finish on the old one),
    /// make its version the tile cache's current one (old tiles are dropped; new ETags from the
    /// first request on, rendered on demand until the background pre-render has them), and
    /// build its downloads in the background. Every publish (start, reload, edit) goes here.
    pub fn swap_dataset(&self, ds: Dataset) -> Arc<Dataset> {
        let ds = Arc::new(ds);
        let old = self.dataset.swap(Arc::clone(&ds));
        if old.version == ds.version {
            // Same tables over the same geometry (e.g. a replay that changed nothing): the
            // cached and pre-rendering tiles are still right.
            return old;
        }
        self.published.store(unix_now(), Ordering::Relaxed);
        self.cache
            .publish(Arc::clone(&ds), version_key(&ds), self.config.prerender);
        if tokio::runtime::Handle::try_current().is_ok() {
            self.warm_downloads();
        }
        old
    }

    /// Unix time at which the served data version was published.
    #[must_use]
    pub fn published_at(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// The last change published here and the conflicts with the files.
    #[must_use]
    pub fn log_status(&self) -> publish::LogStatus {
        self.log_status
            .read()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Record the log's status (the publisher calls this).
    pub fn set_log_status(&self, status: publish::LogStatus) {
        if let Ok(mut s) = self.log_status.write() {
            *s = status;
        }
    }

    /// Build the current data version's downloads (JSON, GeoJSON, CSV and their gzip, about
    /// 0.3 s) on a blocking thread, so the first visitor to `/downloads` does not wait for it.
    /// The task builds whatever version is current when it runs, so a burst of edits builds
    /// the last one, not each in turn.
    pub fn warm_downloads(&self) {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            state.downloads.files(&state.dataset());
        });
    }

    /// The current dataset (a snapshot: a request keeps the one it started with).
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.dataset.load_full()
    }

    /// Cache-key form of a dataset's version.
    #[must_use]
    pub fn version_key(&self, ds: &Dataset) -> u64 {
        version_key(ds)
    }

    /// `f` over the served dataset and its cache key, without taking a reference to it (for
    /// the per-request fast path; keep `f` short).
    pub fn with_dataset<R>(&self, f: impl FnOnce(&Dataset, u64) -> R) -> R {
        let ds = self.dataset.load();
        f(&ds, version_key(&ds))
    }
}
