//! Keeping secrets out of logs: a wrapper that prints `***`, and URL
//! redaction that hides passwords but keeps hosts readable.

use std::fmt;

/// A value that must never be printed: `Debug` and `Display` show `***`.
///
/// Reading it takes a call to [`Secret::expose_secret`], which is easy to spot
/// in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The wrapped value, for the one place that needs it (a connect call).
    pub fn expose_secret(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Replaces the password of every `user:password@` in a URL with `***`,
/// leaving users, hosts, ports and paths readable:
/// `rabbit://u:p@h1:5672,v:q@h2:5672/vh` becomes
/// `rabbit://u:***@h1:5672,v:***@h2:5672/vh`.
///
/// A string without `://` or without `@` is returned unchanged. Passwords may
/// hold `/`, `,` or `@`: when in doubt this hides too much rather than too
/// little.
pub fn redact_url(value: &str) -> String {
    let Some(start) = value.find("://").map(|i| i + 3) else {
        return value.to_owned();
    };
    let rest = &value[start..];
    // The last `@` closes the last user info; the host after it ends the
    // authority. Searching from the front would stop inside a password that
    // holds a `/`.
    let Some(last_at) = rest.rfind('@') else {
        return value.to_owned();
    };
    let authority_end = rest[last_at..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |i| last_at + i);
    let (authority, tail) = rest.split_at(authority_end);

    let mut out = String::with_capacity(value.len());
    out.push_str(&value[..start]);
    // Between two `@`s lies "host,next-user-info"; with no `,` there, the `@`
    // was part of a password.
    let mut pieces = authority.split('@');
    let mut user_info = pieces.next().unwrap_or_default().to_owned();
    let mut pieces = pieces.peekable();
    while let Some(piece) = pieces.next() {
        let is_last = pieces.peek().is_none();
        match piece.find(',') {
            Some(comma) if !is_last => {
                out.push_str(&hide_password(&user_info));
                out.push('@');
                out.push_str(&piece[..=comma]);
                user_info = piece[comma + 1..].to_owned();
            }
            None if !is_last => {
                user_info.push('@');
                user_info.push_str(piece);
            }
            _ => {
                out.push_str(&hide_password(&user_info));
                out.push('@');
                out.push_str(piece);
            }
        }
    }
    out.push_str(tail);
    out
}

fn hide_password(user_info: &str) -> String {
    match user_info.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => user_info.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_prints_stars_in_debug_and_display() {
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(secret.expose_secret(), "hunter2");
    }

    #[test]
    fn the_password_of_a_single_host_url_is_hidden() {
        assert_eq!(
            redact_url("rabbit://guest:guest@127.0.0.1:5672//"),
            "rabbit://guest:***@127.0.0.1:5672//"
        );
        assert_eq!(
            redact_url("postgresql+psycopg2://pymsboot:s3cret@db:5432/pymsboot"),
            "postgresql+psycopg2://pymsboot:***@db:5432/pymsboot"
        );
    }

    #[test]
    fn every_password_of_a_multi_host_url_is_hidden() {
        assert_eq!(
            redact_url("rabbit://u:p@h1:5672,v:q@h2:5672/vh"),
            "rabbit://u:***@h1:5672,v:***@h2:5672/vh"
        );
        assert_eq!(
            redact_url("rabbit://u:p@h1,v:q@h2,w:r@h3"),
            "rabbit://u:***@h1,v:***@h2,w:***@h3"
        );
    }

    #[test]
    fn passwords_holding_separators_are_hidden_whole() {
        assert_eq!(redact_url("mysql://u:a/b@db/x"), "mysql://u:***@db/x");
        assert_eq!(redact_url("rabbit://u:a,b@h/"), "rabbit://u:***@h/");
        assert_eq!(redact_url("rabbit://u:a@b@h/"), "rabbit://u:***@h/");
        assert_eq!(
            redact_url("rabbit://u:a@b@h1,v:c@h2/"),
            "rabbit://u:***@h1,v:***@h2/"
        );
    }

    #[test]
    fn urls_without_passwords_are_unchanged() {
        for url in [
            "sqlite:////var/lib/pymsboot/pymsboot.sqlite",
            "rabbit://",
            "rabbit://guest@h/",
            "http://example.com/a?b=c",
            "not a url",
        ] {
            assert_eq!(redact_url(url), url);
        }
    }

    #[test]
    fn an_empty_user_still_has_its_password_hidden() {
        assert_eq!(redact_url("rabbit://:p@h/"), "rabbit://:***@h/");
    }
}
