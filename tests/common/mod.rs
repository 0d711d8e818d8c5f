//! Shared test helpers: the real shipped dataset, an app router, request helpers, MVT decoding.
#![allow(dead_code)]

pub mod mvt;
pub mod pg;
pub mod raw;
pub mod replica;
pub mod steward;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use partnership_map::cache::TileCache;
use partnership_map::dataset::{Dataset, Inputs};
use partnership_map::http::{AppState, HttpConfig, router};
use tower::ServiceExt;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shipped inputs, with paths shown relative to the repo (as `check` prints them).
pub fn shipped_inputs() -> Inputs {
    let root = repo();
    std::env::set_current_dir(&root).expect("cd repo");
    Inputs::read(Path::new("boundaries"), Path::new("data")).expect("shipped data readable")
}

static DATASET: OnceLock<Arc<Dataset>> = OnceLock::new();

/// The shipped dataset, loaded once per test binary.
pub fn dataset() -> Arc<Dataset> {
    DATASET
        .get_or_init(|| {
            Arc::new(Dataset::from_inputs(&shipped_inputs(), 12).expect("shipped data is valid"))
        })
        .clone()
}

/// The first LA the shipped reorganisation table abolishes (read through the dataset, so that
/// tests follow the table instead of naming a council).
pub fn first_abolished(ds: &Dataset) -> &partnership_map::model::LocalAuthority {
    ds.all_las
        .iter()
        .find(|l| !l.replaced_by.is_empty())
        .expect("the shipped table abolishes an LA")
}

pub fn state_with(ds: Dataset, cache_bytes: u64) -> AppState {
    AppState::new(
        ds,
        TileCache::new(cache_bytes),
        HttpConfig::default(),
        memory_store(),
    )
    .expect("state")
}

pub fn memory_store() -> Arc<dyn partnership_map::store::Store> {
    Arc::new(partnership_map::store::SqliteStore::open_in_memory().expect("sqlite"))
}

/// A fresh app over a fresh load of the shipped data.
pub fn app() -> axum::Router {
    router(state_with(
        Dataset::from_inputs(&shipped_inputs(), 12).expect("valid"),
        64 << 20,
    ))
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub async fn get(app: &axum::Router, uri: &str, headers: &[(&str, &str)]) -> Resp {
    let mut req = Request::builder().uri(uri);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", "127.0.0.1:8080");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Resp {
        status,
        headers,
        body,
    }
}

/// Uncompressed MVT bytes of a tile, straight from the pipeline.
pub fn render(ds: &Dataset, z: u8, x: u32, y: u32) -> Option<Vec<u8>> {
    let coord = partnership_map::tile::TileCoord::new(u64::from(z), u64::from(x), u64::from(y), 12)
        .expect("valid tile");
    partnership_map::pipeline::render_tile(ds, coord).expect("render")
}

/// Every tile at zoom `z` that intersects England's bounds.
pub fn england_tiles(ds: &Dataset, z: u8) -> Vec<(u8, u32, u32)> {
    use partnership_map::tile::{TileCoord, lonlat_to_merc};
    let [w, s, e, n] = ds.geometry.bounds;
    let a = TileCoord::containing(lonlat_to_merc(w, n), z);
    let b = TileCoord::containing(lonlat_to_merc(e, s), z);
    let mut out = Vec::new();
    for x in a.x..=b.x {
        for y in a.y..=b.y {
            out.push((z, x, y));
        }
    }
    out
}

/// The release server at `--max-zoom 8` on the store named by `store` (`["--db", path]` or
/// `["--database-url", url]`), plus `extra` arguments.
pub fn start_zoom_8(store: [&std::ffi::OsStr; 2], extra: &[&str], envs: &[(&str, &str)]) -> Server {
    let mut args: Vec<&std::ffi::OsStr> = vec!["--max-zoom".as_ref(), "8".as_ref()];
    args.extend(store);
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    Server::start(&args, envs)
}

/// [`start_zoom_8`] on a throwaway SQLite database; the database's directory lives as long as
/// the returned guard.
pub fn start_small(extra: &[&str], envs: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tmp");
    let db = dir.path().join("pm.db");
    let server = start_zoom_8(["--db".as_ref(), db.as_os_str()], extra, envs);
    (server, dir)
}

/// The test venv's Python (`PARTNERSHIP_MAP_GDAL_PYTHON`, else `target/gdal-venv/bin/python`),
/// with the PyPI packages of `tests/gdal/requirements.txt`; panics when it is missing.
pub fn venv_python() -> PathBuf {
    let p = std::env::var_os("PARTNERSHIP_MAP_GDAL_PYTHON")
        .map_or_else(|| repo().join("target/gdal-venv/bin/python"), PathBuf::from);
    assert!(
        p.exists(),
        "{} is missing: scripts/test.sh creates it with \
         `python3 -m venv target/gdal-venv && target/gdal-venv/bin/pip install -r tests/gdal/requirements.txt`",
        p.display()
    );
    p
}

/// The real binary, started with `args` on a free loopback port; killed when dropped.
pub struct Server {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's stderr (its log), drained by a thread so a chatty server never blocks
    /// on a full pipe.
    log: Option<std::thread::JoinHandle<String>>,
    /// Lines the server printed on stdout after the listening line.
    stdout: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Self {
        Self::start_on("127.0.0.1:0", args, envs)
    }

    /// [`Server::start`] listening on `bind` instead of a free port.
    pub fn start_on(bind: &str, args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_partnership-map"));
        cmd.current_dir(repo())
            .env("RUST_LOG", "info")
            .args(["serve", "--bind", bind])
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn the server");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read");
        let base = line
            .trim()
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_owned();
        assert!(
            base.starts_with("http://127.0.0.1:"),
            "no listening line: {line:?}"
        );
        let stdout = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines = Arc::clone(&stdout);
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                lines.lock().expect("lines").push(l);
            }
        });
        let mut stderr = child.stderr.take().expect("stderr");
        let log = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr, &mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        Self {
            child,
            base,
            log: Some(log),
            stdout,
        }
    }

    /// Everything the server logged; call after it has exited (else this waits for it).
    pub fn log(&mut self) -> String {
        self.log
            .take()
            .map(|h| h.join().expect("log reader"))
            .unwrap_or_default()
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> &str {
        self.base.trim_start_matches("http://")
    }

    /// The `/metrics` URL the server printed (the main port by default, or the listener of
    /// `--metrics-bind ADDR`; waits up to 10 s for its line).
    pub fn metrics_url(&self) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if let Some(l) = self
                .stdout
                .lock()
                .expect("lines")
                .iter()
                .find(|l| l.contains("metrics on http://"))
            {
                return l.rsplit(' ').next().unwrap_or_default().to_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the server printed no metrics line"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server logged last, so a failure on CI explains itself.
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = &lines[lines.len().saturating_sub(40)..];
            eprintln!(
                "--- last lines logged by {} ---\n{}",
                self.base,
                tail.join("\n")
            );
        }
    }
}

/// Runs `tests/qgis/<script>` with Debian's PyQGIS, headless, with `args`, and returns the JSON
/// facts it prints on its last line. Fails, never skips, when python3-qgis is missing.
pub fn pyqgis(script: &str, args: &[&std::ffi::OsStr]) -> serde_json::Value {
    let python = "/usr/bin/python3";
    let has_qgis = std::process::Command::new(python)
        .args(["-c", "import qgis.core"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_qgis,
        "python3-qgis is missing: scripts/test.sh installs qgis and python3-qgis"
    );
    let runtime = tempfile::tempdir().expect("tmp");
    let out = std::process::Command::new(python)
        .arg(repo().join("tests/qgis").join(script))
        .args(args)
        .env("QT_QPA_PLATFORM", "offscreen")
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("run PyQGIS");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PyQGIS {script} failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("facts JSON")
}

/// Coverage counted straight from the shipped CSV files with the `csv` crate (not through the
/// loader), so that tests follow a data release instead of hard-coding its figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    /// Rows of `local_authorities.csv`.
    pub las: usize,
    /// Rows of `partnerships.csv`.
    pub partnerships: usize,
    /// Rows of `la_school_improvement.csv`.
    pub roles: usize,
    /// Distinct LA names in the partnerships' `la_names`.
    pub las_with_partnerships: usize,
    /// Distinct LA names in the role file.
    pub las_with_role: usize,
    /// LAs named in either file.
    pub las_with_data: usize,
}

fn csv_column(file: &str, column: &str) -> Vec<String> {
    let mut rdr = csv::Reader::from_path(repo().join("data").join(file)).expect("read csv");
    let i = rdr
        .headers()
        .expect("header")
        .iter()
        .position(|h| h == column)
        .expect("column");
    rdr.records()
        .map(|r| r.expect("record")[i].to_owned())
        .collect()
}

/// The shipped data's coverage, counted from the files.
pub fn coverage() -> Coverage {
    use std::collections::BTreeSet;
    let las = csv_column("local_authorities.csv", "name").len();
    let partnership_las = csv_column("partnerships.csv", "la_names");
    let role_las = csv_column("la_school_improvement.csv", "la_name");
    let named: BTreeSet<String> = partnership_las
        .iter()
        .flat_map(|l| l.split(';').map(|n| n.trim().to_owned()))
        .collect();
    let roles: BTreeSet<String> = role_las.iter().map(|n| n.trim().to_owned()).collect();
    Coverage {
        las,
        partnerships: partnership_las.len(),
        roles: role_las.len(),
        las_with_partnerships: named.len(),
        las_with_role: roles.len(),
        las_with_data: named.union(&roles).count(),
    }
}

/// The rows of a shipped CSV file, each as column → value.
pub fn csv_rows(file: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let text = std::fs::read_to_string(repo().join("data").join(file)).expect("read csv");
    csv_text_rows(&text)
}

/// The rows of CSV text with a header row, each as column → value.
pub fn csv_text_rows(text: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let headers = rdr.headers().expect("header").clone();
    rdr.records()
        .map(|r| {
            let r = r.expect("record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// A `;`-separated CSV list as a vector.
pub fn split(list: &str) -> Vec<String> {
    list.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A response read off a real socket.
#[derive(Debug)]
pub struct Http {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Http {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// One HTTP/1.1 request to a real server (`Connection: close`), blocking.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Http {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body.unwrap_or(""));
    s.write_all(req.as_bytes()).expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        let mut out = String::new();
        let mut r = rest;
        while let Some((size, tail)) = r.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n.min(tail.len())]);
            r = tail.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        rest.to_owned()
    };
    Http {
        status,
        headers,
        body,
    }
}

/// `/metrics` from `url` (`http://HOST:PORT/metrics`), parsed by a Prometheus text parser.
pub async fn scrape(url: &str) -> prometheus_parse::Scrape {
    let rest = url.trim_start_matches("http://");
    let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let r = raw::get(addr, path).await;
    assert_eq!(r.status, 200, "GET {url}");
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.headers
    );
    let text = String::from_utf8(r.body).expect("utf8");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("parses")
}

/// The value of the counter, gauge or untyped sample `name` with exactly these labels
/// (ignoring others); `None` if there is none.
pub fn sample(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .find_map(|x| match x.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => Some(v),
            _ => None,
        })
}

/// The buckets `(le, cumulative count)` of histogram `name` with these labels.
pub fn histogram(
    s: &prometheus_parse::Scrape,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<Vec<(f64, f64)>> {
    s.samples
        .iter()
        .filter(|x| x.metric == name && labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .find_map(|x| match &x.value {
            prometheus_parse::Value::Histogram(h) => {
                Some(h.iter().map(|b| (b.less_than, b.count)).collect())
            }
            _ => None,
        })
}

/// Resident memory of a process, in bytes (Linux).
pub fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmRSS")
        * 1024
}
