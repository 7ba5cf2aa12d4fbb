//! The client against the in-repo target server over real loopback sockets: keep-alive
//! reuse, reconnects, retries, framing (chunked, HEAD, 204, 304, 1xx), deadlines, caps, and
//! every error kind a server (or its absence) can produce.

mod common;

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use common::*;
use molotov_http::{
    Client, ClientConfig, ErrorKind, HeaderNeeds, Method, Origin, RequestMeta, ResponseNeeds,
};
use molotov_target::ServerConfig;
use molotov_target::replies::FIXED_JSON;

const SETTLE: Duration = Duration::from_secs(2);

#[test]
fn keep_alive_reuses_one_connection() {
    let server = server();
    let mut client = client(&server);
    let requests = 200u64;
    run(async {
        for i in 0..requests {
            let got = get_ok(&mut client, "/json").await;
            assert_eq!(got.status, 200);
            assert_eq!(got.body, FIXED_JSON);
            assert_eq!(got.reused, i > 0, "request {i}");
            assert_eq!(got.connect.is_some(), i == 0, "request {i}");
        }
    });
    let counters = client.counters();
    assert_eq!(counters.connects, 1);
    assert_eq!(counters.reconnects, 0);
    assert_eq!(counters.retries, 0);
    assert_eq!(server.wait_answered(requests, SETTLE), requests);
    let stats = server.stop();
    assert_eq!(stats.requests_answered, requests);
    assert_eq!(stats.connections_accepted, 1);
}

#[test]
fn many_clients_on_one_executor_are_counted_exactly() {
    let server = server();
    let clients = 20;
    let per_client = 50;
    let origin = origin(&server);
    let statuses = many_clients(clients, per_client, || {
        Client::new(origin.clone(), ClientConfig::default())
    });
    let ok: u64 = statuses.iter().map(|(ok, _)| ok).sum();
    let connects: u64 = statuses.iter().map(|(_, c)| c.connects).sum();
    assert_eq!(ok, clients * per_client);
    assert_eq!(connects, clients);
    let stats = server.stop();
    assert_eq!(stats.requests_answered, clients * per_client);
    assert_eq!(stats.connections_accepted, clients);
}

#[test]
fn connects_beyond_the_gate_wait_their_turn_and_all_succeed() {
    let server = server();
    let clients = 40;
    let origin = origin(&server);
    let config = ClientConfig {
        max_parallel_connects: 1,
        ..ClientConfig::default()
    };
    let results = run(async {
        let tasks: Vec<_> = (0..clients)
            .map(|_| {
                let (origin, config) = (origin.clone(), config.clone());
                molotov_runtime::spawn_local(async move {
                    let mut client = Client::new(origin, config);
                    let first = get_ok(&mut client, "/").await.status;
                    let second = get_ok(&mut client, "/").await.status;
                    (first, second, client.counters().connects)
                })
            })
            .collect();
        join_all(tasks).await
    });
    assert!(results.iter().all(|&r| r == (200, 200, 1)), "{results:?}");
    let stats = server.stop();
    assert_eq!(stats.requests_answered, clients * 2);
    assert_eq!(stats.connections_accepted, clients);
}

#[test]
fn clients_reading_at_once_through_the_shared_buffer_keep_their_own_bytes() {
    // Every client of a thread reads into one buffer: eight clients on one executor fetch
    // bodies of different lengths at once, in small reads that interleave, and each body
    // must arrive exactly as sent.
    let server = server();
    let origin = origin(&server);
    let sizes = [
        100_000usize,
        150_001,
        200_003,
        65_537,
        300_007,
        1,
        17_000,
        250_000,
    ];
    let config = ClientConfig {
        read_buffer_bytes: 4096,
        ..ClientConfig::default()
    };
    let bodies = run(async {
        let tasks: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let (origin, config) = (origin.clone(), config.clone());
                molotov_runtime::spawn_local(async move {
                    let mut client = Client::new(origin, config);
                    let mut bodies = Vec::new();
                    for _ in 0..3 {
                        bodies.push(get_ok(&mut client, &format!("/bytes/{n}")).await.body);
                    }
                    bodies
                })
            })
            .collect();
        join_all(tasks).await
    });
    for (n, bodies) in sizes.iter().zip(bodies) {
        let expected = pattern_body(*n);
        for body in bodies {
            assert!(body == expected, "a /bytes/{n} body came back altered");
        }
    }
    assert_eq!(server.stop().requests_answered, 3 * sizes.len() as u64);
}

#[test]
fn a_large_body_arrives_whole() {
    let server = server();
    let mut client = client(&server);
    let got = run(async { get_ok(&mut client, "/bytes/300000").await });
    assert_eq!((got.status, got.body.len()), (200, 300_000));
    assert!(got.body == pattern_body(300_000));
    assert_eq!(got.body_len, 300_000);
}

#[test]
fn connection_close_reply_means_a_transparent_reconnect() {
    let server = server();
    let mut client = client(&server);
    run(async {
        for path in ["/close", "/json", "/close", "/json"] {
            assert_eq!(get_ok(&mut client, path).await.status, 200, "{path}");
        }
    });
    let counters = client.counters();
    assert_eq!(counters.connects, 3, "{counters:?}");
    assert_eq!(counters.reconnects, 2);
    assert_eq!(counters.retries, 0);
    let stats = server.stop();
    assert_eq!(stats.requests_answered, 4);
    assert_eq!(stats.connections_accepted, 3);
}

#[test]
fn server_closing_an_idle_connection_is_a_transparent_reconnect() {
    let server = server();
    let mut client = client(&server);
    run(async {
        // The server answers without announcing anything, then closes the connection.
        let got = get_ok(&mut client, "/close/silent").await;
        assert_eq!(got.status, 200);
        molotov_runtime::timer::sleep(Duration::from_millis(50)).await;
        // Not idempotent, so only the idle probe (not a retry) can make this succeed.
        let got = post_ok(&mut client, "/echo", b"after close").await;
        assert_eq!(got.body, b"after close");
        assert!(!got.reused);
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.reconnects, counters.retries),
        (2, 1, 0)
    );
    assert_eq!(server.stop().requests_answered, 2);
}

#[test]
fn idle_timeout_of_the_server_is_a_transparent_reconnect() {
    let server = server_with(ServerConfig {
        idle_timeout: Some(Duration::from_millis(30)),
        ..ServerConfig::default()
    });
    let mut client = client(&server);
    run(async {
        for _ in 0..3 {
            assert_eq!(get_ok(&mut client, "/json").await.status, 200);
            molotov_runtime::timer::sleep(Duration::from_millis(100)).await;
        }
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.retries),
        (3, 0),
        "{counters:?}"
    );
    assert_eq!(server.stop().connections_accepted, 3);
}

#[test]
fn without_the_idle_probe_a_close_between_requests_retries_idempotent_requests() {
    let server = server();
    let config = ClientConfig {
        probe_idle_after: None,
        ..ClientConfig::default()
    };
    let mut client = client_with(&server, config);
    run(async {
        get_ok(&mut client, "/close/silent").await;
        molotov_runtime::timer::sleep(Duration::from_millis(50)).await;
        let got = get_ok(&mut client, "/json").await;
        assert_eq!(got.status, 200);
        assert!(!got.reused);
        assert_eq!(client.counters().retries, 1);

        get_ok(&mut client, "/close/silent").await;
        molotov_runtime::timer::sleep(Duration::from_millis(50)).await;
        // A POST on a connection the server closed is not retried.
        let error = send_err(
            &mut client,
            Method::POST,
            "/echo",
            b"x",
            &ResponseNeeds::STATUS_ONLY,
            OK_TIMEOUT,
        )
        .await;
        assert!(
            matches!(error.kind(), ErrorKind::ClosedEarly | ErrorKind::Reset),
            "{error}"
        );
        assert_eq!(client.counters().retries, 1);
    });
}

#[test]
fn a_reused_connection_dying_before_the_response_is_retried_once_for_idempotent_requests() {
    let server = server();
    let mut client = client(&server);
    run(async {
        get_ok(&mut client, "/json").await;
        let error = get_err(&mut client, "/hostile/close-before-response", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ClosedEarly, "{error}");
    });
    let counters = client.counters();
    assert_eq!(counters.retries, 1, "{counters:?}");
    assert_eq!(counters.connects, 2);
    // /json once, the misbehaving route twice (the first try and the one retry).
    assert_eq!(server.wait_answered(3, SETTLE), 3);
    assert_eq!(server.stop().connections_accepted, 2);
}

#[test]
fn a_non_idempotent_request_is_never_retried() {
    let server = server();
    let mut client = client(&server);
    run(async {
        get_ok(&mut client, "/json").await;
        // Closed before the response.
        let error = send_err(
            &mut client,
            Method::POST,
            "/hostile/close-before-response",
            b"{}",
            &ResponseNeeds::STATUS_ONLY,
            OK_TIMEOUT,
        )
        .await;
        assert_eq!(error.kind(), ErrorKind::ClosedEarly, "{error}");
    });
    assert_eq!(client.counters().retries, 0);
    assert_eq!(server.wait_answered(2, SETTLE), 2);
    assert_eq!(server.stop().connections_accepted, 1);
}

#[test]
fn a_fresh_connection_dying_is_not_retried() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let error = get_err(&mut client, "/hostile/close-before-response", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ClosedEarly);
    });
    assert_eq!(client.counters().retries, 0);
    assert_eq!(server.stop().connections_accepted, 1);
}

#[test]
fn chunked_bodies_with_extensions_and_trailers() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = get_ok(&mut client, "/chunked").await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, b"hello chunked world");
        assert_eq!(got.body_len, 19);
        assert_eq!(
            got.trailers,
            vec![("X-Trailer".to_owned(), b"done".to_vec())]
        );
        // The connection stays usable after a chunked body.
        let again = get_ok(&mut client, "/json").await;
        assert!(again.reused);
    });
    assert_eq!(client.counters().connects, 1);
}

#[test]
fn bodiless_responses_keep_the_connection_in_sync() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = head_ok(&mut client, "/json").await;
        assert_eq!(got.status, 200);
        assert!(got.body.is_empty());
        let length = got.headers.iter().find(|(n, _)| n == "Content-Length");
        assert_eq!(length.map(|(_, v)| v.as_slice()), Some(&b"11"[..]));

        let got = head_ok(&mut client, "/chunked").await;
        assert_eq!((got.status, got.body_len), (200, 0));

        for (path, status) in [("/status/204", 204), ("/status/304", 304)] {
            let got = get_ok(&mut client, path).await;
            assert_eq!((got.status, got.body_len), (status, 0), "{path}");
        }
        // Every one of them was framed right: the same connection still works.
        let got = get_ok(&mut client, "/json").await;
        assert_eq!(got.body, FIXED_JSON);
        assert!(got.reused);
    });
    assert_eq!(client.counters().connects, 1);
}

#[test]
fn interim_responses_are_skipped() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = get_ok(&mut client, "/interim").await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, FIXED_JSON);
        assert!(get_ok(&mut client, "/json").await.reused);
    });
}

#[test]
fn status_codes_are_reported_not_treated_as_errors() {
    let server = server();
    let mut client = client(&server);
    run(async {
        for status in [200u16, 201, 302, 400, 404, 418, 500, 503, 599] {
            let got = get_ok(&mut client, &format!("/status/{status}")).await;
            assert_eq!(got.status, status);
        }
    });
    assert_eq!(client.counters().connects, 1);
}

#[test]
fn only_needed_parts_are_kept() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = send_ok(
            &mut client,
            Method::GET,
            "/json",
            b"",
            &ResponseNeeds::STATUS_ONLY,
        )
        .await;
        assert_eq!(got.status, 200);
        assert!(got.body.is_empty());
        assert!(got.headers.is_empty());
        assert_eq!(got.body_len, FIXED_JSON.len() as u64);

        let needs = ResponseNeeds {
            headers: HeaderNeeds::Named(vec!["content-type".to_owned()]),
            body: false,
        };
        let bytes = request(&client, &Method::GET, "/json", b"");
        let response = client
            .send(
                &bytes,
                RequestMeta::for_method(&Method::GET),
                &needs,
                OK_TIMEOUT,
            )
            .await
            .unwrap();
        assert_eq!(
            response.header("Content-Type"),
            Some(&b"application/json"[..])
        );
        assert!(response.body().is_empty());
    });
}

#[test]
fn echo_round_trips_the_body_and_counts_bytes() {
    let server = server();
    let mut client = client(&server);
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    run(async {
        let bytes = request(&client, &Method::POST, "/echo", &body);
        let got = post_ok(&mut client, "/echo", &body).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body, body);
        assert_eq!(got.bytes_sent, bytes.len() as u64);
        assert!(got.bytes_received > body.len() as u64);
        assert!(got.ttfb <= got.total);
        let counters = client.counters();
        assert_eq!(counters.bytes_sent, got.bytes_sent);
        assert_eq!(counters.bytes_received, got.bytes_received);
    });
}

#[test]
fn large_bodies_within_the_cap_arrive_whole() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = get_ok(&mut client, "/bytes/3000000").await;
        assert_eq!(got.body.len(), 3_000_000);
        assert!(got.body == pattern_body(3_000_000));
    });
}

#[test]
fn timings_end_at_the_last_byte_and_ttfb_marks_the_first_read() {
    let server = server();
    let mut client = client(&server);
    run(async {
        // Warm the connection: the next requests reuse it, so their clock starts at `send`.
        get_ok(&mut client, "/json").await;

        // A small response comes in one read: its first byte and its last were read at once.
        let before = Instant::now();
        let small = get_ok(&mut client, "/json").await;
        let after = Instant::now();
        assert!(small.reused);
        assert_eq!(small.ttfb, small.total);
        assert!(small.finished_at >= before + small.total, "{small:?}");
        assert!(small.finished_at <= after);

        // Three megabytes take many reads: the first byte comes before the last.
        let before = Instant::now();
        let large = get_ok(&mut client, "/bytes/3000000").await;
        let after = Instant::now();
        assert_eq!(large.body.len(), 3_000_000);
        assert!(
            large.ttfb < large.total,
            "{:?} {:?}",
            large.ttfb,
            large.total
        );
        assert!(large.finished_at >= before + large.total);
        assert!(large.finished_at <= after);
    });
}

#[test]
fn a_response_read_after_other_tasks_ran_is_timed_by_when_it_was_known_to_be_there() {
    // Two clients write their requests, then a third task holds the thread until the server
    // has answered both (and a little more): the executor reads both completions at once,
    // after the hold. The first client to run then holds the thread again before the second
    // reads. With multishot receives the second response is timed by the completion that
    // brought it, read before either client ran: both latencies agree. Read with `recv(2)`,
    // it is timed by the read, which comes after the first client's hold. Either way no
    // response is timed before the first hold ended: the executor could not know of it.
    const SECOND_HOLD: Duration = Duration::from_millis(40);
    let server = std::rc::Rc::new(server());
    let (mut a, mut b) = (client(&server), client(&server));
    let multishot = std::env::var_os("MOLOTOV_TEST_MULTISHOT_RECV").is_some_and(|v| v == "1");
    let (timed, hold_ended) = run(async {
        // Open both connections first: the timed requests are written in their task's
        // first poll.
        get_ok(&mut a, "/json").await;
        get_ok(&mut b, "/json").await;
        let timed = [a, b].map(|mut client| {
            molotov_runtime::spawn_local(async move {
                let got = get_ok(&mut client, "/json").await;
                std::thread::sleep(SECOND_HOLD);
                (got.total, got.finished_at)
            })
        });
        let server = server.clone();
        let hold = molotov_runtime::spawn_local(async move {
            let give_up = Instant::now() + Duration::from_secs(5);
            while server.requests_answered() < 4 && Instant::now() < give_up {
                std::thread::sleep(Duration::from_millis(1));
            }
            // Answered is written: the bytes are on their way through loopback.
            std::thread::sleep(Duration::from_millis(20));
            Instant::now()
        });
        let [a, b] = timed;
        ([a.await, b.await], hold.await)
    });
    let totals = timed.map(|(total, _)| total);
    for (_, finished_at) in timed {
        assert!(finished_at >= hold_ended, "{timed:?} {hold_ended:?}");
    }
    let (first, last) = (totals[0].min(totals[1]), totals[0].max(totals[1]));
    if multishot {
        assert!(last - first < SECOND_HOLD / 2, "{totals:?}");
    } else {
        assert!(last - first >= SECOND_HOLD, "{totals:?}");
    }
    let server = std::rc::Rc::into_inner(server).expect("the tasks are done with the server");
    assert_eq!(server.stop().requests_answered, 4);
}

#[test]
fn delays_are_measured_and_deadlines_enforced() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = get_ok(&mut client, "/delay/60").await;
        assert_eq!(got.status, 200);
        assert!(got.total >= Duration::from_millis(60), "{:?}", got.total);
        assert!(got.ttfb >= Duration::from_millis(60));

        let started = Instant::now();
        let error = get_err(&mut client, "/delay/2000", Duration::from_millis(100)).await;
        let took = started.elapsed();
        assert_eq!(error.kind(), ErrorKind::RequestTimeout, "{error}");
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_millis(1500), "{took:?}");
        assert!(!client.is_connected());

        // The next request works on a fresh connection.
        let got = get_ok(&mut client, "/json").await;
        assert!(!got.reused);
    });
}

#[test]
fn the_deadline_bounds_a_body_that_keeps_arriving() {
    // A body without end, and no body cap to stop it: only the deadline can. (1 GiB of
    // `/bytes` was used here, on the guess that it could not arrive in 200 ms; on a quiet
    // machine it did, in 192 ms.)
    let server = server();
    let config = ClientConfig {
        max_body_bytes: u64::MAX,
        ..ClientConfig::default()
    };
    let mut client = client_with(&server, config);
    run(async {
        let started = Instant::now();
        // An endless body ends only at the deadline.
        let error = get_status_err(
            &mut client,
            "/hostile/infinite-chunked",
            Duration::from_millis(200),
        )
        .await;
        assert_eq!(error.kind(), ErrorKind::RequestTimeout, "{error}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(client.counters().bytes_received > 0);
    });
    // The server notices the closed connection and stops streaming.
    server.stop();
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let error = get_err(&mut client, "/hostile/never", Duration::from_millis(150)).await;
        assert_eq!(error.kind(), ErrorKind::RequestTimeout);
    });
    assert_eq!(server.stop().requests_answered, 0);
}

#[test]
fn a_slowloris_server_times_out() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let started = Instant::now();
        let error = get_err(
            &mut client,
            "/hostile/slowloris",
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(error.kind(), ErrorKind::RequestTimeout);
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

/// Hostile replies that fail a request with their kind, each on a server and client of its
/// own: (route, kind, a word the message has).
#[test]
fn hostile_replies_fail_with_their_kind() {
    let cases = [
        // Garbage is a malformed response.
        (
            "/hostile/garbage",
            ErrorKind::MalformedResponse,
            "HTTP version",
        ),
        // A reset in the middle of the body is a reset.
        ("/hostile/reset", ErrorKind::Reset, ""),
        // Huge headers are refused at the cap.
        ("/hostile/huge-headers", ErrorKind::HeaderTooLarge, ""),
    ];
    for (path, kind, word) in cases {
        let server = server();
        let mut client = client(&server);
        run(async {
            let error = get_err(&mut client, path, OK_TIMEOUT).await;
            assert_eq!(error.kind(), kind, "{path}: {error}");
            assert!(error.to_string().contains(word), "{path}: {error}");
        });
    }
}

#[test]
fn a_truncated_body_is_closed_early() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let error = get_err(&mut client, "/hostile/truncated", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ClosedEarly, "{error}");
        match error {
            molotov_http::Error::ClosedEarly { received } => assert!(received > 10),
            other => panic!("{other}"),
        }
    });
}

#[test]
fn a_short_content_length_does_not_poison_the_next_request() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let got = get_ok(&mut client, "/hostile/wrong-length").await;
        assert_eq!(got.body, b"hello");
        // The stray bytes made the connection unusable; the next request gets a new one.
        let got = get_ok(&mut client, "/json").await;
        assert_eq!(got.body, FIXED_JSON);
        assert!(!got.reused);
    });
    assert_eq!(client.counters().connects, 2);
}

#[test]
fn endless_chunked_bodies_stop_at_the_body_cap_when_kept() {
    let server = server();
    let config = ClientConfig {
        max_body_bytes: 1 << 20,
        ..ClientConfig::default()
    };
    let mut client = client_with(&server, config);
    run(async {
        let error = get_err(&mut client, "/hostile/infinite-chunked", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::BodyTooLarge, "{error}");
        // A body nobody reads is counted and dropped, whatever its size: the cap, which
        // bounds what is kept, does not apply, and only the deadline ends an endless one.
        let error = get_status_err(
            &mut client,
            "/hostile/infinite-chunked",
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(error.kind(), ErrorKind::RequestTimeout, "{error}");
    });
    server.stop();
}

#[test]
fn a_declared_length_over_the_cap_fails_at_once_when_kept() {
    let server = server();
    let config = ClientConfig {
        max_body_bytes: 1000,
        ..ClientConfig::default()
    };
    let mut client = client_with(&server, config);
    run(async {
        let error = get_err(&mut client, "/bytes/1001", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::BodyTooLarge);
        let got = get_ok(&mut client, "/bytes/1000").await;
        assert_eq!(got.body.len(), 1000);
        // Not kept: read whole, counted, dropped.
        let got = send_ok(
            &mut client,
            Method::GET,
            "/bytes/100000",
            b"",
            &ResponseNeeds::STATUS_ONLY,
        )
        .await;
        assert_eq!(got.status, 200);
        assert_eq!(got.body_len, 100_000);
        assert!(got.body.is_empty());
        assert!(got.bytes_received > 100_000);
    });
}

#[test]
fn max_concurrency_answers_503() {
    let server = server_with(ServerConfig {
        max_concurrency: Some(1),
        ..ServerConfig::default()
    });
    let origin = origin(&server);
    run(async {
        let slow_origin = origin.clone();
        let slow = molotov_runtime::spawn_local(async move {
            let mut client = Client::new(slow_origin, ClientConfig::default());
            get_ok(&mut client, "/delay/400").await.status
        });
        molotov_runtime::timer::sleep(Duration::from_millis(100)).await;
        let mut client = Client::new(origin, ClientConfig::default());
        assert_eq!(get_ok(&mut client, "/json").await.status, 503);
        assert_eq!(slow.await, 200);
        // The slot is free again.
        assert_eq!(get_ok(&mut client, "/json").await.status, 200);
    });
    assert_eq!(server.stop().requests_answered, 3);
}

#[test]
fn connect_refused_when_nothing_listens() {
    let server = server();
    let origin = origin(&server);
    server.stop();
    let mut client = Client::new(origin, ClientConfig::default());
    run(async {
        let error = get_err(&mut client, "/", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ConnectRefused, "{error}");
    });
    assert_eq!(client.counters().connects, 0);
}

#[test]
fn connect_timeout_when_the_accept_queue_is_full() {
    // A listener with a backlog of 0 and one unaccepted connection: the kernel drops
    // further SYNs, so a connect hangs until its timeout.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // SAFETY: the descriptor belongs to `listener`, alive for the whole test.
    assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
    let addr = listener.local_addr().unwrap();
    let _filler = std::net::TcpStream::connect(addr).unwrap();
    let config = ClientConfig {
        connect_timeout: Duration::from_millis(200),
        ..ClientConfig::default()
    };
    let mut client = Client::new(Origin::parse(&format!("http://{addr}")).unwrap(), config);
    run(async {
        let started = Instant::now();
        let error = get_err(&mut client, "/", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
        // With a request deadline shorter than the connect timeout, the deadline wins, and
        // says where it found the request: still connecting (not a slow response).
        let short = ClientConfig {
            connect_timeout: Duration::from_secs(3),
            ..ClientConfig::default()
        };
        let mut client = Client::new(Origin::parse(&format!("http://{addr}")).unwrap(), short);
        let started = Instant::now();
        let error = get_err(&mut client, "/", Duration::from_millis(150)).await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error}");
        assert_eq!(
            error.to_string(),
            "request timed out after 150ms while connecting (the TCP handshake did not \
             finish) (nothing was sent)"
        );
        // Again on the same client: the second attempt is found connecting too.
        let error = get_err(&mut client, "/", Duration::from_millis(100)).await;
        assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error}");
    });
}

#[test]
fn unresolvable_hosts_are_resolve_errors() {
    let mut client = Client::new(
        Origin::parse("http://no-such-host.invalid:8080").unwrap(),
        ClientConfig::default(),
    );
    run(async {
        let error = get_err(&mut client, "/", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::Resolve, "{error}");
    });
}

#[test]
fn an_unresolved_client_fails_at_once_without_a_lookup() {
    // `localhost` would resolve (and nothing listens on port 1): a lookup or a connect would
    // give another error than the one the client was built with.
    let mut client = Client::unresolved(
        Origin::parse("http://localhost:1").unwrap(),
        "Name or service not known".into(),
        ClientConfig::default(),
    );
    run(async {
        for _ in 0..3 {
            let error = get_err(&mut client, "/", OK_TIMEOUT).await;
            assert_error(&error, ErrorKind::Resolve, &["Name or service not known"]);
        }
    });
    assert_eq!(client.counters().connects, 0);
}

#[test]
fn invalid_requests_are_refused_before_sending() {
    let mut https = Client::new(
        Origin::parse("https://127.0.0.1:1").unwrap(),
        ClientConfig::default(),
    );
    run(async {
        // https is supported (tests/tls.rs): nothing listens on port 1.
        let error = get_err(&mut https, "/", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ConnectRefused, "{error}");
        let meta = RequestMeta::for_method(&Method::GET);
        let error = https
            .send(b"", meta, &ResponseNeeds::STATUS_ONLY, OK_TIMEOUT)
            .await
            .expect_err("empty request");
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    });
}

#[test]
fn a_server_that_dies_and_comes_back_is_reconnected_to() {
    let server = server();
    let addr = server.addr();
    let mut client = client(&server);
    run(async {
        assert_eq!(get_ok(&mut client, "/json").await.status, 200);
    });
    server.stop();
    run(async {
        let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
        assert!(
            matches!(
                error.kind(),
                ErrorKind::ConnectRefused | ErrorKind::ClosedEarly | ErrorKind::Reset
            ),
            "{error}"
        );
    });
    let server = server_with(ServerConfig {
        addr,
        ..ServerConfig::default()
    });
    assert_eq!(server.addr(), addr);
    run(async {
        let got = get_ok(&mut client, "/json").await;
        assert_eq!(got.status, 200);
        assert!(!got.reused);
    });
    assert_eq!(server.stop().requests_answered, 1);
}

#[test]
fn the_demo_api_works_end_to_end() {
    let server = server();
    let mut client = client(&server);
    run(async {
        let login = post_ok(&mut client, "/login", br#"{"user":"ada","password":"pw"}"#).await;
        assert_eq!(
            (login.status, login.body.as_slice()),
            (200, &br#"{"token":"tok-ada"}"#[..])
        );
        let products = get_ok(&mut client, "/products?page=2").await;
        let text = String::from_utf8(products.body).unwrap();
        assert!(text.contains(r#"{"id":11,"name":"Product 11"}"#), "{text}");
        assert_eq!(get_ok(&mut client, "/products/7").await.status, 200);
        assert_eq!(get_ok(&mut client, "/products/0").await.status, 404);
        let cart = post_ok(&mut client, "/cart", b"{}").await;
        assert_eq!(cart.status, 201);
        let location = cart.headers.iter().find(|(n, _)| n == "Location").unwrap();
        assert_eq!(location.1, b"/cart/1");
        assert_eq!(get_ok(&mut client, "/cart/1").await.status, 200);
        assert_eq!(get_ok(&mut client, "/cart/2").await.status, 404);
        for path in ["/logout", "/admin/reset"] {
            let got = send_ok(
                &mut client,
                Method::POST,
                path,
                b"",
                &ResponseNeeds::STATUS_ONLY,
            )
            .await;
            assert_eq!(got.status, 204, "{path}");
        }
        assert_eq!(get_ok(&mut client, "/cart/1").await.status, 404);
    });
}
