//! End-to-end tests: the real `pymsboot-api`, `pymsboot-engine` and `pymsboot-manage` binaries,
//! started from a generated configuration, observed through their logs, their
//! `NOTIFY_SOCKET` datagrams, `/proc` and plain HTTP.

// Shared test machinery: processes, clusters, notify socket, HTTP client, file server, waiting.
mod harness;

// No request fails as the services start or reload, on the full path; stuck generations say why.
mod availability;
// The REST surface of `pymsboot-api`: versions, health, errors, request ids, limits.
mod api_basics;
// The movie REST contract with a real engine: life cycle, listing, every error status.
mod api;
// Downloads across engine crashes, refusals, deletes and URL changes.
mod downloads;
// Random and malformed requests: only 2xx/4xx answers, no worker restarts.
mod fuzz;
// A stock Python oslo.messaging client against the Rust engine.
mod interop;
// The supervisor: respawn, backoff, reload, log reopen, drain, pid file, signals.
mod launcher;
// `pymsboot-manage config generate` and `config check`.
mod manage;
// Operator files: compose, Dockerfile, man pages, make install, logrotate, units, init script.
mod operations;
// The whole system as an operator runs it: notify, logrotate, the README's quick start.
mod system;
