//! The client's address behind reverse proxies (functions over a request's headers).
//!
//! `X-Forwarded-For` and `Forwarded` are only believed when the TCP peer is a trusted proxy
//! (`--trusted-proxies CIDR,…`); from any other peer they are ignored, so a client cannot choose
//! its own address. A trusted proxy appends the address it received the request from, so the
//! client is the right-most address that is not itself a trusted proxy: anything to its left was
//! written by the client or by untrusted hops and could be forged. Only the one header that the
//! proxies set is read (`--client-ip-header`); the other could come from the client untouched.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

use super::state::HttpConfig;
use crate::config::ClientIpHeader;

/// The client's IP for a request: the TCP peer, or, when the peer is one of
/// `--trusted-proxies`, the right-most address in `X-Forwarded-For` (or `Forwarded`) that is not
/// itself a trusted proxy.
#[must_use]
pub fn request_client_ip(config: &HttpConfig, ext: &Extensions, headers: &HeaderMap) -> IpAddr {
    let peer = ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .or_else(|| ext.get::<MockConnectInfo<SocketAddr>>().map(|c| c.0.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    client_ip(
        peer,
        headers,
        &config.trusted_proxies,
        config.client_ip_header,
    )
}

/// The client's address (see the module doc).
#[must_use]
pub fn client_ip(
    peer: IpAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    header: ClientIpHeader,
) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops: Vec<Option<IpAddr>> = match header {
        ClientIpHeader::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(parse_address)
            .collect(),
        ClientIpHeader::Forwarded => headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(forwarded_for)
            .collect(),
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop {
            // Written by a trusted proxy about the hop before it: keep walking left.
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => return *ip,
            // Garbage where a proxy would have written an address: the last trusted hop is as
            // far as the chain can be believed.
            None => return client,
        }
    }
    client
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]:80`.
fn parse_address(s: &str) -> Option<IpAddr> {
    let s = s.trim().trim_matches('"');
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The `for=` address of one `Forwarded` element (`for=192.0.2.1;proto=https`), if it is an
/// address (not `unknown` or an obfuscated `_name`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, v)| parse_address(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().expect("header value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().expect("cidr")).collect()
    }

    #[test]
    fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        for header in [ClientIpHeader::XForwardedFor, ClientIpHeader::Forwarded] {
            assert_eq!(
                client_ip(ip("198.51.100.7"), &h, &[], header),
                ip("198.51.100.7")
            );
            assert_eq!(
                client_ip(ip("198.51.100.7"), &h, &nets(&["10.0.0.0/8"]), header),
                ip("198.51.100.7")
            );
        }
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "192.168.1.1/32"]);
        // The client forged 1.1.1.1; the edge proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(
            client_ip(
                ip("192.168.1.1"),
                &h,
                &trusted,
                ClientIpHeader::XForwardedFor
            ),
            ip("203.0.113.9")
        );
        // Several header lines count as one list, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:4711"),
        ]);
        assert_eq!(
            client_ip(ip("10.1.2.3"), &h, &trusted, ClientIpHeader::XForwardedFor),
            ip("203.0.113.9")
        );
        let h = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.5",
        )]);
        assert_eq!(
            client_ip(ip("10.9.9.9"), &h, &trusted, ClientIpHeader::Forwarded),
            ip("2001:db8:cafe::17")
        );
        // Only the configured header is read.
        assert_eq!(
            client_ip(ip("10.9.9.9"), &h, &trusted, ClientIpHeader::XForwardedFor),
            ip("10.9.9.9")
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_or_garbage_stops_at_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "10.0.0.7, 10.0.0.8")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, &trusted, ClientIpHeader::XForwardedFor),
            ip("10.0.0.7")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.9, not-an-address, 10.0.0.8")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, &trusted, ClientIpHeader::XForwardedFor),
            ip("10.0.0.8")
        );
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(
            client_ip(ip("10.0.0.1"), &h, &trusted, ClientIpHeader::Forwarded),
            ip("10.0.0.1")
        );
    }
}
