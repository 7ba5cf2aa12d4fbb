//! The target server serving HTTPS, driven by a blocking rustls client over std sockets
//! (independent of molotov-http): the chain verifies against the CA the handle gives, SNI
//! and ALPN as `/tls` reports them, pipelining and exact counts over TLS, `close_notify` on
//! the server's closes, resumption counted, a plain-HTTP client refused, and the binary's
//! `--tls --cert-out`.

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::Binary;

use molotov_target::replies::FIXED_JSON;
use molotov_target::{ServerConfig, ServerHandle, ServerTls, TlsIdentity, start};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

type TlsSocket = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

const SETTLE: Duration = Duration::from_secs(2);

fn tls_server() -> ServerHandle {
    tls_server_with(ServerTls::localhost().unwrap())
}

fn tls_server_with(tls: ServerTls) -> ServerHandle {
    start(ServerConfig {
        tls: Some(tls),
        ..ServerConfig::default()
    })
    .unwrap()
}

/// A server for `localhost` and a client configuration trusting its CA.
fn tls_server_and_client_config() -> (ServerHandle, Arc<rustls::ClientConfig>) {
    let server = tls_server();
    let config = client_config(server.tls_identity().unwrap().ca_pem());
    (server, config)
}

/// A client configuration trusting only `ca_pem`, with ALPN http/1.1 and its own session
/// cache.
fn client_config(ca_pem: &str) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

fn connect(addr: SocketAddr, config: &Arc<rustls::ClientConfig>, name: &str) -> TlsSocket {
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let connection = rustls::ClientConnection::new(Arc::clone(config), server_name).unwrap();
    let mut socket = rustls::StreamOwned::new(connection, tcp);
    while socket.conn.is_handshaking() {
        socket
            .conn
            .complete_io(&mut socket.sock)
            .expect("handshake completes");
    }
    socket
}

/// Reads one response with a Content-Length body.
fn read_response(socket: &mut TlsSocket, pending: &mut Vec<u8>) -> (String, Vec<u8>) {
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8(pending[..end + 4].to_vec()).unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while pending.len() < end + 4 + length {
                read_more(socket, pending);
            }
            let body = pending[end + 4..end + 4 + length].to_vec();
            pending.drain(..end + 4 + length);
            return (head, body);
        }
        read_more(socket, pending);
    }
}

fn read_more(socket: &mut TlsSocket, pending: &mut Vec<u8>) {
    let mut buf = [0u8; 16 << 10];
    let n = socket.read(&mut buf).unwrap();
    assert!(n > 0, "closed mid-response: {pending:?}");
    pending.extend_from_slice(&buf[..n]);
}

#[test]
fn the_chain_verifies_and_tls_reports_sni_alpn_and_version() {
    let (server, config) = tls_server_and_client_config();
    assert_eq!(server.scheme(), "https");
    let mut socket = connect(server.addr(), &config, "localhost");
    assert_eq!(socket.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
    socket
        .write_all(b"GET /tls HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut pending = Vec::new();
    let (head, body) = read_response(&mut socket, &mut pending);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    let facts: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(facts["tls"], true);
    assert_eq!(facts["version"], "1.3");
    assert_eq!(facts["sni"], "localhost");
    assert_eq!(facts["alpn"], "http/1.1");
    assert_eq!(facts["resumed"], false);
    // By IP address: no SNI, and the certificate is valid for 127.0.0.1 as well.
    let mut socket = connect(server.addr(), &config, "127.0.0.1");
    socket
        .write_all(b"GET /tls HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (_, body) = read_response(&mut socket, &mut Vec::new());
    let facts: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(facts["sni"], serde_json::Value::Null);
    let stats = server.stop();
    assert_eq!(stats.tls_handshakes, 2);
    assert_eq!(stats.requests_answered, 2);
}

#[test]
fn pipelined_requests_over_tls_are_answered_in_order_and_counted() {
    let (server, config) = tls_server_and_client_config();
    let mut socket = connect(server.addr(), &config, "localhost");
    let requests = 50;
    let mut batch = Vec::new();
    for i in 0..requests {
        let path = if i % 2 == 0 { "/json" } else { "/status/201" };
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes());
    }
    socket.write_all(&batch).unwrap();
    let mut pending = Vec::new();
    for i in 0..requests {
        let (head, body) = read_response(&mut socket, &mut pending);
        if i % 2 == 0 {
            assert!(head.starts_with("HTTP/1.1 200 OK"), "{i}: {head}");
            assert_eq!(body, FIXED_JSON);
        } else {
            assert!(head.starts_with("HTTP/1.1 201"), "{i}: {head}");
        }
    }
    assert_eq!(server.wait_answered(requests, SETTLE), requests);
    let stats = server.stop();
    assert_eq!(stats.requests_answered, requests);
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.tls_handshakes, 1);
}

#[test]
fn server_closes_send_close_notify_and_sessions_resume() {
    let (server, config) = tls_server_and_client_config();
    for round in 0..3 {
        let mut socket = connect(server.addr(), &config, "localhost");
        assert_eq!(
            socket.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            round > 0,
            "round {round}"
        );
        socket
            .write_all(b"GET /close HTTP/1.1\r\nHost: h\r\n\r\n")
            .unwrap();
        let mut pending = Vec::new();
        let (head, _) = read_response(&mut socket, &mut pending);
        assert!(head.contains("Connection: close"), "{head}");
        // A clean TLS end of stream (close_notify), not a bare TCP close (which rustls
        // reports as UnexpectedEof).
        let mut rest = Vec::new();
        socket
            .read_to_end(&mut rest)
            .expect("close_notify, then EOF");
        assert!(rest.is_empty());
    }
    let stats = server.stop();
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (3, 2));
    assert_eq!(stats.requests_answered, 3);
}

#[test]
fn a_plain_http_client_gets_no_answer() {
    let server = tls_server();
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    // The handshake fails: the server sends at most an alert record and closes.
    let _ = tcp.read_to_end(&mut reply);
    assert!(!reply.starts_with(b"HTTP/"), "{reply:?}");
    let stats = server.stop();
    assert_eq!(stats.requests_answered, 0);
    assert_eq!(stats.tls_handshakes, 0);
    assert_eq!(stats.connections_accepted, 1);
}

/// Starts a server with `identity`, trusts its CA and connects as `localhost`: the error that
/// ends the handshake, which must fail.
fn handshake_error(identity: TlsIdentity) -> String {
    let server = tls_server_with(ServerTls::new(identity));
    let config = client_config(server.tls_identity().unwrap().ca_pem());
    let mut tcp = TcpStream::connect(server.addr()).unwrap();
    let mut connection = rustls::ClientConnection::new(
        Arc::clone(&config),
        ServerName::try_from("localhost").unwrap(),
    )
    .unwrap();
    while connection.is_handshaking() {
        if let Err(e) = connection.complete_io(&mut tcp) {
            return e.to_string();
        }
    }
    panic!("the handshake fails")
}

#[test]
fn wrong_name_and_expired_identities_are_what_they_say() {
    let wrong = TlsIdentity::for_names(&["wrong.example"]).unwrap();
    assert_eq!(wrong.names(), ["wrong.example".to_owned()]);
    let error = handshake_error(wrong);
    assert!(
        error.contains("NotValidForName") || error.contains("not valid for name"),
        "{error}"
    );
    let error = handshake_error(TlsIdentity::expired(&["localhost"]).unwrap());
    assert!(error.contains("expired"), "{error}");
}

#[test]
fn the_binary_serves_tls_and_writes_its_ca() {
    let dir = std::env::temp_dir().join(format!("molotov-target-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_path = dir.join("ca.pem");
    let mut binary = Binary::start(
        &["--addr", "127.0.0.1:0", "--tls", "--cert-out"],
        Some(&ca_path),
        "https",
    );
    let addr = binary.addr;
    let mut line = String::new();
    binary.stdout.read_line(&mut line).unwrap();
    assert!(line.starts_with("CA certificate written to"), "{line:?}");
    let ca = std::fs::read_to_string(&ca_path).unwrap();
    let config = client_config(&ca);
    let mut socket = connect(addr, &config, "localhost");
    socket
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let (_, body) = read_response(&mut socket, &mut Vec::new());
    assert_eq!(body, FIXED_JSON);
    assert_eq!(binary.sigterm(), "stopped by SIGTERM: answered 1 request");
    let _ = std::fs::remove_dir_all(&dir);
}
