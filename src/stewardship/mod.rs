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
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use arc_swap::ArcSwap;
use chrono::NaiveDate;

use crate::cache::{TileCache, version_key};
use crate::clock::{Clock, london_day, london_midnight};
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
    /// What "today" is.
    clock: Arc<Clock>,
    /// Unix time at which the served vintage ends (the midnight starting the next vintage).
    next_switch: AtomicI64,
    /// Datasets of other days than today (another vintage, or a past day's replay), by day
    /// and served version; bounded in bytes.
    other_days: moka::sync::Cache<String, Arc<Dataset>>,
}

/// Bytes the datasets of other days may hold (their geometry is shared with the vintage's).
const OTHER_DAYS_BYTES: u64 = 64 << 20;

/// A rough size of what a dataset holds beyond its shared geometry: its tables' text, about
/// three times over (text, parsed records, attributes).
fn dataset_weight(ds: &Dataset) -> u32 {
    let text: usize = ds.tables.files().iter().map(|(_, t)| t.len()).sum();
    u32::try_from(text.saturating_mul(3)).unwrap_or(u32::MAX)
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
        clock: Arc<Clock>,
    ) -> Self {
        let files = Arc::new(on_day(files, clock.today()));
        cache.publish(Arc::clone(&files), version_key(&files), prerender);
        build_next_vintage(&files);
        Self {
            next_switch: AtomicI64::new(switch_time(&files)),
            clock,
            other_days: moka::sync::Cache::builder()
                .weigher(|_, ds: &Arc<Dataset>| dataset_weight(ds))
                .max_capacity(OTHER_DAYS_BYTES)
                .build(),
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

    /// Today's dataset (a snapshot: a request keeps the one it started with). At the
    /// midnight that starts a new vintage, the first caller switches it.
    #[must_use]
    pub fn dataset(&self) -> Arc<Dataset> {
        self.turn_the_day();
        self.dataset.load_full()
    }

    /// `f` over today's dataset and its cache key, without taking a reference to it (for the
    /// per-request fast path; keep `f` short).
    pub fn with_dataset<R>(&self, f: impl FnOnce(&Dataset, u64) -> R) -> R {
        self.turn_the_day();
        let ds = self.dataset.load();
        f(&ds, version_key(&ds))
    }

    /// The clock that says what today is.
    #[must_use]
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// At or after the midnight that ends the served vintage, serve today's.
    fn turn_the_day(&self) {
        if self.clock.now_unix() < self.next_switch.load(Ordering::Relaxed) {
            return;
        }
        let current = self.dataset.load_full();
        let today = on_day_arc(&current, self.clock.today());
        if today.vintage == current.vintage {
            self.next_switch
                .store(switch_time(&current), Ordering::Relaxed);
        } else {
            tracing::info!(
                vintage = today.vintage_start(),
                las = today.las.len(),
                "a new day, a new set of councils: serving the vintage that starts {}",
                today.vintage_start()
            );
            self.swap_dataset(
                Arc::try_unwrap(today).unwrap_or_else(|ds| ds.on_vintage(ds.vintage)),
            );
        }
    }

    /// The dataset of `day`: its vintage's LAs, and the data as published that day (a past day
    /// replays the change log only up to that day's end; today and later days show the data as
    /// published now).
    ///
    /// # Errors
    /// [`StewardError::NoSuchDay`] before the map's records start.
    pub async fn dataset_on(&self, day: NaiveDate) -> Result<Arc<Dataset>, StewardError> {
        let current = self.dataset();
        let today = self.clock.today();
        let day_text = day.format("%Y-%m-%d").to_string();
        if current.timeline().vintage_of(&day_text).is_none() {
            return Err(StewardError::NoSuchDay(format!(
                "the map's records start on {}; there is no map of {day_text}",
                crate::dataset::timeline::RECORD_START
            )));
        }
        let status = self.log_status();
        let later_changes = day < today
            && status
                .published()
                .any(|c| london_day_of(&c.created_at).is_some_and(|d| d > day));
        if !later_changes && current.timeline().vintage_of(&day_text) == Some(current.vintage) {
            return Ok(current);
        }
        let key = if later_changes {
            format!("{day_text}|{}", current.version)
        } else {
            format!(
                "vintage {:?}|{}",
                current.timeline().vintage_of(&day_text),
                current.version
            )
        };
        if let Some(ds) = self.other_days.get(&key) {
            return Ok(ds);
        }
        let base = if later_changes {
            let log = self.log.lock().await;
            let until: Vec<crate::changes::LoggedChange> = log
                .changes
                .iter()
                .filter(|c| london_day_of(&c.created_at).is_some_and(|d| d <= day))
                .cloned()
                .collect();
            let replayed = crate::changes::replay_after(&log.base, &until, log.in_files_through);
            let as_of = {
                let change = replayed
                    .last_applied_at
                    .as_deref()
                    .and_then(|t| t.get(..10));
                match (log.files_as_of.clone(), change.map(str::to_owned)) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    (a, b) => a.or(b),
                }
            };
            drop(log);
            Some((replayed.tables, as_of))
        } else {
            None
        };
        let cur = Arc::clone(&current);
        let ds = tokio::task::spawn_blocking(move || -> Result<Dataset, StewardError> {
            let ds = match base {
                Some((tables, as_of)) => cur.with_tables(tables, as_of).map_err(|e| {
                    StewardError::Failed(format!("replaying the log to {day}: {e}"))
                })?,
                None => cur.on_vintage(cur.vintage),
            };
            Ok(on_day(ds, day))
        })
        .await
        .map_err(|e| StewardError::Failed(format!("building the map of {day}: {e}")))??;
        let ds = Arc::new(ds);
        self.cache.also_store(version_key(&ds));
        self.other_days.insert(key, Arc::clone(&ds));
        Ok(ds)
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
        let ds = Arc::new(on_day(ds, self.clock.today()));
        self.next_switch.store(switch_time(&ds), Ordering::Relaxed);
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

/// `ds` over the vintage in force on `day` (the last vintage for days after it; the first for
/// days before the records start).
fn on_day(ds: Dataset, day: NaiveDate) -> Dataset {
    let k = vintage_on(&ds, day);
    if k == ds.vintage {
        ds
    } else {
        ds.on_vintage(k)
    }
}

fn on_day_arc(ds: &Arc<Dataset>, day: NaiveDate) -> Arc<Dataset> {
    let k = vintage_on(ds, day);
    if k == ds.vintage {
        Arc::clone(ds)
    } else {
        Arc::new(ds.on_vintage(k))
    }
}

fn vintage_on(ds: &Dataset, day: NaiveDate) -> usize {
    ds.timeline()
        .vintage_of(&day.format("%Y-%m-%d").to_string())
        .unwrap_or(0)
}

/// Unix time of the midnight that ends `ds`'s vintage (never, for the last).
fn switch_time(ds: &Dataset) -> i64 {
    ds.vintage_end()
        .and_then(|d| crate::clock::parse_day(d).ok())
        .map_or(i64::MAX, london_midnight)
}

/// The day in England of a change's `created_at` (RFC 3339, UTC).
fn london_day_of(created_at: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_rfc3339(created_at)
        .ok()
        .map(|t| london_day(t.timestamp()))
}

/// Build the next vintage's geometry on an idle thread, so the midnight that starts it does
/// not wait for it.
fn build_next_vintage(ds: &Arc<Dataset>) {
    if ds.vintage_end().is_none() || ds.shapes.is_built(ds.vintage + 1) {
        return;
    }
    let ds = Arc::clone(ds);
    let spawned = std::thread::Builder::new()
        .name("next-vintage".to_owned())
        .spawn(move || {
            crate::background::make_current_thread_idle();
            let next = ds.on_vintage(ds.vintage + 1);
            tracing::info!(
                starts = next.vintage_start(),
                las = next.las.len(),
                "prepared the councils of the next vintage"
            );
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot prepare the next vintage now: {e}; it is built at its midnight");
    }
}
