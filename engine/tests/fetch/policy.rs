//! The network policy: redirects, schemes, private addresses, TLS.

use super::*;

#[tokio::test]
async fn redirects_are_followed_up_to_five_and_refused_beyond() {
    let server = Server::start();
    let scratch = Scratch::new("redirects");
    let client = client(true);

    let fetched = get(&client, &server.url("/redirect/5"), &scratch, &NO_LIMIT)
        .await
        .expect("5 hops");
    assert_eq!(fetched.size, 1000);

    let error = get(&client, &server.url("/redirect/6"), &scratch, &NO_LIMIT)
        .await
        .expect_err("6 hops");
    assert_eq!(
        error.to_string(),
        "refusing to follow more than 5 redirects"
    );
    assert!(!error.is_transient());
    assert_eq!(
        server.hits("/file/1000"),
        1,
        "only the 5-hop chain reached the file"
    );
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_refused() {
    let server = Server::start();
    let scratch = Scratch::new("scheme");

    let error = get(
        &client(true),
        &server.url("/to?ftp://example.com/movie"),
        &scratch,
        &NO_LIMIT,
    )
    .await
    .expect_err("ftp");

    assert_eq!(
        error.to_string(),
        "refusing to download from a ftp: URL: only http and https are allowed"
    );
}

#[tokio::test]
async fn loopback_is_refused_by_literal_and_by_name_without_a_request() {
    let server = Server::start();
    let scratch = Scratch::new("loopback");
    let strict = client(false);
    let port = server.port();
    let cases = [
        (format!("http://127.0.0.1:{port}/file/10"), "127.0.0.1"),
        (format!("http://[::1]:{port}/file/10"), "::1"),
        (
            format!("http://localhost:{port}/file/10"),
            "localhost (127.0.0.1)",
        ),
    ];

    for (url, host) in cases {
        let error = get(&strict, &url, &scratch, &NO_LIMIT)
            .await
            .expect_err(&url);
        assert_eq!(
            error.to_string(),
            format!(
                "refusing to download from {host}: loopback address; \
                 set [engine] allow_private_networks = true to allow it"
            )
        );
        assert!(!error.is_transient());
    }
    assert_eq!(server.total_hits(), 0);
}

/// The first hop goes to a literal 127.0.0.1 through the client alone (only
/// `fetch` checks a first-hop literal), standing in for an allowed public
/// server; the redirect it answers with must be refused by the client.
#[tokio::test]
async fn a_redirect_to_loopback_is_refused_by_the_client() {
    let server = Server::start();
    let strict = client(false);
    let port = server.port();
    let cases = [
        (
            format!("http://localhost:{port}/file/10"),
            "localhost (127.0.0.1)",
        ),
        (format!("http://127.0.0.1:{port}/file/10"), "127.0.0.1"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/file/10"),
            "::ffff:127.0.0.1",
        ),
    ];

    for (target, host) in cases {
        let error = strict
            .http()
            .get(server.url(&format!("/to?{target}")))
            .send()
            .await
            .expect_err(&target);
        let refusal = refusal_in(&error).unwrap_or_else(|| panic!("no refusal in {error:?}"));
        assert_eq!(
            refusal,
            &Refusal::NotPublic {
                host: host.to_owned(),
                kind: AddressKind::Loopback
            }
        );
    }
    assert_eq!(server.hits("/file/10"), 0);
}

fn refusal_in<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
    let mut next = Some(error);
    while let Some(current) = next {
        if let Some(refusal) = current.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        next = current.source();
    }
    None
}

#[test]
fn the_redirect_policy_checks_every_hop() {
    let url = |text: &str| Url::parse(text).expect("valid URL");
    let public = url("http://8.8.8.8/movie");

    assert_eq!(check_redirect(&public, 5, 5, false), Ok(()));
    assert_eq!(
        check_redirect(&url("http://cdn.example.com/m"), 1, 5, false),
        Ok(())
    );
    assert_eq!(
        check_redirect(&public, 6, 5, false),
        Err(Refusal::TooManyRedirects { max: 5 })
    );
    for (private, kind) in [
        ("http://10.0.0.1/m", AddressKind::Private),
        (
            "http://169.254.169.254/latest/meta-data",
            AddressKind::LinkLocal,
        ),
        ("http://[fd00::1]/m", AddressKind::UniqueLocal),
        ("http://100.64.1.1/m", AddressKind::SharedAddressSpace),
    ] {
        let refusal = check_redirect(&url(private), 1, 5, false).expect_err(private);
        assert!(
            matches!(refusal, Refusal::NotPublic { kind: found, .. } if found == kind),
            "{private}"
        );
        assert_eq!(check_redirect(&url(private), 1, 5, true), Ok(()));
    }
    assert!(matches!(
        check_redirect(&url("file:///etc/passwd"), 1, 5, true),
        Err(Refusal::Scheme { .. })
    ));
}

#[tokio::test]
async fn https_is_negotiated_and_an_untrusted_certificate_is_refused() {
    let server = tls::SelfSignedServer::start();
    let scratch = Scratch::new("tls");

    let error = get(&client(true), &server.url("/movie"), &scratch, &NO_LIMIT)
        .await
        .expect_err("self-signed");

    assert!(matches!(error, FetchError::Tls { .. }), "{error}");
    assert!(error.to_string().contains("certificate"), "{error}");
    assert!(!error.is_transient());
    assert!(server.handshakes_started() >= 1);
}
