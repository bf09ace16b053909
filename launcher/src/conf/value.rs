//! Typed parsing of option values, with oslo.config's spellings: booleans,
//! bounded integers, ports, choices, lists, URLs and host addresses.
//!
//! A parse failure is a sentence saying what is allowed; the caller adds the
//! file, the `[section] option` and the value.

use std::net::IpAddr;

use super::opt::OptKind;

/// A checked option value, in the shape its accessor returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Bool(bool),
    Int(i64),
    Port(u16),
    /// Str, Choice, Url and HostAddress; `None` when unset.
    Str(Option<String>),
    List(Vec<String>),
}

impl Value {
    /// The value for `OptDefault::Unset`.
    pub(crate) fn unset(kind: OptKind) -> Option<Value> {
        match kind {
            OptKind::Bool | OptKind::Int { .. } | OptKind::Port => None,
            OptKind::List => Some(Value::List(Vec::new())),
            _ => Some(Value::Str(None)),
        }
    }

    /// The value as a file would spell it; `<None>` when unset. Not redacted.
    pub(crate) fn render(&self) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Port(p) => p.to_string(),
            Value::Str(Some(s)) => s.clone(),
            Value::Str(None) => "<None>".to_owned(),
            Value::List(items) => items.join(","),
        }
    }
}

/// Parses `raw` as `kind`.
///
/// # Errors
///
/// When `raw` is not a valid `kind`, a sentence saying what is allowed
/// (see [`expected`]).
pub(crate) fn parse(kind: OptKind, raw: &str) -> Result<Value, String> {
    let value = match kind {
        OptKind::Bool => parse_bool(raw).map(Value::Bool),
        OptKind::Int { min, max } => parse_int(raw, min, max).map(Value::Int),
        OptKind::Port => parse_int(raw, Some(0), Some(i64::from(u16::MAX)))
            .and_then(|p| u16::try_from(p).ok())
            .map(Value::Port),
        OptKind::Str => Some(Value::Str(Some(raw.to_owned()))),
        OptKind::Choice(choices) => choices
            .contains(&raw)
            .then(|| Value::Str(Some(raw.to_owned()))),
        OptKind::List => Some(Value::List(parse_list(raw))),
        OptKind::Url { schemes } => is_url(raw, schemes).then(|| Value::Str(Some(raw.to_owned()))),
        OptKind::HostAddress => is_host_address(raw).then(|| Value::Str(Some(raw.to_owned()))),
        OptKind::Checked { check, .. } => {
            return check(raw).map(|()| Value::Str(Some(raw.to_owned())));
        }
    };
    value.ok_or_else(|| expected(kind))
}

/// What `kind` allows, as the end of a problem line.
pub(crate) fn expected(kind: OptKind) -> String {
    match kind {
        OptKind::Bool => "expected a boolean: true/false, yes/no, on/off or 1/0".to_owned(),
        OptKind::Int { min, max } => expected_int(min, max),
        OptKind::Port => expected_int(Some(0), Some(i64::from(u16::MAX))),
        OptKind::Str | OptKind::List => "expected a string".to_owned(),
        OptKind::Choice(choices) => format!("expected one of: {}", choices.join(", ")),
        OptKind::Url { schemes: [] } => "expected a URL of the form scheme://...".to_owned(),
        OptKind::Url { schemes } => format!(
            "expected a URL of the form scheme://... with scheme {}",
            schemes.join(", ")
        ),
        OptKind::HostAddress => "expected an IPv4 or IPv6 address or a host name".to_owned(),
        OptKind::Checked { type_name, .. } => format!("expected a valid {type_name}"),
    }
}

fn expected_int(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(min), Some(max)) => format!("expected an integer from {min} to {max}"),
        (Some(min), None) => format!("expected an integer of at least {min}"),
        (None, Some(max)) => format!("expected an integer of at most {max}"),
        (None, None) => "expected an integer".to_owned(),
    }
}

fn parse_bool(raw: &str) -> Option<bool> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

fn parse_int(raw: &str, min: Option<i64>, max: Option<i64>) -> Option<i64> {
    // Python's int() accepts surrounding blanks and a sign, so oslo does too.
    let value: i64 = raw.trim().parse().ok()?;
    let above_min = min.is_none_or(|min| value >= min);
    let below_max = max.is_none_or(|max| value <= max);
    (above_min && below_max).then_some(value)
}

fn parse_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `scheme://rest` with an RFC 3986 scheme and no blanks. `rest` may be empty
/// (`sqlite://` is an in-memory database) and may hold several hosts.
fn is_url(raw: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = raw.split_once("://") else {
        return false;
    };
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    let rest_ok = !rest.chars().any(|c| c.is_whitespace() || c.is_control());
    scheme_ok && rest_ok && scheme_allowed(scheme, schemes)
}

fn scheme_allowed(scheme: &str, schemes: &[&str]) -> bool {
    let scheme = scheme.to_ascii_lowercase();
    let dialect = scheme.split('+').next().unwrap_or(&scheme);
    schemes.is_empty()
        || schemes.iter().any(|allowed| {
            allowed.eq_ignore_ascii_case(&scheme) || allowed.eq_ignore_ascii_case(dialect)
        })
}

/// An IP literal, or a host name as oslo's `HostAddressOpt` accepts it:
/// labels of letters, digits and `-` (not at either end), 1 to 63 long, 253 in
/// all, an optional final dot, and a top-level label that is not all digits.
fn is_host_address(raw: &str) -> bool {
    if raw.parse::<IpAddr>().is_ok() {
        return true;
    }
    if raw.is_empty() || raw.len() > 253 {
        return false;
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let top_level_ok = name
        .rsplit('.')
        .next()
        .is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    name.split('.').all(label_ok) && top_level_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const INT_1_TO_10: OptKind = OptKind::Int {
        min: Some(1),
        max: Some(10),
    };
    const DB: OptKind = OptKind::Url {
        schemes: &["sqlite", "postgresql", "mysql"],
    };
    const RABBIT: OptKind = OptKind::Url {
        schemes: &["rabbit"],
    };

    #[test]
    fn every_oslo_boolean_spelling_is_accepted_in_any_case() {
        for raw in [
            "true", "True", "TRUE", "yes", "Yes", "on", "ON", "1", " true ",
        ] {
            assert_eq!(parse(OptKind::Bool, raw), Ok(Value::Bool(true)), "{raw}");
        }
        for raw in ["false", "False", "FALSE", "no", "NO", "off", "Off", "0"] {
            assert_eq!(parse(OptKind::Bool, raw), Ok(Value::Bool(false)), "{raw}");
        }
    }

    #[test]
    fn anything_else_is_not_a_boolean() {
        for raw in ["", "t", "y", "2", "enabled", "truee"] {
            let err = parse(OptKind::Bool, raw).unwrap_err();
            assert_eq!(err, "expected a boolean: true/false, yes/no, on/off or 1/0");
        }
    }

    #[test]
    fn integers_are_checked_against_both_bounds() {
        assert_eq!(parse(INT_1_TO_10, "1"), Ok(Value::Int(1)));
        assert_eq!(parse(INT_1_TO_10, "10"), Ok(Value::Int(10)));
        assert_eq!(parse(INT_1_TO_10, " +5 "), Ok(Value::Int(5)));
        for raw in ["0", "11", "-1", "", "1.0", "0x5", "five"] {
            let err = parse(INT_1_TO_10, raw).unwrap_err();
            assert_eq!(err, "expected an integer from 1 to 10", "{raw}");
        }
    }

    #[test]
    fn one_sided_and_unbounded_integers_say_what_is_allowed() {
        let at_least = OptKind::Int {
            min: Some(0),
            max: None,
        };
        assert_eq!(
            parse(at_least, "-1").unwrap_err(),
            "expected an integer of at least 0"
        );
        let at_most = OptKind::Int {
            min: None,
            max: Some(3),
        };
        assert_eq!(
            parse(at_most, "4").unwrap_err(),
            "expected an integer of at most 3"
        );
        let any = OptKind::Int {
            min: None,
            max: None,
        };
        assert_eq!(parse(any, "-42"), Ok(Value::Int(-42)));
        assert_eq!(
            parse(any, "99999999999999999999").unwrap_err(),
            "expected an integer"
        );
    }

    #[test]
    fn ports_run_from_0_to_65535() {
        assert_eq!(parse(OptKind::Port, "0"), Ok(Value::Port(0)));
        assert_eq!(parse(OptKind::Port, "65535"), Ok(Value::Port(65535)));
        for raw in ["65536", "99999", "-1", ""] {
            let err = parse(OptKind::Port, raw).unwrap_err();
            assert_eq!(err, "expected an integer from 0 to 65535");
        }
    }

    #[test]
    fn strings_are_taken_as_they_are_even_when_empty() {
        assert_eq!(parse(OptKind::Str, ""), Ok(Value::Str(Some(String::new()))));
        assert_eq!(
            parse(OptKind::Str, "a # b"),
            Ok(Value::Str(Some("a # b".into())))
        );
    }

    #[test]
    fn choices_match_exactly() {
        let kind = OptKind::Choice(&["asc", "desc"]);
        assert_eq!(parse(kind, "asc"), Ok(Value::Str(Some("asc".into()))));
        assert_eq!(
            parse(kind, "ASC").unwrap_err(),
            "expected one of: asc, desc"
        );
    }

    #[test]
    fn lists_are_split_on_commas_trimmed_and_empty_items_dropped() {
        let list = |raw| parse(OptKind::List, raw);
        assert_eq!(list(""), Ok(Value::List(vec![])));
        assert_eq!(list("a"), Ok(Value::List(vec!["a".into()])));
        assert_eq!(
            list(" a ,, b ,"),
            Ok(Value::List(vec!["a".into(), "b".into()]))
        );
    }

    #[test]
    fn database_urls_pass_with_their_dialect_or_driver() {
        for raw in [
            "sqlite:///relative.db",
            "sqlite:////var/lib/pymsboot/pymsboot.sqlite",
            "sqlite://",
            "postgresql://u:p@db/pymsboot",
            "postgresql+psycopg2://u:p@db:5432/pymsboot",
            "mysql+pymysql://u:p@db/pymsboot?charset=utf8",
        ] {
            assert!(parse(DB, raw).is_ok(), "{raw}");
        }
    }

    #[test]
    fn multi_host_transport_urls_pass() {
        assert!(parse(RABBIT, "rabbit://u:p@h1:5672,u:p@h2:5672/").is_ok());
        assert!(parse(RABBIT, "rabbit://guest:guest@127.0.0.1:5672//").is_ok());
    }

    #[test]
    fn urls_with_another_scheme_or_no_scheme_are_rejected() {
        for raw in [
            "amqp://h/",
            "oracle://db",
            "db.example.com",
            "rabbit:/h",
            "://h",
            "",
            "rabbit://a b",
        ] {
            assert!(parse(RABBIT, raw).is_err(), "{raw}");
        }
        assert_eq!(
            parse(DB, "oracle://db").unwrap_err(),
            "expected a URL of the form scheme://... with scheme sqlite, postgresql, mysql"
        );
        assert!(parse(OptKind::Url { schemes: &[] }, "anything+x://h").is_ok());
    }

    #[test]
    fn host_addresses_are_ip_literals_or_host_names() {
        for raw in [
            "0.0.0.0",
            "127.0.0.1",
            "::",
            "::1",
            "fe80::1",
            "localhost",
            "api-1.example.com",
            "example.com.",
        ] {
            assert!(parse(OptKind::HostAddress, raw).is_ok(), "{raw}");
        }
        for raw in [
            "",
            "-bad.example",
            "bad-.example",
            "a..b",
            "under_score",
            "[::1]",
            "1.2.3.999",
            "host name",
        ] {
            assert_eq!(
                parse(OptKind::HostAddress, raw).unwrap_err(),
                "expected an IPv4 or IPv6 address or a host name",
                "{raw}"
            );
        }
    }

    #[test]
    fn values_render_as_a_file_would_spell_them() {
        assert_eq!(Value::Bool(true).render(), "true");
        assert_eq!(Value::Port(80).render(), "80");
        assert_eq!(Value::Str(None).render(), "<None>");
        assert_eq!(Value::List(vec!["a".into(), "b".into()]).render(), "a,b");
    }
}
