//! Who the caller is, for `[api] auth_strategy` (CONTRACT §8). Not yet
//! consulted by request handling.
//!
//! - [`basic`]: `http_basic`, an htpasswd file of bcrypt entries checked
//!   against `Authorization: Basic`, with an optional project and roles per
//!   user.

pub mod basic;

pub use basic::{BasicAuthError, BasicUsers, UserFileError};

/// A caller whose credentials were checked: what policy and the engine's
/// project scope decide against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (for `http_basic`, the user name).
    pub user_id: String,
    /// The project the caller acts in; never empty, as a context with no
    /// project would be unscoped.
    pub project_id: String,
    /// The caller's roles on that project.
    pub roles: Vec<String>,
}
