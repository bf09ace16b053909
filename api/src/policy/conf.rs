//! `[oslo_policy]`: where the policy file is, and how a configuration's
//! policy is found and loaded.

use std::path::{Path, PathBuf};

use launcher::Config;
use launcher::conf::{Opt, OptDefault, OptKind};

use super::{Enforcer, Error};

/// `[oslo_policy] policy_file`: the rule overrides.
pub static POLICY_FILE: Opt = Opt {
    section: "oslo_policy",
    name: "policy_file",
    kind: OptKind::Str,
    default: OptDefault::Value(DEFAULT_POLICY_FILE),
    help: "The file that overrides the default policy rules, in YAML or JSON \
           (`pymsboot-manage policy generate` prints the defaults). A relative path is looked \
           for beside the configuration files, then in the working directory. When the \
           default file does not exist, the defaults apply; any other file that does not \
           exist, cannot be parsed, or holds a bad rule is a configuration error. Re-read on \
           SIGHUP.",
    mutable: false,
    secret: false,
};

const DEFAULT_POLICY_FILE: &str = "policy.yaml";

/// Every `[oslo_policy]` option.
pub static OPTS: &[&Opt] = &[&POLICY_FILE];

impl Enforcer {
    /// The policy `config` describes: the defaults, overridden by
    /// `policy_file` when it exists.
    ///
    /// # Errors
    /// A configured file that does not exist, or a file that does not load
    /// (see [`Enforcer::load`]).
    pub fn from_config(config: &Config) -> Result<Enforcer, Error> {
        let name = config.text(&POLICY_FILE);
        match find(name, config.files()) {
            Some(path) => Enforcer::load(&path),
            None if name == DEFAULT_POLICY_FILE => Ok(Enforcer::default()),
            None => Err(Error::Read {
                file: name.into(),
                source: std::io::Error::from(std::io::ErrorKind::NotFound),
            }),
        }
    }
}

/// Where `name` is: as given when absolute, else beside one of the
/// configuration files `config_files` (as oslo.config's `find_file` looks),
/// else in the working directory.
fn find(name: &str, config_files: &[PathBuf]) -> Option<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.exists().then(|| path.to_path_buf());
    }
    config_files
        .iter()
        .filter_map(|file| file.parent())
        .map(|dir| dir.join(path))
        .chain(std::iter::once(path.to_path_buf()))
        .find(|candidate| candidate.exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_file_is_found_beside_a_configuration_file_first() {
        let dir = std::env::temp_dir().join(format!("policy-find-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        let policy = dir.join("overrides.yaml");
        std::fs::write(&policy, "").expect("a policy file");
        let found = find("overrides.yaml", &[dir.join("pymsboot.conf")]);
        assert_eq!(found, Some(policy.clone()));
        assert_eq!(find("absent.yaml", &[dir.join("pymsboot.conf")]), None);
        let absolute = policy.display().to_string();
        assert_eq!(find(&absolute, &[]), Some(policy));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
