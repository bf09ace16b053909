//! The engine process: an RPC server over RabbitMQ owning the movie store and
//! the downloader, and the typed client (`rpcapi`) the API calls it with.
//!
//! # Layout
//! - [`conf`]: the `[engine]` and `[database]` options.
//! - [`objects`]: `Movie` and the values around it, shared with the API.
//! - [`error`]: [`Error`] and its oslo class names, mapped in one place.
//! - [`scope`]: [`Caller`], read from the RPC context, and the movies its project lets it reach.
//! - [`rpcapi`]: [`EngineClient`], the typed client; `RPC_API_VERSION` and its history.
//! - `db` (feature `server`): the movie store over SQLite, PostgreSQL or MariaDB, and its migrations.
//! - `downloader` (feature `server`): claims, concurrency and cancellation of
//!   downloads; the network policy and the streaming fetch of a movie.
//! - `manager` (feature `server`): [`EngineManager`], the RPC endpoint; a thin dispatcher.
//! - `periodic` (feature `server`): removing files no movie refers to, one worker per host.
//! - `store_marker` (feature `server`): the marker binding `storage_dir` to its database.
//! - `service` (feature `server`): [`EngineService`], the launcher service of `pymsboot-engine`.
//! - `storage` (feature `server`): the check that `storage_dir` can hold movies, and
//!   its latest verdict, which gates readiness, downloads and `get_health`.
//! - `test_util` (feature `test-util`): `TestDb`, a fresh migrated database per test.

pub use error::Error;
#[cfg(feature = "server")]
pub use manager::EngineManager;
pub use objects::{ListQuery, Movie, MovieState, MovieUpdate, NewMovie, SortDir, SortKey};
pub use rpcapi::{CallError, EngineClient, EngineHealth, MoviePage, RPC_API_VERSION};
pub use scope::{Caller, Scope};
#[cfg(feature = "server")]
pub use service::EngineService;

pub mod conf;
#[cfg(feature = "server")]
pub mod db;
#[cfg(feature = "server")]
pub mod downloader;
pub mod error;
#[cfg(feature = "server")]
mod manager;
pub mod objects;
#[cfg(feature = "server")]
mod periodic;
pub mod rpcapi;
pub mod scope;
#[cfg(feature = "server")]
mod service;
#[cfg(feature = "server")]
pub mod storage;
#[cfg(feature = "server")]
pub mod store_marker;
#[cfg(feature = "test-util")]
pub mod test_util;
