//! The state every handler shares: the steward (the served dataset and its change log), the
//! tile cache, settings, the store, and the caches of glyphs, downloads and pictures. Handlers
//! import it from here; it imports no handler and knows nothing of the router.

use std::num::NonZeroU32;
use std::sync::{Arc, Weak};

use axum::http::HeaderValue;

use crate::cache::{TileCache, version_key};
use crate::clock::{Clock, parse_day};
use crate::config::{ClientIpHeader, MetricsBind, ServeArgs};
use crate::dataset::Dataset;
use crate::downloads::DownloadCache;
use crate::editors::Editors;
use crate::error::AppError;
use crate::glyphs::GlyphCache;
use crate::render::PictureCache;
use crate::stewardship::{DataSource, Steward};
use crate::store::Store;
use crate::style::{QGIS_STYLE_TEMPLATE, STYLE_TEMPLATE};
use crate::verification::mail::Mailer;
use crate::verification::rounds::Rounds;

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
    /// Where `/metrics` is served (`--metrics-bind`): on the public router for loopback clients
    /// (`Local`) or for everyone (`Main`); otherwise not on the public router.
    pub metrics: MetricsBind,
    /// What "today" is (`--now` starts it at another time).
    pub clock: Arc<Clock>,
    /// Mails verification invitations (`--smtp-url`); none: the team sends the mail merge.
    pub mailer: Option<Arc<Mailer>>,
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
            metrics: MetricsBind::Off,
            clock: Arc::new(Clock::system()),
            mailer: None,
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
        let mailer = args.mailer()?.map(Arc::new);
        Ok(Self {
            mailer,
            cache_control,
            public_url,
            editors,
            submissions_per_hour: NonZeroU32::new(args.submissions_per_hour)
                .unwrap_or(NonZeroU32::MIN),
            data_source: None,
            trusted_proxies: args.trusted_proxies.clone(),
            client_ip_header: args.client_ip_header,
            prerender: !args.no_prerender,
            metrics: args.metrics_bind(),
            clock: Arc::new(match &args.now {
                None => Clock::system(),
                Some(t) => Clock::starting_at(
                    chrono::DateTime::parse_from_rfc3339(t)
                        .map_err(|e| format!("--now {t:?} is not an RFC 3339 time like 2027-03-31T23:59:50+01:00: {e}"))?
                        .with_timezone(&chrono::Utc),
                ),
            }),
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
    /// The served dataset and its change log; publishes every new data version.
    pub steward: Arc<Steward>,
    /// Tile cache (the steward makes each new version its current one).
    pub cache: TileCache,
    /// Settings.
    pub config: Arc<HttpConfig>,
    /// Parsed `styles/default.json`.
    pub style_template: Arc<crate::style::Style>,
    /// Parsed `styles/qgis.json`.
    pub qgis_style_template: Arc<crate::style::Style>,
    /// Submissions, the change log and the submission limit.
    pub store: Arc<dyn Store>,
    /// Rendered label glyphs.
    pub glyphs: GlyphCache,
    /// Open-data downloads of the current data version.
    pub downloads: DownloadCache,
    /// Drawn map pictures (`/render/…`), by data version.
    pub pictures: PictureCache,
    /// LA verification rounds: campaigns, links, answers.
    pub verification: Arc<Rounds>,
}

impl AppState {
    /// Build the state: serve `dataset` (the log is read by `steward.replay_all()`).
    ///
    /// # Errors
    /// If a compiled-in style template is not valid JSON.
    pub fn new(
        dataset: Dataset,
        cache: TileCache,
        config: HttpConfig,
        store: Arc<dyn Store>,
    ) -> Result<Self, serde_json::Error> {
        let style_template = Arc::new(serde_json::from_str(STYLE_TEMPLATE)?);
        let qgis_style_template = Arc::new(serde_json::from_str(QGIS_STYLE_TEMPLATE)?);
        let steward = Arc::new(Steward::new(
            dataset,
            cache.clone(),
            Arc::clone(&store),
            config.data_source.clone(),
            config.prerender,
            Arc::clone(&config.clock),
        ));
        let downloads = DownloadCache::default();
        steward.subscribe(warm_downloads(downloads.clone(), Arc::downgrade(&steward)));
        let verification = Arc::new(Rounds::new(
            Arc::clone(&store),
            Arc::clone(&steward),
            config.mailer.clone(),
        ));
        Ok(Self(Arc::new(StateInner {
            steward,
            cache,
            config: Arc::new(config),
            style_template,
            qgis_style_template,
            store,
            glyphs: GlyphCache::default(),
            downloads,
            pictures: PictureCache::default(),
            verification,
        })))
    }

    /// The current dataset (a snapshot: a request keeps the one it started with).
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.steward.dataset()
    }

    /// The dataset of `?date=` (today's without one).
    ///
    /// # Errors
    /// [`AppError::BadDate`] for a malformed date, [`AppError::NoSuchDay`] before the map's
    /// records start.
    pub async fn dataset_on(&self, date: Option<&str>) -> Result<Arc<Dataset>, AppError> {
        match date {
            None => Ok(self.dataset()),
            Some(d) => {
                let day = parse_day(d).map_err(AppError::BadDate)?;
                Ok(self.steward.dataset_on(day).await?)
            }
        }
    }

    /// Today in England, `YYYY-MM-DD`.
    #[must_use]
    pub fn today(&self) -> String {
        self.config.clock.today().format("%Y-%m-%d").to_string()
    }

    /// `Cache-Control` for a document of today's map: the configured one, its `max-age` cut
    /// to the seconds left until midnight in England (when a new vintage may start).
    #[must_use]
    pub fn cache_control_today(&self) -> HeaderValue {
        let now = self.config.clock.now_unix();
        let tomorrow = self.config.clock.today().succ_opt().unwrap_or_default();
        let left = (crate::clock::london_midnight(tomorrow) - now).max(1);
        let configured = self.config.cache_control.to_str().unwrap_or("");
        let Some(at) = configured.find("max-age=") else {
            return self.config.cache_control.clone();
        };
        let digits: String = configured[at + 8..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        let max_age = digits.parse::<i64>().unwrap_or(0).min(left);
        let value = format!(
            "{}max-age={max_age}{}",
            &configured[..at],
            &configured[at + 8 + digits.len()..]
        );
        HeaderValue::from_str(&value).unwrap_or_else(|_| self.config.cache_control.clone())
    }

    /// `Cache-Control` for the map of `date`: a past day's tiles (`pinned`: addressed with its
    /// data version) never change again; other days get the configured value.
    #[must_use]
    pub fn cache_control_for(&self, date: &str, pinned: bool) -> HeaderValue {
        if pinned && date < self.today().as_str() {
            HeaderValue::from_static("public, max-age=31536000, immutable")
        } else {
            self.config.cache_control.clone()
        }
    }

    /// Cache-key form of a dataset's version.
    #[must_use]
    pub fn version_key(&self, ds: &Dataset) -> u64 {
        version_key(ds)
    }

    /// `f` over the served dataset and its cache key, without taking a reference to it (for
    /// the per-request fast path; keep `f` short).
    pub fn with_dataset<R>(&self, f: impl FnOnce(&Dataset, u64) -> R) -> R {
        self.steward.with_dataset(f)
    }
}

/// A subscriber that builds each new data version's downloads (JSON, GeoJSON, CSV and their
/// gzip, about 0.3 s) on a blocking thread, so the first visitor to `/downloads` does not wait
/// for them. The task builds whatever version is current when it runs, so a burst of edits
/// builds the last one, not each in turn. Outside a runtime (a test building data), nothing.
fn warm_downloads(
    downloads: DownloadCache,
    steward: Weak<Steward>,
) -> impl Fn(&Arc<Dataset>) + Send + Sync + 'static {
    move |_| {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let (downloads, steward) = (downloads.clone(), steward.clone());
        tokio::task::spawn_blocking(move || {
            if let Some(steward) = steward.upgrade() {
                downloads.files(&steward.dataset());
            }
        });
    }
}
