//! What authentication adds to a request in the API worker: a Keystone token
//! already validated (the cache's answer), an `http_basic` password check
//! (bcrypt at `htpasswd -B`'s default cost), and `noauth`, each followed by
//! the policy check a movie request makes.
//!
//! Only the first validation reaches an identity service; so that the bench
//! needs no Keystone, a stand-in on loopback answers it (and the service's
//! own login) once. The figure that matters, the cached path, never leaves
//! the worker.
//!
//! Run with `make bench` (or `cargo bench --bench auth`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use api::auth::Authenticator;
use api::policy::{Credentials, Enforcer, Target};
use hyper::HeaderMap;
use hyper::header::{AUTHORIZATION, HeaderValue};
use launcher::conf::{Sources, load};

const ROUNDS: usize = 200_000;
const BASIC_ROUNDS: usize = 200;

/// Answers `POST /v3/auth/tokens` (the service's login) and `GET
/// /v3/auth/tokens` (a validation) forever, one connection at a time.
fn identity_stand_in() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            loop {
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    break;
                }
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let token = r#"{"token": {"expires_at": "2999-01-01T00:00:00.000000Z",
                    "user": {"id": "u1"}, "project": {"id": "p1"},
                    "roles": [{"name": "member"}, {"name": "reader"}]}}"#;
                let status = if request_line.starts_with("POST") {
                    "201 Created"
                } else {
                    "200 OK"
                };
                let answer = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n\
                     X-Subject-Token: service-token\r\nContent-Length: {}\r\n\r\n{token}",
                    token.len()
                );
                if reader.get_mut().write_all(answer.as_bytes()).is_err() {
                    break;
                }
            }
        }
    });
    port
}

fn config(text: &str) -> launcher::Config {
    let path =
        std::env::temp_dir().join(format!("pymsboot-bench-auth-{}.conf", std::process::id()));
    std::fs::write(&path, text).expect("write the bench's configuration");
    let sources = Sources {
        files: vec![path.clone()],
        ..Sources::default()
    };
    let tables = [
        launcher::conf::options::OPTS,
        api::conf::OPTS,
        api::auth::keystone::conf::OPTS,
        api::policy::conf::OPTS,
    ];
    let config = load(&sources, &tables).expect("a valid configuration");
    let _ = std::fs::remove_file(path);
    config
}

fn report(what: &str, rounds: usize, elapsed: Duration) {
    let per = elapsed / u32::try_from(rounds).unwrap_or(u32::MAX);
    println!(
        "{what:<52} {:>10.2} µs per request",
        per.as_secs_f64() * 1e6
    );
}

async fn measure(what: &str, auth: &Authenticator, headers: &HeaderMap, rounds: usize) {
    let policy = Enforcer::default();
    let mut target = Target::new();
    target.insert("project_id".to_owned(), "p1".to_owned());
    // Warm: the first call may log in and validate.
    let _ = auth.authenticate(headers).await.expect("authenticated");
    let started = Instant::now();
    for _ in 0..rounds {
        let identity = auth.authenticate(headers).await.expect("authenticated");
        let credentials = Credentials {
            user_id: Some(identity.user_id),
            project_id: Some(identity.project_id),
            roles: identity.roles,
            is_admin: false,
        };
        assert!(policy.authorize("movie:get", &target, &credentials));
    }
    report(what, rounds, started.elapsed());
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let port = identity_stand_in();
        let keystone = Authenticator::from_config(&config(&format!(
            "[api]\nauth_strategy = keystone\n[keystone_authtoken]\n\
             auth_url = http://127.0.0.1:{port}/v3\nusername = svc\npassword = pw\n"
        )))
        .expect("keystone settings");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-auth-token",
            HeaderValue::from_static("gAAAAABnZXhhbXBsZS10b2tlbi1mb3ItdGhlLWJlbmNo"),
        );
        measure(
            "keystone, token validated lately (cache)",
            &keystone,
            &headers,
            ROUNDS,
        )
        .await;

        let users =
            std::env::temp_dir().join(format!("pymsboot-bench-users-{}", std::process::id()));
        let hash = bcrypt::hash("bench-password", 5).expect("bcrypt");
        std::fs::write(&users, format!("alice:{hash}:p1:member\n")).expect("write users");
        let basic = Authenticator::from_config(&config(&format!(
            "[api]\nauth_strategy = http_basic\nhttp_basic_auth_user_file = {}\n",
            users.display()
        )))
        .expect("basic settings");
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Basic YWxpY2U6YmVuY2gtcGFzc3dvcmQ="),
        );
        measure(
            "http_basic, bcrypt cost 5 (htpasswd -B default)",
            &basic,
            &headers,
            BASIC_ROUNDS,
        )
        .await;
        let _ = std::fs::remove_file(users);

        let noauth = Authenticator::NoAuth;
        measure("noauth", &noauth, &HeaderMap::new(), ROUNDS).await;
    });
}
