//! Downloads that complete: checksums, bounded memory, resume, lengths,
//! cancellation and the final rename.

use super::*;

#[tokio::test]
async fn a_small_file_is_stored_with_its_size_and_checksum() {
    let server = Server::start();
    let scratch = Scratch::new("small");
    let mut reports = Vec::new();

    let fetched = fetch(
        &client(true),
        &server.url("/file/100000"),
        &scratch.part(),
        &NO_LIMIT,
        &mut |bytes| {
            reports.push(bytes);
        },
    )
    .await
    .expect("download succeeds");

    let expected = Pattern::range(0, 100_000);
    assert_eq!(fetched.size, 100_000);
    assert_eq!(fetched.sha256_hex, sha256_hex(&expected));
    assert_eq!(
        std::fs::read(scratch.part()).expect("part written"),
        expected
    );
    assert_eq!(reports.last(), Some(&100_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_256_mib_file_is_streamed_in_bounded_memory() {
    const SIZE: u64 = 256 << 20;
    let server = Server::start();
    let scratch = Scratch::new("large");
    let expected = tokio::task::spawn_blocking(|| {
        let (mut pattern, mut hasher, mut block) =
            (Pattern::new(), Sha256::new(), vec![0; 1 << 20]);
        for _ in 0..(SIZE >> 20) {
            pattern.fill(&mut block);
            hasher.update(&block);
        }
        hasher
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    });
    // Reset the peak so it measures this download alone (Linux ≥ 4.0).
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (peak_before, rss_before) = memory_kib();
    let started = Instant::now();

    let fetched = get(
        &client(true),
        &server.url(&format!("/file/{SIZE}")),
        &scratch,
        &NO_LIMIT,
    )
    .await
    .expect("download succeeds");

    let elapsed = started.elapsed();
    let (peak_after, _) = memory_kib();
    let growth_mib = peak_after.saturating_sub(peak_before.min(rss_before)) / 1024;
    eprintln!(
        "256 MiB in {elapsed:.1?}; peak RSS {} MiB before, {} MiB after (growth {growth_mib} MiB)",
        peak_before / 1024,
        peak_after / 1024
    );
    assert_eq!(fetched.size, SIZE);
    assert_eq!(fetched.sha256_hex, expected.await.expect("hashing thread"));
    assert_eq!(std::fs::metadata(scratch.part()).expect("part").len(), SIZE);
    assert!(growth_mib < 64, "peak RSS grew by {growth_mib} MiB");
}

#[tokio::test]
async fn a_body_without_length_within_the_limit_is_stored() {
    let server = Server::start();
    let scratch = Scratch::new("stream");

    let fetched = get(
        &client(true),
        &server.url("/stream/300000"),
        &scratch,
        &FetchLimits::from_max_download_size(300_000),
    )
    .await
    .expect("exactly at the limit");

    assert_eq!(fetched.sha256_hex, sha256_hex(&Pattern::range(0, 300_000)));
}

#[tokio::test]
async fn a_cut_transfer_is_transient_and_resumes_with_a_range_request() {
    let server = Server::start();
    let scratch = Scratch::new("cut");
    let client = client(true);

    let error = get(&client, &server.url("/cut/1000000"), &scratch, &NO_LIMIT)
        .await
        .expect_err("cut");
    assert!(matches!(error, FetchError::Interrupted { .. }), "{error}");
    assert!(error.is_transient());
    assert_eq!(
        std::fs::metadata(scratch.part()).expect("part kept").len(),
        500_000
    );

    // The second request asks for bytes 500000- and gets them with 206.
    let fetched = get(&client, &server.url("/cut/1000000"), &scratch, &NO_LIMIT)
        .await
        .expect("resumed");
    assert_eq!(fetched.size, 1_000_000);
    assert_eq!(
        fetched.sha256_hex,
        sha256_hex(&Pattern::range(0, 1_000_000))
    );
}

#[tokio::test]
async fn a_server_ignoring_the_range_is_downloaded_again_in_full() {
    let server = Server::start();
    let scratch = Scratch::new("norange");

    let fetched = get_with_retries(
        &client(true),
        &server.url("/cut-norange/1000000"),
        &scratch,
        1,
    )
    .await
    .expect("second attempt");

    assert_eq!(server.hits("/cut-norange/1000000"), 2);
    assert_eq!(fetched.size, 1_000_000);
    assert_eq!(
        fetched.sha256_hex,
        sha256_hex(&Pattern::range(0, 1_000_000))
    );
}

#[tokio::test]
async fn a_server_sending_more_than_its_content_length_is_cut_at_that_length() {
    let server = Server::start();
    let scratch = Scratch::new("liar");

    let fetched = get(
        &client(true),
        &server.url("/liar/1000"),
        &scratch,
        &NO_LIMIT,
    )
    .await
    .expect("stored");

    assert_eq!(fetched.size, 1000);
    assert_eq!(fetched.sha256_hex, sha256_hex(&Pattern::range(0, 1000)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_download_and_removes_the_part() {
    let server = Server::start();
    let scratch = Scratch::new("cancel");
    let (client, url, part) = (client(true), server.url("/slow/100000000"), scratch.part());
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    let received = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&received);
    let download = tokio::spawn(async move {
        let mut report = move |bytes| progress.store(bytes, Ordering::SeqCst);
        fetch_with_retries(
            &client,
            &url,
            &part,
            &NO_LIMIT,
            &mut report,
            3,
            Duration::from_millis(10),
            &token,
        )
        .await
    });
    while received.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(scratch.part().exists(), "the download is under way");

    let started = Instant::now();
    cancel.cancel();
    let result = download.await.expect("task");

    assert!(matches!(result, Err(FetchError::Cancelled)), "{result:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
    assert!(!scratch.part().exists(), "the .part is removed");
}

#[tokio::test]
async fn commit_moves_the_part_into_place() {
    let server = Server::start();
    let scratch = Scratch::new("commit");
    get(
        &client(true),
        &server.url("/file/4096"),
        &scratch,
        &NO_LIMIT,
    )
    .await
    .expect("stored");
    let final_path = scratch.0.join("movie");

    commit(&scratch.part(), &final_path).await.expect("commit");

    assert!(!scratch.part().exists());
    assert_eq!(
        std::fs::read(final_path).expect("final file"),
        Pattern::range(0, 4096)
    );
}
