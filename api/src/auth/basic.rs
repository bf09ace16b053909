//! `auth_strategy = http_basic`: the user file, and the check of an
//! `Authorization: Basic` header against it.
//!
//! # The user file
//! An htpasswd file of bcrypt entries, as `htpasswd -B` writes them and as
//! Ironic's and oslo.middleware's basic auth read them: one `user:hash` a
//! line, the hash starting `$2y$` (or `$2a$`, `$2b$`). Lines that start with
//! `#` and blank lines are skipped. Any other hash format (MD5 `$apr1$`, SHA-1
//! `{SHA}`, crypt, plain text) is a load error naming the file, the line and
//! the user (never the hash), as is a user listed twice.
//!
//! Two optional fields may follow the hash, separated by colons, to give the
//! user a project and roles:
//!
//! ```text
//! user:hash[:project_id[:role1,role2,...]]
//! ```
//!
//! An absent or empty project is [`DEFAULT_PROJECT`] (`default`); absent or
//! empty roles are [`DEFAULT_ROLES`] (`member`: reads and writes the
//! project's movies, never `admin`). Project ids and roles hold no
//! whitespace, and a role list has no empty entry. The extension stays
//! compatible: Apache reads the hash up to the next colon too, and `htpasswd`
//! keeps other users' lines as they are, but it rewrites the line of a user
//! whose password it sets as plain `user:hash`, dropping that user's fields.
//!
//! # The check
//! [`BasicUsers::authenticate`] takes the header's value, `Basic
//! base64(user:password)` (the scheme in any case). An unknown user and a
//! wrong password give the same error and cost the same time: an unknown
//! user is checked against a dummy hash as costly as the file's costliest.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::Identity;

#[cfg(test)]
mod tests;

/// The project of a user whose line gives none.
pub const DEFAULT_PROJECT: &str = "default";
/// The roles of a user whose line gives none.
pub const DEFAULT_ROLES: &[&str] = &["member"];

/// The cost of the dummy hash when the file has no user at all.
const MIN_COST: u32 = 4;

/// The users of an `http_basic` user file.
pub struct BasicUsers {
    users: HashMap<String, Entry>,
    /// Checked for unknown users, so they cost what a known one does.
    dummy_hash: String,
}

struct Entry {
    hash: String,
    project_id: String,
    roles: Vec<String>,
}

/// A user file that cannot be loaded. Never holds a hash.
#[derive(Debug, thiserror::Error)]
pub enum UserFileError {
    /// The file could not be read.
    #[error("user file {}: {source}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line that is not `user:hash[:project_id[:roles]]`.
    #[error("user file {}, line {line}: {reason}", file.display())]
    Malformed {
        /// The file.
        file: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A user whose hash is not a usable bcrypt hash.
    #[error(
        "user file {}, line {line}: user {user:?}: the password hash is {format}; set it again with `htpasswd -B`",
        file.display()
    )]
    NotBcrypt {
        /// The file.
        file: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The user.
        user: String,
        /// What the hash looks like, e.g. `MD5 ($apr1$), not bcrypt`.
        format: &'static str,
    },
    /// A user whose project or roles field is wrong, or with extra fields.
    #[error("user file {}, line {line}: user {user:?}: {reason}", file.display())]
    Field {
        /// The file.
        file: PathBuf,
        /// The line number, from 1.
        line: usize,
        /// The user.
        user: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A user listed twice.
    #[error("user file {}, line {line}: user {user:?} is already listed on line {first}", file.display())]
    Duplicate {
        /// The file.
        file: PathBuf,
        /// The line of the second entry.
        line: usize,
        /// The user.
        user: String,
        /// The line of the first entry.
        first: usize,
    },
}

/// An `Authorization: Basic` value that does not let the caller in. Never
/// holds the user name, the password or a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BasicAuthError {
    /// Not `Basic base64(user:password)`.
    #[error("malformed Authorization header: {reason}")]
    MalformedHeader {
        /// What is wrong.
        reason: &'static str,
    },
    /// An unknown user or a wrong password; which one is not told.
    #[error("wrong user name or password")]
    BadCredentials,
}

impl BasicUsers {
    /// Reads the user file `path` (format in the module documentation).
    ///
    /// # Errors
    /// The file cannot be read, a line is malformed, a hash is not bcrypt, or
    /// a user is listed twice; the error names the file, the line and (if
    /// the line has one) the user.
    pub fn load(path: &Path) -> Result<Self, UserFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| UserFileError::Read {
            file: path.into(),
            source,
        })?;
        Self::from_text(&text, path)
    }

    /// As [`BasicUsers::load`], with the file's text already read; `path`
    /// only names the file in errors.
    ///
    /// # Errors
    /// As [`BasicUsers::load`], but for reading.
    pub fn from_text(text: &str, path: &Path) -> Result<Self, UserFileError> {
        let mut users: HashMap<String, (usize, Entry)> = HashMap::new();
        let mut max_cost = MIN_COST;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let raw = raw.trim();
            if raw.is_empty() || raw.starts_with('#') {
                continue;
            }
            let (user, entry, cost) = parse_line(raw).map_err(|e| e.in_file(path, line))?;
            if let Some((first, _)) = users.get(&user) {
                return Err(UserFileError::Duplicate {
                    file: path.into(),
                    line,
                    user,
                    first: *first,
                });
            }
            max_cost = max_cost.max(cost);
            users.insert(user, (line, entry));
        }
        let users = users.into_iter().map(|(u, (_, e))| (u, e)).collect();
        Ok(BasicUsers {
            users,
            dummy_hash: dummy_hash(max_cost),
        })
    }

    /// Checks the value of an `Authorization` header and says who the caller
    /// is.
    ///
    /// # Errors
    /// [`BasicAuthError::MalformedHeader`] if the value is not `Basic`
    /// followed by base64 of `user:password`; [`BasicAuthError::BadCredentials`]
    /// for an unknown user or a wrong password alike.
    pub fn authenticate(&self, header_value: &str) -> Result<Identity, BasicAuthError> {
        let (user, password) = parse_header(header_value)?;
        let entry = self.users.get(&user);
        let hash = entry.map_or(self.dummy_hash.as_str(), |e| e.hash.as_str());
        // Hashes were checked at load, so an error here cannot happen; were
        // it to, it denies.
        let matches = bcrypt::verify(password.as_bytes(), hash).unwrap_or(false);
        match entry {
            Some(entry) if matches => Ok(Identity {
                user_id: user,
                project_id: entry.project_id.clone(),
                roles: entry.roles.clone(),
            }),
            _ => Err(BasicAuthError::BadCredentials),
        }
    }

    /// How many users the file lists.
    pub fn len(&self) -> usize {
        self.users.len()
    }

    /// Whether the file lists no user (then nobody gets in).
    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

/// Names the users only: hashes stay out of logs.
impl fmt::Debug for BasicUsers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.users.keys().collect();
        names.sort();
        f.debug_struct("BasicUsers").field("users", &names).finish()
    }
}

/// What is wrong with one line, before the file and line are known.
enum LineError {
    Malformed(&'static str),
    NotBcrypt(String, &'static str),
    Field(String, &'static str),
}

impl LineError {
    fn in_file(self, path: &Path, line: usize) -> UserFileError {
        let file = path.into();
        match self {
            LineError::Malformed(reason) => UserFileError::Malformed { file, line, reason },
            LineError::NotBcrypt(user, format) => UserFileError::NotBcrypt {
                file,
                line,
                user,
                format,
            },
            LineError::Field(user, reason) => UserFileError::Field {
                file,
                line,
                user,
                reason,
            },
        }
    }
}

/// `user:hash[:project_id[:roles]]` → the user, their entry and the hash's cost.
fn parse_line(line: &str) -> Result<(String, Entry, u32), LineError> {
    let mut fields = line.split(':');
    let user = fields.next().unwrap_or_default();
    let Some(hash) = fields.next() else {
        return Err(LineError::Malformed("expected `user:hash`"));
    };
    if user.is_empty() {
        return Err(LineError::Malformed("the user name is empty"));
    }
    let user = user.to_string();
    let cost = match check_hash(hash) {
        Ok(cost) => cost,
        Err(format) => return Err(LineError::NotBcrypt(user, format)),
    };
    let project_id = match fields.next() {
        None | Some("") => DEFAULT_PROJECT.to_string(),
        Some(p) if p.contains(char::is_whitespace) => {
            return Err(LineError::Field(user, "the project id holds whitespace"));
        }
        Some(p) => p.to_string(),
    };
    let roles = match fields.next() {
        None | Some("") => DEFAULT_ROLES.iter().map(|r| r.to_string()).collect(),
        Some(list) => match parse_roles(list) {
            Ok(roles) => roles,
            Err(reason) => return Err(LineError::Field(user, reason)),
        },
    };
    if fields.next().is_some() {
        return Err(LineError::Field(
            user,
            "too many fields; expected user:hash[:project_id[:roles]]",
        ));
    }
    let hash = hash.to_string();
    Ok((
        user,
        Entry {
            hash,
            project_id,
            roles,
        },
        cost,
    ))
}

fn parse_roles(list: &str) -> Result<Vec<String>, &'static str> {
    list.split(',')
        .map(|role| {
            if role.is_empty() {
                Err("the role list has an empty role")
            } else if role.contains(char::is_whitespace) {
                Err("a role holds whitespace")
            } else {
                Ok(role.to_string())
            }
        })
        .collect()
}

/// The cost of a well-formed `$2y$`/`$2a$`/`$2b$` hash, or what the hash
/// looks like instead.
fn check_hash(hash: &str) -> Result<u32, &'static str> {
    if ["$2y$", "$2a$", "$2b$"].iter().any(|p| hash.starts_with(p)) {
        let parts: bcrypt::HashParts = hash.parse().map_err(|_| "a malformed bcrypt hash")?;
        let cost = parts.get_cost();
        return if (4..=31).contains(&cost) {
            Ok(cost)
        } else {
            Err("bcrypt with a cost outside 4 to 31")
        };
    }
    Err(if hash.starts_with("$apr1$") {
        "MD5 ($apr1$), not bcrypt"
    } else if hash.starts_with("{SHA}") {
        "SHA-1 ({SHA}), not bcrypt"
    } else if hash.starts_with("$2") {
        "a bcrypt variant other than $2y$, $2a$ or $2b$"
    } else if hash.starts_with('$') {
        "crypt ($id$), not bcrypt"
    } else {
        "crypt or plain text, not bcrypt"
    })
}

/// A hash no password is expected to match, as costly as `cost`.
fn dummy_hash(cost: u32) -> String {
    bcrypt::hash_with_salt(b"pymsboot: no such user", cost, [0x5a; 16])
        .expect("the cost is 4 to 31, checked at load")
        .format_for_version(bcrypt::Version::TwoB)
}

/// `Basic base64(user:password)` → user and password.
fn parse_header(value: &str) -> Result<(String, String), BasicAuthError> {
    let malformed = |reason| BasicAuthError::MalformedHeader { reason };
    let (scheme, credentials) = value
        .trim()
        .split_once([' ', '\t'])
        .ok_or(malformed("expected `Basic <credentials>`"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed("the scheme is not Basic"));
    }
    let decoded = BASE64
        .decode(credentials.trim_start())
        .map_err(|_| malformed("the credentials are not base64"))?;
    let text =
        String::from_utf8(decoded).map_err(|_| malformed("the credentials are not UTF-8"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or(malformed("the credentials are not `user:password`"))?;
    Ok((user.to_string(), password.to_string()))
}
