//! Who is calling, as far as admission control is concerned: the client's IP
//! address, resolved once per request by [`identify_client`] and put in the
//! request's extensions as a [`ClientIp`] for the rate limiter and the
//! credential throttle.
//!
//! The address is the socket's peer. Only when that peer is one of the
//! configured trusted proxies (`ESSAY_GRADER_TRUSTED_PROXIES`) is
//! `X-Forwarded-For` read, from the right: each proxy appends the address it
//! saw, so the rightmost entry that is not itself a trusted proxy is the
//! client. Anything left of it was written by the client and is ignored, so a
//! client cannot choose its own address by sending the header.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::AppState;

/// The client's address, as trusted (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIp(pub IpAddr);

impl ClientIp {
    /// The address recorded for a request served without a socket (never
    /// the case under `serve`): unspecified, so it is limited like a remote
    /// client, never exempted as loopback.
    pub const UNKNOWN: ClientIp = ClientIp(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    /// The client of a request, as [`identify_client`] recorded it.
    pub fn of(extensions: &axum::http::Extensions) -> ClientIp {
        extensions
            .get::<ClientIp>()
            .copied()
            .unwrap_or(Self::UNKNOWN)
    }

    /// Whether the client is on this machine (127.0.0.0/8 or ::1, also as
    /// an IPv4-mapped IPv6 address).
    pub fn is_loopback(self) -> bool {
        match self.0 {
            IpAddr::V4(v4) => v4.is_loopback(),
            IpAddr::V6(v6) => {
                v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
    }
}

/// As an extractor: the client [`identify_client`] recorded (never fails).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp::of(&parts.extensions))
    }
}

/// The client's address: the socket peer, or, when the peer is a trusted
/// proxy, the rightmost `X-Forwarded-For` entry that is not a trusted proxy.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .map(|entry| entry.parse::<IpAddr>().ok())
        .collect::<Option<Vec<_>>>()
        // An entry that is not an address (garbage, or an obfuscated
        // identifier) ends the chain we can follow: use the peer.
        .unwrap_or_default();
    let mut client = peer;
    for ip in forwarded.into_iter().rev() {
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

/// Middleware: records the request's [`ClientIp`].
pub async fn identify_client(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let client = match req.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(peer)) => ClientIp(resolve(
            peer.ip(),
            req.headers(),
            &state.settings.trusted_proxies,
        )),
        None => ClientIp::UNKNOWN,
    };
    req.extensions_mut().insert(client);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_static(value));
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_direct_client_is_its_socket_address_whatever_it_forwards() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];

        let client = resolve(ip("203.0.113.9"), &forwarded("1.2.3.4"), &trusted);

        assert_eq!(client, ip("203.0.113.9"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_forwarded_address_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];

        // The client sent a forged "1.2.3.4"; the proxy appended what it saw.
        let client = resolve(
            ip("10.0.0.2"),
            &forwarded("1.2.3.4, 198.51.100.7, 10.0.0.5"),
            &trusted,
        );

        assert_eq!(client, ip("198.51.100.7"));
    }

    #[test]
    fn a_trusted_proxy_without_a_readable_forwarded_header_is_the_client() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];

        assert_eq!(
            resolve(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            resolve(
                ip("10.0.0.2"),
                &forwarded("unknown, 198.51.100.7"),
                &trusted
            ),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn loopback_includes_ipv4_mapped_addresses() {
        assert!(ClientIp(ip("127.0.0.1")).is_loopback());
        assert!(ClientIp(ip("::1")).is_loopback());
        assert!(ClientIp(ip("::ffff:127.0.0.1")).is_loopback());
        assert!(!ClientIp(ip("192.0.2.1")).is_loopback());
        assert!(!ClientIp::UNKNOWN.is_loopback());
    }
}
