//! Configuration with oslo.config's semantics, declared once in static tables.
//!
//! Each crate declares its options as `pub static` [`Opt`] items listed in an
//! `OPTS` table. [`load`] reads the INI files and command-line overrides
//! against those tables and returns either a fully type-checked [`Config`] or
//! every [`ConfigProblem`] at once. It is pure (no sockets, no globals), so the
//! first start, a `SIGHUP` reload and `pymsboot-manage config check` share it.
//! [`render_sample`] writes the annotated sample from the same tables.
//!
//! # Layout
//! - `opt`: [`Opt`], [`OptKind`], [`OptDefault`]: the declarations.
//! - `ini`: oslo-style INI reading on `rust-ini`.
//! - `value`: typed parsing of booleans, integers, ports, lists, URLs, hosts.
//! - `config`: [`Config`], its accessors and [`OptionChange`].
//! - `problem`: [`ConfigProblem`], one line per thing to fix.
//! - `secret`: [`Secret`] and [`redact_url`].
//! - `unknown`: [`ConfigWarning`], an unread option that looks like a typo.
//! - `sample`: [`render_sample`], oslo-config-generator style.
//! - [`options`]: the `[DEFAULT]` options the launcher owns.

pub use config::{Config, OptionChange};
pub use man::render_man_options;
pub use opt::{Opt, OptDefault, OptKind};
pub use options::OPTS;
pub use problem::ConfigProblem;
pub use sample::render_sample;
pub use secret::{Secret, redact_url};
pub use unknown::ConfigWarning;

mod config;
mod ini;
mod man;
mod opt;
pub mod options;
mod problem;
mod sample;
mod secret;
#[cfg(test)]
mod tests;
mod unknown;
mod value;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use config::{Entry, key};
use ini::{normalize_name, normalize_section};
use problem::{BUILT_IN_DEFAULT, COMMAND_LINE, CONFIGURATION, OPTION_TABLES};
use value::Value;

/// A value from a command-line flag (`--debug`, `--log-file`); it wins over
/// every file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    /// The option's section.
    pub section: &'static str,
    /// The option's name.
    pub name: &'static str,
    /// The value, spelled as it would be in a file.
    pub value: String,
}

/// Where the configuration comes from, as the command line gave it.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    /// `--config-file`, in order; later files win.
    pub files: Vec<PathBuf>,
    /// `--config-dir`: every `*.conf` in each, sorted, read after the files.
    pub dirs: Vec<PathBuf>,
    /// Values from flags, applied last.
    pub overrides: Vec<Override>,
}

/// Reads the files in order, then every `*.conf` in each directory (sorted by
/// name, hidden files skipped), then the overrides; later values win. Parses
/// and type-checks every declared option. Unknown sections and options are
/// ignored and logged at debug level, except an unknown option that looks like
/// a mistake in a section the project owns: it becomes a
/// [`ConfigWarning`] (see [`Config::warnings`]), logged at warning level.
///
/// # Errors
///
/// Every problem found, not just the first: a file or directory that cannot
/// be read (a missing `--config-file` or `--config-dir` included; an empty
/// directory is fine), a syntax error, a value of the wrong type or out of
/// bounds, an override of an undeclared option, a boolean, integer or port
/// option with neither a default nor a value.
pub fn load(sources: &Sources, tables: &[&[&'static Opt]]) -> Result<Config, Vec<ConfigProblem>> {
    let mut problems = Vec::new();
    let opts = declared(tables, &mut problems);
    let mut raw = RawValues {
        known: opts.iter().map(|opt| key(opt)).collect(),
        values: HashMap::new(),
        warnings: Vec::new(),
    };
    let files = raw.read_files(expand(sources, &mut problems), &mut problems);
    raw.apply_overrides(&sources.overrides, &mut problems);

    let mut entries = Vec::with_capacity(opts.len());
    for opt in opts {
        match resolve(opt, raw.values.get(&key(opt))) {
            Ok(value) => entries.push(Entry { opt, value }),
            Err(problem) => problems.push(problem),
        }
    }
    if problems.is_empty() {
        Ok(Config::new(files, entries, raw.warnings))
    } else {
        Err(problems)
    }
}

/// The configured text of each declared option; later assignments win.
struct RawValues {
    known: HashSet<(String, String)>,
    values: HashMap<(String, String), Raw>,
    warnings: Vec<ConfigWarning>,
}

impl RawValues {
    /// Reads `paths` in order and returns those that could be read.
    fn read_files(
        &mut self,
        paths: Vec<PathBuf>,
        problems: &mut Vec<ConfigProblem>,
    ) -> Vec<PathBuf> {
        let mut read = Vec::with_capacity(paths.len());
        for path in paths {
            match ini::read_file(&path) {
                Ok(assignments) => {
                    self.add_file(&path, assignments);
                    read.push(path);
                }
                Err(message) => problems.push(ConfigProblem::file(&path, message)),
            }
        }
        read
    }

    fn add_file(&mut self, path: &Path, assignments: Vec<ini::Assignment>) {
        let file = path.display().to_string();
        let mut unknown_sections = HashSet::new();
        for a in assignments {
            let key = (a.section, a.name);
            if self.known.contains(&key) {
                let source = file.clone();
                self.values.insert(
                    key,
                    Raw {
                        value: a.value,
                        source,
                    },
                );
            } else if !self.known.iter().any(|(section, _)| *section == key.0) {
                if unknown_sections.insert(key.0.clone()) {
                    tracing::debug!(%file, section = %key.0, "ignoring an unknown section");
                }
            } else if let Some(warning) = self.judge(&file, &key) {
                // Before logging is set up (the first start) nobody hears
                // this; the binaries then log `Config::warnings` themselves.
                if !self.warnings.contains(&warning) {
                    tracing::warn!("{warning}");
                    self.warnings.push(warning);
                }
            } else {
                tracing::debug!(%file, section = %key.0, option = %key.1, "ignoring an unknown option");
            }
        }
    }

    /// A warning when the unknown option `key` of `file` looks like a typo.
    fn judge(&self, file: &str, (section, name): &(String, String)) -> Option<ConfigWarning> {
        let declared = self
            .known
            .iter()
            .filter(|(s, _)| s == section)
            .map(|(_, n)| n.as_str());
        unknown::judge(file, section, name, declared)
    }

    fn apply_overrides(&mut self, overrides: &[Override], problems: &mut Vec<ConfigProblem>) {
        for o in overrides {
            let key = (normalize_section(o.section), normalize_name(o.name));
            if self.known.contains(&key) {
                let source = COMMAND_LINE.to_owned();
                self.values.insert(
                    key,
                    Raw {
                        value: o.value.clone(),
                        source,
                    },
                );
            } else {
                problems.push(ConfigProblem {
                    source: COMMAND_LINE.to_owned(),
                    section: Some(o.section.to_owned()),
                    option: Some(o.name.to_owned()),
                    value: None,
                    message: "no such option".to_owned(),
                });
            }
        }
    }
}

/// A value as read, and where it was read from.
struct Raw {
    value: String,
    source: String,
}

/// The options of all tables, each once. A table listed twice is harmless; two
/// different declarations of one option are a programming error to report.
fn declared(tables: &[&[&'static Opt]], problems: &mut Vec<ConfigProblem>) -> Vec<&'static Opt> {
    let mut seen: HashMap<(String, String), &'static Opt> = HashMap::new();
    let mut opts = Vec::new();
    for &opt in tables.iter().flat_map(|table| table.iter()) {
        match seen.get(&key(opt)) {
            Some(first) if std::ptr::eq(*first, opt) => {}
            Some(_) => problems.push(ConfigProblem::option(
                OPTION_TABLES,
                opt,
                None,
                "declared more than once".to_owned(),
            )),
            None => {
                seen.insert(key(opt), opt);
                opts.push(opt);
            }
        }
    }
    opts
}

/// The configuration files to read, in order: the files, then each directory.
fn expand(sources: &Sources, problems: &mut Vec<ConfigProblem>) -> Vec<PathBuf> {
    let mut paths = sources.files.clone();
    for dir in &sources.dirs {
        match conf_files_in(dir) {
            Ok(found) => paths.extend(found),
            Err(e) => problems.push(ConfigProblem::file(
                dir,
                format!("cannot read directory: {e}"),
            )),
        }
    }
    paths
}

/// Like oslo's `glob(dir/*.conf)`: hidden files are not matched.
fn conf_files_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let visible_conf = path
            .file_name()
            .and_then(|name| name.to_str())
            .is_some_and(|name| !name.starts_with('.') && name.ends_with(".conf"));
        if visible_conf && path.is_file() {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// The checked value of one option: the configured one, else the default.
fn resolve(opt: &'static Opt, raw: Option<&Raw>) -> Result<Value, ConfigProblem> {
    let (source, text) = match (raw, opt.default) {
        (Some(raw), _) => (raw.source.as_str(), raw.value.clone()),
        (None, OptDefault::Value(text)) => (BUILT_IN_DEFAULT, text.to_owned()),
        (None, OptDefault::Computed { compute, .. }) => (BUILT_IN_DEFAULT, compute()),
        (None, OptDefault::Unset) => {
            return Value::unset(opt.kind).ok_or_else(|| {
                ConfigProblem::option(CONFIGURATION, opt, None, "a value is required".to_owned())
            });
        }
    };
    value::parse(opt.kind, &text)
        .map_err(|message| ConfigProblem::option(source, opt, Some(&text), message))
}
