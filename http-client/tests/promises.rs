//! Promises of the parser and the client that no other test held (each found by a mutant
//! that survived the suites): which status codes are interim or final, the bounded body
//! reservation for a declared length, a close-delimited body ending its connection, and the
//! probe of a connection before a non-idempotent request reuses it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use common::*;
use molotov_http::{Client, ClientConfig, Limits, Origin, Progress, ResponseNeeds, ResponseParser};

/// The system allocator, keeping the largest single allocation (or reallocation) this
/// thread asked for (the other tests of this file run on other threads).
struct Largest;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    LARGEST.with(|largest| largest.set(largest.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping is a
// thread-local `Cell` with a const initializer, so touching it never allocates.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Largest = Largest;

/// Parses `input` in one piece with the whole response kept: its status, and whether it is
/// complete.
fn parse(input: &[u8]) -> (u16, bool) {
    let mut parser = ResponseParser::new(Limits::default());
    parser.reset(false, &ResponseNeeds::EVERYTHING);
    let progress = parser.feed(input).expect("a valid response");
    (
        parser.status(),
        matches!(progress, Progress::Complete { .. }),
    )
}

#[test]
fn a_199_is_an_interim_response_and_the_200_after_it_is_the_response() {
    let (status, complete) =
        parse(b"HTTP/1.1 199 Whatever\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert_eq!((status, complete), (200, true));
}

#[test]
fn status_codes_600_to_999_are_responses() {
    for status in [600u16, 799, 999] {
        let input = format!("HTTP/1.1 {status} Odd\r\nContent-Length: 2\r\n\r\nok");
        assert_eq!(parse(input.as_bytes()), (status, true), "{status}");
    }
}

#[test]
fn a_declared_length_is_not_reserved_up_front() {
    // A head claiming 16 MB (under the 64 MiB cap, and the body is kept), then 2 bytes: a
    // hostile or lying server must not make the parser allocate what it claims.
    let mut parser = ResponseParser::new(Limits {
        max_header_bytes: 64 << 10,
        max_body_bytes: 64 << 20,
    });
    parser.reset(false, &ResponseNeeds::EVERYTHING);
    LARGEST.with(|largest| largest.set(0));
    let progress = parser
        .feed(b"HTTP/1.1 200 OK\r\nContent-Length: 16000000\r\n\r\nok")
        .expect("a valid head");
    let largest = LARGEST.with(Cell::get);
    assert!(matches!(progress, Progress::Partial));
    assert_eq!(parser.body(), b"ok");
    assert!(
        largest <= 1 << 20,
        "the parser allocated {largest} bytes at once for a body of which 2 bytes came"
    );
}

/// A raw loopback server that answers every connection's first request with `reply` and
/// closes it, for `connections` connections; returns its origin.
fn answer_and_close(reply: &'static [u8], connections: usize) -> Origin {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = Origin::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut stream) = stream else { return };
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(reply);
            // Dropped: the body without a length ends here.
        }
    });
    origin
}

#[test]
fn a_body_that_ran_until_close_ends_its_connection() {
    // No idle probe, so only the client's own rule keeps the next request off the dead
    // connection (with it, the request would be written there, fail and be retried).
    let origin = answer_and_close(b"HTTP/1.1 200 OK\r\n\r\nok", 3);
    let config = ClientConfig {
        probe_idle_after: None,
        ..ClientConfig::default()
    };
    let mut client = Client::new(origin, config);
    run(async {
        for turn in 0..3 {
            let got = get_ok(&mut client, "/").await;
            assert_eq!(
                (got.status, got.body.as_slice()),
                (200, &b"ok"[..]),
                "{turn}"
            );
            assert!(
                !got.reused,
                "request {turn} went on a connection that had ended"
            );
        }
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.retries),
        (3, 0),
        "{counters:?}"
    );
}

#[test]
fn a_non_idempotent_request_probes_the_connection_however_recently_it_was_used() {
    // The server closes after its answer without saying so. The idle probe is off for any
    // request idle less than a minute, so only the rule for non-idempotent requests probes:
    // the POST finds the close (already there after 50 ms) and opens a new connection, where
    // unprobed it would go on the dead one and fail (a POST is never retried).
    let server = server();
    let config = ClientConfig {
        probe_idle_after: Some(Duration::from_secs(60)),
        ..ClientConfig::default()
    };
    let mut client = client_with(&server, config);
    run(async {
        assert_eq!(get_ok(&mut client, "/close/silent").await.status, 200);
        molotov_runtime::timer::sleep(Duration::from_millis(50)).await;
        // The POST goes on a new connection.
        let got = post_ok(&mut client, "/echo", b"posted").await;
        assert_eq!(got.body, b"posted");
        assert!(!got.reused);
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.retries),
        (2, 0),
        "{counters:?}"
    );
}
