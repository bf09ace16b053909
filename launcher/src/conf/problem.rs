//! One thing wrong with the configuration, worded for the operator who has to
//! fix it: which file, which `[section] option`, the value, and what is
//! allowed.

use std::fmt;
use std::path::Path;

use super::opt::Opt;

/// The source named when the value came from a command-line flag.
pub(crate) const COMMAND_LINE: &str = "command line";
/// The source named when an option's own default is invalid.
pub(crate) const BUILT_IN_DEFAULT: &str = "built-in default";
/// The source named when the option tables themselves are wrong.
pub(crate) const OPTION_TABLES: &str = "option tables";
/// The source named when a required option is set nowhere.
pub(crate) const CONFIGURATION: &str = "configuration";

/// A problem found while loading the configuration. Its `Display` is one line:
/// `/etc/x.conf: [api] port = '99999': expected an integer from 0 to 65535`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file path, or `command line`.
    pub source: String,
    /// The section, when the problem is about an option.
    pub section: Option<String>,
    /// The option name, when the problem is about an option.
    pub option: Option<String>,
    /// The offending value, with secrets redacted.
    pub value: Option<String>,
    /// What went wrong or what is allowed.
    pub message: String,
}

impl ConfigProblem {
    /// A problem with a whole file or directory: unreadable, or a syntax error.
    pub(crate) fn file(path: &Path, message: String) -> Self {
        ConfigProblem {
            source: path.display().to_string(),
            section: None,
            option: None,
            value: None,
            message,
        }
    }

    /// A problem with one option; `raw` is redacted here when it is secret.
    pub(crate) fn option(source: &str, opt: &Opt, raw: Option<&str>, message: String) -> Self {
        ConfigProblem {
            source: source.to_owned(),
            section: Some(opt.section.to_owned()),
            option: Some(opt.name.to_owned()),
            value: raw.map(|raw| opt.redact(raw).into_owned()),
            message,
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.source)?;
        match (&self.section, &self.option) {
            (Some(section), Some(option)) => write!(f, "[{section}] {option}")?,
            (Some(section), None) => write!(f, "[{section}]")?,
            (None, Some(option)) => f.write_str(option)?,
            (None, None) => {}
        }
        if let Some(value) = &self.value {
            write!(f, " = '{value}'")?;
        }
        if self.section.is_some() || self.option.is_some() || self.value.is_some() {
            f.write_str(": ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigProblem {}

#[cfg(test)]
mod tests {
    use super::super::opt::{OptDefault, OptKind};
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

    static CONNECTION: Opt = Opt {
        section: "database",
        name: "connection",
        kind: OptKind::Url {
            schemes: &["sqlite"],
        },
        default: OptDefault::Unset,
        help: "Database URL.",
        mutable: false,
        secret: true,
    };

    #[test]
    fn a_value_problem_names_file_section_option_value_and_what_is_allowed() {
        let problem = ConfigProblem::option(
            "/etc/x.conf",
            &PORT,
            Some("99999"),
            "expected an integer from 0 to 65535".into(),
        );
        assert_eq!(
            problem.to_string(),
            "/etc/x.conf: [api] port = '99999': expected an integer from 0 to 65535"
        );
    }

    #[test]
    fn a_file_problem_names_only_the_file() {
        let problem = ConfigProblem::file(
            Path::new("/etc/x.conf"),
            "line 7: key cannot be empty".into(),
        );
        assert_eq!(
            problem.to_string(),
            "/etc/x.conf: line 7: key cannot be empty"
        );
    }

    #[test]
    fn a_problem_never_shows_a_secret_value() {
        let problem = ConfigProblem::option(
            COMMAND_LINE,
            &CONNECTION,
            Some("mysql://u:hunter2@db/x"),
            "expected a URL of the form scheme://... with scheme sqlite".into(),
        );
        assert_eq!(problem.value.as_deref(), Some("mysql://u:***@db/x"));
        assert!(!problem.to_string().contains("hunter2"));
        assert!(!format!("{problem:?}").contains("hunter2"));
    }

    #[test]
    fn a_problem_without_a_value_has_no_quotes() {
        let problem =
            ConfigProblem::option(CONFIGURATION, &PORT, None, "a value is required".into());
        assert_eq!(
            problem.to_string(),
            "configuration: [api] port: a value is required"
        );
    }
}
