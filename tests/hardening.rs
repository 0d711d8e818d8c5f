//! Hostile clients against the real binary, over real sockets: stalled request heads are
//! closed on time while `/health` stays fast; floods of malformed requests never get a 5xx nor
//! a dropped connection, and memory stops growing; the connection cap answers 503.
//! The in-flight cap, timeouts and the shutdown drain are checked on the library's own server
//! with a router whose requests the test holds open.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use common::raw::{Conn, Outcome};
use partnership_map::http::server::{Limits, serve};
use tokio::sync::Semaphore;

fn start(extra: &[&str]) -> (common::Server, tempfile::TempDir) {
    common::start_small(extra, &[("RUST_LOG", "warn")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_stalled_request_heads_are_closed_within_15_s_while_health_stays_fast() {
    // The shipped defaults: a request head must arrive within 10 s.
    let (server, _dir) = start(&[]);
    let addr = server.addr().to_owned();
    let started = Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..1000 {
        let mut c = Conn::connect(&addr).await.expect("connect");
        c.send(b"GET /tiles/0/0/0.pbf HTTP/1.1\r\nHost: test\r\nUser-Agent: slow")
            .await
            .expect("half a head");
        stalled.push(c);
    }
    let closed: Vec<_> = stalled
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let ok = c.closed_within(Duration::from_secs(20)).await;
                (ok, started.elapsed())
            })
        })
        .collect();
    // /health, on a new connection every 100 ms, until every stalled socket is closed.
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while closed.iter().any(|h| !h.is_finished()) {
        let t = Instant::now();
        let r = common::raw::get(&addr, "/health").await;
        assert_eq!(r.status, 200);
        slowest = slowest.max(t.elapsed());
        probes += 1;
        assert!(
            started.elapsed() < Duration::from_secs(25),
            "still open after 25 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut last = Duration::ZERO;
    for h in closed {
        let (ok, at) = h.await.expect("join");
        assert!(ok, "a stalled connection was never closed");
        last = last.max(at);
    }
    eprintln!(
        "1000 stalled heads: the last closed at {last:?}; {probes} /health probes, the slowest {slowest:?}"
    );
    assert!(
        last <= Duration::from_secs(15),
        "the last stalled connection closed after {last:?}"
    );
    assert!(
        last >= Duration::from_secs(9),
        "closed before the 10 s head timeout: {last:?}"
    );
    assert!(probes >= 50, "{probes} health probes");
    assert!(
        slowest < Duration::from_millis(100),
        "/health took {slowest:?} at worst"
    );
    let m = common::scrape(&server.metrics_url()).await;
    let timed_out = common::sample(
        &m,
        "http_connections_timed_out_total",
        &[("reason", "head")],
    );
    assert!(timed_out >= Some(1000.0), "{timed_out:?}");
}

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn junk(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

const PATH_CHARS: &[u8] = b"abcxyz0123456789-._~%!$&'()*+,;=:@/?";
const HEADER_CHARS: &[u8] = b"abcXYZ0189 ;=,.\"*/-_()[]{}<>\\'!#$%&|~^`";

/// A request a server must refuse politely, that still parses as HTTP/1.1 (so it can share a
/// keep-alive connection): bad tile addresses, unknown or hostile paths, bad headers and queries.
fn bad_request(r: &mut Rng) -> String {
    let junk = |r: &mut Rng, n| {
        let len = 1 + r.below(n);
        r.junk(len, PATH_CHARS)
    };
    let path = match r.below(12) {
        0 => format!(
            "/tiles/{}/{}/{}.pbf",
            r.below(40),
            r.next() % 100_000,
            r.next() % 100_000
        ),
        1 => format!("/tiles/{}/{}/{}", junk(r, 8), junk(r, 8), junk(r, 12)),
        2 => format!("/tiles/1/0/0.{}", r.junk(3, b"pngjsmvtx")),
        3 => format!("/{}", junk(r, 60)),
        4 => format!("/api/las/{}", junk(r, 20)),
        5 => format!("/api/partnerships?la={}", junk(r, 30)),
        6 => format!(
            "/ogc/collections/{}/items?bbox={}&limit={}&offset={}",
            junk(r, 10),
            junk(r, 20),
            junk(r, 5),
            junk(r, 5)
        ),
        7 => format!("/downloads/{}", junk(r, 30)),
        8 => format!("/fonts/{}/{}.pbf", junk(r, 10), junk(r, 10)),
        9 => format!("/ogc/collections/local_authorities/items/{}", junk(r, 12)),
        10 => format!(
            "/%{}%{}/..%2f..%2f{}",
            r.junk(2, b"0fFz"),
            r.junk(2, b"0fFz"),
            junk(r, 8)
        ),
        _ => format!("/contribute?la={}&kind={}", junk(r, 10), junk(r, 10)),
    };
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    let method = ["GET", "GET", "GET", "POST", "DELETE", "PUT", "OPTIONS"][r.below(7)];
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\n");
    for _ in 0..r.below(4) {
        let name = [
            "Accept-Encoding",
            "If-None-Match",
            "X-Forwarded-For",
            "Range",
            "Origin",
            "X-Junk",
        ][r.below(6)];
        let max = if r.below(10) == 0 { 4000 } else { 40 };
        let len = 1 + r.below(max);
        req.push_str(&format!("{name}: {}\r\n", r.junk(len, HEADER_CHARS).trim()));
    }
    req.push_str("\r\n");
    req
}

/// A request that ends its connection: garbage bytes, broken syntax, bad bodies, oversized
/// heads. Each ends with a blank line so the server sees a complete (bad) head.
fn hostile_request(r: &mut Rng) -> Vec<u8> {
    let body = |r: &mut Rng, ctype: &str| {
        let len = r.below(300);
        let b = r.junk(len, HEADER_CHARS);
        format!(
            "POST /api/submissions HTTP/1.1\r\nHost: test\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        )
        .into_bytes()
    };
    match r.below(12) {
        0 => {
            let mut v: Vec<u8> = (0..1 + r.below(200)).map(|_| (r.next() & 0xff) as u8).collect();
            v.extend_from_slice(b"\r\n\r\n");
            v
        }
        1 => b"GET / HTTP/9.9\r\n\r\n".to_vec(),
        2 => format!("GET /{} HTTP/1.1\r\nHost: test\r\nNo colon here\r\n\r\n", r.below(9)).into_bytes(),
        3 => b"GET / HTTP/1.1\r\nHo\x01st: x\r\n\r\n".to_vec(),
        4 => body(r, "application/json"),
        5 => body(r, "application/x-www-form-urlencoded"),
        6 => body(r, "text/plain"),
        7 => b"POST /api/submissions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec(),
        8 => b"POST /api/submissions HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello".to_vec(),
        9 => b"POST /contribute HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 99999\r\nConnection: close\r\n\r\n".to_vec(),
        10 => {
            // More header lines than the server takes (431), small enough to be read whole:
            // a server that closes with unread bytes resets the connection, and a reset can
            // destroy the answer before the client reads it (RFC 9112 §9.6).
            let mut v = b"GET /health HTTP/1.1\r\nHost: test\r\n".to_vec();
            for i in 0..(101 + r.below(60)) {
                v.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "a".repeat(20)).as_bytes());
            }
            v.extend_from_slice(b"\r\n");
            v
        }
        _ => format!("GET /tiles/1/1/1.pbf HTTP/1.1\r\nHost: test\r\nContent-Length: -{}\r\n\r\n", r.below(9)).into_bytes(),
    }
}

#[derive(Default, Debug)]
struct Tally {
    requests: u64,
    responses: u64,
    server_errors: u64,
    dropped: u64,
    examples: Vec<String>,
}

impl Tally {
    fn record(&mut self, what: &[u8], o: Outcome) {
        self.requests += 1;
        match o {
            Outcome::Response(r) => {
                self.responses += 1;
                if r.status >= 500 {
                    self.server_errors += 1;
                    self.note(what, &format!("status {}", r.status));
                }
            }
            // HTTP/2 frames in answer to a preface: an answer, not a drop.
            Outcome::OtherBytes(_) => self.responses += 1,
            Outcome::Dropped(why) => {
                self.dropped += 1;
                self.note(what, &why);
            }
        }
    }
    fn note(&mut self, what: &[u8], why: &str) {
        if self.examples.len() < 5 {
            let shown: String = String::from_utf8_lossy(&what[..what.len().min(120)]).into_owned();
            self.examples.push(format!("{why}: {shown:?}"));
        }
    }
    fn add(&mut self, o: Tally) {
        self.requests += o.requests;
        self.responses += o.responses;
        self.server_errors += o.server_errors;
        self.dropped += o.dropped;
        self.examples.extend(o.examples);
    }
}

/// One worker: `n` requests, mostly bad-but-parsable ones 50 to a keep-alive connection, the
/// rest each on a connection of its own.
async fn flood(addr: String, seed: u64, n: usize) -> Tally {
    let mut r = Rng(seed | 1);
    let mut t = Tally::default();
    let limit = Duration::from_secs(10);
    while (t.requests as usize) < n {
        if r.below(10) < 7 {
            let mut c = match Conn::connect(&addr).await {
                Ok(c) => c,
                Err(e) => {
                    t.record(b"connect", Outcome::Dropped(e.to_string()));
                    continue;
                }
            };
            let batch = 50.min(n - t.requests as usize);
            for i in 0..batch {
                let mut req = bad_request(&mut r);
                if i + 1 == batch {
                    req = req.replacen("Host: test\r\n", "Host: test\r\nConnection: close\r\n", 1);
                }
                if c.send(req.as_bytes()).await.is_err() {
                    t.record(req.as_bytes(), Outcome::Dropped("write failed".into()));
                    break;
                }
                let o = c.response(limit).await;
                let keep_going = matches!(&o, Outcome::Response(res)
                    if !res.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")));
                t.record(req.as_bytes(), o);
                if !keep_going {
                    break;
                }
            }
        } else {
            let req = hostile_request(&mut r);
            let o = match Conn::connect(&addr).await {
                Ok(mut c) => match c.send(&req).await {
                    Ok(()) => c.response(limit).await,
                    // The server may answer (and close) before reading all of a huge head.
                    Err(_) => c.response(limit).await,
                },
                Err(e) => Outcome::Dropped(e.to_string()),
            };
            t.record(&req, o);
        }
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_of_malformed_requests_get_no_5xx_no_dropped_connection_and_memory_settles() {
    let (server, _dir) = start(&[]);
    let addr = server.addr().to_owned();
    let pid = server.child.id();
    let (rounds, per_round, workers) = (5, 20_000, 32);
    let mut rss = Vec::new();
    let mut total = Tally::default();
    for round in 0..rounds {
        let tasks: Vec<_> = (0..workers)
            .map(|w| {
                let seed =
                    0x9e37_79b9_7f4a_7c15 ^ (((round * workers + w) as u64 + 1) * 0x1000_0001);
                tokio::spawn(flood(addr.clone(), seed, per_round / workers))
            })
            .collect();
        let mut t = Tally::default();
        for task in tasks {
            t.add(task.await.expect("join"));
        }
        assert_eq!(t.requests, per_round as u64);
        // jemalloc hands freed pages back about a second after they are freed.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        rss.push(common::rss_bytes(pid));
        eprintln!(
            "round {}: {} requests, {} responses, {} 5xx, {} dropped, RSS {:.1} MB",
            round + 1,
            t.requests,
            t.responses,
            t.server_errors,
            t.dropped,
            rss[round] as f64 / 1e6
        );
        total.add(t);
    }
    assert_eq!(total.server_errors, 0, "5xx answers: {:?}", total.examples);
    assert_eq!(
        total.dropped, 0,
        "dropped connections: {:?}",
        total.examples
    );
    assert_eq!(total.responses, total.requests);
    // The server is still well.
    assert_eq!(common::raw::get(&addr, "/health").await.status, 200);
    let growth = rss[rounds - 1] as i64 - rss[1] as i64;
    assert!(
        growth < 5 * 1024 * 1024,
        "RSS grew by {growth} bytes over the last 3 rounds: {rss:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_connection_cap_a_client_gets_503_with_retry_after() {
    let (server, _dir) = start(&["--max-connections", "4"]);
    let addr = server.addr().to_owned();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = Conn::connect(&addr).await.expect("connect");
        c.send(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("send");
        assert!(
            matches!(c.response(Duration::from_secs(5)).await, Outcome::Response(r) if r.status == 200)
        );
        held.push(c);
    }
    let refused = common::raw::get(&addr, "/health").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    // A slot frees when a connection closes.
    held.pop();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let r = common::raw::get(&addr, "/health").await;
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // `/metrics` is on the same listener by default: free the held slots first, so the scrape
    // is not itself refused while the last probe's connection is still closing.
    drop(held);
    let m = common::scrape(&server.metrics_url()).await;
    assert!(common::sample(&m, "http_connections_refused_total", &[]) >= Some(1.0));
}

/// The `/hold` route's two gates: requests report their arrival, then wait for a permit.
#[derive(Clone)]
struct Held {
    /// One permit per `/hold` request that reached its handler.
    arrived: Arc<Semaphore>,
    /// Permits the test adds to let held requests finish.
    gate: Arc<Semaphore>,
}

impl Default for Held {
    fn default() -> Self {
        Self {
            arrived: Arc::new(Semaphore::new(0)),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Held {
    /// Wait until `n` `/hold` requests are inside the handler (so they are in flight).
    async fn arrivals(&self, n: u32) {
        tokio::time::timeout(Duration::from_secs(30), self.arrived.acquire_many(n))
            .await
            .expect("held requests never reached the handler")
            .expect("open")
            .forget();
    }

    fn release(&self, n: usize) {
        self.gate.add_permits(n);
    }
}

/// A router whose `/hold` requests wait until the test adds a permit.
fn held_router(held: Held) -> Router {
    Router::new()
        .route(
            "/hold",
            get(move || {
                let held = held.clone();
                async move {
                    held.arrived.add_permits(1);
                    let _ = held
                        .gate
                        .acquire()
                        .await
                        .map(tokio::sync::SemaphorePermit::forget);
                    "released"
                }
            }),
        )
        .route("/fast", get(|| async { "fast" }))
}

async fn local_server(
    limits: Limits,
    held: Held,
) -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(serve(listener, held_router(held), limits, async move {
        let _ = stop_rx.await;
    }));
    (addr, stop_tx, handle)
}

async fn send_get(addr: &str, path: &str) -> Conn {
    let mut c = Conn::connect(addr).await.expect("connect");
    c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes())
        .await
        .expect("send");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_in_flight_cap_requests_get_503_and_room_returns_when_they_finish() {
    let held = Held::default();
    let limits = Limits {
        max_in_flight: 2,
        ..Limits::default()
    };
    let (addr, _stop, _h) = local_server(limits, held.clone()).await;
    let mut a = send_get(&addr, "/hold").await;
    let mut b = send_get(&addr, "/hold").await;
    // Both are in their handler, so in flight: a third request is over the cap.
    held.arrivals(2).await;
    let refused = common::raw::get(&addr, "/fast").await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("retry-after"), Some("1"));
    held.release(2);
    for c in [&mut a, &mut b] {
        assert!(
            matches!(c.response(Duration::from_secs(5)).await, Outcome::Response(r) if r.status == 200)
        );
    }
    assert_eq!(common::raw::get(&addr, "/fast").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_lasts_its_own_timeout_and_a_new_head_gets_the_head_timeout() {
    let limits = Limits {
        head_timeout: Duration::from_millis(600),
        idle_timeout: Duration::from_millis(2000),
        ..Limits::default()
    };
    let (addr, _stop, _h) = local_server(limits, Held::default()).await;
    // Idle after a response: open past the head timeout, closed after the idle timeout.
    let mut c = send_get(&addr, "/fast").await;
    assert!(
        matches!(c.response(Duration::from_secs(5)).await, Outcome::Response(r) if r.status == 200)
    );
    let idle_from = Instant::now();
    assert!(c.closed_within(Duration::from_secs(5)).await);
    let idle = idle_from.elapsed();
    assert!(
        idle >= Duration::from_millis(1900) && idle < Duration::from_millis(3500),
        "{idle:?}"
    );
    // A second request started late but left unfinished: closed a head timeout after its first byte.
    let mut c = send_get(&addr, "/fast").await;
    assert!(matches!(
        c.response(Duration::from_secs(5)).await,
        Outcome::Response(_)
    ));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    c.send(b"GET /fast HTTP/1.1\r\nHo").await.expect("send");
    let first_byte = Instant::now();
    assert!(c.closed_within(Duration::from_secs(5)).await);
    let waited = first_byte.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_millis(1500),
        "{waited:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_open_requests_finish_and_gives_up_at_the_deadline() {
    // Finishes within the deadline: answered in full, then the server returns.
    let held = Held::default();
    let limits = Limits {
        drain_timeout: Duration::from_secs(5),
        ..Limits::default()
    };
    let (addr, stop, handle) = local_server(limits, held.clone()).await;
    let mut held_conn = send_get(&addr, "/hold").await;
    let mut idle = send_get(&addr, "/fast").await;
    assert!(matches!(
        idle.response(Duration::from_secs(5)).await,
        Outcome::Response(_)
    ));
    // The held request is in its handler before the shutdown starts.
    held.arrivals(1).await;
    stop.send(()).expect("stop");
    // Idle keep-alive connections are closed at once; no new connections are taken.
    assert!(idle.closed_within(Duration::from_secs(2)).await);
    let deadline = Instant::now() + Duration::from_secs(2);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(Instant::now() < deadline, "still accepting after shutdown");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!handle.is_finished(), "returned with a request still open");
    held.release(1);
    match held_conn.response(Duration::from_secs(5)).await {
        Outcome::Response(r) => {
            assert_eq!(r.status, 200);
            assert_eq!(r.body, b"released");
        }
        other => panic!("{other:?}"),
    }
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("drained")
        .expect("join");

    // Never finishes: the server gives up at the deadline.
    let limits = Limits {
        drain_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let held = Held::default();
    let (addr, stop, handle) = local_server(limits, held.clone()).await;
    let _stuck = send_get(&addr, "/hold").await;
    held.arrivals(1).await;
    let t = Instant::now();
    stop.send(()).expect("stop");
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("gave up")
        .expect("join");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
}
