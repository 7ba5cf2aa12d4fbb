//! The idle probe of a kept-alive connection, end to end with `--multishot-recv`: a server's
//! unsolicited response, or its close, that arrives while the worker is busy (a large body's
//! checks) and before the next request on that connection must be seen by the probe, and
//! the connection replaced; never a stray response taken for the next request's, nor a POST
//! sent on a closed connection. Over `http` and `https` (TLS through molotov-target), on the
//! default ring (`DEFER_TASKRUN`: the bytes wait in the socket for the next entry into the
//! ring) and with `--no-coop-taskrun` (the kernel already moved them into a receive buffer
//! and posted a completion the executor has not read).
//!
//! A proxy on loopback stands between molotov and the target: it passes bytes both ways and,
//! 30 ms after a second server finished writing a large body to the same worker, writes a
//! stray response into (or closes) every connection it holds.

mod harness;
mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::{Finished, run};
use molotov_target::{ServerConfig, ServerHandle, ServerTls};
use support::TempDir;

/// The large body's size (a checked body may have 16 MiB): its checks (every pair of
/// letters counted) keep the worker busy for hundreds of milliseconds, long after the
/// proxy's fault.
const HEAVY_BYTES: usize = 16_000_000;
/// How long after the large body was written the proxy injects its fault.
const FAULT_AFTER: Duration = Duration::from_millis(30);
/// Scenario runs of each molotov run.
const RUNS: u64 = 3;

/// What the proxy does to the connections it holds.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Writes one unsolicited HTTP response (garbage to TLS).
    Stray,
    /// Closes them.
    Close,
}

/// A keep-alive server that answers every request (a head without a body) with
/// `HEAVY_BYTES` of lowercase letters, and sends on `written` once each answer is written.
fn heavy_server(written: Sender<()>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HEAVY_BYTES}\r\n\r\n");
    let body: Arc<Vec<u8>> = Arc::new((0..HEAVY_BYTES).map(|i| b'a' + (i % 26) as u8).collect());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (head, body, written) = (head.clone(), Arc::clone(&body), written.clone());
            std::thread::spawn(move || {
                let mut input = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while let Some(end) = input.windows(4).position(|w| w == b"\r\n\r\n") {
                        input.drain(..end + 4);
                        if stream.write_all(head.as_bytes()).is_err()
                            || stream.write_all(&body).is_err()
                        {
                            return;
                        }
                        let _ = written.send(());
                    }
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => input.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// Copies `from` to `to` until the end, then ends `to`'s sending side; sets `sent` each time
/// it passes something on.
fn pump(mut from: TcpStream, mut to: TcpStream, sent: Option<Arc<AtomicBool>>) {
    let mut buf = [0u8; 64 << 10];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(sent) = &sent {
            sent.store(true, Ordering::SeqCst);
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}

/// A client connection the proxy holds, and whether the client sent anything on it since
/// the last large body was written.
type Held = (TcpStream, Arc<AtomicBool>);

/// What the proxy did after a large body was written.
#[derive(Debug, PartialEq, Eq)]
enum Injected {
    /// The fault reached at least one open connection.
    Fault,
    /// Too late: the client had sent its next request already (a machine so loaded that
    /// the proxy ran after the worker's checks); nothing was injected.
    Late,
}

/// A proxy to `upstream` that injects `fault` into every client connection it holds
/// `FAULT_AFTER` after each message on `written`, and says on `injected` what it did.
fn proxy(
    upstream: SocketAddr,
    fault: Fault,
    written: Receiver<()>,
    injected: Sender<Injected>,
) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clients: Arc<Mutex<Vec<Held>>> = Arc::default();
    let held = Arc::clone(&clients);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let sent = Arc::new(AtomicBool::new(false));
            held.lock()
                .unwrap()
                .push((client.try_clone().unwrap(), Arc::clone(&sent)));
            let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || pump(client, server, Some(sent)));
            std::thread::spawn(move || pump(server2, client2, None));
        }
    });
    std::thread::spawn(move || {
        for () in written {
            for (_, sent) in clients.lock().unwrap().iter() {
                sent.store(false, Ordering::SeqCst);
            }
            std::thread::sleep(FAULT_AFTER);
            let mut clients = clients.lock().unwrap();
            if clients.iter().any(|(_, sent)| sent.load(Ordering::SeqCst)) {
                let _ = injected.send(Injected::Late);
                continue;
            }
            let mut reached = false;
            clients.retain_mut(|(client, _)| match fault {
                Fault::Stray => {
                    let stray = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nSTRAYSTRAY";
                    let sent = client.write_all(stray).is_ok();
                    reached |= sent;
                    sent
                }
                Fault::Close => {
                    reached |= client.shutdown(Shutdown::Both).is_ok();
                    false
                }
            });
            if reached {
                let _ = injected.send(Injected::Fault);
            }
        }
    });
    addr
}

/// One molotov run (`-w 1 -r RUNS`, `flags`) of: a POST through the proxy, the large body
/// from the heavy server with a check that reads all of it, and a POST through the proxy
/// again, which must get the target's answer on a clean connection.
fn run_through_proxy(target: &ServerHandle, https: bool, fault: Fault, flags: &[&str]) {
    let (written_tx, written_rx) = channel();
    let (injected_tx, injected_rx) = channel();
    let heavy = heavy_server(written_tx);
    let proxy = proxy(target.addr(), fault, written_rx, injected_tx);
    let scheme = if https { "https" } else { "http" };
    let case = format!("{scheme} {fault:?} {flags:?}");
    let dir = TempDir::new("idle-probe");
    let file = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  timeout 10s\n}}\n\nscenario s {{\n  POST {scheme}://{proxy}/json as first\n  {{\"a\":1}}\n  assert body contains \"ok\"\n  GET http://{heavy}/heavy as heavy\n  assert regex \"[a-z]{{2}}\" count > 0\n  POST {scheme}://{proxy}/json as second\n  {{\"a\":2}}\n  assert body contains \"ok\"\n}}\n"
        ),
    );
    let finished: Finished = run(
        harness::molotov()
            .args(["-q", "-k", "-p", "1", "-w", "1", "-r", &RUNS.to_string()])
            .args(flags)
            .arg(&file),
        &dir,
        Duration::from_secs(60),
    );
    finished.assert_sound();
    assert!(finished.errors().is_empty(), "{case}\n{}", finished.dump());
    let checks = finished.json()["checks"].as_array().unwrap();
    for check in checks {
        assert_eq!(check["failed"], 0, "{case}: {check}\n{}", finished.dump());
    }
    assert_eq!(
        finished.total("responses"),
        3 * RUNS,
        "{case}\n{}",
        finished.dump()
    );
    let injected: Vec<Injected> = (0..RUNS)
        .map_while(|_| injected_rx.recv_timeout(Duration::from_secs(2)).ok())
        .collect();
    let faults = injected.iter().filter(|i| **i == Injected::Fault).count();
    assert!(
        faults >= 1 && injected.len() as u64 == RUNS,
        "{case}: the proxy did {injected:?}\n{}",
        finished.dump()
    );
    finished.assert_exit(0);
}

#[test]
fn with_multishot_receives_a_stray_response_or_a_close_on_an_idle_http_connection_is_seen() {
    let target = support::target();
    for fault in [Fault::Stray, Fault::Close] {
        for flags in [
            &["--multishot-recv"][..],
            &["--multishot-recv", "--no-coop-taskrun"][..],
        ] {
            run_through_proxy(&target, false, fault, flags);
        }
    }
}

#[test]
fn with_multishot_receives_stray_bytes_or_a_close_on_an_idle_https_connection_are_seen() {
    let target = molotov_target::start(ServerConfig {
        tls: Some(ServerTls::localhost().unwrap()),
        ..ServerConfig::default()
    })
    .unwrap();
    for fault in [Fault::Stray, Fault::Close] {
        for flags in [
            &["--multishot-recv"][..],
            &["--multishot-recv", "--no-coop-taskrun"][..],
        ] {
            run_through_proxy(&target, true, fault, flags);
        }
    }
}
