//! Command line and environment configuration (clap), validated once at startup.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::http::HeaderValue;
use clap::{Args, Parser, Subcommand};

use crate::editors::Editors;
use crate::http::HttpConfig;

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
    /// Write every non-empty tile (zooms --min-zoom..=--max-zoom) to a PMTiles or MBTiles file.
    Export {
        /// Archive format.
        #[arg(long, value_enum)]
        format: crate::export::Format,
        /// Output file (replaced if it exists).
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
}

impl ServeArgs {
    /// Check and convert the HTTP settings.
    ///
    /// # Errors
    /// A message naming the bad flag.
    pub fn http_config(&self) -> Result<HttpConfig, String> {
        let cache_control = HeaderValue::from_str(&self.cache_control).map_err(|_| {
            format!(
                "--cache-control {:?} is not a valid header value",
                self.cache_control
            )
        })?;
        let public_url = match &self.public_url {
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
        let editors = self.editors()?;
        Ok(HttpConfig {
            cache_control,
            public_url,
            editors,
            submissions_per_hour: std::num::NonZeroU32::new(self.submissions_per_hour)
                .unwrap_or(std::num::NonZeroU32::MIN),
            data_source: None,
        })
    }

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

    /// Cache capacity in bytes.
    #[must_use]
    pub fn cache_bytes(&self) -> u64 {
        self.cache_mb * 1024 * 1024
    }
}
