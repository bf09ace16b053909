//! The engine process: an RPC server over RabbitMQ owning the movie store and
//! the downloader, and the typed client (`rpcapi`) the API calls it with.
//!
//! # Layout
//! - [`conf`]: the `[engine]` and `[database]` options.

pub mod conf;
