//! Logging: the `tracing` subscriber (human-readable text, or JSON lines for log shippers) and
//! the request log, both written to stderr by one writer thread.
//!
//! A `tracing` event is formatted where it happens and handed to the writer as a line. A request
//! is handed over as a small record, so the request path does no formatting and no write: the
//! writer thread formats it, writes lines in batches, and records the request metrics
//! (`crate::metrics::request_observed`). If the writer falls behind by more than
//! [`MAX_QUEUED`] records, request lines are dropped (and counted); other log lines and the
//! metrics never are. Request lines never carry personal data: no client address, no query.

use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::{Duration, SystemTime};

use axum::http::{Method, Uri};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line, as `tracing-subscriber`'s JSON formatter writes them.
    Json,
}

/// Request records waiting for the writer beyond which request lines are dropped.
pub const MAX_QUEUED: usize = 100_000;

/// Target of request lines (`RUST_LOG=partnership_map::request=off` turns them off).
pub const REQUEST_TARGET: &str = "partnership_map::request";

/// One answered request, as the server hands it to the log.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// When the response finished.
    pub at: SystemTime,
    /// Method.
    pub method: Method,
    /// Request target (only the path is logged).
    pub uri: Uri,
    /// Matched route pattern, e.g. `/tiles/{z}/{x}/{y}`.
    pub route: Option<Route>,
    /// Status sent (499 when the client went away first).
    pub status: u16,
    /// From the request's arrival to the end of the response body.
    pub elapsed: Duration,
}

/// The route pattern a request matched: found by the router, or known in advance by a shortcut
/// that answers ahead of it (the cached-tile path).
#[derive(Debug, Clone)]
pub enum Route {
    /// What the router matched.
    Matched(axum::extract::MatchedPath),
    /// A pattern known without the router.
    Static(&'static str),
}

impl Route {
    /// The pattern, e.g. `/tiles/{z}/{x}/{y}`.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Matched(m) => m.as_str(),
            Self::Static(s) => s,
        }
    }
}

enum Msg {
    Line(Vec<u8>),
    Request(RequestRecord),
    Flush(Sender<()>),
}

struct Writer {
    tx: Sender<Msg>,
    queued: AtomicUsize,
    request_lines: bool,
}

static WRITER: OnceLock<Writer> = OnceLock::new();

/// Flushes the writer when dropped (at exit), so the last lines are not lost.
#[must_use = "dropping the guard flushes the log; keep it until the process ends"]
pub struct LogGuard(());

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush();
    }
}

/// Write everything queued so far (waits up to 2 s).
pub fn flush() {
    let Some(w) = WRITER.get() else { return };
    let (ack_tx, ack_rx) = mpsc::channel();
    if w.tx.send(Msg::Flush(ack_tx)).is_ok() {
        let _ = ack_rx.recv_timeout(Duration::from_secs(2));
    }
}

/// Install the subscriber (level from `RUST_LOG`, default `info`) and start the writer thread.
/// Call once, first thing in `main`.
pub fn init(format: LogFormat) -> LogGuard {
    let (tx, rx) = mpsc::channel();
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let make = LineWriter;
    let installed = match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(make)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter())
            .with_writer(make)
            .try_init(),
    };
    let request_lines =
        installed.is_ok() && tracing::enabled!(target: REQUEST_TARGET, tracing::Level::INFO);
    let writer = Writer {
        tx,
        queued: AtomicUsize::new(0),
        request_lines,
    };
    if WRITER.set(writer).is_ok() {
        let spawned = std::thread::Builder::new()
            .name("log-writer".to_owned())
            .spawn(move || write_loop(&rx, format, request_lines));
        if let Err(e) = spawned {
            eprintln!("partnership-map: cannot start the log writer: {e}");
        }
    }
    LogGuard(())
}

/// Hand a finished request to the log and the metrics. Without [`init`] (as in in-process
/// tests) only the metrics are recorded.
pub fn request(record: RequestRecord) {
    let Some(w) = WRITER.get() else {
        observe(&record);
        return;
    };
    let record = if w.queued.fetch_add(1, Ordering::Relaxed) < MAX_QUEUED {
        match w.tx.send(Msg::Request(record)) {
            Ok(()) => return,
            Err(mpsc::SendError(Msg::Request(r))) => r,
            Err(_) => return,
        }
    } else {
        if w.request_lines {
            crate::metrics::log_line_dropped();
        }
        record
    };
    w.queued.fetch_sub(1, Ordering::Relaxed);
    observe(&record);
}

fn observe(r: &RequestRecord) {
    crate::metrics::request_observed(
        r.route.as_ref().map_or("(unmatched)", Route::as_str),
        r.status,
        r.elapsed,
    );
}

/// How long the writer waits between batches.
const BATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(20);

fn write_loop(rx: &Receiver<Msg>, format: LogFormat, request_lines: bool) {
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut clock = SecondCache::default();
    let handle = |msg: Msg, out: &mut Vec<u8>, clock: &mut SecondCache| match msg {
        Msg::Line(line) => out.extend_from_slice(&line),
        Msg::Request(r) => {
            if let Some(w) = WRITER.get() {
                w.queued.fetch_sub(1, Ordering::Relaxed);
            }
            observe(&r);
            if request_lines {
                match format {
                    LogFormat::Text => text_line(out, &r, clock),
                    LogFormat::Json => json_line(out, &r, clock),
                }
            }
        }
        Msg::Flush(ack) => {
            write_out(out);
            let _ = ack.send(());
        }
    };
    while let Ok(msg) = rx.recv() {
        handle(msg, &mut out, &mut clock);
        while let Ok(msg) = rx.try_recv() {
            handle(msg, &mut out, &mut clock);
            if out.len() > 60 * 1024 {
                write_out(&mut out);
            }
        }
        write_out(&mut out);
        // Let a batch gather: while this thread sleeps it is not parked on the channel, so a
        // request hands its record over without waking anyone (a wake-up per request cost
        // more CPU than the line itself). Lines reach stderr at most this late.
        std::thread::sleep(BATCH_EVERY);
    }
}

fn write_out(out: &mut Vec<u8>) {
    if !out.is_empty() {
        let _ = std::io::stderr().lock().write_all(out);
        out.clear();
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of the current second, formatted once per second.
#[derive(Default)]
struct SecondCache {
    second: u64,
    text: String,
}

impl SecondCache {
    /// RFC 3339 in UTC with microseconds, as `tracing-subscriber` prints it.
    fn write(&mut self, out: &mut Vec<u8>, at: SystemTime) {
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        if since.as_secs() != self.second || self.text.is_empty() {
            self.second = since.as_secs();
            self.text = chrono::DateTime::<chrono::Utc>::from(at)
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
        }
        out.extend_from_slice(self.text.as_bytes());
        let _ = write!(out, ".{:06}Z", since.subsec_micros());
    }
}

/// The path, cut at 200 bytes (at a character boundary). A verification link's secret is
/// never written: every path under `/verify/` is logged as `/verify/{token}`.
fn short_path(uri: &Uri) -> &str {
    let p = uri.path();
    if p.starts_with("/verify/") {
        return "/verify/{token}";
    }
    if p.len() <= 200 {
        return p;
    }
    let mut end = 200;
    while !p.is_char_boundary(end) {
        end -= 1;
    }
    &p[..end]
}

fn route(r: &RequestRecord) -> &str {
    r.route.as_ref().map_or("(unmatched)", Route::as_str)
}

fn latency_us(r: &RequestRecord) -> u64 {
    u64::try_from(r.elapsed.as_micros()).unwrap_or(u64::MAX)
}

/// `2026-01-01T00:00:00.000000Z  INFO partnership_map::request: request method=GET route="…" …`
/// (strings quoted and escaped, as `tracing`'s text format prints them).
fn text_line(out: &mut Vec<u8>, r: &RequestRecord, clock: &mut SecondCache) {
    clock.write(out, r.at);
    let _ = writeln!(
        out,
        "  INFO {REQUEST_TARGET}: request method={} route={:?} path={:?} status={} latency_us={}",
        r.method,
        route(r),
        short_path(&r.uri),
        r.status,
        latency_us(r)
    );
}

/// The same fields as one JSON object, shaped like `tracing-subscriber`'s JSON lines.
fn json_line(out: &mut Vec<u8>, r: &RequestRecord, clock: &mut SecondCache) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    clock.write(out, r.at);
    out.extend_from_slice(b"\",\"level\":\"INFO\",\"fields\":{\"message\":\"request\",\"method\":");
    let _ = serde_json::to_writer(&mut *out, r.method.as_str());
    out.extend_from_slice(b",\"route\":");
    let _ = serde_json::to_writer(&mut *out, route(r));
    out.extend_from_slice(b",\"path\":");
    let _ = serde_json::to_writer(&mut *out, short_path(&r.uri));
    let _ = writeln!(
        out,
        ",\"status\":{},\"latency_us\":{}}},\"target\":\"{REQUEST_TARGET}\"}}",
        r.status,
        latency_us(r)
    );
}

/// `tracing`'s writer: collects one event's bytes and hands them to the writer thread whole.
struct LineWriter;

/// One event's bytes.
pub struct EventBuf(Vec<u8>);

impl Write for EventBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventBuf {
    fn drop(&mut self) {
        let line = std::mem::take(&mut self.0);
        if line.is_empty() {
            return;
        }
        let unsent = match WRITER.get() {
            Some(w) => match w.tx.send(Msg::Line(line)) {
                Ok(()) => return,
                Err(mpsc::SendError(Msg::Line(l))) => l,
                Err(_) => return,
            },
            None => line,
        };
        let _ = std::io::stderr().lock().write_all(&unsent);
    }
}

impl<'a> MakeWriter<'a> for LineWriter {
    type Writer = EventBuf;
    fn make_writer(&'a self) -> Self::Writer {
        EventBuf(Vec::with_capacity(256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RequestRecord {
        RequestRecord {
            at: SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456),
            method: Method::GET,
            uri: Uri::from_static("/tiles/1/0/0.pbf?x=1"),
            route: None,
            status: 200,
            elapsed: Duration::from_micros(42),
        }
    }

    #[test]
    fn request_lines_read_like_tracing_text_and_json() {
        let mut clock = SecondCache::default();
        let mut out = Vec::new();
        text_line(&mut out, &record(), &mut clock);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "2023-11-14T22:13:20.123456Z  INFO partnership_map::request: request method=GET route=\"(unmatched)\" path=\"/tiles/1/0/0.pbf\" status=200 latency_us=42\n"
        );
        let mut out = Vec::new();
        json_line(&mut out, &record(), &mut clock);
        let v: serde_json::Value = serde_json::from_slice(&out).expect("one JSON object");
        assert_eq!(v["timestamp"], "2023-11-14T22:13:20.123456Z");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], REQUEST_TARGET);
        assert_eq!(v["fields"]["message"], "request");
        assert_eq!(v["fields"]["path"], "/tiles/1/0/0.pbf");
        assert_eq!(v["fields"]["status"], 200);
        assert_eq!(v["fields"]["latency_us"], 42);
        assert!(out.ends_with(b"}\n"));
    }

    #[test]
    fn verification_links_are_logged_without_their_token() {
        let mut clock = SecondCache::default();
        let mut r = record();
        r.uri = Uri::from_static("/verify/abcDEF123_-abcDEF123_-abcDEF123_-abcDEF12?x=1");
        let mut out = Vec::new();
        text_line(&mut out, &r, &mut clock);
        json_line(&mut out, &r, &mut clock);
        let text = String::from_utf8(out).expect("utf8");
        assert!(!text.contains("abcDEF"), "{text}");
        assert_eq!(text.matches("/verify/{token}").count(), 2, "{text}");
    }
}
