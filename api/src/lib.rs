//! `pymsboot-api`: the REST gateway. Each launcher worker runs a hyper server on
//! the listener the master bound, and (with the engine) calls the engine over RPC.
//!
//! # Layout
//! - [`conf`]: the `[api]` options.
//! - `service`: the [`ApiService`] the launcher runs, and [`serve`] for one listener.
//! - `router`: (method, path) → controller; 404 and 405.
//! - `controllers`: one module per resource (`versions`, `health`, `movies`, `openapi`).
//! - `schemas`: request bodies and query strings → the engine's typed values.
//! - `idempotency`: `Idempotency-Key` → the id of the movie a create makes.
//! - `views`: engine objects → response bodies, pagination links.
//! - `middleware`: request id, header limits, `Host` and the links' base, body limit, access log; JSON bodies for the errors hyper answers by itself.
//! - `error`: [`ApiError`], the only place an error becomes an HTTP status.

pub use error::ApiError;
pub use service::{ApiService, AppState, serve};

pub mod conf;
mod controllers;
mod error;
mod idempotency;
mod middleware;
mod router;
mod schemas;
mod service;
mod views;
