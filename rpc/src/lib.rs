//! oslo.messaging's RabbitMQ RPC over lapin, wire-compatible with Python peers.
//!
//! The transport, client and server arrive with the RPC work; this crate holds
//! the place in the workspace that `engine` and `api` depend on.
