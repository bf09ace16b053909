//! End-to-end tests: the real `pymsboot-api` and `pymsboot-manage` binaries,
//! started from a generated configuration, observed through their logs, their
//! `NOTIFY_SOCKET` datagrams, `/proc` and plain HTTP.

// Shared test machinery: processes, notify socket, HTTP client, waiting.
mod harness;

// The REST surface of `pymsboot-api`: versions, health, errors, request ids, limits.
mod api_basics;
// The supervisor: respawn, backoff, reload, log reopen, drain, pid file, signals.
mod launcher;
// `pymsboot-manage config generate` and `config check`.
mod manage;
// Operator files: compose, Dockerfile, man pages, make install, logrotate, units, init script.
mod operations;
