//! The engine process: an RPC server over RabbitMQ owning the movie store and
//! the downloader, and the typed client (`rpcapi`) the API calls it with.
//!
//! # Layout
//! - [`conf`]: the `[engine]` and `[database]` options.
//! - [`objects`]: `Movie` and the values around it, shared with the API.
//! - [`error`]: [`Error`] and its oslo class names, mapped in one place.

pub use error::Error;
pub use objects::{ListQuery, Movie, MovieState, MovieUpdate, NewMovie, SortDir, SortKey};

pub mod conf;
pub mod error;
pub mod objects;
