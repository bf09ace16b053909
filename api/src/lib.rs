//! `pymsboot-api`: the REST gateway. Each launcher worker runs a hyper server on
//! the listener the master bound, and (with the engine) calls the engine over RPC.
//!
//! # Layout
//! A request runs down this list, and each module imports only those below it.
//! - `service`: the [`ApiService`] the launcher runs, and [`serve`], the accept loop of one listener.
//! - `connection`: one connection: HTTP/1.1, idle and drain closes; bodies for the errors hyper answers by itself.
//! - `middleware`: request id, header limits, `Host`, authentication, the links' base, body limit, access log.
//! - `router`: (method, path) → controller; 404 and 405.
//! - `access`: the authenticated caller as the policy sees it and as the engine's context carries it.
//! - `controllers`: one module per resource (`versions`, `health`, `movies`, `openapi`).
//! - `schemas`: request bodies and query strings → the engine's typed values.
//! - `idempotency`: `Idempotency-Key` → the id of the movie a create makes.
//! - `views`: engine objects → response bodies, pagination links.
//! - `state`: [`AppState`], what the worker shares between requests.
//! - `probe`: the healthcheck's cached probe of the engine, held by the state.
//! - [`conf`]: the `[api]` options.
//! - [`auth`]: who the caller is: `noauth`, the `http_basic` user file, or Keystone.
//! - [`policy`]: oslo.policy's rules, their defaults and the policy file.
//! - `links`: the base of response links, and the `host[:port]` rules `public_endpoint` shares.
//! - `error`: [`ApiError`], the only place an error becomes an HTTP status.
//! - `request_id`: `x-openstack-request-id`, read or made.

pub use error::ApiError;
pub use service::{ApiService, serve};
pub use state::AppState;

mod access;
pub mod auth;
pub mod conf;
mod connection;
mod controllers;
mod error;
mod idempotency;
mod links;
mod middleware;
pub mod policy;
mod probe;
mod request_id;
mod router;
mod schemas;
mod service;
mod state;
mod views;
