//! The engine process: an RPC server over RabbitMQ owning the movie store and
//! the downloader, and the typed client (`rpcapi`) the API calls it with.
//!
//! The store, downloader and RPC methods arrive with the engine work; this crate
//! holds the place in the workspace that `api` depends on.
