//! Prometheus metrics: every metric's name and meaning, and the functions that record them.
//!
//! One process-wide registry (the `prometheus` crate's types and text encoder; nothing here
//! formats the exposition by hand). Other modules call the functions below and never touch the
//! registry. Recording is a relaxed atomic add or a histogram observation, cheap enough for the
//! tile path; request counts and latencies are recorded by the log writer thread, off the
//! request path (see `crate::logging`). Gauges that describe state (the tile cache, the data
//! version) are set from that state when `/metrics` is scraped.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

/// Latency buckets in seconds: fine below a millisecond, where cached tiles are answered.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

/// Render-time buckets in seconds.
const RENDER_BUCKETS: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

/// The registry and every metric in it.
struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    request_seconds: HistogramVec,
    connections_open: IntGauge,
    connections: IntCounter,
    connections_refused: IntCounter,
    connections_timed_out: IntCounterVec,
    in_flight: IntGauge,
    shed: IntCounter,
    cache_hits: IntCounter,
    cache_misses: IntCounter,
    cache_entries: IntGauge,
    cache_bytes: IntGauge,
    renders: IntCounter,
    render_seconds: Histogram,
    prerender_tiles: IntGauge,
    prerender_seconds: prometheus::Gauge,
    data_version: IntGaugeVec,
    data_published: IntGauge,
    data_age: IntGauge,
    submissions: IntCounterVec,
    edits: IntCounterVec,
    log_dropped: IntCounter,
    verification_answers: IntCounterVec,
    verification_invitations: IntGaugeVec,
    verification_mails: IntCounterVec,
}

// Metric names, help texts and label sets are constants, so building them cannot fail; the unit
// test below builds them all, so a typo fails the tests rather than a server.

/// Register `m` and return it.
fn reg<M: prometheus::core::Collector + Clone + 'static>(r: &Registry, m: M) -> M {
    if let Err(e) = r.register(Box::new(m.clone())) {
        tracing::error!("metric registration failed: {e}");
    }
    m
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    reg(
        r,
        IntCounter::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name {name}")),
    )
}

fn gauge(r: &Registry, name: &str, help: &str) -> IntGauge {
    reg(
        r,
        IntGauge::new(name, help).unwrap_or_else(|_| unreachable!("valid metric name {name}")),
    )
}

impl Metrics {
    #[allow(clippy::too_many_lines)]
    fn new() -> Self {
        let r = Registry::new();
        let requests = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests answered, by matched route (`/tiles/:z/:x/:y`; `(unmatched)` for 404s) and status code.",
                ),
                &["route", "status"],
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let request_seconds = reg(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time from a request's arrival to the end of its response body, by matched route.",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let render_seconds = reg(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "tile_render_duration_seconds",
                    "Time to render and compress one tile (on demand or in the background pre-render).",
                )
                .buckets(RENDER_BUCKETS.to_vec()),
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let connections_timed_out = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "http_connections_timed_out_total",
                    "Connections closed by a timeout: `head` (a request head not received in time), `idle` (keep-alive idle), `stalled` (no progress while a request was open).",
                ),
                &["reason"],
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let data_version = reg(
            &r,
            IntGaugeVec::new(
                Opts::new(
                    "data_version_info",
                    "The data version served (label `version`); always 1.",
                ),
                &["version"],
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let submissions = reg(
            &r,
            IntCounterVec::new(
                Opts::new(
                    "submissions_total",
                    "Corrections sent by the public, by outcome: accepted, invalid, rate_limited, spam.",
                ),
                &["outcome"],
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        let prerender_seconds = reg(
            &r,
            prometheus::Gauge::new(
                "tile_prerender_duration_seconds",
                "Wall time of the last completed background pre-render of the pyramid.",
            )
            .unwrap_or_else(|_| unreachable!()),
        );
        #[cfg(target_os = "linux")]
        if let Err(e) = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        )) {
            tracing::error!("metric registration failed: {e}");
        }
        Self {
            requests,
            request_seconds,
            connections_open: gauge(&r, "http_connections_open", "Open client connections."),
            connections: counter(&r, "http_connections_total", "Client connections accepted."),
            connections_refused: counter(
                &r,
                "http_connections_refused_total",
                "Connections over --max-connections, answered 503 and closed.",
            ),
            connections_timed_out,
            in_flight: gauge(
                &r,
                "http_requests_in_flight",
                "Requests being handled or sent.",
            ),
            shed: counter(
                &r,
                "http_requests_shed_total",
                "Requests over --max-in-flight, answered 503.",
            ),
            cache_hits: counter(
                &r,
                "tile_cache_hits_total",
                "Tile requests served from the cache.",
            ),
            cache_misses: counter(
                &r,
                "tile_cache_misses_total",
                "Tile requests that had to wait for a render.",
            ),
            cache_entries: gauge(&r, "tile_cache_entries", "Entries in the tile cache."),
            cache_bytes: gauge(
                &r,
                "tile_cache_bytes",
                "Bytes held by the tile cache (tiles, headers and bookkeeping).",
            ),
            renders: counter(&r, "tile_renders_total", "Tiles rendered."),
            render_seconds,
            prerender_tiles: gauge(
                &r,
                "tile_prerender_tiles",
                "Tiles of the current data version rendered by the background pre-render so far.",
            ),
            prerender_seconds,
            data_version,
            data_published: gauge(
                &r,
                "data_published_timestamp_seconds",
                "Unix time at which the served data version was published (loaded, reloaded or edited).",
            ),
            data_age: gauge(
                &r,
                "data_age_seconds",
                "Seconds since the served data version was published.",
            ),
            submissions,
            edits: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "edits_total",
                        "Editors' changes by kind (edit, undo) and outcome: published (a new data version), previewed (dry run), rejected (failed validation), conflict (an undo that no longer applies), failed (storage).",
                    ),
                    &["kind", "outcome"],
                )
                .unwrap_or_else(|_| unreachable!()),
            ),
            log_dropped: counter(
                &r,
                "log_request_lines_dropped_total",
                "Request log lines dropped because the log writer fell behind.",
            ),
            verification_answers: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "verification_answers_total",
                        "LAs' answers sent through verification links, by outcome: stored, invalid, rate_limited, spam.",
                    ),
                    &["outcome"],
                )
                .unwrap_or_else(|_| unreachable!()),
            ),
            verification_mails: reg(
                &r,
                IntCounterVec::new(
                    Opts::new(
                        "verification_mails_total",
                        "Invitation mails handed to the SMTP server (--smtp-url), by outcome: sent, failed.",
                    ),
                    &["outcome"],
                )
                .unwrap_or_else(|_| unreachable!()),
            ),
            verification_invitations: reg(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "verification_invitations",
                        "Invitations of each verification campaign (label `campaign`, its id) by status: invited, opened, responded, verified, closed, expired, revoked.",
                    ),
                    &["campaign", "status"],
                )
                .unwrap_or_else(|_| unreachable!()),
            ),
            registry: r,
        }
    }
}

static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

/// A request was answered: `route` is the matched route pattern (or `(unmatched)`).
pub fn request_observed(route: &str, status: u16, elapsed: Duration) {
    let m = &*METRICS;
    let mut buf = [0; 3];
    let label = route_label(route);
    m.requests
        .with_label_values(&[label.as_ref(), status_str(status, &mut buf)])
        .inc();
    m.request_seconds
        .with_label_values(&[label.as_ref()])
        .observe(elapsed.as_secs_f64());
}

/// The route as a label value: `/tiles/{z}/{x}/{y}` becomes `/tiles/:z/:x/:y`. Braces are legal
/// in label values, but simple scrapers (regular expressions up to the first `}`) misread them.
fn route_label(route: &str) -> std::borrow::Cow<'_, str> {
    if !route.contains('{') {
        return route.into();
    }
    let mut out = String::with_capacity(route.len());
    for c in route.chars() {
        match c {
            '{' => out.push(':'),
            '}' => {}
            c => out.push(c),
        }
    }
    out.into()
}

/// A status code as three ASCII digits (status codes are 100–999).
fn status_str(status: u16, buf: &mut [u8; 3]) -> &str {
    let s = status.clamp(100, 999);
    buf[0] = b'0' + u8::try_from(s / 100).unwrap_or(0);
    buf[1] = b'0' + u8::try_from(s / 10 % 10).unwrap_or(0);
    buf[2] = b'0' + u8::try_from(s % 10).unwrap_or(0);
    std::str::from_utf8(buf).unwrap_or("000")
}

/// A client connection was accepted.
pub fn connection_opened() {
    METRICS.connections.inc();
    METRICS.connections_open.inc();
}

/// A client connection was closed.
pub fn connection_closed() {
    METRICS.connections_open.dec();
}

/// A connection over the cap was refused with 503.
pub fn connection_refused() {
    METRICS.connections_refused.inc();
}

/// A connection was closed by a timeout (`head`, `idle` or `stalled`).
pub fn connection_timed_out(reason: &'static str) {
    METRICS
        .connections_timed_out
        .with_label_values(&[reason])
        .inc();
}

/// A request started (+1) or finished (-1).
pub fn in_flight(delta: i64) {
    METRICS.in_flight.add(delta);
}

/// A request over the in-flight cap was answered 503.
pub fn request_shed() {
    METRICS.shed.inc();
}

/// A tile request found its tile in the cache.
pub fn tile_cache_hit() {
    METRICS.cache_hits.inc();
}

/// A tile request had to wait for a render.
pub fn tile_cache_miss() {
    METRICS.cache_misses.inc();
}

/// A tile was rendered and compressed in `elapsed`.
pub fn tile_rendered(elapsed: Duration) {
    METRICS.renders.inc();
    METRICS.render_seconds.observe(elapsed.as_secs_f64());
}

/// Progress of the background pre-render: `tiles` done so far for the current version.
pub fn prerender_progress(tiles: u64) {
    METRICS
        .prerender_tiles
        .set(i64::try_from(tiles).unwrap_or(i64::MAX));
}

/// The background pre-render of a version finished in `elapsed`.
pub fn prerender_finished(elapsed: Duration) {
    METRICS.prerender_seconds.set(elapsed.as_secs_f64());
}

/// A correction from the public was stored.
pub fn submission_accepted() {
    METRICS.submissions.with_label_values(&["accepted"]).inc();
}

/// A correction was refused: `invalid` (field errors), `rate_limited` or `spam`.
pub fn submission_refused(outcome: &'static str) {
    METRICS.submissions.with_label_values(&[outcome]).inc();
}

/// An editor's change (`kind`: `edit` or `undo`) ended with `outcome`: `published`,
/// `previewed`, `rejected`, `conflict` or `failed`.
pub fn edit_counted(kind: &'static str, outcome: &'static str) {
    METRICS.edits.with_label_values(&[kind, outcome]).inc();
}

/// An invitation mail was `sent` or `failed`.
pub fn verification_mail(outcome: &'static str) {
    METRICS
        .verification_mails
        .with_label_values(&[outcome])
        .inc();
}

/// An LA's answer through a verification link ended with `outcome`: `stored`, `invalid`,
/// `rate_limited` or `spam`.
pub fn verification_answer(outcome: &'static str) {
    METRICS
        .verification_answers
        .with_label_values(&[outcome])
        .inc();
}

/// A request log line was dropped because the writer thread fell behind.
pub fn log_line_dropped() {
    METRICS.log_dropped.inc();
}

/// What `/metrics` reports about the state at the moment of the scrape.
#[derive(Debug, Clone)]
pub struct Snapshot<'a> {
    /// Tile cache entries.
    pub cache_entries: u64,
    /// Tile cache bytes.
    pub cache_bytes: u64,
    /// Served data version.
    pub data_version: &'a str,
    /// Unix time the served version was published.
    pub data_published: u64,
    /// Per verification campaign, its invitations per status.
    pub verification: &'a [(i64, std::collections::BTreeMap<&'static str, usize>)],
}

/// The exposition in Prometheus text format, with the state gauges set from `s`.
#[must_use]
pub fn render(s: &Snapshot<'_>) -> String {
    let m = &*METRICS;
    let clamp = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    m.cache_entries.set(clamp(s.cache_entries));
    m.cache_bytes.set(clamp(s.cache_bytes));
    m.data_version.reset();
    m.data_version.with_label_values(&[s.data_version]).set(1);
    m.data_published.set(clamp(s.data_published));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    m.data_age.set(clamp(now.saturating_sub(s.data_published)));
    m.verification_invitations.reset();
    for (campaign, counts) in s.verification {
        for (status, n) in counts {
            m.verification_invitations
                .with_label_values(&[campaign.to_string().as_str(), status])
                .set(i64::try_from(*n).unwrap_or(i64::MAX));
        }
    }
    let mut out = Vec::with_capacity(16 * 1024);
    if let Err(e) = TextEncoder::new().encode(&m.registry.gather(), &mut out) {
        tracing::error!("metrics encoding failed: {e}");
    }
    String::from_utf8(out).unwrap_or_default()
}

/// Content type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_built_and_exposed_in_the_text_format() {
        submission_accepted();
        edit_counted("edit", "published");
        request_observed("/unit-test", 200, Duration::from_micros(80));
        let text = render(&Snapshot {
            cache_entries: 3,
            cache_bytes: 4096,
            data_version: "abc",
            data_published: 1,
            verification: &[(7, [("invited", 2), ("verified", 1)].into_iter().collect())],
        });
        for line in [
            "tile_cache_bytes 4096",
            "tile_cache_entries 3",
            "data_version_info{version=\"abc\"} 1",
            "# TYPE http_request_duration_seconds histogram",
            "http_request_duration_seconds_bucket{route=\"/unit-test\",le=\"0.0001\"}",
            "http_requests_total{route=\"/unit-test\",status=\"200\"}",
            "submissions_total{outcome=\"accepted\"}",
            "edits_total{kind=\"edit\",outcome=\"published\"}",
            "verification_invitations{campaign=\"7\",status=\"invited\"} 2",
            "verification_invitations{campaign=\"7\",status=\"verified\"} 1",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }

    #[test]
    fn route_patterns_become_brace_free_labels() {
        assert_eq!(route_label("/tiles/{z}/{x}/{y}"), "/tiles/:z/:x/:y");
        assert_eq!(route_label("/health"), "/health");
    }

    #[test]
    fn status_codes_become_three_digits() {
        let mut b = [0; 3];
        assert_eq!(status_str(200, &mut b), "200");
        assert_eq!(status_str(404, &mut b), "404");
        assert_eq!(status_str(503, &mut b), "503");
    }
}
