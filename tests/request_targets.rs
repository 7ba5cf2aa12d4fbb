//! The real `molotov` binary against a raw-socket server on loopback that records the exact
//! bytes of each request line: targets computed at run time (a captured `Location` with a
//! fragment, a URL that is only `http://host:port#frag`, a relative path), literal targets
//! with a stray `%`, and the compile error for a `#` in a constant target.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use support::{TempDir, molotov, run_bounded, stderr, stdout};

/// How long a test waits for a run or for the server.
const LIMIT: Duration = Duration::from_secs(30);

/// A keep-alive HTTP/1.1 server that keeps each request's head as it came and answers each
/// with `answer(path)`.
struct CaptureServer {
    port: u16,
    heads: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

/// A response: status, extra header lines (each ending in CRLF), body.
type Answer = (u16, String, String);

impl CaptureServer {
    fn start(answer: fn(&str, u16) -> Answer) -> CaptureServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (heads, stop) = (heads.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (heads, stop) = (heads.clone(), stop.clone());
                            std::thread::spawn(move || serve(conn, port, answer, &heads, &stop));
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
            heads,
            stop,
            accept: Some(accept),
        }
    }

    /// The request heads received so far, in order.
    fn heads(&self) -> Vec<Vec<u8>> {
        self.heads.lock().unwrap().clone()
    }
}

impl Drop for CaptureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Serves one connection until the client closes it (or the server stops).
fn serve(
    mut conn: TcpStream,
    port: u16,
    answer: fn(&str, u16) -> Answer,
    heads: &Mutex<Vec<Vec<u8>>>,
    stop: &AtomicBool,
) {
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        // One whole head (and its Content-Length body) at the front of `buf`?
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = buf[..end + 4].to_vec();
            let text = String::from_utf8_lossy(&head).into_owned();
            let length: usize = text
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            if buf.len() >= head.len() + length {
                buf.drain(..head.len() + length);
                let path = text.split(' ').nth(1).unwrap_or("").to_string();
                heads.lock().unwrap().push(head);
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
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// The first line of each head, as bytes made readable (`\r\n` cut off).
fn request_lines(heads: &[Vec<u8>]) -> Vec<String> {
    heads
        .iter()
        .map(|h| {
            let end = h.windows(2).position(|w| w == b"\r\n").unwrap_or(h.len());
            String::from_utf8_lossy(&h[..end]).into_owned()
        })
        .collect()
}

/// `POST /api/cart` gets a 201 whose `Location` has the base's path prefix and a fragment,
/// and a body with an origin-only URL with a fragment and a relative path; anything else an
/// empty JSON object.
fn shop(path: &str, port: u16) -> Answer {
    if path == "/api/cart" {
        (
            201,
            "Location: /api/cart/42#top\r\n".into(),
            format!(
                r#"{{"abs": "http://127.0.0.1:{port}#onlyfrag", "rel": "cart/7?x=1#section-2"}}"#
            ),
        )
    } else {
        (200, String::new(), "{}".into())
    }
}

#[test]
fn request_lines_carry_no_fragment_no_doubled_prefix_and_no_stray_percent() {
    let server = CaptureServer::start(shop);
    let dir = TempDir::new("request-targets");
    let plan = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  base http://127.0.0.1:{}/api/\n  timeout 5s\n}}\n\nscenario s {{\n  POST /cart\n  assert status == 201\n  capture cart = header \"Location\"\n  capture abs = jsonpath \"$.abs\"\n  capture rel = jsonpath \"$.rel\"\n  GET {{{{cart}}}}\n  GET {{{{abs}}}}\n  GET {{{{rel}}}}\n  GET /t%zz/%4?q=%g1&r=100%\n}}\n",
            server.port
        ),
    );
    let out = run_bounded(
        molotov().args(["-q", "-w", "1", "-r", "1"]).arg(&plan),
        LIMIT,
    );
    let lines = request_lines(&server.heads());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{lines:?}\nstdout:\n{}\nstderr:\n{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(
        lines,
        [
            "POST /api/cart HTTP/1.1",
            // A captured `Location` is resolved against the base (RFC 3986 §5.2): an
            // absolute path is used as is, without a second `/api`; its fragment is dropped.
            "GET /api/cart/42 HTTP/1.1",
            // `http://host:port#frag` is the origin's `/`.
            "GET / HTTP/1.1",
            // A relative path goes under the base's path.
            "GET /api/cart/7?x=1 HTTP/1.1",
            // A `%` that starts no `%XX` is encoded; literal paths keep the base prefix.
            "GET /api/t%25zz/%254?q=%25g1&r=100%25 HTTP/1.1",
        ],
        "stdout:\n{}",
        stdout(&out)
    );
    for head in server.heads() {
        assert!(
            !head.contains(&b'#'),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
    }
}

#[test]
fn a_fragment_in_a_constant_target_fails_check_with_its_place() {
    let dir = TempDir::new("request-targets-check");
    let plan = dir.write(
        "frag.mol",
        "defaults {\n  base http://127.0.0.1:9\n}\nlet u = \"/page#top\"\nscenario s {\n  GET {{u}}\n}\n",
    );
    let started = Instant::now();
    let out = run_bounded(molotov().arg("check").arg(&plan), LIMIT);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("error: a request target cannot contain `#`")
            && err.contains("frag.mol:6:7")
            && err.contains("^^^^^ this value, `/page#top`, has a fragment"),
        "{err}"
    );
    assert!(started.elapsed() < LIMIT);
}
