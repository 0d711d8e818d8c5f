//! Command line and environment configuration (clap), validated once at startup.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::editors::Editors;
use crate::logging::LogFormat;
use crate::verification::mail::{Mailer, Template};

/// partnership-map: vector tiles and a web map of England's area-based education partnerships.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where the data lives.
    #[command(flatten)]
    pub data: DataArgs,
    /// Server settings.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Log line format: `text` (human-readable, the default) or `json` (one object per line,
    /// for log shippers). The level comes from `RUST_LOG` (default `info`).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve tiles, TileJSON, style and health (the default).
    Serve,
    /// Validate the data and print a summary; exit 1 if there is any problem.
    Check,
    /// Work with the published data (shipped files plus the change log).
    Data {
        /// What to do with it.
        #[command(subcommand)]
        action: DataCommand,
    },
    /// Write every non-empty tile (zooms --min-zoom..=--max-zoom) to a PMTiles or MBTiles file,
    /// or to a directory of gzip-compressed z/x/y.pbf files with metadata.json.
    Export {
        /// Archive format.
        #[arg(long, value_enum)]
        format: crate::export::Format,
        /// Output file (replaced if it exists), or directory for `--format dir` (an earlier export
        /// there is replaced; a directory holding anything else is refused).
        #[arg(long)]
        out: PathBuf,
        /// Lowest zoom to write.
        #[arg(long, default_value_t = 0)]
        min_zoom: u8,
    },
}

/// `partnership-map data …`.
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write the published data (files + change log in --db) as CSV files in the shipped format,
    /// plus edits.json naming the last change they contain.
    Export {
        /// Output directory (created if missing; the three CSVs and edits.json are replaced).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Input locations and zoom range.
#[derive(Debug, Args, Clone)]
pub struct DataArgs {
    /// Directory holding england_upper_tier_las.geojson.
    #[arg(
        long,
        global = true,
        env = "PARTNERSHIP_MAP_BOUNDARIES",
        default_value = "boundaries"
    )]
    pub boundaries: PathBuf,
    /// Directory holding local_authorities.csv, partnerships.csv, la_school_improvement.csv.
    #[arg(
        long,
        global = true,
        env = "PARTNERSHIP_MAP_DATA",
        default_value = "data"
    )]
    pub data: PathBuf,
    /// Highest zoom served (the boundaries are generalised to 20 m, so 12 is plenty; clients overzoom).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_MAX_ZOOM", default_value_t = 12,
          value_parser = clap::value_parser!(u8).range(0..=16))]
    pub max_zoom: u8,
}

/// HTTP server settings.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        global = true,
        env = "PARTNERSHIP_MAP_BIND",
        default_value = "127.0.0.1:8080"
    )]
    pub bind: SocketAddr,
    /// Start the clock at this time (RFC 3339, e.g. 2027-03-31T23:59:50+01:00) and run on from
    /// there: for trying what vesting day does. Default: the system clock.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_NOW")]
    pub now: Option<String>,
    /// Tile cache size in MiB (compressed bytes).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_CACHE_MB", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub cache_mb: u64,
    /// Public base URL used in TileJSON and style links, e.g. https://maps.example.org (default: from the request's Host).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Cache-Control header for tiles, TileJSON and style.
    #[arg(
        long,
        global = true,
        env = "PARTNERSHIP_MAP_CACHE_CONTROL",
        default_value = "public, max-age=3600"
    )]
    pub cache_control: String,
    /// PostgreSQL URL (postgres://user:password@host/db?sslmode=require): submissions, the change
    /// log and the submission limit live there, shared by every replica. Without it, SQLite (--db).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_DATABASE_URL")]
    pub database_url: Option<String>,
    /// With --database-url: how often a replica checks the log for other replicas' changes, in
    /// milliseconds (PostgreSQL NOTIFY wakes it sooner; this bounds the delay if one is lost).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_LOG_POLL_MS", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(50..=600_000))]
    pub log_poll_ms: u64,
    /// SQLite file for submissions and the change log (created with its directory if missing).
    #[arg(
        long,
        global = true,
        env = "PARTNERSHIP_MAP_DB",
        default_value = "var/partnership-map.db"
    )]
    pub db: PathBuf,
    /// File holding a single admin bearer token, for the editor "admin" (else env PARTNERSHIP_MAP_ADMIN_TOKEN).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_ADMIN_TOKEN_FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// File of editors, one `name<TAB>token` per line (`#` comments). With no editor at all, the admin API is off.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_ADMIN_TOKENS_FILE")]
    pub admin_tokens_file: Option<PathBuf>,
    /// Submissions accepted per client IP per hour.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_SUBMISSIONS_PER_HOUR", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub submissions_per_hour: u32,
    /// Days after review when a submitter's name, organisation and email are deleted.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_RETENTION_DAYS", default_value_t = 180,
          value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub retention_days: u32,
    /// Reverse proxies whose X-Forwarded-For (or Forwarded) header gives the client's address,
    /// as CIDRs or addresses, comma-separated (e.g. 10.0.0.0/8,192.168.1.5). From any other
    /// peer those headers are ignored.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_TRUSTED_PROXIES", value_delimiter = ',',
          value_parser = parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header the trusted proxies set.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_CLIENT_IP_HEADER", value_enum,
          default_value_t = ClientIpHeader::XForwardedFor)]
    pub client_ip_header: ClientIpHeader,
    /// Where /metrics (Prometheus) is served: `local` (the default) on the main port, answering
    /// only clients on this host (loopback, also when forwarded by a trusted proxy); `main` on
    /// the main port for every client; an address for a listener of its own; or `off`.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_METRICS_BIND", value_parser = parse_metrics_bind)]
    pub metrics_bind: Option<MetricsBind>,
    /// Time a client has to send a complete request head (from connecting, or from the first
    /// byte of its next request), e.g. 10s or 500ms.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_REQUEST_HEAD_TIMEOUT", default_value = "10s",
          value_parser = parse_duration)]
    pub request_head_timeout: std::time::Duration,
    /// Time an idle keep-alive connection stays open (also: no progress on an open request).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_KEEP_ALIVE_TIMEOUT", default_value = "60s",
          value_parser = parse_duration)]
    pub keep_alive_timeout: std::time::Duration,
    /// Open connections allowed; one more is answered 503 with Retry-After and closed.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,
    /// Requests handled at once; more are answered 503 with Retry-After.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_MAX_IN_FLIGHT", default_value_t = 512,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_in_flight: u32,
    /// On SIGTERM/SIGINT, how long open requests may take to finish before the server exits.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_SHUTDOWN_TIMEOUT", default_value = "20s",
          value_parser = parse_duration)]
    pub shutdown_timeout: std::time::Duration,
    /// SMTP server that mails verification invitations, e.g. `smtp://127.0.0.1:25` (no TLS),
    /// `smtp://user:password@host:587?tls=required` (STARTTLS) or `smtps://user:password@host`.
    /// Without it nothing is mailed: the team sends the mail merge.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_SMTP_URL")]
    pub smtp_url: Option<String>,
    /// The From of invitation mails.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_MAIL_FROM",
          default_value = crate::verification::mail::DEFAULT_FROM)]
    pub mail_from: String,
    /// Plain-text template of invitation mails: `Subject: …`, a blank line, the body, with
    /// {la_name}, {la_code}, {link}, {expires}, {contact_role} and {campaign}. Default: the
    /// built-in templates/invitation.txt.
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_MAIL_TEMPLATE")]
    pub mail_template: Option<PathBuf>,
    /// Do not render the tile pyramid in the background at start and after each data change
    /// (tiles are then rendered on first request only).
    #[arg(long, global = true, env = "PARTNERSHIP_MAP_NO_PRERENDER")]
    pub no_prerender: bool,
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsBind {
    /// The main listener, for clients on this host only (the default): no second port, so any
    /// number of servers can run on one host with default flags.
    #[default]
    Local,
    /// A listener of its own, for every client that reaches it.
    Addr(SocketAddr),
    /// The main listener, for every client (protect it at the proxy).
    Main,
    /// Nowhere.
    Off,
}

impl MetricsBind {
    /// Whether the main listener's router serves `/metrics` (to some clients at least).
    #[must_use]
    pub fn on_main(self) -> bool {
        matches!(self, Self::Local | Self::Main)
    }
}

fn parse_metrics_bind(s: &str) -> Result<MetricsBind, String> {
    match s {
        "local" => Ok(MetricsBind::Local),
        "main" => Ok(MetricsBind::Main),
        "off" => Ok(MetricsBind::Off),
        _ => s.parse().map(MetricsBind::Addr).map_err(|_| {
            format!("{s:?} is not an address like 127.0.0.1:9464, nor `local`, `main` or `off`")
        }),
    }
}

fn parse_cidr(s: &str) -> Result<ipnet::IpNet, String> {
    let s = s.trim();
    s.parse::<ipnet::IpNet>()
        .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("{s:?} is not a CIDR (10.0.0.0/8) or an IP address"))
}

/// `10s`, `500ms`, `2m`, or plain seconds (`1.5`).
fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v * scale <= 86_400.0)
        .map(|v| std::time::Duration::from_secs_f64(v * scale))
        .ok_or_else(|| format!("{s:?} is not a duration like 10s, 500ms or 2m (at most a day)"))
}

/// Which header the trusted proxies set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClientIpHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx `$proxy_add_x_forwarded_for`, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

impl ServeArgs {
    /// The editors: `--admin-tokens-file`, plus the single token (file or env) as `admin`.
    ///
    /// # Errors
    /// `file:line: what is wrong`, or a message naming the flag; never the token itself.
    pub fn editors(&self) -> Result<Editors, String> {
        let mut editors = Editors::none();
        let single = match &self.admin_token_file {
            Some(path) => Some(
                std::fs::read_to_string(path)
                    .map_err(|e| format!("--admin-token-file {}: {e}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => std::env::var("PARTNERSHIP_MAP_ADMIN_TOKEN")
                .ok()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty()),
        };
        if let Some(t) = single {
            editors
                .add("admin", &t)
                .map_err(|m| format!("the admin token: {m}"))?;
        }
        if let Some(path) = &self.admin_tokens_file {
            let shown = path.display().to_string();
            let content = std::fs::read_to_string(path)
                .map_err(|e| format!("--admin-tokens-file {shown}: {e}"))?;
            Editors::parse_file(&shown, &content, &mut editors)?;
        }
        Ok(editors)
    }

    /// The invitation template (`--mail-template`, else the built-in one), checked.
    ///
    /// # Errors
    /// `path:line: what is wrong`, or why the file cannot be read.
    pub fn mail_template(&self) -> Result<Template, String> {
        match &self.mail_template {
            Some(path) => Template::load(path),
            None => Template::default_template(),
        }
        .map_err(|e| e.to_string())
    }

    /// The mailer of `--smtp-url` (none without it), with `--mail-from` and the template,
    /// all checked; nothing is connected yet.
    ///
    /// # Errors
    /// A message naming the bad flag (never the URL: it may hold a password).
    pub fn mailer(&self) -> Result<Option<Mailer>, String> {
        let template = self.mail_template()?;
        match &self.smtp_url {
            None => Ok(None),
            Some(url) => Mailer::new(url, &self.mail_from, template)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    }

    /// Where `/metrics` goes (see `--metrics-bind`).
    #[must_use]
    pub fn metrics_bind(&self) -> MetricsBind {
        self.metrics_bind.unwrap_or_default()
    }

    /// Cache capacity in bytes.
    #[must_use]
    pub fn cache_bytes(&self) -> u64 {
        self.cache_mb * 1024 * 1024
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_and_reject_nonsense() {
        assert_eq!(
            parse_duration("10s"),
            Ok(std::time::Duration::from_secs(10))
        );
        assert_eq!(
            parse_duration("500ms"),
            Ok(std::time::Duration::from_millis(500))
        );
        assert_eq!(
            parse_duration("2m"),
            Ok(std::time::Duration::from_secs(120))
        );
        assert_eq!(
            parse_duration("1.5"),
            Ok(std::time::Duration::from_millis(1500))
        );
        for bad in ["", "0s", "-1s", "ten", "2d", "1e9"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses() {
        assert_eq!(
            parse_cidr("10.0.0.0/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".to_owned())
        );
        assert_eq!(
            parse_cidr(" 192.168.1.5 ").map(|n| n.to_string()),
            Ok("192.168.1.5/32".to_owned())
        );
        assert_eq!(
            parse_cidr("::1").map(|n| n.to_string()),
            Ok("::1/128".to_owned())
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("proxy.local").is_err());
    }

    #[test]
    fn metrics_stay_on_the_main_port_for_local_clients_unless_told_otherwise() {
        let cli = Cli::parse_from(["pm", "serve"]);
        assert_eq!(cli.serve.metrics_bind(), MetricsBind::Local);
        assert!(cli.serve.metrics_bind().on_main());
        let cli = Cli::parse_from(["pm", "serve", "--metrics-bind", "127.0.0.1:9464"]);
        assert_eq!(
            cli.serve.metrics_bind(),
            MetricsBind::Addr("127.0.0.1:9464".parse().expect("addr"))
        );
        assert!(!cli.serve.metrics_bind().on_main());
        for (word, bind) in [
            ("local", MetricsBind::Local),
            ("main", MetricsBind::Main),
            ("off", MetricsBind::Off),
        ] {
            let cli = Cli::parse_from(["pm", "serve", "--metrics-bind", word]);
            assert_eq!(cli.serve.metrics_bind(), bind);
        }
        assert!(!MetricsBind::Off.on_main());
        let err = Cli::try_parse_from(["pm", "serve", "--metrics-bind", "nowhere"])
            .expect_err("not an address")
            .to_string();
        assert!(err.contains("\"nowhere\" is not an address"), "{err}");
    }
}
