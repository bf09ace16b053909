//! Golden tests: every message captured from Python oslo.messaging 18.3.1
//! (`tests/fixtures/`, copied from the wire) decodes, and what we encode
//! from it has the same structure.

use std::path::Path;

use rpc::{Reply, Request};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// The inner message of an encoded body, as a JSON value.
fn inner(body: &[u8]) -> Value {
    let outer: Value = serde_json::from_slice(body).expect("envelope is JSON");
    assert_eq!(outer["oslo.version"], "2.0");
    serde_json::from_str(
        outer["oslo.message"]
            .as_str()
            .expect("oslo.message is a string"),
    )
    .expect("inner JSON")
}

fn assert_request_round_trips(name: &str) -> Request {
    let sample = fixture(name);
    let body = sample["body_raw"].as_str().expect("body_raw").as_bytes();
    let request = Request::decode(body).unwrap_or_else(|e| panic!("{name}: {e}"));
    // What we send carries exactly what Python sent (key order aside).
    assert_eq!(inner(&request.encode()), sample["oslo_message"], "{name}");
    request
}

#[test]
fn a_python_call_decodes_with_its_call_fields_and_context() {
    let request = assert_request_round_trips("call_request.json");
    assert_eq!(request.method, "ping");
    assert_eq!(request.namespace.as_deref(), Some("engine"));
    assert_eq!(request.version.as_deref(), Some("1.0"));
    let call = request.call.expect("a call");
    assert_eq!(call.msg_id, "e1706aed577442c8875d3169a74cd79f");
    assert!(call.reply_queue.starts_with("reply_"));
    assert_eq!(call.monitor_timeout, None);
    assert_eq!(
        request.context.request_id(),
        Some("req-33c4d2f3-c5e5-434d-b1e1-4bc2c2fd43e5")
    );
}

#[test]
fn a_python_server_targeted_call_round_trips() {
    assert!(
        assert_request_round_trips("call_request_to_server.json")
            .call
            .is_some()
    );
}

#[test]
fn python_casts_and_fanout_casts_have_no_call_fields() {
    for name in ["cast_request.json", "fanout_request.json"] {
        let request = assert_request_round_trips(name);
        assert!(request.call.is_none(), "{name}");
        assert!(request.unique_id.is_some(), "{name}");
    }
}

fn replies(name: &str) -> Vec<Value> {
    fixture(name)["replies"]
        .as_array()
        .expect("replies")
        .clone()
}

fn assert_reply_round_trips(sample: &Value) -> Reply {
    let body = sample["body_raw"].as_str().expect("body_raw").as_bytes();
    let reply = Reply::decode(body).expect("reply decodes");
    let mut ours = inner(&reply.encode());
    let mut theirs = sample["oslo_message"].clone();
    // The failure is a JSON string: compare what it holds, not its spacing.
    for message in [&mut ours, &mut theirs] {
        if let Some(failure) = message["failure"].as_str().map(str::to_string) {
            message["failure"] = serde_json::from_str(&failure).expect("failure JSON");
        }
    }
    assert_eq!(ours, theirs);
    reply
}

#[test]
fn python_success_replies_round_trip() {
    for name in ["reply_success.json", "reply_get_all_movie.json"] {
        for sample in replies(name) {
            let reply = assert_reply_round_trips(&sample);
            assert!(reply.ending && reply.failure.is_none(), "{name}");
        }
    }
}

#[test]
fn python_failures_keep_class_module_and_message() {
    let expected = [
        ("reply_failure.json", "ValueError", "builtins", "boom"),
        (
            "reply_no_such_method.json",
            "NoSuchMethod",
            "oslo_messaging.rpc.dispatcher",
            "Endpoint does not support RPC method nosuch",
        ),
        (
            "reply_unsupported_version.json",
            "UnsupportedVersion",
            "oslo_messaging.rpc.dispatcher",
            "Endpoint does not support RPC version 2.0. Attempted method: ping",
        ),
        (
            "reply_unknown_namespace.json",
            "UnsupportedVersion",
            "oslo_messaging.rpc.dispatcher",
            "Endpoint does not support RPC version 1.0. Attempted method: ping",
        ),
    ];
    for (name, class, module, message) in expected {
        let reply = assert_reply_round_trips(&replies(name)[0]);
        let failure = reply.failure.expect("a failure");
        assert_eq!(
            (failure.class.as_str(), failure.module.as_str()),
            (class, module),
            "{name}"
        );
        assert!(
            failure.message.starts_with(message),
            "{name}: {}",
            failure.message
        );
    }
}

#[test]
fn call_monitor_heartbeats_are_not_endings() {
    let all = replies("reply_call_monitor_heartbeats.json");
    let decoded: Vec<Reply> = all.iter().map(assert_reply_round_trips).collect();
    let (last, heartbeats) = decoded.split_last().expect("replies");
    assert!(!heartbeats.is_empty());
    assert!(
        heartbeats
            .iter()
            .all(|r| !r.ending && r.result.is_null() && r.failure.is_none())
    );
    assert!(last.ending);
}

#[test]
fn our_dispatch_errors_are_worded_as_pythons() {
    let python_failure = |name: &str| {
        let body = replies(name)[0]["body_raw"]
            .as_str()
            .expect("raw")
            .as_bytes()
            .to_vec();
        Reply::decode(&body)
            .expect("decode")
            .failure
            .expect("failure")
            .message
    };
    assert_eq!(
        rpc::RemoteError::no_such_method("nosuch").message,
        python_failure("reply_no_such_method.json")
    );
    assert_eq!(
        rpc::RemoteError::unsupported_version("2.0", "ping").message,
        python_failure("reply_unsupported_version.json")
    );
}
