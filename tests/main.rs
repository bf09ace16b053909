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
// The HTTP edge: JSON errors for requests hyper refuses, header limits, Host, public_endpoint.
mod http_edge;
// Nothing lost, leaked or misreported: store binding, cleanup, exactly-once creates, secrets, big listings.
mod data_safety;
// Names, ranks, metadata and URLs: the same answers on every backend, over HTTP and RPC.
mod validation;
// Downloads across engine crashes, refusals, deletes and URL changes.
mod downloads;
// Random and malformed requests: only 2xx/4xx answers, no worker restarts.
mod fuzz;
// A stock Python oslo.messaging client against the Rust engine.
mod interop;
// The engine keeps a Python caller to its project; an admin may list every project's movies.
mod ownership;
// Identity with a real Keystone: the harness's own checks first.
mod identity;
// The supervisor: respawn, backoff, reload, log reopen, drain, pid file, signals.
mod launcher;
// `pymsboot-manage config generate` and `config check`.
mod manage;
// A likely typo in the configuration is a warning; the oslo libraries' options are not.
mod config_typos;
// Operator files: compose, Dockerfile, man pages, make install, logrotate, units, init script.
mod operations;
// A storage_dir the engine cannot write to: readiness, reload, config check, health, errors.
mod storage;
// The whole system as an operator runs it: notify, logrotate, the README's quick start.
mod system;
