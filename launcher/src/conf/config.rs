//! The loaded, type-checked configuration and what changed between two loads.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use super::ini::{normalize_name, normalize_section};
use super::opt::Opt;
use super::problem::ConfigProblem;
use super::unknown::ConfigWarning;
use super::value::Value;

/// Every declared option with its checked value, and the files that were read.
///
/// Built only by [`load`](super::load). Read it with the accessor matching the
/// option's kind; pass it down as `Arc<Config>`, there is no global.
#[derive(Clone)]
pub struct Config {
    files: Vec<PathBuf>,
    entries: Vec<Entry>,
    index: HashMap<(String, String), usize>,
    warnings: Vec<ConfigWarning>,
}

/// One option and its value.
#[derive(Clone)]
pub(crate) struct Entry {
    pub(crate) opt: &'static Opt,
    pub(crate) value: Value,
}

/// An option whose value differs between two loads, both values redacted.
/// `Display` gives the reload log line `[DEFAULT] debug changed from false to true`.
#[derive(Debug, Clone)]
pub struct OptionChange {
    /// The option.
    pub opt: &'static Opt,
    /// The value before, as [`Config::display_value`] shows it.
    pub old: String,
    /// The value after, as [`Config::display_value`] shows it.
    pub new: String,
}

impl fmt::Display for OptionChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} changed from {} to {}", self.opt, self.old, self.new)
    }
}

/// The name an option is looked up by, normalized as file keys are.
pub(super) fn key(opt: &Opt) -> (String, String) {
    (normalize_section(opt.section), normalize_name(opt.name))
}

impl Config {
    pub(crate) fn new(
        files: Vec<PathBuf>,
        entries: Vec<Entry>,
        warnings: Vec<ConfigWarning>,
    ) -> Self {
        let index = entries
            .iter()
            .enumerate()
            .map(|(i, entry)| (key(entry.opt), i))
            .collect();
        Config {
            files,
            entries,
            index,
            warnings,
        }
    }

    fn value(&self, opt: &Opt) -> &Value {
        match self.index.get(&key(opt)) {
            Some(&i) => &self.entries[i].value,
            None => panic!("option {opt} was not in the tables given to conf::load"),
        }
    }

    fn wrong_kind(opt: &Opt, accessor: &str) -> ! {
        panic!(
            "option {opt} is a {}; Config::{accessor} cannot read it",
            opt.kind.type_name()
        )
    }

    /// The value of a boolean option.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded or is not a boolean option: a programming error.
    pub fn bool(&self, opt: &Opt) -> bool {
        match self.value(opt) {
            Value::Bool(b) => *b,
            _ => Self::wrong_kind(opt, "bool"),
        }
    }

    /// The value of an integer option.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded or is not an integer option: a programming error.
    pub fn int(&self, opt: &Opt) -> i64 {
        match self.value(opt) {
            Value::Int(i) => *i,
            _ => Self::wrong_kind(opt, "int"),
        }
    }

    /// The value of a port option.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded or is not a port option: a programming error.
    pub fn port(&self, opt: &Opt) -> u16 {
        match self.value(opt) {
            Value::Port(p) => *p,
            _ => Self::wrong_kind(opt, "port"),
        }
    }

    /// The value of a string, choice, URL or host address option; `None` when
    /// it is unset. Secrets come back in clear: do not log them.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded or is of another kind: a programming error.
    pub fn str(&self, opt: &Opt) -> Option<&str> {
        match self.value(opt) {
            Value::Str(s) => s.as_deref(),
            _ => Self::wrong_kind(opt, "str"),
        }
    }

    /// The value of a string, choice, URL or host address option that has a
    /// default, so is never unset: the default lives in the declaration
    /// only, not again where the value is read.
    ///
    /// # Panics
    ///
    /// When `opt` has no default, was not loaded or is of another kind: a
    /// programming error.
    pub fn text(&self, opt: &Opt) -> &str {
        self.str(opt).unwrap_or_else(|| {
            panic!(
                "[{}] {} has no default: read it with Config::str",
                opt.section, opt.name
            )
        })
    }

    /// The items of a list option; empty when unset.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded or is not a list option: a programming error.
    pub fn list(&self, opt: &Opt) -> &[String] {
        match self.value(opt) {
            Value::List(items) => items,
            _ => Self::wrong_kind(opt, "list"),
        }
    }

    /// The value as it may be logged: `<None>` when unset, passwords in
    /// secret URLs as `***`, other secrets as `***`.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded: a programming error.
    pub fn display_value(&self, opt: &Opt) -> String {
        match self.value(opt) {
            Value::Str(None) => "<None>".to_owned(),
            value => opt.redact(&value.render()).into_owned(),
        }
    }

    /// A problem with `opt`'s value that only its user can see (a value
    /// the option's kind accepts but the service cannot use), worded as the
    /// loader words its own: the files read, `[section] option`, the value
    /// (redacted when secret) and `message`.
    ///
    /// # Panics
    ///
    /// When `opt` was not loaded: a programming error.
    pub fn problem(&self, opt: &Opt, message: String) -> ConfigProblem {
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        let source = if files.is_empty() {
            "built-in default".to_owned()
        } else {
            files.join(", ")
        };
        let mut problem = ConfigProblem::option(&source, opt, None, message);
        problem.value = Some(self.display_value(opt));
        problem
    }

    /// The files that were read, in the order they were read, with each
    /// `--config-dir` expanded.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Options the files set that nothing reads and that look like mistakes
    /// (a typo of a declared option), in file order. Loading succeeded anyway.
    pub fn warnings(&self) -> &[ConfigWarning] {
        &self.warnings
    }

    /// The options whose values differ in `newer`, in declaration order, for
    /// logging a reload. Options that `newer` does not have are skipped.
    pub fn changes(&self, newer: &Config) -> Vec<OptionChange> {
        self.entries
            .iter()
            .filter_map(|entry| {
                let &i = newer.index.get(&key(entry.opt))?;
                let new = &newer.entries[i];
                (new.value != entry.value).then(|| OptionChange {
                    opt: entry.opt,
                    old: self.display_value(entry.opt),
                    new: newer.display_value(new.opt),
                })
            })
            .collect()
    }
}

impl fmt::Debug for Config {
    /// Every value as [`Config::display_value`] shows it, so secrets stay hidden.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self
            .entries
            .iter()
            .map(|entry| (entry.opt.to_string(), self.display_value(entry.opt)));
        f.debug_struct("Config")
            .field("files", &self.files)
            .field("values", &DebugMap(values.collect()))
            .finish()
    }
}

struct DebugMap(Vec<(String, String)>);

impl fmt::Debug for DebugMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, v)| (k, v)))
            .finish()
    }
}
