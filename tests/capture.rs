//! A raw-socket HTTP/1.1 server on loopback for the end-to-end tests of the bytes molotov
//! sends: it keeps connections alive, records every request byte for byte (the head, and the
//! body its Content-Length frames) and answers each with what a function of the path says.

#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// A response: status, extra header lines (each ending in CRLF), JSON body.
pub type Answer = (u16, String, String);

/// What the server answers: a function of the request's path and the server's port.
type Answering = Arc<dyn Fn(&str, u16) -> Answer + Send + Sync>;

/// The server; it stops when dropped.
pub struct CaptureServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl CaptureServer {
    /// Listens on a free loopback port and answers each request with `answer(path, port)`.
    pub fn start(answer: impl Fn(&str, u16) -> Answer + Send + Sync + 'static) -> CaptureServer {
        let answer: Answering = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepting = {
            let (requests, stop) = (requests.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (requests, stop, answer) =
                                (requests.clone(), stop.clone(), answer.clone());
                            std::thread::spawn(move || {
                                serve(conn, port, &*answer, &requests, &stop)
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5))
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        CaptureServer {
            port,
            requests,
            stop,
            accepting: Some(accepting),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The requests read so far (head and body), in order.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accepting.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection until the client closes it (or the server stops): records each
/// request and answers it.
fn serve(
    mut conn: TcpStream,
    port: u16,
    answer: &(dyn Fn(&str, u16) -> Answer + Send + Sync),
    requests: &Mutex<Vec<Vec<u8>>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut pending = Vec::new();
    let mut chunk = [0u8; 16384];
    while !stop.load(Ordering::Relaxed) {
        // One whole head, and the body its Content-Length says, at the front of `pending`?
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if pending.len() >= end + 4 + length {
                let request: Vec<u8> = pending.drain(..end + 4 + length).collect();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                requests.lock().unwrap().push(request);
                let (status, headers, body) = answer(&path, port);
                let response = format!(
                    "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if conn.write_all(response.as_bytes()).is_err() {
                    return;
                }
                continue;
            }
        }
        match conn.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}
