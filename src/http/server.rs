//! The accept loop: hyper (HTTP/1.1, and HTTP/2 with prior knowledge) around the router, with
//! the limits and timeouts a server facing hostile clients needs.
//!
//! - **Request head timeout**: a connection must deliver a complete request head within
//!   [`Limits::head_timeout`] of opening, or of the first byte of its next request.
//! - **Keep-alive idle timeout**: a connection with no request open closes after
//!   [`Limits::idle_timeout`]; so does one with a request open but no bytes moving either way
//!   for that long (a client that stopped reading).
//! - **Connection cap**: at most [`Limits::max_connections`]; one more is answered
//!   `503` with `Retry-After` and closed (and past a small overflow budget, closed at once).
//! - **In-flight cap**: at most [`Limits::max_in_flight`] requests handled or being sent at once;
//!   more are answered `503` with `Retry-After`.
//! - **Drain**: when `shutdown` resolves, the listener closes, idle connections close, open
//!   requests finish, and after [`Limits::drain_timeout`] whatever is left is dropped.
//!
//! hyper's own `header_read_timeout` is not used: hyper restarts it whenever a keep-alive
//! connection goes idle, so it would close idle connections after the head timeout. This loop
//! tracks each connection's phase itself (see [`ConnState`]) and a per-connection watchdog
//! closes it at the phase's deadline. Every finished request is handed to `crate::logging`
//! (request log and metrics). Status codes come from `crate::error` only.
//!
//! A [`Shortcut`] may answer a request before the router (the tile cache does, for tiles it
//! holds): same limits, timeouts, request log and metrics, without the router's layers.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderMap, Method, Request, Response, Uri};
use axum::response::IntoResponse;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tower::ServiceExt;

use crate::config::ServeArgs;
use crate::error::AppError;
use crate::logging::{self, RequestRecord, Route};
use crate::metrics;

/// Limits and timeouts of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time allowed for a request head, from the connection opening or from the first byte of a
    /// request on a kept-alive connection.
    pub head_timeout: Duration,
    /// Time a keep-alive connection may stay idle (and a request may go without any progress).
    pub idle_timeout: Duration,
    /// Open connections allowed.
    pub max_connections: usize,
    /// Requests handled or being sent at once.
    pub max_in_flight: usize,
    /// How long a shutdown waits for open requests.
    pub drain_timeout: Duration,
}

impl Limits {
    /// The limits and timeouts `args` (`--request-head-timeout`, `--max-connections`, …) set.
    #[must_use]
    pub fn from_args(args: &ServeArgs) -> Self {
        Self {
            head_timeout: args.request_head_timeout,
            idle_timeout: args.keep_alive_timeout,
            max_connections: args.max_connections as usize,
            max_in_flight: args.max_in_flight as usize,
            drain_timeout: args.shutdown_timeout,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_in_flight: 512,
            drain_timeout: Duration::from_secs(20),
        }
    }
}

/// Connections over the cap that are still answered 503 (the rest are closed at once).
const OVERFLOW_ANSWERED: usize = 64;
/// What a refused client is asked to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Milliseconds since the first call (a monotonic clock shared by every connection).
fn now_ms() -> u64 {
    u64::try_from(EPOCH.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Waiting for (or reading) a request head.
const HEAD: u8 = 0;
/// A request is open (being handled, or its response being sent).
const BUSY: u8 = 1;
/// Kept alive, no request open, no byte of a new one received.
const IDLE: u8 = 2;

/// What one connection is doing, updated by its I/O and its requests, read by its watchdog.
/// All updates happen on the connection's own task; atomics only make it shareable.
#[derive(Debug)]
pub struct ConnState {
    phase: AtomicU8,
    /// When the phase began (ms, [`now_ms`]).
    since: AtomicU64,
    /// Last time bytes moved either way.
    last_io: AtomicU64,
    /// Requests open (more than one only with HTTP/2).
    open: AtomicU32,
    /// Bytes arrived while a request was open.
    read_while_busy: AtomicBool,
    /// The last request had a body (so bytes read while it was open may be that body).
    had_body: AtomicBool,
    first_read: AtomicBool,
    http2: AtomicBool,
}

impl ConnState {
    fn new() -> Self {
        let now = now_ms();
        Self {
            phase: AtomicU8::new(HEAD),
            since: AtomicU64::new(now),
            last_io: AtomicU64::new(now),
            open: AtomicU32::new(0),
            read_while_busy: AtomicBool::new(false),
            had_body: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
            http2: AtomicBool::new(false),
        }
    }

    fn on_read(&self, bytes: &[u8]) {
        let now = now_ms();
        self.last_io.store(now, Ordering::Relaxed);
        if self.first_read.swap(false, Ordering::Relaxed) && bytes.starts_with(b"PRI * HTTP/2.0") {
            self.http2.store(true, Ordering::Relaxed);
        }
        match self.phase.load(Ordering::Relaxed) {
            IDLE => {
                // The first byte of the next request: its head is now on the clock.
                self.since.store(now, Ordering::Relaxed);
                self.phase.store(HEAD, Ordering::Relaxed);
            }
            BUSY => self.read_while_busy.store(true, Ordering::Relaxed),
            _ => {}
        }
    }

    fn on_write(&self) {
        self.last_io.store(now_ms(), Ordering::Relaxed);
    }

    fn request_started(&self, has_body: bool) {
        if self.open.fetch_add(1, Ordering::Relaxed) == 0 {
            self.read_while_busy.store(false, Ordering::Relaxed);
        }
        self.had_body.store(has_body, Ordering::Relaxed);
        self.phase.store(BUSY, Ordering::Relaxed);
    }

    fn request_finished(&self) {
        if self.open.fetch_sub(1, Ordering::Relaxed) != 1 {
            return;
        }
        let now = now_ms();
        // HTTP/1.1 without a request body: anything read meanwhile is the next request's head
        // (pipelined or sent early), so its clock is already running.
        let next_head_started = !self.http2.load(Ordering::Relaxed)
            && !self.had_body.load(Ordering::Relaxed)
            && self.read_while_busy.load(Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
        self.phase.store(
            if next_head_started { HEAD } else { IDLE },
            Ordering::Relaxed,
        );
    }

    /// The current deadline (ms) and what it is for.
    fn deadline(&self, limits: &Limits) -> (u64, &'static str) {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        match self.phase.load(Ordering::Relaxed) {
            HEAD => (
                self.since
                    .load(Ordering::Relaxed)
                    .saturating_add(ms(limits.head_timeout)),
                "head",
            ),
            IDLE => (
                self.since
                    .load(Ordering::Relaxed)
                    .saturating_add(ms(limits.idle_timeout)),
                "idle",
            ),
            _ => (
                self.last_io
                    .load(Ordering::Relaxed)
                    .saturating_add(ms(limits.idle_timeout)),
                "stalled",
            ),
        }
    }
}

/// Resolves (with the reason) when the connection has passed its deadline.
async fn watchdog(state: Arc<ConnState>, limits: Arc<Limits>) -> &'static str {
    loop {
        let (deadline, reason) = state.deadline(&limits);
        let now = now_ms();
        if now >= deadline {
            return reason;
        }
        // Activity moves the deadline; it is checked again when this one is reached.
        tokio::time::sleep(Duration::from_millis(deadline - now)).await;
    }
}

/// The TCP stream, reporting reads and writes to the connection's [`ConnState`].
struct TrackedIo {
    inner: TcpStream,
    state: Arc<ConnState>,
}

impl AsyncRead for TrackedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.state.on_read(&buf.filled()[before..]);
        }
        r
    }
}

impl AsyncWrite for TrackedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.state.on_write();
        }
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            this.state.on_write();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Answers some requests ahead of the router, from what it already holds.
pub trait Shortcut: Send + Sync + 'static {
    /// The response to this request and the route pattern it stands for, or `None` to let the
    /// router answer it. Must answer exactly as the router would, and must not block.
    fn answer(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
    ) -> Option<(Response<Body>, &'static str)>;
}

/// Shared by every connection of one listener.
struct Shared {
    router: Router,
    shortcut: Option<Arc<dyn Shortcut>>,
    limits: Arc<Limits>,
    in_flight: AtomicUsize,
}

/// One request's bookkeeping: released when its response body is done (or dropped).
struct Finish {
    conn: Arc<ConnState>,
    shared: Arc<Shared>,
    started: Instant,
    method: Method,
    uri: Uri,
    route: Option<Route>,
    /// `None` until the router answered; a request dropped before that is logged as 499.
    status: Option<u16>,
}

impl Drop for Finish {
    fn drop(&mut self) {
        self.conn.request_finished();
        self.shared.in_flight.fetch_sub(1, Ordering::Relaxed);
        metrics::in_flight(-1);
        logging::request(RequestRecord {
            at: SystemTime::now(),
            method: std::mem::take(&mut self.method),
            uri: std::mem::take(&mut self.uri),
            route: self.route.take(),
            status: self.status.unwrap_or(499),
            elapsed: self.started.elapsed(),
        });
    }
}

/// The response body, releasing the request's [`Finish`] when it is dropped (hyper drops it
/// once the last byte is written, or when the client goes away).
pub struct TrackedBody {
    inner: Body,
    _finish: Finish,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// `res` with its body tied to the request's [`Finish`].
fn tracked(res: Response<Body>, finish: Finish) -> Response<TrackedBody> {
    let (parts, inner) = res.into_parts();
    Response::from_parts(
        parts,
        TrackedBody {
            inner,
            _finish: finish,
        },
    )
}

/// The hyper service of one connection.
#[derive(Clone)]
struct ConnService {
    shared: Arc<Shared>,
    conn: Arc<ConnState>,
    peer: SocketAddr,
}

type ServiceFuture =
    Pin<Box<dyn Future<Output = Result<Response<TrackedBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ServiceFuture;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        self.conn.request_started(!req.body().is_end_stream());
        let over = self.shared.in_flight.fetch_add(1, Ordering::Relaxed)
            >= self.shared.limits.max_in_flight;
        metrics::in_flight(1);
        let mut finish = Finish {
            conn: Arc::clone(&self.conn),
            shared: Arc::clone(&self.shared),
            started: Instant::now(),
            method: req.method().clone(),
            uri: req.uri().clone(),
            route: None,
            status: None,
        };
        if over {
            metrics::request_shed();
            let res = AppError::Overloaded {
                retry_after: RETRY_AFTER_SECS,
            }
            .into_response();
            finish.status = Some(res.status().as_u16());
            return Box::pin(std::future::ready(Ok(tracked(res, finish))));
        }
        if let Some(shortcut) = &self.shared.shortcut
            && let Some((res, route)) = shortcut.answer(req.method(), req.uri(), req.headers())
        {
            finish.status = Some(res.status().as_u16());
            finish.route = Some(Route::Static(route));
            return Box::pin(std::future::ready(Ok(tracked(res, finish))));
        }
        req.extensions_mut().insert(ConnectInfo(self.peer));
        let router = self.shared.router.clone();
        Box::pin(async move {
            let res = match router.oneshot(req.map(Body::new)).await {
                Ok(res) => res,
                Err(never) => match never {},
            };
            finish.status = Some(res.status().as_u16());
            finish.route = res
                .extensions()
                .get::<MatchedPath>()
                .cloned()
                .map(Route::Matched);
            Ok(tracked(res, finish))
        })
    }
}

fn builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(128)
        .max_header_list_size(64 * 1024);
    b
}

/// Serve `router` on `listener` until `shutdown` resolves, then drain.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    serve_with(listener, router, None, limits, shutdown).await;
}

/// [`serve`], with a [`Shortcut`] asked first for every request.
pub async fn serve_with(
    listener: TcpListener,
    router: Router,
    shortcut: Option<Arc<dyn Shortcut>>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let limits = Arc::new(limits);
    let shared = Arc::new(Shared {
        router,
        shortcut,
        limits: Arc::clone(&limits),
        in_flight: AtomicUsize::new(0),
    });
    let builder = Arc::new(builder());
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW_ANSWERED));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; the drain waits until all are gone.
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            metrics::connection_refused();
            if let Ok(p) = Arc::clone(&overflow).try_acquire_owned() {
                tokio::spawn(async move {
                    refuse(stream).await;
                    drop(p);
                });
            }
            continue;
        };
        metrics::connection_opened();
        let (shared, builder, limits) = (
            Arc::clone(&shared),
            Arc::clone(&builder),
            Arc::clone(&limits),
        );
        let (mut stop, open) = (stop_rx.clone(), open_rx.clone());
        tokio::spawn(async move {
            let conn_state = Arc::new(ConnState::new());
            let io = TokioIo::new(TrackedIo {
                inner: stream,
                state: Arc::clone(&conn_state),
            });
            let service = ConnService {
                shared,
                conn: Arc::clone(&conn_state),
                peer,
            };
            let conn = builder.serve_connection(io, service);
            let timeout = watchdog(conn_state, limits);
            tokio::pin!(conn, timeout);
            let mut draining = *stop.borrow();
            if draining {
                conn.as_mut().graceful_shutdown();
            }
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    reason = &mut timeout => {
                        // Dropping the connection closes the socket.
                        metrics::connection_timed_out(reason);
                        break;
                    }
                    _ = stop.changed(), if !draining => {
                        draining = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
            metrics::connection_closed();
            drop((permit, open));
        });
    }
    drop(listener);
    drop(open_rx);
    let _ = stop_tx.send(true);
    let open = permits.available_permits();
    tracing::info!(
        connections = limits.max_connections.saturating_sub(open),
        "draining: no new connections; open requests may finish"
    );
    if tokio::time::timeout(limits.drain_timeout, open_tx.closed())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = limits
                .max_connections
                .saturating_sub(permits.available_permits()),
            "drain timeout reached; closing the remaining connections"
        );
    }
}

/// Answer a connection over the cap with 503 and `Retry-After`, then close it.
async fn refuse(stream: TcpStream) {
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(2))
        .keep_alive(false);
    let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
        Ok::<_, Infallible>(
            AppError::Overloaded {
                retry_after: RETRY_AFTER_SECS,
            }
            .into_response(),
        )
    });
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        b.serve_connection(TokioIo::new(stream), service),
    )
    .await;
}

/// Errors that concern one connection only (the listener is fine).
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..Limits::default()
        }
    }

    #[test]
    fn a_head_is_timed_from_its_first_byte_and_idleness_from_the_last_response() {
        let s = ConnState::new();
        let (d, why) = s.deadline(&limits());
        assert_eq!(why, "head");
        assert!(d >= now_ms() + 9_000);
        s.on_read(b"GET / HTTP/1.1\r\n\r\n");
        s.request_started(false);
        assert_eq!(s.deadline(&limits()).1, "stalled");
        s.request_finished();
        let (d, why) = s.deadline(&limits());
        assert_eq!(why, "idle");
        assert!(d >= now_ms() + 59_000);
        s.on_read(b"GE");
        assert_eq!(s.deadline(&limits()).1, "head");
    }

    #[test]
    fn bytes_read_during_a_bodyless_request_start_the_next_head_clock() {
        let s = ConnState::new();
        s.on_read(b"GET / HTTP/1.1\r\n\r\nGET /x HT");
        s.request_started(false);
        s.on_read(b"TP/1.1\r\n");
        s.request_finished();
        assert_eq!(s.deadline(&limits()).1, "head");
        // A request with a body: what arrived meanwhile may be that body, so it idles.
        s.request_started(true);
        s.on_read(b"{\"a\":1}");
        s.request_finished();
        assert_eq!(s.deadline(&limits()).1, "idle");
    }
}
