//! The client against servers written here byte by byte (a `std::net` listener on a thread of
//! its own), for what the target server never does: a response sent before the request body
//! was read (then the server stops reading, and holds the connection or closes it), and
//! responses whose framing is lenient (bare LF in chunked framing, obs-fold in the head).
//! The early answer is also tested over TLS, with a rustls server on the same thread.
//!
//! Every server thread is bounded: it accepts a fixed number of connections within a
//! deadline, its sockets have read and write timeouts, and a server that holds a connection
//! open waits on a channel with a timeout.

mod common;

use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use molotov_http::{Client, ClientConfig, ErrorKind, Method, Origin, RequestMeta, ResponseNeeds};

/// Bound on anything a server thread waits for.
const SERVER_PATIENCE: Duration = Duration::from_secs(10);

/// A listener on loopback whose thread hands each of `connections` accepted sockets to
/// `serve`, one after the other, then returns `serve`'s results.
fn raw_server<T: Send + 'static>(
    connections: usize,
    mut serve: impl FnMut(TcpStream) -> T + Send + 'static,
) -> (SocketAddr, JoinHandle<Vec<T>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback listener");
    let addr = listener.local_addr().expect("the listener's address");
    listener.set_nonblocking(true).expect("non-blocking accept");
    let handle = std::thread::spawn(move || {
        let deadline = Instant::now() + SERVER_PATIENCE;
        let mut results = Vec::with_capacity(connections);
        while results.len() < connections && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream.set_nonblocking(false).expect("blocking socket");
                    stream.set_read_timeout(Some(SERVER_PATIENCE)).ok();
                    stream.set_write_timeout(Some(SERVER_PATIENCE)).ok();
                    results.push(serve(stream));
                }
                Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        results
    });
    (addr, handle)
}

/// Reads from `stream` until the end of a request head (the bytes read, the head and
/// whatever of the body came with it), or None at EOF first. Bounded by 64 KiB and the
/// socket's read timeout.
fn read_head(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    while bytes.len() < 64 << 10 {
        if bytes.windows(4).any(|w| w == b"\r\n\r\n") {
            return Some(bytes);
        }
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
        }
    }
    None
}

fn client_for(addr: SocketAddr) -> Client {
    Client::new(
        Origin::parse(&format!("http://{addr}")).expect("a loopback origin"),
        ClientConfig::default(),
    )
}

/// What the server does after it answered early, without reading the body.
#[derive(Debug, Clone, Copy)]
enum After {
    /// Keeps the connection open, reading nothing, until the test is done.
    Holds,
    /// Closes it (with the body unread, the kernel sends an RST).
    Closes,
    /// Reads on to the end of the body, then closes.
    Drains,
}

/// A body the socket buffers cannot take whole: the client's write has to wait.
const LARGE_BODY: usize = 32 << 20;

/// The deadline of [`post_large_body`]'s request.
const POST_TIMEOUT: Duration = Duration::from_secs(3);

/// What a response to [`post_large_body`] held.
struct Answer {
    status: u16,
    body: Vec<u8>,
    sent: u64,
    received: u64,
    total: Duration,
}

/// What [`post_large_body`] saw: the answer or the error, then the client's state after it.
struct Posted {
    got: Result<Answer, molotov_http::Error>,
    connected: bool,
    counters: molotov_http::ClientCounters,
    elapsed: Duration,
    request_len: u64,
}

/// POSTs a body of [`LARGE_BODY`] bytes through `client` with the deadline
/// [`POST_TIMEOUT`], wanting everything of the response.
fn post_large_body(client: &mut Client) -> Posted {
    let body = vec![b'x'; LARGE_BODY];
    let request = common::request(client, &Method::POST, "/upload", &body);
    let started = Instant::now();
    common::run(async {
        let meta = RequestMeta::for_method(&Method::POST);
        let got = client
            .send(&request, meta, &ResponseNeeds::EVERYTHING, POST_TIMEOUT)
            .await
            .map(|response| Answer {
                status: response.status(),
                body: response.body().to_vec(),
                sent: response.bytes_sent(),
                received: response.bytes_received(),
                total: response.timings().total,
            });
        Posted {
            got,
            connected: client.is_connected(),
            counters: client.counters(),
            elapsed: started.elapsed(),
            request_len: request.len() as u64,
        }
    })
}

/// A server that answers a POST with a large body as soon as it has the head (RFC 9112
/// section 9.5's case: `413`, then it stops reading), and then holds the connection, closes
/// it, or drains the body. The client must report the `413` as soon as it is there, with its
/// bytes and latency, and must not reuse the connection. Before, it kept blocking on the
/// write: `request_timeout` (holds) or `reset` (closes), with nothing received.
#[test]
fn a_response_sent_before_the_body_was_read_is_the_response() {
    let response: &'static [u8] =
        b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large";
    let keep_alive: &'static [u8] = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n";
    let cases: [(After, &[u8]); 4] = [
        (After::Holds, response),
        (After::Holds, keep_alive),
        (After::Closes, response),
        (After::Drains, response),
    ];
    for (after, answer) in cases {
        let case = format!("{after:?} after {:?}", String::from_utf8_lossy(answer));
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let (addr, server) = raw_server(1, move |mut stream| {
            let head = read_head(&mut stream).expect("a request head");
            stream
                .write_all(answer)
                .expect("the early answer is written");
            let mut drained = head.len() as u64;
            match after {
                After::Holds => {
                    let _ = done_rx.recv_timeout(SERVER_PATIENCE);
                }
                After::Closes => {}
                After::Drains => {
                    let mut buf = vec![0u8; 1 << 16];
                    let deadline = Instant::now() + SERVER_PATIENCE;
                    while Instant::now() < deadline {
                        match stream.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => drained += n as u64,
                        }
                    }
                }
            }
            drained
        });
        let posted = post_large_body(&mut client_for(addr));
        done_tx.send(()).ok();
        let server_read = server.join().expect("the server thread");
        let Posted {
            got,
            connected,
            counters,
            elapsed,
            request_len,
        } = posted;
        let Answer {
            status,
            body: body_got,
            sent,
            received,
            total,
        } = got.unwrap_or_else(|e| panic!("{case}: {e} ({:?})", e.kind()));
        let timeout = POST_TIMEOUT;
        assert_eq!(status, 413, "{case}");
        assert_eq!(body_got, &answer[answer.len() - body_got.len()..], "{case}");
        assert_eq!(received, answer.len() as u64, "{case}: bytes received");
        assert_eq!(counters.bytes_received, received, "{case}");
        assert_eq!(counters.bytes_sent, sent, "{case}");
        assert!(sent > 0 && sent <= request_len, "{case}: {sent} sent");
        assert!(
            total > Duration::ZERO && total <= elapsed,
            "{case}: latency {total:?} in {elapsed:?}"
        );
        assert!(
            elapsed < timeout,
            "{case}: the answer took {elapsed:?}, the deadline is {timeout:?}"
        );
        assert!(!connected, "{case}: the connection is not reused");
        match after {
            // The server read the head and what came with it, no more: the client cannot
            // have written the whole body.
            After::Holds | After::Closes => {
                assert!(sent < request_len, "{case}: all {sent} bytes sent");
            }
            // A server that reads on gets what the client sent (all of it, or what was sent
            // before the client saw the answer).
            After::Drains => assert_eq!(server_read, [sent], "{case}"),
        }
    }
}

/// A connection the server reset while the client was writing: the response that came
/// before the RST is still readable (Linux keeps received bytes after an RST), and it is the
/// answer. To make the write meet the RST, rather than the client seeing the response come
/// in while it waits: the server answers 200 ms after the head, and meanwhile another task
/// blocks the client's thread from 100 ms to 400 ms, so the client is next polled after the
/// response and the RST are both there, and its write, tried first, fails.
#[test]
fn a_response_already_received_when_the_write_fails_is_the_response() {
    let answer: &'static [u8] =
        b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbad";
    let (addr, server) = raw_server(1, move |mut stream| {
        let head = read_head(&mut stream).is_some();
        std::thread::sleep(Duration::from_millis(200));
        stream.write_all(answer).expect("the answer is written");
        // Closed with unread bytes: an RST.
        head
    });
    let mut client = client_for(addr);
    let body = vec![b'y'; LARGE_BODY];
    let request = common::request(&client, &Method::PUT, "/", &body);
    let (got, ()) = common::run(futures_lite::future::zip(
        async {
            let meta = RequestMeta::for_method(&Method::PUT);
            client
                .send(
                    &request,
                    meta,
                    &ResponseNeeds::EVERYTHING,
                    Duration::from_secs(3),
                )
                .await
                .map(|r| (r.status(), r.body().to_vec(), r.bytes_received()))
        },
        async {
            molotov_runtime::timer::sleep(Duration::from_millis(100)).await;
            std::thread::sleep(Duration::from_millis(300));
        },
    ));
    assert_eq!(server.join().expect("the server thread"), [true]);
    let (status, body, received) = got.unwrap_or_else(|e| panic!("{e} ({:?})", e.kind()));
    assert_eq!((status, body.as_slice()), (400, &b"bad"[..]));
    assert_eq!(received, answer.len() as u64);
    assert_eq!(client.counters().retries, 0);
    assert!(!client.is_connected());
}

/// Lenient framing a server may send, each answered to three GETs on one kept-alive
/// connection: every response completes at once (none waits for the deadline) and the
/// connection is reused. Before: the bare-LF endings of chunked bodies timed out or were
/// malformed, and obs-fold was malformed (and closed the connection).
#[test]
fn lenient_framing_completes_at_once_on_a_kept_alive_connection() {
    /// A name, the response, its body, and a header field and the value it must read.
    type Case = (
        &'static str,
        &'static [u8],
        &'static [u8],
        Option<(&'static str, &'static [u8])>,
    );
    let cases: [Case; 6] = [
        (
            "last chunk then bare LF",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n",
            b"hello",
            None,
        ),
        (
            "bare-LF trailer line, CRLF end",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\n\r\n",
            b"hello",
            None,
        ),
        (
            "bare-LF trailer line and end",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\n\n",
            b"hello",
            None,
        ),
        (
            "bare LF everywhere in the chunked framing",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
            b"hello",
            None,
        ),
        (
            "obs-fold",
            b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\nContent-Length: 5\r\n\r\nhello",
            b"hello",
            Some(("x-folded", b"a b")),
        ),
        (
            "obs-fold in Content-Length",
            b"HTTP/1.1 200 OK\r\nContent-Length:\r\n 5\r\n\r\nhello",
            b"hello",
            Some(("content-length", b"5")),
        ),
    ];
    const REQUESTS: usize = 3;
    for (name, answer, body, header) in cases {
        let (addr, server) = raw_server(1, move |mut stream| {
            let mut answered = 0;
            while answered < REQUESTS && read_head(&mut stream).is_some() {
                stream.write_all(answer).expect("the answer is written");
                answered += 1;
            }
            answered
        });
        let mut client = client_for(addr);
        let timeout = Duration::from_secs(5);
        let results = common::run(async {
            let mut results = Vec::new();
            for _ in 0..REQUESTS {
                let started = Instant::now();
                let got = common::send(
                    &mut client,
                    Method::GET,
                    "/",
                    b"",
                    &ResponseNeeds::EVERYTHING,
                    timeout,
                )
                .await;
                results.push((got, started.elapsed()));
            }
            results
        });
        assert_eq!(client.counters().connects, 1, "{name}");
        client.close();
        assert_eq!(
            server.join().expect("the server thread"),
            [REQUESTS],
            "{name}"
        );
        for (i, (got, elapsed)) in results.into_iter().enumerate() {
            let got = got.unwrap_or_else(|e| panic!("{name}, request {i}: {e}"));
            assert_eq!((got.status, got.body.as_slice()), (200, body), "{name}");
            assert_eq!(got.reused, i > 0, "{name}, request {i}");
            assert!(
                elapsed < Duration::from_secs(1),
                "{name}, request {i}: {elapsed:?}"
            );
            if let Some((field, value)) = header {
                let found = got
                    .headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(field))
                    .map(|(_, v)| v.as_slice());
                assert_eq!(found, Some(value), "{name}");
            }
        }
    }
}

/// The kind a failure is counted under stays what it was for a server that resets the
/// connection without answering while the body is being written.
#[test]
fn a_reset_without_a_response_while_writing_is_still_a_reset() {
    let (addr, server) = raw_server(1, |mut stream| read_head(&mut stream).is_some());
    let mut client = client_for(addr);
    let body = vec![b'z'; LARGE_BODY];
    let request = common::request(&client, &Method::POST, "/", &body);
    let got = common::run(async {
        let meta = RequestMeta::for_method(&Method::POST);
        client
            .send(
                &request,
                meta,
                &ResponseNeeds::STATUS_ONLY,
                Duration::from_secs(3),
            )
            .await
            .map(|r| r.status())
    });
    assert_eq!(server.join().expect("the server thread"), [true]);
    let error = got.expect_err("no response was sent");
    assert_eq!(error.kind(), ErrorKind::Reset, "{error}");
    assert!(!client.is_connected());
}

/// The early answer over TLS: the client reads it while its write waits, through rustls as
/// over plain TCP (the server answers after the head, then reads nothing until the test is
/// done). The client trusts any certificate: what is tested is the exchange, not the chain.
#[test]
fn over_tls_a_response_sent_before_the_body_was_read_is_the_response() {
    let answer: &'static [u8] =
        b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 9\r\n\r\ntoo large";
    let config = molotov_target::ServerTls::localhost()
        .and_then(|tls| tls.rustls_config())
        .expect("a TLS configuration");
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (addr, server) = raw_server(1, move |stream| {
        let connection =
            rustls::ServerConnection::new(config.clone()).expect("a TLS server connection");
        let mut tls = rustls::StreamOwned::new(connection, stream);
        let head = read_head(&mut tls).expect("a request head over TLS");
        tls.write_all(answer).expect("the early answer is written");
        tls.flush().expect("the early answer is flushed");
        let _ = done_rx.recv_timeout(SERVER_PATIENCE);
        head.len()
    });
    let options = molotov_http::TlsOptions {
        insecure: true,
        ..molotov_http::TlsOptions::default()
    };
    let connector = molotov_http::TlsConnector::new(&options).expect("a TLS connector");
    let mut client = Client::new(
        Origin::parse(&format!("https://{addr}")).expect("a loopback origin"),
        ClientConfig {
            tls: options,
            ..ClientConfig::default()
        },
    )
    .with_tls(connector);
    let posted = post_large_body(&mut client);
    done_tx.send(()).ok();
    server.join().expect("the server thread");
    let answer = posted
        .got
        .unwrap_or_else(|e| panic!("{e} ({:?})", e.kind()));
    assert_eq!(answer.status, 413);
    assert_eq!(answer.body, b"too large");
    assert!(
        posted.elapsed < POST_TIMEOUT,
        "the answer took {:?}",
        posted.elapsed
    );
    assert!(
        answer.sent < posted.request_len,
        "all {} bytes sent",
        answer.sent
    );
    assert!(!posted.connected, "the connection is not reused");
}
