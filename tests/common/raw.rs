//! A minimal HTTP/1.1 client over raw sockets, for tests that send what a well-behaved client
//! never would: half heads, garbage bytes, many requests on one connection.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One response as read off the wire.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What came back for one request.
#[derive(Debug)]
pub enum Outcome {
    /// A complete response.
    Response(RawResponse),
    /// Bytes that are not an HTTP/1 response (e.g. HTTP/2 frames), then the end.
    OtherBytes(usize),
    /// The connection ended (or was reset) before any byte of a response.
    Dropped(String),
}

/// Reads responses from one connection, keeping what arrives beyond the current one.
pub struct Conn {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    pub async fn connect(addr: &str) -> std::io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes).await
    }

    /// Read more into the buffer; `Ok(0)` at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// The next response, within `limit`.
    pub async fn response(&mut self, limit: Duration) -> Outcome {
        match tokio::time::timeout(limit, self.read_response()).await {
            Ok(o) => o,
            Err(_) => Outcome::Dropped(format!("no response within {limit:?}")),
        }
    }

    async fn read_response(&mut self) -> Outcome {
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i;
            }
            match self.fill().await {
                Ok(0) if self.buf.is_empty() => {
                    return Outcome::Dropped("closed before a response".into());
                }
                Ok(0) => {
                    return if self.buf.starts_with(b"HTTP/1.") {
                        Outcome::Dropped("closed inside a response head".into())
                    } else {
                        Outcome::OtherBytes(self.buf.len())
                    };
                }
                Ok(_) => {}
                Err(e) if self.buf.is_empty() => return Outcome::Dropped(e.to_string()),
                Err(_) => return Outcome::OtherBytes(self.buf.len()),
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        self.buf.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        if !status_line.starts_with("HTTP/1.") {
            return Outcome::OtherBytes(head_end);
        }
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut r = RawResponse {
            status,
            headers,
            body: Vec::new(),
        };
        let chunked = r
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            loop {
                let line_end = loop {
                    if let Some(i) = find(&self.buf, b"\r\n") {
                        break i;
                    }
                    if !matches!(self.fill().await, Ok(n) if n > 0) {
                        return Outcome::Dropped("closed inside a chunked body".into());
                    }
                };
                let size = usize::from_str_radix(
                    String::from_utf8_lossy(&self.buf[..line_end])
                        .split(';')
                        .next()
                        .unwrap_or("")
                        .trim(),
                    16,
                )
                .unwrap_or(0);
                self.buf.drain(..line_end + 2);
                while self.buf.len() < size + 2 {
                    if !matches!(self.fill().await, Ok(n) if n > 0) {
                        return Outcome::Dropped("closed inside a chunk".into());
                    }
                }
                r.body.extend_from_slice(&self.buf[..size]);
                self.buf.drain(..size + 2);
                if size == 0 {
                    break;
                }
            }
        } else {
            let len: usize = r
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while self.buf.len() < len {
                if !matches!(self.fill().await, Ok(n) if n > 0) {
                    return Outcome::Dropped("closed inside a body".into());
                }
            }
            r.body = self.buf.drain(..len).collect();
        }
        Outcome::Response(r)
    }

    /// Wait for the server to close the connection (EOF or reset), up to `limit`.
    pub async fn closed_within(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            loop {
                match self.fill().await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `GET path` on a new connection; the response.
pub async fn get(addr: &str, path: &str) -> RawResponse {
    let mut c = Conn::connect(addr).await.expect("connect");
    c.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("send");
    match c.response(Duration::from_secs(10)).await {
        Outcome::Response(r) => r,
        other => panic!("GET {path}: {other:?}"),
    }
}
