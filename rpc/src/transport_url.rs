//! `transport_url` parsing exactly as oslo.messaging does it: several hosts,
//! each with its own credentials, a shared virtual host, and a query string
//! that overrides `[oslo_messaging_rabbit]` options.
//!
//! Passwords never reach a `Display` or `Debug`.

use std::fmt;

use launcher::conf::Secret;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::conf::RABBIT_OPTS;

/// The AMQP port when a host names none.
pub const DEFAULT_PORT: u16 = 5672;

/// A parsed transport URL.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportUrl {
    /// The brokers, in the order written; connections try them in turn.
    pub hosts: Vec<BrokerHost>,
    /// The virtual host shared by every broker.
    pub virtual_host: String,
    /// `[oslo_messaging_rabbit]` overrides from the query string, in order.
    pub overrides: Vec<(String, String)>,
}

/// One broker of a transport URL.
#[derive(Clone, PartialEq, Eq)]
pub struct BrokerHost {
    /// Host name or IP literal (without IPv6 brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name; `guest` when the URL gives none.
    pub username: String,
    /// Password; `guest` when the URL gives none.
    pub password: Secret<String>,
}

/// Why a transport URL is invalid. Never carries a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportUrlError {
    /// Not `scheme://...`.
    #[error("not a URL of the form rabbit://user:pass@host:port/vhost")]
    NotAUrl,
    /// A scheme other than `rabbit` (or its alias `kombu`).
    #[error("unsupported scheme {0:?}: expected rabbit")]
    Scheme(String),
    /// A host whose port is not a number from 1 to 65535.
    #[error("invalid port {port:?} for host {host:?}")]
    Port {
        /// The host.
        host: String,
        /// The port as written.
        port: String,
    },
    /// An IPv6 literal without its closing bracket, or an empty host name.
    #[error("invalid host {0:?}")]
    Host(String),
    /// A query parameter that is not an `[oslo_messaging_rabbit]` option.
    #[error("unknown option {0:?} in the query string")]
    UnknownOption(String),
    /// A query parameter whose value the option does not allow.
    #[error("query option {name}={value:?}: {allowed}")]
    OptionValue {
        /// The option.
        name: String,
        /// The value as written.
        value: String,
        /// What the option allows.
        allowed: String,
    },
}

impl TransportUrl {
    /// Parses a transport URL.
    ///
    /// # Errors
    /// See [`TransportUrlError`].
    pub fn parse(url: &str) -> Result<TransportUrl, TransportUrlError> {
        let (scheme, rest) = url.split_once("://").ok_or(TransportUrlError::NotAUrl)?;
        if !matches!(scheme, "rabbit" | "kombu") {
            return Err(TransportUrlError::Scheme(scheme.to_string()));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        // The netloc ends at the first '/' after the last '@' (a password may hold '/').
        let host_start = rest.rfind('@').map_or(0, |at| at + 1);
        let (netloc, path) = match rest[host_start..].find('/') {
            Some(slash) => rest.split_at(host_start + slash),
            None => (rest, ""),
        };
        let mut hosts = netloc
            .split(',')
            .filter(|item| !item.is_empty())
            .map(parse_host)
            .collect::<Result<Vec<_>, _>>()?;
        if hosts.is_empty() {
            hosts.push(BrokerHost::guest("localhost", DEFAULT_PORT));
        }
        // "//", "/%2F", "/" and no path all mean "/", as kombu reads them.
        let virtual_host = match path.strip_prefix('/').map(percent_decode) {
            Some(vhost) if !vhost.is_empty() => vhost,
            _ => "/".to_string(),
        };
        let overrides = query.map(parse_query).transpose()?.unwrap_or_default();
        Ok(TransportUrl {
            hosts,
            virtual_host,
            overrides,
        })
    }

    /// The value the query string gives `option`, if any.
    pub fn override_for(&self, option: &str) -> Option<&str> {
        self.overrides
            .iter()
            .find(|(name, _)| name == option)
            .map(|(_, value)| value.as_str())
    }
}

impl BrokerHost {
    fn guest(host: &str, port: u16) -> BrokerHost {
        BrokerHost {
            host: host.to_string(),
            port,
            username: "guest".to_string(),
            password: Secret::new("guest".to_string()),
        }
    }

    /// The `amqp://` URI lapin connects with, credentials and vhost encoded.
    pub fn amqp_uri(&self, virtual_host: &str) -> Secret<String> {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        Secret::new(format!(
            "amqp://{}:{}@{}:{}/{}",
            percent_encode(&self.username),
            percent_encode(self.password.expose_secret()),
            host,
            self.port,
            percent_encode(virtual_host)
        ))
    }
}

fn parse_host(item: &str) -> Result<BrokerHost, TransportUrlError> {
    let (credentials, address) = match item.rsplit_once('@') {
        Some((credentials, address)) => (Some(credentials), address),
        None => (None, item),
    };
    let (host, port) = split_host_port(address)?;
    let mut broker = BrokerHost::guest(&host, port);
    if let Some(credentials) = credentials {
        let (user, password) = credentials.split_once(':').unwrap_or((credentials, ""));
        broker.username = percent_decode(user);
        broker.password = Secret::new(percent_decode(password));
    }
    Ok(broker)
}

fn split_host_port(address: &str) -> Result<(String, u16), TransportUrlError> {
    let (host, port) = if let Some(v6) = address.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .ok_or_else(|| TransportUrlError::Host(address.to_string()))?;
        (host, after.strip_prefix(':'))
    } else {
        match address.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(TransportUrlError::Host(address.to_string()));
    }
    let port =
        match port {
            None | Some("") => DEFAULT_PORT,
            Some(text) => text.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                TransportUrlError::Port {
                    host: host.to_string(),
                    port: text.to_string(),
                }
            })?,
        };
    Ok((host.to_string(), port))
}

fn parse_query(query: &str) -> Result<Vec<(String, String)>, TransportUrlError> {
    let mut overrides: Vec<(String, String)> = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, value) = (percent_decode(name), percent_decode(value));
        let opt = RABBIT_OPTS
            .iter()
            .find(|opt| opt.name == name)
            .ok_or_else(|| TransportUrlError::UnknownOption(name.clone()))?;
        opt.check(&value)
            .map_err(|allowed| TransportUrlError::OptionValue {
                name: name.clone(),
                value: value.clone(),
                allowed,
            })?;
        // Repeated keys are joined with ',' as oslo does.
        match overrides.iter_mut().find(|(have, _)| *have == name) {
            Some((_, joined)) => {
                joined.push(',');
                joined.push_str(&value);
            }
            None => overrides.push((name, value)),
        }
    }
    Ok(overrides)
}

/// What stays literal when encoding: RFC 3986's unreserved characters.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Decodes `%XX` escapes; a `%` not followed by two hex digits stays as it
/// is, and bytes that are not UTF-8 become U+FFFD, as Python's `unquote` does.
fn percent_decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODED).to_string()
}

impl fmt::Display for TransportUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hosts: Vec<String> = self.hosts.iter().map(ToString::to_string).collect();
        write!(
            f,
            "rabbit://{}/{}",
            hosts.join(","),
            percent_encode(&self.virtual_host)
        )
    }
}

impl fmt::Debug for TransportUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TransportUrl({self})")
    }
}

impl fmt::Display for BrokerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:***@{}:{}", self.username, self.host, self.port)
    }
}

impl fmt::Debug for BrokerHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BrokerHost({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> TransportUrl {
        TransportUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn several_hosts_keep_their_own_credentials() {
        let url = parse("rabbit://u1:p1@h1:5673,u2:p2@h2/vh");
        assert_eq!(url.hosts.len(), 2);
        assert_eq!(
            (url.hosts[0].host.as_str(), url.hosts[0].port),
            ("h1", 5673)
        );
        assert_eq!(url.hosts[0].username, "u1");
        assert_eq!(url.hosts[0].password.expose_secret(), "p1");
        assert_eq!(
            (url.hosts[1].host.as_str(), url.hosts[1].port),
            ("h2", DEFAULT_PORT)
        );
        assert_eq!(url.hosts[1].password.expose_secret(), "p2");
        assert_eq!(url.virtual_host, "vh");
    }

    #[test]
    fn double_slash_encoded_slash_single_slash_and_no_path_all_mean_root() {
        for url in [
            "rabbit://h:5672//",
            "rabbit://h:5672/%2F",
            "rabbit://h:5672/",
            "rabbit://h:5672",
        ] {
            assert_eq!(parse(url).virtual_host, "/", "{url}");
        }
        assert_eq!(parse("rabbit://h/%2Ffoo").virtual_host, "/foo");
    }

    #[test]
    fn credentials_split_on_the_last_at_and_the_first_colon() {
        let url = parse("rabbit://us@er:pa:ss@h//");
        assert_eq!(url.hosts[0].username, "us@er");
        assert_eq!(url.hosts[0].password.expose_secret(), "pa:ss");
        let encoded = parse("rabbit://user:p%40ss%2Fw@h//");
        assert_eq!(encoded.hosts[0].password.expose_secret(), "p@ss/w");
    }

    #[test]
    fn no_hosts_means_guest_on_localhost() {
        let url = parse("rabbit://");
        assert_eq!(url.hosts[0].host, "localhost");
        assert_eq!(url.hosts[0].username, "guest");
    }

    #[test]
    fn ipv6_literals_need_brackets() {
        let url = parse("rabbit://u:p@[::1]:5673//");
        assert_eq!(
            (url.hosts[0].host.as_str(), url.hosts[0].port),
            ("::1", 5673)
        );
        assert!(matches!(
            TransportUrl::parse("rabbit://[::1:5672//"),
            Err(TransportUrlError::Host(_))
        ));
    }

    #[test]
    fn a_bad_port_or_scheme_is_refused_without_the_password() {
        let error = TransportUrl::parse("rabbit://u:secretpw@h:notaport/").expect_err("bad port");
        assert!(!error.to_string().contains("secretpw"));
        assert!(matches!(error, TransportUrlError::Port { .. }));
        assert!(matches!(
            TransportUrl::parse("amqp://h//"),
            Err(TransportUrlError::Scheme(_))
        ));
        assert!(matches!(
            TransportUrl::parse("h:5672"),
            Err(TransportUrlError::NotAUrl)
        ));
        assert!(TransportUrl::parse("kombu://h//").is_ok());
    }

    #[test]
    fn the_query_overrides_rabbit_options_and_refuses_unknown_ones() {
        let url = parse("rabbit://h//?heartbeat_timeout_threshold=10&rabbit_qos_prefetch_count=5");
        assert_eq!(url.override_for("heartbeat_timeout_threshold"), Some("10"));
        assert_eq!(url.override_for("rabbit_qos_prefetch_count"), Some("5"));
        assert!(matches!(
            TransportUrl::parse("rabbit://h//?nosuch=1"),
            Err(TransportUrlError::UnknownOption(_))
        ));
        assert!(matches!(
            TransportUrl::parse("rabbit://h//?heartbeat_timeout_threshold=soon"),
            Err(TransportUrlError::OptionValue { .. })
        ));
    }

    #[test]
    fn display_and_debug_redact_every_password() {
        let url = parse("rabbit://u1:secret1@h1,u2:secret2@h2/vh");
        for text in [
            url.to_string(),
            format!("{url:?}"),
            format!("{:?}", url.hosts[0]),
        ] {
            assert!(!text.contains("secret"), "{text}");
        }
        assert_eq!(url.to_string(), "rabbit://u1:***@h1:5672,u2:***@h2:5672/vh");
    }

    #[test]
    fn the_amqp_uri_encodes_credentials_and_the_root_vhost() {
        let url = parse("rabbit://us%3Ar:p%40ss@h:5673//");
        assert_eq!(
            url.hosts[0].amqp_uri(&url.virtual_host).expose_secret(),
            "amqp://us%3Ar:p%40ss@h:5673/%2F"
        );
    }
}
