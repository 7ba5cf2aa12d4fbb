//! The target server over real loopback sockets, driven with plain blocking std sockets:
//! replies byte for byte, pipelining, limits, counting, stop/restart, several threads, and
//! the binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

mod common;
use common::Binary;

use molotov_target::replies::{FIXED_JSON, MAX_HEAD_BYTES};
use molotov_target::{ServerConfig, ServerHandle, start};

const SETTLE: Duration = Duration::from_secs(2);

fn server() -> ServerHandle {
    start(ServerConfig::default()).unwrap()
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    stream
}

/// Reads one response: head, then a Content-Length body (or until close without one).
fn read_response(reader: &mut BufReader<TcpStream>) -> (String, Vec<u8>) {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).unwrap();
        assert!(n > 0, "closed in the head: {head:?}");
        head.push_str(&line);
        if line == "\r\n" {
            break;
        }
    }
    let lower = head.to_ascii_lowercase();
    let length = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map(|v| v.trim().parse::<usize>().unwrap());
    let bodiless = head.starts_with("HTTP/1.1 204") || head.starts_with("HTTP/1.1 304");
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            reader.read_exact(&mut body).unwrap();
        }
        None if bodiless => {}
        None => {
            reader.read_to_end(&mut body).unwrap();
        }
    }
    (head, body)
}

fn exchange(addr: SocketAddr, request: &str) -> (String, Vec<u8>) {
    let mut stream = connect(addr);
    stream.write_all(request.as_bytes()).unwrap();
    read_response(&mut BufReader::new(stream))
}

#[test]
fn fixed_json_byte_for_byte() {
    let server = server();
    let (head, body) = exchange(server.addr(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(
        head,
        "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    );
    assert_eq!(body, FIXED_JSON);
    assert_eq!(server.wait_answered(1, SETTLE), 1);
}

#[test]
fn routes_answer_as_documented() {
    let server = server();
    let addr = server.addr();
    let cases: &[(&str, &str, &str)] = &[
        (
            "GET /json HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200 OK",
            r#"{"ok":true}"#,
        ),
        (
            "GET /status/418 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 418 I'm a teapot",
            r#"{"status":418}"#,
        ),
        (
            "GET /status/204 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 204 No Content",
            "",
        ),
        (
            "GET /status/99 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400",
            "status must be",
        ),
        (
            "GET /bytes/30 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200",
            "abcdefghijklmnopqrstuvwxyzabcd",
        ),
        (
            "GET /delay/x HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400",
            "delay must be",
        ),
        (
            "GET /slow HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200",
            r#"{"ok":true}"#,
        ),
        ("GET /nope HTTP/1.1\r\n\r\n", "HTTP/1.1 404", "not found"),
        (
            "GET /hostile/nope HTTP/1.1\r\n\r\n",
            "HTTP/1.1 404",
            "no such misbehaviour",
        ),
        (
            "GET /login HTTP/1.1\r\n\r\n",
            "HTTP/1.1 405",
            "method not allowed",
        ),
        (
            "POST /echo HTTP/1.1\r\nContent-Type: text/x\r\nContent-Length: 3\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: text/x\r\n",
            "abc",
        ),
        (
            "GET /headers HTTP/1.1\r\nX-One: 1\r\n\r\n",
            "HTTP/1.1 200",
            r#"{"x-one":"1"}"#,
        ),
        (
            "POST /login HTTP/1.1\r\nContent-Length: 29\r\n\r\n{\"user\":\"bo\",\"password\":\"pw\"}",
            "HTTP/1.1 200",
            r#"{"token":"tok-bo"}"#,
        ),
        (
            "POST /login HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
            "HTTP/1.1 400",
            "required",
        ),
        (
            "GET /products/10001 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 404",
            "no such product",
        ),
        (
            "GET /products?page=0 HTTP/1.1\r\n\r\n",
            "HTTP/1.1 400",
            "page must be",
        ),
        (
            "GET /stats HTTP/1.1\r\n\r\n",
            "HTTP/1.1 200",
            "requests_answered",
        ),
    ];
    for (request, head_start, body_part) in cases {
        let (head, body) = exchange(addr, request);
        assert!(head.starts_with(head_start), "{request:?}: {head:?}");
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains(body_part), "{request:?}: {body:?}");
    }
    // Every case but /stats is counted.
    let expected = cases.len() as u64 - 1;
    assert_eq!(server.wait_answered(expected, SETTLE), expected);
    assert_eq!(server.stop().connections_accepted, cases.len() as u64);
}

#[test]
fn head_requests_get_headers_only() {
    let server = server();
    let mut stream = connect(server.addr());
    stream
        .write_all(b"HEAD /json HTTP/1.1\r\n\r\nGET /json HTTP/1.1\r\n\r\n")
        .unwrap();
    let head = "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n";
    let mut all = Vec::new();
    let expected_len = 2 * head.len() + 11;
    let mut buf = [0u8; 1024];
    while all.len() < expected_len {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0);
        all.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8(all).unwrap();
    assert_eq!(text, format!("{head}{head}{{\"ok\":true}}"));
}

#[test]
fn pipelined_requests_are_answered_in_order_and_counted() {
    let server = server();
    let mut stream = connect(server.addr());
    let mut batch = String::new();
    for code in [201, 202, 203, 404, 500] {
        batch.push_str(&format!("GET /status/{code} HTTP/1.1\r\n\r\n"));
    }
    stream.write_all(batch.as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    for code in [201, 202, 203, 404, 500] {
        let (head, body) = read_response(&mut reader);
        assert!(head.starts_with(&format!("HTTP/1.1 {code} ")), "{head}");
        assert_eq!(body, format!(r#"{{"status":{code}}}"#).as_bytes());
    }
    assert_eq!(server.wait_answered(5, SETTLE), 5);
    let stats = server.stop();
    assert_eq!(
        (stats.requests_answered, stats.connections_accepted),
        (5, 1)
    );
}

#[test]
fn chunked_reply_is_exact() {
    let server = server();
    let mut stream = connect(server.addr());
    stream
        .write_all(b"GET /chunked HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    assert_eq!(
        all,
        "HTTP/1.1 200 OK\r\nServer: molotov-target\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer\r\nConnection: close\r\n\r\n6\r\nhello \r\n8;ext=1\r\nchunked \r\n5\r\nworld\r\n0\r\nX-Trailer: done\r\n\r\n"
    );
}

#[test]
fn expect_continue_is_answered_before_the_body() {
    let server = server();
    let mut stream = connect(server.addr());
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 25];
    stream.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"ping").unwrap();
    let (head, body) = read_response(&mut BufReader::new(stream));
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(body, b"ping");
}

#[test]
fn bad_requests_are_refused_and_closed() {
    let server = server();
    let addr = server.addr();
    let huge_head = format!(
        "GET / HTTP/1.1\r\nX: {}\r\n\r\n",
        "a".repeat(MAX_HEAD_BYTES)
    );
    let many_fields: String = (0..65).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases: Vec<(String, &str)> = vec![
        ("NOT HTTP\r\n\r\n".to_owned(), "HTTP/1.1 400"),
        (
            "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_owned(),
            "HTTP/1.1 400",
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".to_owned(),
            "HTTP/1.1 413",
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
            "HTTP/1.1 501",
        ),
        (huge_head, "HTTP/1.1 431"),
        (
            format!("GET / HTTP/1.1\r\n{many_fields}\r\n"),
            "HTTP/1.1 431",
        ),
    ];
    for (request, status) in &cases {
        let mut stream = connect(addr);
        // The server may answer and close before all of a huge request is written.
        let _ = stream.write_all(request.as_bytes());
        let mut reader = BufReader::new(stream);
        let (head, _) = read_response(&mut reader);
        assert!(head.starts_with(status), "{}: {head}", &request[..20]);
        assert!(head.contains("Connection: close"), "{head}");
        let mut rest = Vec::new();
        assert_eq!(reader.read_to_end(&mut rest).unwrap_or(0), 0);
    }
}

#[test]
fn http10_closes_unless_kept_alive() {
    let server = server();
    let (head, _) = exchange(server.addr(), "GET / HTTP/1.0\r\n\r\n");
    assert!(head.contains("Connection: close"), "{head}");
    let (head, _) = exchange(
        server.addr(),
        "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    );
    assert!(head.contains("Connection: keep-alive"), "{head}");
}

#[test]
fn close_every_response_config() {
    let server = start(ServerConfig {
        close_every_response: true,
        ..ServerConfig::default()
    })
    .unwrap();
    let mut stream = connect(server.addr());
    stream.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let mut all = String::new();
    stream.read_to_string(&mut all).unwrap();
    assert!(all.contains("Connection: close\r\n"), "{all}");
    assert!(all.ends_with(r#"{"ok":true}"#));
}

#[test]
fn stop_closes_open_connections_and_the_port_can_be_reused() {
    let server = server();
    let addr = server.addr();
    let idle = connect(addr);
    let mut waiting = connect(addr);
    waiting
        .write_all(b"GET /hostile/never HTTP/1.1\r\n\r\n")
        .unwrap();
    // Let the server take both connections in.
    let started = Instant::now();
    while server.connections_accepted() < 2 && started.elapsed() < SETTLE {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stats = server.stop();
    assert_eq!(stats.connections_accepted, 2);
    assert_eq!(stats.requests_answered, 0);
    for mut stream in [idle, waiting] {
        let mut buf = [0u8; 16];
        // Closed by the server: EOF (or a reset), not a timeout.
        match stream.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("expected the connection closed, got {other:?}"),
        }
    }
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after stop"
    );
    let again = start(ServerConfig {
        addr,
        ..ServerConfig::default()
    })
    .unwrap();
    let (head, _) = exchange(addr, "GET / HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200"));
    assert_eq!(again.stop().requests_answered, 1);
}

#[test]
fn several_threads_share_the_listener_and_the_counts() {
    let server = start(ServerConfig {
        threads: 2,
        ..ServerConfig::default()
    })
    .unwrap();
    let addr = server.addr();
    let connections = 16;
    let per_connection = 25;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(connect(addr));
                for _ in 0..per_connection {
                    reader
                        .get_mut()
                        .write_all(b"GET / HTTP/1.1\r\n\r\n")
                        .unwrap();
                    let (head, _) = read_response(&mut reader);
                    assert!(head.starts_with("HTTP/1.1 200"));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    let expected = (connections * per_connection) as u64;
    assert_eq!(server.wait_answered(expected, SETTLE), expected);
    server.reset_counters();
    assert_eq!(server.requests_answered(), 0);
    exchange(addr, "GET / HTTP/1.1\r\n\r\n");
    let stats = server.stop();
    assert_eq!(
        (stats.requests_answered, stats.connections_accepted),
        (1, 1)
    );
}

#[test]
fn the_binary_prints_its_address_and_stops_on_sigterm() {
    let binary = Binary::start(&["--addr", "127.0.0.1:0"], None, "http");
    let addr = binary.addr;
    assert_ne!(addr.port(), 0);
    for _ in 0..3 {
        exchange(addr, "GET / HTTP/1.1\r\n\r\n");
    }
    assert_eq!(binary.sigterm(), "stopped by SIGTERM: answered 3 requests");
}
