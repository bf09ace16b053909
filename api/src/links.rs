//! The base of the links in a response. The links (a new movie's
//! `Location`, the version documents, a listing's `next`) are built from
//! `[api] public_endpoint` when set, else from the authority the client
//! addressed when it is a plain `host[:port]`, else from the address the
//! request arrived at, so caller-chosen text never becomes a link. The
//! middleware puts the base on the request; the controllers read it; the
//! configuration checks `public_endpoint` with the same rules.

use std::net::SocketAddr;

use hyper::header::HOST;
use hyper::http::request::Parts;

/// The longest authority taken from a request (a DNS name is at most 253
/// characters, plus a port).
const MAX_AUTHORITY: usize = 261;

/// The base of the links in a response (`https://api.example.com:9666`, no
/// trailing `/`), as a request extension; the controllers read it through
/// `controllers::base_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkBase(pub String);

/// The base of the links for a request that arrived on `local`.
pub(crate) fn link_base(
    parts: &Parts,
    public_endpoint: Option<&str>,
    local: SocketAddr,
) -> LinkBase {
    if let Some(endpoint) = public_endpoint {
        return LinkBase(endpoint.trim_end_matches('/').to_owned());
    }
    match addressed(parts) {
        Some(authority) => LinkBase(format!("http://{authority}")),
        None => LinkBase(format!("http://{local}")),
    }
}

/// The authority the client addressed, when it is a valid one: the target's
/// own in absolute form (RFC 9112 §3.2.2 puts it before `Host`), else `Host`.
pub(crate) fn addressed(parts: &Parts) -> Option<&str> {
    let candidate = match parts.uri.authority() {
        Some(authority) => authority.as_str(),
        None => parts.headers.get(HOST)?.to_str().ok()?,
    };
    let valid = is_authority(candidate);
    if !valid {
        tracing::debug!(
            authority = candidate,
            "not a host[:port]; links use the local address"
        );
    }
    valid.then_some(candidate)
}

/// `host[:port]`: a DNS name or IPv4 address, or an IPv6 literal in brackets,
/// and a port of 1–5 digits up to 65535. No credentials, path, query or spaces.
pub(crate) fn is_authority(text: &str) -> bool {
    if text.is_empty() || text.len() > MAX_AUTHORITY {
        return false;
    }
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((literal, after)) => {
                let ipv6 = literal.parse::<std::net::Ipv6Addr>().is_ok();
                match after {
                    "" => return ipv6,
                    _ => match after.strip_prefix(':') {
                        Some(port) if ipv6 => ("[]", Some(port)),
                        _ => return false,
                    },
                }
            }
            None => return false,
        },
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    let host_ok = host == "[]" || is_host_name(host);
    let port_ok = port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|p| p <= u32::from(u16::MAX))
    });
    host_ok && port_ok
}

/// Dot-separated labels of letters, digits, `-` and `_` (an IPv4 address is one).
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The check of `[api] public_endpoint`: `http://` or `https://`, a valid
/// authority, an optional path; no credentials, query or fragment.
///
/// # Errors
/// What is allowed, for the configuration problem.
pub(crate) fn check_public_endpoint(text: &str) -> Result<(), String> {
    const ALLOWED: &str = "expected an http:// or https:// URL of a host[:port] and an optional \
                           path, such as https://api.example.com:9666, without credentials, \
                           query or fragment";
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or(ALLOWED)?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let path_ok = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:@".contains(&b));
    if is_authority(authority) && path_ok {
        Ok(())
    } else {
        Err(ALLOWED.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::{Request, Version};

    fn parts(version: Version, hosts: &[&str], target: &str) -> Parts {
        let mut request = Request::get(target).version(version);
        for host in hosts {
            request = request.header(HOST, *host);
        }
        request.body(()).expect("a request").into_parts().0
    }

    fn local() -> SocketAddr {
        SocketAddr::from(([10, 0, 0, 5], 9666))
    }

    #[test]
    fn authorities_are_plain_host_and_port() {
        for good in [
            "localhost",
            "api.example.com:9666",
            "10.0.0.5",
            "[::1]",
            "[2001:db8::1]:8080",
            "under_score.example",
        ] {
            assert!(is_authority(good), "{good}");
        }
        let long = format!("{}.com", "a.".repeat(200));
        for bad in [
            "",
            "user@host",
            "host/path",
            "host:port",
            "host:99999",
            "host:",
            "a b",
            "[::1",
            "[nope]:80",
            "::1",
            "evil.com?x=1",
            "evil.com#x",
            "<script>",
            "a..b",
            long.as_str(),
        ] {
            assert!(!is_authority(bad), "{bad}");
        }
    }

    #[test]
    fn links_come_from_the_public_endpoint_then_a_valid_host_then_the_local_address() {
        let proxied = parts(Version::HTTP_11, &["api.example.test:8774"], "/");
        assert_eq!(
            link_base(&proxied, Some("https://cloud.example.com/api/"), local()),
            LinkBase("https://cloud.example.com/api".into())
        );
        assert_eq!(
            link_base(&proxied, None, local()),
            LinkBase("http://api.example.test:8774".into())
        );
        let hostile = parts(Version::HTTP_11, &["evil.com/phish?"], "/");
        assert_eq!(
            link_base(&hostile, None, local()),
            LinkBase("http://10.0.0.5:9666".into())
        );
        let absolute = parts(Version::HTTP_11, &["other"], "http://target.example:81/v1");
        assert_eq!(
            link_base(&absolute, None, local()),
            LinkBase("http://target.example:81".into())
        );
    }

    #[test]
    fn public_endpoint_must_be_an_http_url_without_credentials_or_query() {
        for good in [
            "https://api.example.com:9666",
            "http://10.0.0.1",
            "https://cloud.example.com/pymsboot/",
        ] {
            assert_eq!(check_public_endpoint(good), Ok(()), "{good}");
        }
        for bad in [
            "api.example.com",
            "ftp://api.example.com",
            "https://user:pw@api.example.com",
            "https://api.example.com/?x=1",
            "https://api.example.com/#top",
            "https://",
            "https://api example.com",
        ] {
            assert!(check_public_endpoint(bad).is_err(), "{bad}");
        }
    }
}
