//! Memory after a connection flood, in a test binary of its own (its 900 sockets must not share the
//! descriptor limit with other tests running beside it).

mod common;

use std::time::Duration;

use common::Sandbox;

/// After a flood of idle connections the server gives the memory back: 900 partial requests held
/// (within the default connection limit, and within the 1024 descriptors a test may have) take tens
/// of MB; once they are closed, the resident size is back near what it was.
#[test]
fn memory_returns_after_a_connection_flood() {
    let sb = Sandbox::all().into_iter().next().unwrap();
    sb.ok(&["sandbox", "init"]);
    let server = sb.serve();
    let (status, _) = server.request("GET", "/healthz", &[], b"");
    assert_eq!(status, 200);
    let baseline = server.rss_kib();
    let flood = server.partial_requests(900);
    assert!(flood.len() >= 850, "only {} connections made", flood.len());
    server.wait_for_metric("jpki_platform_http_connections_open", |open| open >= flood.len() as f64);
    let during = server.rss_kib();
    assert!(during >= baseline + 8 * 1024, "the flood should take memory ({baseline} → {during} KiB), or this test measures nothing");
    drop(flood);
    server.wait_for_open_connections(0.0);
    let after = server.rss_kib_settled(baseline + 8 * 1024, Duration::from_secs(10));
    assert!(after <= baseline + 8 * 1024, "memory after the flood: {after} KiB; before {baseline} KiB, during {during} KiB");
}
