//! Identity and access (CONTRACT §8): who gets in, what they may do, and
//! which movies they see.
//!
//! - `keystone_harness`: the Keystone harness itself: users, roles, validation, revocation, restarts.
//! - `basic`: `http_basic` users, projects and roles end to end; SIGHUP re-reads the user file.
//! - `keystone`: Keystone tokens, roles and projects end to end; the cache, shared validations, an outage.
//! - `policy`: a policy file's override, re-read on SIGHUP; a broken one refused.

mod basic;
mod keystone;
mod keystone_harness;
mod policy;
