//! Option declarations: what an option is called, where it lives, what its
//! value must look like, its default and its help.
//!
//! Every crate declares its options once, as `pub static` [`Opt`] items
//! gathered in an `OPTS` table. Loading, validation, the sample config and the
//! man page all read those tables, so they cannot disagree.

use std::borrow::Cow;
use std::fmt;

use super::secret::redact_url;

/// What an option's value must look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(unpredictable_function_pointer_comparisons)]
pub enum OptKind {
    /// `true/false`, `yes/no`, `on/off` or `1/0`, in any case.
    Bool,
    /// A decimal integer within inclusive bounds.
    Int {
        /// The smallest value allowed, if any.
        min: Option<i64>,
        /// The largest value allowed, if any.
        max: Option<i64>,
    },
    /// A TCP or UDP port, `0..=65535`.
    Port,
    /// Any string, including an empty one.
    Str,
    /// One of a fixed set of strings, matched exactly.
    Choice(&'static [&'static str]),
    /// Comma-separated items, each trimmed; empty items are dropped.
    List,
    /// A `scheme://rest` URL. `schemes` lists the schemes allowed (an empty
    /// list allows any); an allowed `dialect` also allows the SQLAlchemy
    /// spelling `dialect+driver`.
    Url {
        /// The schemes allowed, without `://`.
        schemes: &'static [&'static str],
    },
    /// An IPv4 or IPv6 literal, or a host name.
    HostAddress,
    /// A string checked by the crate that owns it (a transport URL, a
    /// database URL): its grammar lives beside the code that uses it.
    Checked {
        /// The type as the sample names it, e.g. `transport URL value`.
        type_name: &'static str,
        /// `Ok` for a valid value, else what is allowed.
        check: fn(&str) -> Result<(), String>,
    },
}

impl OptKind {
    /// An integer with a lower bound only.
    pub const fn at_least(min: i64) -> OptKind {
        OptKind::Int {
            min: Some(min),
            max: None,
        }
    }

    /// The type as oslo-config-generator names it in a sample, e.g. `integer value`.
    pub fn type_name(&self) -> &'static str {
        match self {
            OptKind::Bool => "boolean value",
            OptKind::Int { .. } => "integer value",
            OptKind::Port => "port value",
            OptKind::Str | OptKind::Choice(_) => "string value",
            OptKind::List => "list value",
            OptKind::Url { .. } => "uri value",
            OptKind::HostAddress => "host address value",
            OptKind::Checked { type_name, .. } => type_name,
        }
    }

    /// The smallest value allowed, for the integer kinds.
    pub fn min(&self) -> Option<i64> {
        match self {
            OptKind::Int { min, .. } => *min,
            OptKind::Port => Some(0),
            _ => None,
        }
    }

    /// The largest value allowed, for the integer kinds.
    pub fn max(&self) -> Option<i64> {
        match self {
            OptKind::Int { max, .. } => *max,
            OptKind::Port => Some(i64::from(u16::MAX)),
            _ => None,
        }
    }
}

/// An option's value when no file or flag sets it.
#[derive(Debug, Clone, Copy)]
pub enum OptDefault {
    /// No value: [`Config::str`](super::Config::str) returns `None` and a list
    /// is empty. A boolean, integer or port option without a default must be
    /// set in the configuration.
    Unset,
    /// A value written as it would be in a file; it is parsed like one.
    Value(&'static str),
    /// A value known only at run time (the machine's hostname, say), computed
    /// once per load. The sample shows `describe` between angle brackets.
    Computed {
        /// What the value is, for the sample and the man page.
        describe: &'static str,
        /// Produces the value, written as it would be in a file.
        compute: fn() -> String,
    },
}

/// One declared option. Declare it as a `pub static` and list it in its
/// crate's `OPTS` table.
#[derive(Debug)]
pub struct Opt {
    /// The INI section, e.g. `DEFAULT` or `api`.
    pub section: &'static str,
    /// The key within the section; `-` is read as `_`, as oslo.config does.
    pub name: &'static str,
    /// What the value must look like.
    pub kind: OptKind,
    /// The value when none is configured.
    pub default: OptDefault,
    /// One or more sentences for the sample and the man page.
    pub help: &'static str,
    /// Whether `SIGHUP` may change it without restarting the workers.
    pub mutable: bool,
    /// Whether its value must never be printed (passwords in URLs).
    pub secret: bool,
}

impl Opt {
    /// An ordinary option: a fixed default, not mutable, not secret. Spell
    /// out the struct for anything else.
    pub const fn new(
        section: &'static str,
        name: &'static str,
        kind: OptKind,
        default: &'static str,
        help: &'static str,
    ) -> Opt {
        Opt {
            section,
            name,
            kind,
            default: OptDefault::Value(default),
            help,
            mutable: false,
            secret: false,
        }
    }

    /// The default as a sample config shows it: the value, `<None>` when
    /// unset, or `<describe>` when computed.
    pub fn default_text(&self) -> Cow<'static, str> {
        match self.default {
            OptDefault::Unset => Cow::Borrowed("<None>"),
            OptDefault::Value(value) => Cow::Borrowed(value),
            OptDefault::Computed { describe, .. } => Cow::Owned(format!("<{describe}>")),
        }
    }

    /// Whether `raw` is a valid value of this option, as a file would spell it.
    ///
    /// # Errors
    /// What the option allows, as the end of a problem line.
    pub fn check(&self, raw: &str) -> Result<(), String> {
        super::value::parse(self.kind, raw).map(drop)
    }

    /// `value` as it may be printed: unchanged for an ordinary option; for a
    /// secret URL, with the passwords replaced by `***`; for any other secret,
    /// `***`.
    pub fn redact<'a>(&self, value: &'a str) -> Cow<'a, str> {
        match self.kind {
            _ if !self.secret => Cow::Borrowed(value),
            // Something that is not even shaped like a URL may be a bare
            // password typed in the wrong place.
            OptKind::Url { .. } | OptKind::Checked { .. } if value.contains("://") => {
                Cow::Owned(redact_url(value))
            }
            _ => Cow::Borrowed("***"),
        }
    }
}

impl fmt::Display for Opt {
    /// `[section] name`, the way problems and reload logs name an option.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.section, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static PORT: Opt = Opt {
        section: "api",
        name: "port",
        kind: OptKind::Port,
        default: OptDefault::Value("9666"),
        help: "Port.",
        mutable: false,
        secret: false,
    };

    #[test]
    fn an_opt_can_be_declared_as_a_static_and_names_itself() {
        assert_eq!(PORT.to_string(), "[api] port");
    }

    #[test]
    fn ports_have_bounds_like_integers() {
        assert_eq!(OptKind::Port.min(), Some(0));
        assert_eq!(OptKind::Port.max(), Some(65535));
        assert_eq!(OptKind::Str.min(), None);
    }

    #[test]
    fn the_default_text_follows_oslo_config_generator() {
        assert_eq!(PORT.default_text(), "9666");
        let unset = Opt {
            default: OptDefault::Unset,
            ..dummy()
        };
        assert_eq!(unset.default_text(), "<None>");
        let computed = Opt {
            default: OptDefault::Computed {
                describe: "hostname",
                compute: || "h".to_owned(),
            },
            ..dummy()
        };
        assert_eq!(computed.default_text(), "<hostname>");
    }

    #[test]
    fn only_secret_values_are_redacted() {
        let url = "rabbit://u:p@h/";
        assert_eq!(dummy().redact(url), url);
        let secret_url = Opt {
            kind: OptKind::Url { schemes: &[] },
            secret: true,
            ..dummy()
        };
        assert_eq!(secret_url.redact(url), "rabbit://u:***@h/");
        assert_eq!(secret_url.redact("u:p@h"), "***");
        let secret_str = Opt {
            secret: true,
            ..dummy()
        };
        assert_eq!(secret_str.redact(url), "***");
    }

    fn dummy() -> Opt {
        Opt {
            section: "DEFAULT",
            name: "x",
            kind: OptKind::Str,
            default: OptDefault::Unset,
            help: "",
            mutable: false,
            secret: false,
        }
    }
}
