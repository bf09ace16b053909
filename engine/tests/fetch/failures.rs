//! Downloads that fail: error statuses, retries, size limits, stalls.

use super::*;

#[tokio::test]
async fn a_404_is_a_permanent_readable_error() {
    let server = Server::start();
    let scratch = Scratch::new("404");

    let error = get_with_retries(&client(true), &server.url("/missing"), &scratch, 3)
        .await
        .expect_err("404");

    assert_eq!(error.to_string(), "the server answered 404 Not Found");
    assert!(!error.is_transient());
    assert_eq!(server.hits("/missing"), 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_500_is_retried_then_reported() {
    let server = Server::start();
    let scratch = Scratch::new("500");

    let error = get_with_retries(&client(true), &server.url("/status/500"), &scratch, 2)
        .await
        .expect_err("500");

    assert_eq!(
        error.to_string(),
        "the server answered 500 Internal Server Error"
    );
    assert!(error.is_transient());
    assert_eq!(
        server.hits("/status/500"),
        3,
        "the first attempt and two retries"
    );
    assert!(
        !scratch.part().exists(),
        "a failed download leaves no .part"
    );
}

#[tokio::test]
async fn a_declared_size_over_the_limit_is_refused_before_the_body() {
    let server = Server::start();
    let scratch = Scratch::new("declared");
    let limits = FetchLimits::from_max_download_size(1 << 20);

    let error = get(
        &client(true),
        &server.url("/declare/2000000"),
        &scratch,
        &limits,
    )
    .await
    .expect_err("too large");

    assert_eq!(
        error.to_string(),
        "the file is larger than the limit of 1048576 bytes"
    );
    assert!(!error.is_transient());
}

#[tokio::test]
async fn an_undeclared_size_over_the_limit_is_refused_while_counting() {
    let server = Server::start();
    let scratch = Scratch::new("undeclared");
    let limits = FetchLimits::from_max_download_size(1 << 20);

    let error = get(
        &client(true),
        &server.url("/stream/3000000"),
        &scratch,
        &limits,
    )
    .await
    .expect_err("too large");

    assert!(
        matches!(error, FetchError::TooLarge { limit: 1_048_576 }),
        "{error}"
    );
    assert!(std::fs::metadata(scratch.part()).map_or(0, |meta| meta.len()) <= 1 << 20);
}

#[tokio::test]
async fn a_stalled_transfer_ends_with_an_idle_timeout() {
    let server = Server::start();
    let scratch = Scratch::new("stall");
    let started = Instant::now();

    let error = get(
        &client(true),
        &server.url("/stall/100000"),
        &scratch,
        &NO_LIMIT,
    )
    .await
    .expect_err("stalls");

    assert_eq!(error.to_string(), "no data received for 1 s");
    assert!(error.is_transient());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_server_that_never_answers_ends_with_an_idle_timeout() {
    let server = Server::start();
    let scratch = Scratch::new("silent");

    let error = get(&client(true), &server.url("/silent"), &scratch, &NO_LIMIT)
        .await
        .expect_err("no answer");

    assert_eq!(error.to_string(), "no data received for 1 s");
    assert!(error.is_transient());
}
