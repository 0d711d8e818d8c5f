//! Stewardship: the published data is the shipped files plus the change log, replayed in log
//! order. [`Steward`] holds what is served (the dataset behind an `ArcSwap`, when it was
//! published, what readers may see of the log) and is the one publisher: edits, undos, reloads
//! and changes made by other replicas all pass through it.
//!
//! One publisher per process (a mutex); across processes the database orders the log:
//! `Store::append_change` appends only if nobody else appended since this replica last caught
//! up, else the replica catches up, checks the edit again and retries. A change is live in this
//! process before the call that made it returns. The pure work is `changes::apply`/`replay` and
//! `Dataset::with_tables`.
//!
//! Each new data version is made the tile cache's current one, then handed to the subscribers
//! (`Steward::subscribe`; the server builds its downloads there). Readers see, in this order, the
//! history, then the data version, then the log position (see `publish.rs`).
//!
//! This module knows nothing of HTTP: it returns [`StewardError`], which `crate::error` maps to
//! statuses.

mod error;
mod log;
mod publish;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;

use crate::cache::{TileCache, version_key};
use crate::dataset::Dataset;
use crate::store::Store;
pub use error::StewardError;
use log::LogState;
pub use log::LogStatus;
pub use publish::{Outcome, ReloadReport, ReplayReport};

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

/// Told of each newly published data version.
type Subscriber = Box<dyn Fn(&Arc<Dataset>) + Send + Sync>;

/// The published data and its change log, and the one publisher of both.
pub struct Steward {
    /// The served dataset, swapped atomically on publish.
    dataset: ArcSwap<Dataset>,
    /// Unix time at which the served data version was published.
    published: AtomicU64,
    /// What readers see of the log without waiting for the publisher.
    status: RwLock<LogStatus>,
    /// The publisher's view of the log; one publisher at a time.
    log: tokio::sync::Mutex<LogState>,
    /// The change log, and the submissions an edit settles.
    store: Arc<dyn Store>,
    /// Made to serve each new version.
    cache: TileCache,
    /// Render each new version's pyramid in the background.
    prerender: bool,
    /// Where to reload the files from; `None` turns reloads off.
    source: Option<DataSource>,
    /// Told of each new version, after the tile cache.
    subscribers: RwLock<Vec<Subscriber>>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Steward {
    /// Serve `files` (the log is not read yet: [`Steward::replay_all`] does that) and make its
    /// version the tile cache's current one.
    #[must_use]
    pub fn new(
        files: Dataset,
        cache: TileCache,
        store: Arc<dyn Store>,
        source: Option<DataSource>,
        prerender: bool,
    ) -> Self {
        let files = Arc::new(files);
        cache.publish(Arc::clone(&files), version_key(&files), prerender);
        Self {
            log: tokio::sync::Mutex::new(LogState::new(&files)),
            status: RwLock::default(),
            dataset: ArcSwap::new(files),
            published: AtomicU64::new(unix_now()),
            store,
            cache,
            prerender,
            source,
            subscribers: RwLock::default(),
        }
    }

    /// Call `f` with each data version published from now on (after the tile cache has it).
    /// `f` runs in the publisher's call: keep it short (spawn longer work).
    pub fn subscribe(&self, f: impl Fn(&Arc<Dataset>) + Send + Sync + 'static) {
        if let Ok(mut s) = self.subscribers.write() {
            s.push(Box::new(f));
        }
    }

    /// The current dataset (a snapshot: a request keeps the one it started with).
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.dataset.load_full()
    }

    /// `f` over the served dataset and its cache key, without taking a reference to it (for
    /// the per-request fast path; keep `f` short).
    pub fn with_dataset<R>(&self, f: impl FnOnce(&Dataset, u64) -> R) -> R {
        let ds = self.dataset.load();
        f(&ds, version_key(&ds))
    }

    /// Unix time at which the served data version was published.
    #[must_use]
    pub fn published_at(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// The last change published here, the conflicts with the files and the history.
    #[must_use]
    pub fn log_status(&self) -> LogStatus {
        self.status.read().map(|s| s.clone()).unwrap_or_default()
    }

    /// Serve `ds`: swap it in atomically (in-flight requests finish on the old one), make its
    /// version the tile cache's current one (old tiles are dropped; new ETags from the first
    /// request on, rendered on demand until the background pre-render has them), and tell the
    /// subscribers. Every publish (start, reload, edit) goes here. Returns the old dataset.
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
            .publish(Arc::clone(&ds), version_key(&ds), self.prerender);
        if let Ok(subscribers) = self.subscribers.read() {
            for f in subscribers.iter() {
                f(&ds);
            }
        }
        old
    }

    /// Let readers see `status`.
    fn set_log_status(&self, status: LogStatus) {
        if let Ok(mut s) = self.status.write() {
            *s = status;
        }
    }
}
