//! The network policy of downloads: only http and https, a bounded number of
//! redirects, and, unless `[engine] allow_private_networks` is set, only
//! public addresses.
//!
//! Names are checked by [`GuardResolver`], the resolver the HTTP client
//! connects through: the addresses it checks are the addresses connected to,
//! so a second, different DNS answer (DNS rebinding) cannot slip past. IP
//! literals never reach a resolver, so [`check_url`] checks those, before the
//! first request and on every redirect ([`check_redirect`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressKind {
    /// `0.0.0.0` or `::`.
    Unspecified,
    /// `0.0.0.0/8`, "this network".
    ThisNetwork,
    /// `127.0.0.0/8` or `::1`.
    Loopback,
    /// RFC 1918: `10/8`, `172.16/12`, `192.168/16`.
    Private,
    /// RFC 6598 `100.64/10`, carrier-grade NAT.
    SharedAddressSpace,
    /// `169.254/16` or `fe80::/10`.
    LinkLocal,
    /// `fc00::/7`.
    UniqueLocal,
    /// `fec0::/10`, deprecated but still routable inside a site.
    SiteLocal,
    /// `224/4` or `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `192.0.2/24`, `198.51.100/24`, `203.0.113/24`, `2001:db8::/32`, `3fff::/20`.
    Documentation,
    /// `198.18/15` or `2001:2::/48`.
    Benchmarking,
    /// `192.0.0/24` or `2001::/23` (IETF protocol assignments, Teredo among them).
    ProtocolAssignment,
    /// `240/4` and IPv6 outside the global unicast `2000::/3`.
    Reserved,
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AddressKind::Unspecified => "unspecified address",
            AddressKind::ThisNetwork => "\"this network\" address (0.0.0.0/8)",
            AddressKind::Loopback => "loopback address",
            AddressKind::Private => "private address (RFC 1918)",
            AddressKind::SharedAddressSpace => {
                "shared address space (100.64.0.0/10, carrier-grade NAT)"
            }
            AddressKind::LinkLocal => "link-local address",
            AddressKind::UniqueLocal => "unique-local address (fc00::/7)",
            AddressKind::SiteLocal => "site-local address (fec0::/10)",
            AddressKind::Multicast => "multicast address",
            AddressKind::Broadcast => "broadcast address",
            AddressKind::Documentation => "documentation address",
            AddressKind::Benchmarking => "benchmarking address",
            AddressKind::ProtocolAssignment => "IETF protocol assignment address",
            AddressKind::Reserved => "reserved address",
        })
    }
}

/// What the policy refused. The message is written for the movie's `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The host is, or resolves only to, addresses that are not public.
    #[error(
        "refusing to download from {host}: {kind}; set [engine] allow_private_networks = true to allow it"
    )]
    NotPublic {
        /// The address, or `name (address)` for a resolved name.
        host: String,
        /// Why the address is not public.
        kind: AddressKind,
    },
    /// Neither http nor https. Only the scheme is kept: URLs may hold credentials.
    #[error("refusing to download from a {scheme}: URL: only http and https are allowed")]
    Scheme {
        /// The refused scheme.
        scheme: String,
    },
    /// An http(s) URL without a host.
    #[error("refusing to download from a URL without a host")]
    NoHost,
    /// The redirect chain is longer than allowed.
    #[error("refusing to follow more than {max} redirects")]
    TooManyRedirects {
        /// The most redirects allowed.
        max: usize,
    },
}

/// Why `ip` is not public, or `None` when it is.
pub fn classify(ip: IpAddr) -> Option<AddressKind> {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<AddressKind> {
    use AddressKind::*;
    let kind = match ip.octets() {
        [0, 0, 0, 0] => Unspecified,
        [255, 255, 255, 255] => Broadcast,
        [0, ..] => ThisNetwork,
        [10, ..] | [172, 16..=31, ..] | [192, 168, ..] => Private,
        [100, 64..=127, ..] => SharedAddressSpace,
        [127, ..] => Loopback,
        [169, 254, ..] => LinkLocal,
        [192, 0, 0, _] => ProtocolAssignment,
        [192, 0, 2, _] | [198, 51, 100, _] | [203, 0, 113, _] => Documentation,
        [198, 18..=19, ..] => Benchmarking,
        [224..=239, ..] => Multicast,
        [240..=255, ..] => Reserved,
        _ => return None,
    };
    Some(kind)
}

fn classify_v6(ip: Ipv6Addr) -> Option<AddressKind> {
    use AddressKind::*;
    // Forms that carry an IPv4 address reach that address: judge it instead.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let kind = match ip.segments() {
        [0, 0, 0, 0, 0, 0, 0, 0] => Unspecified,
        [0, 0, 0, 0, 0, 0, 0, 1] => Loopback,
        // NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] | [0x2002, hi, lo, ..] => {
            return classify_v4(embedded(hi, lo));
        }
        [first, ..] if first & 0xff00 == 0xff00 => Multicast,
        [first, ..] if first & 0xfe00 == 0xfc00 => UniqueLocal,
        [first, ..] if first & 0xffc0 == 0xfe80 => LinkLocal,
        [first, ..] if first & 0xffc0 == 0xfec0 => SiteLocal,
        [0x2001, 0xdb8, ..] => Documentation,
        [0x3fff, second, ..] if second < 0x1000 => Documentation,
        [0x2001, 0x2, 0, ..] => Benchmarking,
        [0x2001, second, ..] if second < 0x200 => ProtocolAssignment,
        // Everything public is global unicast, 2000::/3.
        [first, ..] if first & 0xe000 != 0x2000 => Reserved,
        _ => return None,
    };
    Some(kind)
}

fn check_ip(ip: IpAddr, allow_private_networks: bool) -> Result<(), Refusal> {
    match classify(ip) {
        Some(kind) if !allow_private_networks => Err(Refusal::NotPublic {
            host: ip.to_string(),
            kind,
        }),
        _ => Ok(()),
    }
}

/// Checks the scheme of `url` and, when its host is an IP literal, the
/// address. A host name is checked when it is resolved, by the resolver of
/// the download client.
///
/// # Errors
/// The scheme is not http or https, the URL has no host, or the host is a
/// non-public address while `allow_private_networks` is false.
pub fn check_url(url: &Url, allow_private_networks: bool) -> Result<(), Refusal> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Refusal::Scheme {
            scheme: url.scheme().to_owned(),
        });
    }
    let host = url.host_str().ok_or(Refusal::NoHost)?;
    // The URL parser has already turned every IPv4 spelling (`127.1`,
    // `0x7f000001`) into dotted decimal, so parsing here is exact.
    match host.trim_start_matches('[').trim_end_matches(']').parse() {
        Ok(ip) => check_ip(ip, allow_private_networks),
        Err(_) => Ok(()),
    }
}

/// The redirect policy: may the download follow its `redirect_number`th
/// redirect (1 for the first) to `url`?
///
/// # Errors
/// More than `max_redirects` redirects, or [`check_url`] refuses `url`.
pub fn check_redirect(
    url: &Url,
    redirect_number: usize,
    max_redirects: usize,
    allow_private_networks: bool,
) -> Result<(), Refusal> {
    if redirect_number > max_redirects {
        return Err(Refusal::TooManyRedirects { max: max_redirects });
    }
    check_url(url, allow_private_networks)
}

/// The resolver of the download client: resolves with the system resolver
/// and, unless private networks are allowed, keeps only public addresses.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardResolver {
    allow_private_networks: bool,
}

impl GuardResolver {
    pub(crate) fn new(allow_private_networks: bool) -> GuardResolver {
        GuardResolver {
            allow_private_networks,
        }
    }
}

impl Resolve for GuardResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private_networks = self.allow_private_networks;
        Box::pin(async move {
            let host = name.as_str();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
            let addrs = if allow_private_networks {
                addrs
            } else {
                keep_public(host, addrs)?
            };
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The public addresses among those `host` resolved to. A name with public
/// addresses connects to those only; one with none is refused.
fn keep_public(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, Refusal> {
    let mut refused = None;
    let public: Vec<SocketAddr> = addrs
        .into_iter()
        .filter(|addr| match classify(addr.ip()) {
            None => true,
            Some(kind) => {
                refused.get_or_insert((addr.ip(), kind));
                false
            }
        })
        .collect();
    match refused {
        Some((ip, kind)) if public.is_empty() => Err(Refusal::NotPublic {
            host: format!("{host} ({ip})"),
            kind,
        }),
        _ => Ok(public),
    }
}

#[cfg(test)]
mod tests {
    use super::AddressKind::*;
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("the table holds valid addresses")
    }

    #[test]
    fn non_public_addresses_are_classified() {
        let table = [
            (Unspecified, "0.0.0.0 ::"),
            (ThisNetwork, "0.1.2.3"),
            (
                Loopback,
                "127.0.0.1 127.255.0.9 ::1 ::ffff:127.0.0.1 64:ff9b::7f00:1",
            ),
            (Private, "10.1.2.3 172.16.0.1 172.31.255.255 192.168.1.1"),
            (Private, "::ffff:10.0.0.1 2002:c0a8:101::1"),
            (SharedAddressSpace, "100.64.0.1 100.127.255.254"),
            (LinkLocal, "169.254.169.254 ::ffff:169.254.169.254 fe80::1"),
            (UniqueLocal, "fc00::1 fd12:3456::1"),
            (SiteLocal, "fec0::1"),
            (ProtocolAssignment, "192.0.0.8 2001::1"),
            (
                Documentation,
                "192.0.2.1 198.51.100.7 203.0.113.9 2001:db8::1 3fff::1",
            ),
            (Benchmarking, "198.18.0.1 2001:2::1"),
            (Multicast, "224.0.0.1 ff02::1"),
            (Broadcast, "255.255.255.255"),
            (Reserved, "240.0.0.1 ::7f00:1 100::1"),
        ];
        for (kind, addresses) in table {
            for address in addresses.split_whitespace() {
                assert_eq!(classify(ip(address)), Some(kind), "{address}");
            }
        }
    }

    #[test]
    fn public_addresses_pass() {
        let table = "1.1.1.1 100.63.255.255 100.128.0.0 172.15.255.255 172.32.0.0 192.0.3.1 \
                     198.20.0.1 223.255.255.255 2606:4700::1111 ::ffff:8.8.8.8 64:ff9b::808:808 \
                     2002:808:808::1 2001:200::1";
        for address in table.split_whitespace() {
            assert_eq!(classify(ip(address)), None, "{address}");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal_address() {
        let check = |url: &str| check_url(&Url::parse(url).expect("valid URL"), false);
        assert_eq!(check("http://example.com/a"), Ok(()));
        assert_eq!(check("https://8.8.8.8/a"), Ok(()));
        // Schemes are case-insensitive (RFC 3986 §3.1); the URL parser lowers them.
        assert_eq!(check("HTTP://example.com/a"), Ok(()));
        assert_eq!(check("hTTpS://8.8.8.8/a"), Ok(()));
        for literal in [
            "http://127.1/",
            "http://0x7f000001/",
            "http://[::1]/",
            "http://[::ffff:7f00:1]/",
        ] {
            let refusal = check(literal).expect_err(literal);
            assert!(
                matches!(refusal, Refusal::NotPublic { kind: Loopback, .. }),
                "{literal}"
            );
        }
        let scheme = check("ftp://example.com/a").expect_err("ftp");
        assert_eq!(
            scheme.to_string(),
            "refusing to download from a ftp: URL: only http and https are allowed"
        );
        assert_eq!(
            check_url(&Url::parse("http://[::1]/").expect("valid"), true),
            Ok(())
        );
    }

    #[test]
    fn a_name_keeps_its_public_addresses_and_is_refused_without_any() {
        let public = SocketAddr::new(ip("8.8.8.8"), 0);
        let loopback = SocketAddr::new(ip("127.0.0.1"), 0);
        assert_eq!(
            keep_public("mixed", vec![loopback, public]),
            Ok(vec![public])
        );
        let refusal = keep_public("localhost", vec![loopback]).expect_err("only loopback");
        assert_eq!(
            refusal.to_string(),
            "refusing to download from localhost (127.0.0.1): loopback address; \
             set [engine] allow_private_networks = true to allow it"
        );
    }
}
