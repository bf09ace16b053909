//! The policy engine, after oslo.policy: named rules in oslo's rule language,
//! defaults in code ([`DEFAULTS`]), a policy file (YAML or JSON) that overrides
//! them, and [`Enforcer::authorize`], which decides one call.
//!
//! Stricter than oslo where oslo would log and deny: a rule that does not
//! parse, a `rule:` to a rule that does not exist, and rules that refer to
//! each other in a loop are load errors, so a bad file never starts serving.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

pub use defaults::{DEFAULTS, RuleDefault, render_sample};

pub mod conf;
mod defaults;
mod file;
mod rule;
#[cfg(test)]
mod tests;

use rule::Check;

/// What a rule decides against: string values of the object the call is
/// about, e.g. the movie's `project_id`, named in rules as `%(project_id)s`.
pub type Target = BTreeMap<String, String>;

/// The caller, as oslo.context's policy values describe one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The user's id; `user_id:` in rules.
    pub user_id: Option<String>,
    /// The project the token is scoped to; `project_id:` in rules.
    pub project_id: Option<String>,
    /// The roles on that project; `role:` (case-insensitive) and `roles:`.
    pub roles: Vec<String>,
    /// `is_admin:True` in rules.
    pub is_admin: bool,
}

/// A policy that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule string that does not parse.
    #[error("policy rule {rule:?}: {reason}: {text:?}")]
    Rule {
        /// The rule's name.
        rule: String,
        /// The rule string.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `rule:` reference to a rule that is not defined.
    #[error("policy rule {rule:?} refers to rule {missing:?}, which is not defined")]
    Undefined {
        /// The rule holding the reference.
        rule: String,
        /// The name it refers to.
        missing: String,
    },
    /// Rules that refer to each other in a loop.
    #[error("policy rules refer to each other in a loop: {chain}")]
    Loop {
        /// The loop, `a -> b -> a`.
        chain: String,
    },
    /// The policy file could not be read.
    #[error("policy file {}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The policy file is not a mapping of rule names to rule strings.
    #[error("policy file {}: {reason}", file.display())]
    Format {
        /// The file.
        file: PathBuf,
        /// Why.
        reason: String,
    },
    /// A rule of the policy file is wrong.
    #[error("policy file {}: {source}", file.display())]
    InFile {
        /// The file.
        file: PathBuf,
        /// What is wrong, naming the rule.
        source: Box<Error>,
    },
}

/// The rules in force: the defaults, overridden by a policy file.
#[derive(Debug, Clone)]
pub struct Enforcer {
    rules: HashMap<String, Check>,
}

impl Default for Enforcer {
    fn default() -> Self {
        let rules = DEFAULTS
            .iter()
            .map(|d| (d.name.to_string(), d.check.to_string()));
        Enforcer::from_rules(rules).expect("the default rules parse and have no loops (tested)")
    }
}

impl Enforcer {
    /// The defaults, overridden by the rules of the policy file `path`. Rules
    /// the code does not know are kept, for `rule:`, and logged.
    ///
    /// # Errors
    /// The file cannot be read, is not a mapping of names to rule strings, or
    /// a rule does not parse, refers to an undefined rule or makes a loop; the
    /// error names the file and the rule.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            file: path.into(),
            source,
        })?;
        Self::from_text(&text, path)
    }

    /// As [`Enforcer::load`], with the file's text already read.
    ///
    /// # Errors
    /// As [`Enforcer::load`], but for reading.
    pub fn from_text(text: &str, path: &Path) -> Result<Self, Error> {
        let overrides = file::parse(text).map_err(|reason| Error::Format {
            file: path.into(),
            reason,
        })?;
        for (name, _) in &overrides {
            if !DEFAULTS.iter().any(|d| d.name == name) {
                tracing::warn!(file = %path.display(), rule = %name, "policy file defines a rule the code does not use");
            }
        }
        let mut rules: BTreeMap<String, String> = DEFAULTS
            .iter()
            .map(|d| (d.name.to_string(), d.check.to_string()))
            .collect();
        rules.extend(overrides);
        Self::from_rules(rules).map_err(|source| Error::InFile {
            file: path.into(),
            source: Box::new(source),
        })
    }

    fn from_rules(rules: impl IntoIterator<Item = (String, String)>) -> Result<Self, Error> {
        let mut parsed = HashMap::new();
        for (name, text) in rules {
            let check = rule::parse(&text).map_err(|reason| Error::Rule {
                rule: name.clone(),
                text,
                reason,
            })?;
            parsed.insert(name, check);
        }
        let enforcer = Enforcer { rules: parsed };
        enforcer.check_references()?;
        Ok(enforcer)
    }

    /// Every `rule:` names a defined rule, and no rule reaches itself.
    fn check_references(&self) -> Result<(), Error> {
        let mut names: Vec<&String> = self.rules.keys().collect();
        names.sort();
        let mut done = Vec::new();
        for name in names {
            self.visit(name, &mut Vec::new(), &mut done)?;
        }
        Ok(())
    }

    fn visit<'a>(
        &'a self,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Result<(), Error> {
        if done.contains(&name) {
            return Ok(());
        }
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut chain = path[start..].to_vec();
            chain.push(name);
            return Err(Error::Loop {
                chain: chain.join(" -> "),
            });
        }
        path.push(name);
        for reference in self.rules[name].references() {
            if !self.rules.contains_key(reference) {
                return Err(Error::Undefined {
                    rule: name.into(),
                    missing: reference.into(),
                });
            }
            self.visit(reference, path, done)?;
        }
        path.pop();
        done.push(name);
        Ok(())
    }

    /// Whether `creds` may do what `rule` guards to `target`. A rule that is
    /// not defined denies.
    pub fn authorize(&self, rule: &str, target: &Target, creds: &Credentials) -> bool {
        let Some(check) = self.rules.get(rule) else {
            tracing::warn!(
                rule,
                "authorization asked for a policy rule that is not defined"
            );
            return false;
        };
        check.evaluate(target, creds, &|name| self.rules.get(name))
    }
}
