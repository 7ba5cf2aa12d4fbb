//! The client over TLS against the in-repo target server serving HTTPS on loopback:
//! verification with a private CA (`cacert`), the unknown-issuer, name-mismatch,
//! bad-certificate, handshake and protocol error kinds, `insecure`, `tls_min`, keep-alive
//! over TLS (one connection, one handshake), exact counts, session resumption on reconnect
//! (within a client and across clients sharing a connector), ALPN and SNI as the server saw
//! them, and the HTTP behaviours that depend on reading the encrypted stream right (idle
//! check, server closes, stray bytes, large bodies).
//!
//! Every client gets its own `TlsConnector` (own session cache) unless a test is about the
//! process-wide shared one, so tests running in parallel never resume each other's sessions.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use common::*;
use molotov_http::{
    Client, ClientConfig, ErrorKind, Method, Origin, ResponseNeeds, TlsConnector, TlsOptions,
    TlsVersion,
};
use molotov_target::replies::FIXED_JSON;
use molotov_target::{ServerConfig, ServerHandle, ServerTls, TlsIdentity};

const SETTLE: Duration = Duration::from_secs(2);

/// A temporary directory for CA files, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "molotov-http-tls-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn write(&self, file: &str, text: &str) -> PathBuf {
        let path = self.0.join(file);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tls_server(tls: ServerTls) -> ServerHandle {
    server_with(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
}

fn localhost_server() -> ServerHandle {
    tls_server(ServerTls::localhost().unwrap())
}

/// Writes the server's CA to a file in `dir` and returns options trusting it.
fn trusting(server: &ServerHandle, dir: &TempDir) -> TlsOptions {
    let identity = server.tls_identity().expect("a TLS server");
    TlsOptions {
        ca_file: Some(dir.write("ca.pem", identity.ca_pem())),
        ..TlsOptions::default()
    }
}

fn https_origin(addr: SocketAddr) -> Origin {
    Origin::parse(&format!("https://{addr}")).unwrap()
}

/// A client for `https://<server addr>` with its own connector built from `options`.
fn tls_client(server: &ServerHandle, options: TlsOptions) -> Client {
    let connector = TlsConnector::new(&options).unwrap();
    let config = ClientConfig {
        tls: options,
        ..ClientConfig::default()
    };
    Client::new(https_origin(server.addr()), config).with_tls(connector)
}

/// A client trusting `server`'s CA, written to a temporary directory named after `name`
/// (returned with it: removed on drop).
fn trusting_client(server: &ServerHandle, name: &str) -> (Client, TempDir) {
    let dir = TempDir::new(name);
    let client = tls_client(server, trusting(server, &dir));
    (client, dir)
}

fn json(got: &Got) -> serde_json::Value {
    serde_json::from_slice(&got.body).unwrap()
}

#[test]
fn cacert_verifies_and_keep_alive_reuses_one_connection_and_one_handshake() {
    let server = localhost_server();
    let (mut client, _dir) = trusting_client(&server, "keepalive");
    let requests = 200u64;
    run(async {
        for i in 0..requests {
            let bytes = request(&client, &Method::GET, "/json", b"");
            let response = client
                .send(
                    &bytes,
                    molotov_http::RequestMeta::for_method(&Method::GET),
                    &ResponseNeeds::EVERYTHING,
                    OK_TIMEOUT,
                )
                .await
                .unwrap_or_else(|e| panic!("request {i}: {e}"));
            assert_eq!(response.status(), 200);
            assert_eq!(response.body(), FIXED_JSON);
            assert_eq!(response.reused_connection(), i > 0, "request {i}");
            let timings = response.timings();
            assert_eq!(timings.connect.is_some(), i == 0, "request {i}");
            assert_eq!(timings.tls_handshake.is_some(), i == 0, "request {i}");
            if let Some(handshake) = timings.tls_handshake {
                assert!(handshake > Duration::ZERO);
            }
        }
        let info = client.tls_info().expect("an open TLS connection");
        assert_eq!(info.version, TlsVersion::Tls13);
        assert_eq!(info.alpn.as_deref(), Some(&b"http/1.1"[..]));
        assert!(!info.resumed);
        assert!(info.cipher_suite.starts_with("TLS13_"), "{info:?}");
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.reconnects, counters.retries),
        (1, 0, 0)
    );
    assert_eq!((counters.tls_handshakes, counters.tls_resumed), (1, 0));
    assert_eq!(server.wait_answered(requests, SETTLE), requests);
    let stats = server.stop();
    assert_eq!(stats.requests_answered, requests);
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (1, 0));
}

#[test]
fn many_clients_over_tls_are_counted_exactly() {
    let server = localhost_server();
    let dir = TempDir::new("many");
    let options = trusting(&server, &dir);
    let connector = TlsConnector::new(&options).unwrap();
    let origin = https_origin(server.addr());
    let clients = 20u64;
    let per_client = 50u64;
    let results = many_clients(clients, per_client, || {
        Client::new(origin.clone(), ClientConfig::default()).with_tls(connector.clone())
    });
    let ok: u64 = results.iter().map(|(ok, _)| ok).sum();
    let handshakes: u64 = results.iter().map(|(_, c)| c.tls_handshakes).sum();
    let connects: u64 = results.iter().map(|(_, c)| c.connects).sum();
    assert_eq!(ok, clients * per_client);
    assert_eq!((connects, handshakes), (clients, clients));
    let stats = server.stop();
    assert_eq!(stats.requests_answered, clients * per_client);
    assert_eq!(stats.connections_accepted, clients);
    assert_eq!(stats.tls_handshakes, clients);
}

#[test]
fn without_the_ca_the_certificate_is_an_unknown_issuer() {
    let server = localhost_server();
    let mut client = tls_client(&server, TlsOptions::default());
    run(async {
        for attempt in 0..2 {
            let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
            assert_eq!(error.kind(), ErrorKind::TlsUnknownIssuer, "{error}");
            let message = error.to_string();
            assert!(
                message.contains(&server.addr().to_string()),
                "attempt {attempt}: {message}"
            );
            assert!(message.contains("not issued by a trusted"), "{message}");
            assert!(message.contains("--cacert"), "{message}");
            assert!(!client.is_connected());
        }
    });
    let counters = client.counters();
    assert_eq!((counters.connects, counters.tls_handshakes), (2, 0));
    let stats = server.stop();
    assert_eq!(stats.requests_answered, 0);
    assert_eq!(stats.tls_handshakes, 0);
}

#[test]
fn insecure_accepts_an_untrusted_certificate_and_any_name() {
    for identity in [
        TlsIdentity::localhost().unwrap(),
        TlsIdentity::for_names(&["wrong.example"]).unwrap(),
    ] {
        let server = tls_server(ServerTls::new(identity));
        let mut client = tls_client(
            &server,
            TlsOptions {
                insecure: true,
                ..TlsOptions::default()
            },
        );
        run(async {
            let got = get_ok(&mut client, "/json").await;
            assert_eq!((got.status, got.body.as_slice()), (200, FIXED_JSON));
        });
        assert_eq!(server.stop().requests_answered, 1);
    }
}

/// A server with one self-signed certificate that says it is a CA (`openssl req -x509`).
fn self_signed_ca_server(names: &[&str], expired: bool) -> ServerHandle {
    tls_server(ServerTls::new(
        TlsIdentity::self_signed_ca(names, expired).unwrap(),
    ))
}

#[test]
fn a_self_signed_ca_certificate_given_with_cacert_is_trusted_as_it_is() {
    // webpki alone refuses it (CaUsedAsEndEntity) even when it is a trust anchor.
    let server = self_signed_ca_server(&["127.0.0.1"], false);
    let (mut client, _dir) = trusting_client(&server, "self-signed-ca");
    run(async {
        for _ in 0..3 {
            let got = get_ok(&mut client, "/json").await;
            assert_eq!((got.status, got.body.as_slice()), (200, FIXED_JSON));
        }
    });
    assert_eq!(server.stop().requests_answered, 3);
}

/// A trusted certificate still has its name and dates checked, whether a CA signed it or it
/// is a self-signed CA certificate given with `--cacert`: (what, the server's identity, the
/// kind, words of the message).
#[test]
fn a_trusted_certificate_for_another_name_or_expired_fails_with_its_kind() {
    let cases = [
        (
            "a certificate for another name",
            TlsIdentity::for_names(&["wrong.example"]).unwrap(),
            ErrorKind::TlsNameMismatch,
            &["127.0.0.1", "wrong.example"][..],
        ),
        (
            "an expired certificate",
            TlsIdentity::expired(&["127.0.0.1"]).unwrap(),
            ErrorKind::TlsBadCertificate,
            &["expired"][..],
        ),
        (
            "a self-signed CA certificate for another name",
            TlsIdentity::self_signed_ca(&["wrong.example"], false).unwrap(),
            ErrorKind::TlsNameMismatch,
            &["wrong.example"][..],
        ),
        (
            "an expired self-signed CA certificate",
            TlsIdentity::self_signed_ca(&["127.0.0.1"], true).unwrap(),
            ErrorKind::TlsBadCertificate,
            &["expired"][..],
        ),
    ];
    for (what, identity, kind, words) in cases {
        let server = tls_server(ServerTls::new(identity));
        let (mut client, _dir) = trusting_client(&server, "bad-certificate");
        run(async {
            let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
            assert_eq!(error.kind(), kind, "{what}: {error}");
            for word in words {
                assert!(error.to_string().contains(word), "{what}: {error}");
            }
        });
        assert_eq!(server.stop().requests_answered, 0, "{what}");
    }
}

#[test]
fn an_untrusted_self_signed_ca_certificate_says_what_it_is_and_what_to_do() {
    let server = self_signed_ca_server(&["127.0.0.1"], false);
    let mut client = tls_client(&server, TlsOptions::default());
    run(async {
        let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
        assert_error(
            &error,
            ErrorKind::TlsBadCertificate,
            &["it is a CA certificate", "--cacert"],
        );
        assert!(!error.to_string().contains("Other("), "{error}");
    });
    assert_eq!(server.stop().requests_answered, 0);
}

#[test]
fn tls_min_decides_which_servers_are_acceptable() {
    let server = tls_server(ServerTls {
        identity: TlsIdentity::localhost().unwrap(),
        tls12_only: true,
    });
    let dir = TempDir::new("tlsmin");
    let mut options = trusting(&server, &dir);
    // 1.2 allowed: works, over TLS 1.2, with ALPN.
    let mut client = tls_client(&server, options.clone());
    run(async {
        let got = get_ok(&mut client, "/tls").await;
        assert_eq!(json(&got)["version"], "1.2");
        assert_eq!(json(&got)["alpn"], "http/1.1");
        assert_eq!(client.tls_info().unwrap().version, TlsVersion::Tls12);
    });
    // 1.3 required: the server refuses with its reason (the protocol_version alert).
    options.min_version = TlsVersion::Tls13;
    let mut client = tls_client(&server, options);
    run(async {
        let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
        assert_error(&error, ErrorKind::TlsHandshake, &["protocol_version"]);
    });
    assert_eq!(server.stop().requests_answered, 1);
}

#[test]
fn https_to_a_plain_http_server_is_a_protocol_error() {
    let server = server();
    let mut client = tls_client(&server, TlsOptions::default());
    run(async {
        let error = get_err(&mut client, "/json", OK_TIMEOUT).await;
        assert_error(
            &error,
            ErrorKind::TlsProtocol,
            &["is the server speaking TLS"],
        );
    });
}

#[test]
fn a_server_closing_mid_handshake_is_a_handshake_failure() {
    // A TCP server that reads the ClientHello and closes (FIN, nothing unread: no RST).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let closer = std::thread::spawn(move || {
        use std::io::Read;
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut hello = [0u8; 4096];
        let n = socket.read(&mut hello).unwrap_or(0);
        drop(socket);
        n
    });
    let mut client = Client::new(https_origin(addr), ClientConfig::default())
        .with_tls(TlsConnector::new(&TlsOptions::default()).unwrap());
    run(async {
        let error = get_err(&mut client, "/", OK_TIMEOUT).await;
        assert_error(&error, ErrorKind::TlsHandshake, &["closed the connection"]);
    });
    let hello_bytes = closer.join().unwrap();
    assert!(hello_bytes > 0, "the client sent a ClientHello");
}

#[test]
fn a_deadline_in_a_handshake_that_never_ends_is_a_handshake_timeout() {
    // A TCP server that accepts and then says nothing: the TLS handshake waits for its
    // ServerHello until the request's deadline, which names the handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        drop(socket);
    });
    let mut client = Client::new(https_origin(addr), ClientConfig::default())
        .with_tls(TlsConnector::new(&TlsOptions::default()).unwrap());
    run(async {
        let error = get_status_err(&mut client, "/", Duration::from_millis(200)).await;
        assert_eq!(error.kind(), ErrorKind::TlsHandshake, "{error}");
        assert_eq!(
            error.to_string(),
            "request timed out after 200ms in the TLS handshake (nothing was sent)"
        );
    });
    holder.join().unwrap();
}

#[test]
fn reconnects_resume_the_session() {
    let server = localhost_server();
    let (mut client, _dir) = trusting_client(&server, "resume");
    let closes = 5u64;
    run(async {
        for i in 0..closes {
            // Each reply closes the connection: the next request reconnects.
            let got = get_ok(&mut client, "/close").await;
            assert_eq!(got.status, 200);
            assert!(got.connect.is_some(), "request {i}");
        }
        // A last request on a fresh connection, kept open to read what it negotiated.
        let got = get_ok(&mut client, "/tls").await;
        assert_eq!(json(&got)["resumed"], true);
        assert!(client.tls_info().unwrap().resumed);
    });
    let counters = client.counters();
    assert_eq!(counters.connects, closes + 1);
    assert_eq!(counters.tls_handshakes, closes + 1);
    assert_eq!(counters.tls_resumed, closes, "all but the first resumed");
    let stats = server.stop();
    assert_eq!(stats.requests_answered, closes + 1);
    assert_eq!(
        (stats.tls_handshakes, stats.tls_resumed),
        (closes + 1, closes)
    );
}

#[test]
fn resumption_works_over_tls12_too() {
    let server = tls_server(ServerTls {
        identity: TlsIdentity::localhost().unwrap(),
        tls12_only: true,
    });
    let (mut client, _dir) = trusting_client(&server, "resume12");
    run(async {
        for _ in 0..3 {
            assert_eq!(get_ok(&mut client, "/close").await.status, 200);
        }
    });
    let counters = client.counters();
    assert_eq!((counters.tls_handshakes, counters.tls_resumed), (3, 2));
    assert_eq!(server.stop().tls_resumed, 2);
}

#[test]
fn clients_sharing_the_process_connector_resume_each_others_sessions() {
    let server = localhost_server();
    let dir = TempDir::new("shared");
    // A CA path unique to this test: its own entry in the process-wide cache.
    let options = trusting(&server, &dir);
    let config = ClientConfig {
        tls: options,
        ..ClientConfig::default()
    };
    let origin = https_origin(server.addr());
    run(async {
        // Without `with_tls`: both clients take the shared connector for these options.
        let mut first = Client::new(origin.clone(), config.clone());
        assert_eq!(get_ok(&mut first, "/").await.status, 200);
        assert!(!first.tls_info().unwrap().resumed);
        let mut second = Client::new(origin.clone(), config.clone());
        assert_eq!(get_ok(&mut second, "/").await.status, 200);
        assert!(
            second.tls_info().unwrap().resumed,
            "the second client resumed the first one's session"
        );
        // A client with a connector of its own has an empty cache: a full handshake.
        let own = TlsConnector::new(&config.tls).unwrap();
        let mut third = Client::new(origin.clone(), config.clone()).with_tls(own);
        assert_eq!(get_ok(&mut third, "/").await.status, 200);
        assert!(!third.tls_info().unwrap().resumed);
    });
    let stats = server.stop();
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (3, 1));
}

#[test]
fn sni_is_the_host_name_and_absent_for_ip_addresses() {
    let server = localhost_server();
    let dir = TempDir::new("sni");
    let options = trusting(&server, &dir);
    let connector = TlsConnector::new(&options).unwrap();
    // By name (connecting to the loopback address without resolving): SNI "localhost",
    // and the certificate is checked against "localhost".
    let by_name = Origin::parse(&format!("https://localhost:{}", server.addr().port())).unwrap();
    let mut named = Client::with_addresses(by_name, vec![server.addr()], ClientConfig::default())
        .with_tls(connector.clone());
    let mut by_ip =
        Client::new(https_origin(server.addr()), ClientConfig::default()).with_tls(connector);
    run(async {
        let got = get_ok(&mut named, "/tls").await;
        assert_eq!(json(&got)["sni"], "localhost", "{:?}", json(&got));
        let got = get_ok(&mut by_ip, "/tls").await;
        assert_eq!(json(&got)["sni"], serde_json::Value::Null);
    });
}

#[test]
fn an_idle_tls_connection_is_checked_and_kept_when_clean() {
    let server = localhost_server();
    let (mut client, _dir) = trusting_client(&server, "idle");
    run(async {
        for i in 0..5 {
            // Idle longer than `probe_idle_after` (1 ms): each request runs the idle check,
            // which must read the TLS 1.3 session tickets as harmless.
            molotov_runtime::timer::sleep(Duration::from_millis(5)).await;
            let got = get_ok(&mut client, "/json").await;
            assert_eq!(got.reused, i > 0, "request {i}");
        }
    });
    let counters = client.counters();
    assert_eq!((counters.connects, counters.reconnects), (1, 0));
    assert_eq!(server.stop().requests_answered, 5);
}

#[test]
fn a_server_closing_an_idle_tls_connection_is_a_transparent_reconnect() {
    // The server closes connections idle for 50 ms, with close_notify.
    let server = server_with(ServerConfig {
        tls: Some(ServerTls::localhost().unwrap()),
        idle_timeout: Some(Duration::from_millis(50)),
        ..ServerConfig::default()
    });
    let (mut client, _dir) = trusting_client(&server, "idleclose");
    run(async {
        assert_eq!(get_ok(&mut client, "/json").await.status, 200);
        molotov_runtime::timer::sleep(Duration::from_millis(200)).await;
        // A POST is never retried: only the idle check (which must see the close_notify
        // and the end of stream through rustls) can make it succeed.
        let got = post_ok(&mut client, "/echo", b"after close").await;
        assert_eq!(got.body, b"after close");
        assert!(!got.reused);
    });
    let counters = client.counters();
    assert_eq!(
        (counters.connects, counters.reconnects, counters.retries),
        (2, 1, 0)
    );
    let stats = server.stop();
    assert_eq!(stats.requests_answered, 2);
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (2, 1));
}

#[test]
fn a_reply_followed_by_close_notify_drops_the_connection_at_once() {
    let server = localhost_server();
    let (mut client, _dir) = trusting_client(&server, "silent");
    run(async {
        // The server answers without announcing a close, then closes (close_notify).
        assert_eq!(get_ok(&mut client, "/close/silent").await.status, 200);
        molotov_runtime::timer::sleep(Duration::from_millis(50)).await;
        // The POST after the silent close succeeds, on a fresh connection.
        let got = post_ok(&mut client, "/echo", b"after close").await;
        assert!(!got.reused);
    });
    assert_eq!(client.counters().retries, 0);
    assert_eq!(server.stop().requests_answered, 2);
}

#[test]
fn http_failures_keep_their_kinds_over_tls() {
    let server = localhost_server();
    let (mut client, _dir) = trusting_client(&server, "failures");
    run(async {
        // Truncated body, then the server drops the connection (no close_notify).
        let error = get_err(&mut client, "/hostile/truncated", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::ClosedEarly, "{error}");
        // Not HTTP inside the TLS stream.
        let error = get_err(&mut client, "/hostile/garbage", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::MalformedResponse, "{error}");
        // RST in the middle of the body.
        let error = get_err(&mut client, "/hostile/reset", OK_TIMEOUT).await;
        assert_eq!(error.kind(), ErrorKind::Reset, "{error}");
        // Deadline.
        let error = get_status_err(&mut client, "/delay/2000", Duration::from_millis(100)).await;
        assert_eq!(error.kind(), ErrorKind::RequestTimeout, "{error}");
        // Stray bytes after a response: the connection is dropped, the next one is fresh.
        let got = get_ok(&mut client, "/hostile/wrong-length").await;
        assert_eq!(got.body, b"hello");
        let got = get_ok(&mut client, "/json").await;
        assert!(!got.reused);
        // A large body through rustls' 4 KiB reads.
        let got = get_ok(&mut client, "/bytes/3000000").await;
        assert_eq!(got.body_len, 3_000_000);
        assert_eq!(&got.body[..3], b"abc");
        // Chunked with a trailer.
        let got = get_ok(&mut client, "/chunked").await;
        assert_eq!(got.body, b"hello chunked world");
        assert_eq!(got.trailers[0].1, b"done");
    });
}

#[test]
fn a_bad_ca_file_fails_every_request_as_invalid_request() {
    let server = localhost_server();
    let dir = TempDir::new("badca");
    let options = TlsOptions {
        ca_file: Some(dir.write("not-a-cert.pem", "hello\n")),
        ..TlsOptions::default()
    };
    let config = ClientConfig {
        tls: options,
        ..ClientConfig::default()
    };
    // Lazily built shared connector: the error surfaces at the first connect.
    let mut client = Client::new(https_origin(server.addr()), config);
    run(async {
        let error = get_err(&mut client, "/", OK_TIMEOUT).await;
        assert_error(
            &error,
            ErrorKind::InvalidRequest,
            &["holds no PEM certificate"],
        );
    });
    assert_eq!(server.stop().tls_handshakes, 0);
}

/// TLS and plain clients, each with its own read size (1 byte to 100 KB), reading large bodies
/// at once on one executor: all read into the thread's one buffer, and every body must arrive
/// exactly as sent.
#[test]
fn tls_and_plain_clients_with_mixed_read_sizes_share_the_read_buffer() {
    let tls_srv = localhost_server();
    let plain_srv = server();
    let dir = TempDir::new("mixed-reads");
    let options = trusting(&tls_srv, &dir);
    let sizes = [100_000usize, 150_001, 65_537, 300_007, 1, 17_000];
    let reads = [1usize, 7, 4096, 16 << 10, 100_000, 3];
    let bodies = run(async {
        let mut tasks = Vec::new();
        for (k, (&n, &rb)) in sizes.iter().zip(reads.iter()).enumerate() {
            let tls = k % 2 == 0;
            let options = options.clone();
            let plain_addr = plain_srv.addr();
            let tls_addr = tls_srv.addr();
            tasks.push(molotov_runtime::spawn_local(async move {
                let mut client = if tls {
                    let connector = TlsConnector::new(&options).unwrap();
                    let config = ClientConfig {
                        tls: options,
                        read_buffer_bytes: rb,
                        ..ClientConfig::default()
                    };
                    Client::new(https_origin(tls_addr), config).with_tls(connector)
                } else {
                    let config = ClientConfig {
                        read_buffer_bytes: rb,
                        ..ClientConfig::default()
                    };
                    Client::new(
                        Origin::parse(&format!("http://{plain_addr}")).unwrap(),
                        config,
                    )
                };
                let n = if rb == 1 { n.min(20_000) } else { n };
                let mut out = Vec::new();
                for _ in 0..3 {
                    let got = get_ok(&mut client, &format!("/bytes/{n}")).await;
                    out.push((n, got.body));
                }
                out
            }));
        }
        join_all(tasks).await
    });
    for (n, body) in bodies.into_iter().flatten() {
        assert!(body == pattern_body(n), "/bytes/{n} altered");
    }
}
