//! The real `molotov` binary against a raw-socket server on loopback that records the exact
//! bytes of each request line: targets computed at run time (a captured `Location` with a
//! fragment, a URL that is only `http://host:port#frag`, a relative path), literal targets
//! with a stray `%`, and the compile error for a `#` in a constant target.

mod capture;
mod support;

use std::time::{Duration, Instant};

use capture::{Answer, CaptureServer};
use support::{TempDir, molotov, run_bounded, stderr, stdout};

/// How long a test waits for a run or for the server.
const LIMIT: Duration = Duration::from_secs(30);

/// The first line of each request, as bytes made readable (`\r\n` cut off).
fn request_lines(requests: &[Vec<u8>]) -> Vec<String> {
    requests
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
    let lines = request_lines(&server.requests());
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
    for head in server.requests() {
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

/// A captured link that carries a query (`/api/items?cursor=c1`) puts the holes written after
/// it in the query: `{{next}}&tag={{tag}}` escapes `tag` as a query component (`&` and `=`
/// were sent raw, adding a parameter), and so does `{{next}}/{{tag}}`.
#[test]
fn holes_after_a_captured_link_with_a_query_are_query_components() {
    let server = CaptureServer::start(|path, _| {
        if path == "/api/items" {
            (
                200,
                String::new(),
                r#"{"next": "/api/items?cursor=c1", "tag": "a b&admin=1"}"#.into(),
            )
        } else {
            (200, String::new(), "{}".into())
        }
    });
    let dir = TempDir::new("request-targets-query");
    let plan = dir.write(
        "plan.mol",
        &format!(
            "defaults {{\n  base http://127.0.0.1:{}/api/\n  timeout 5s\n}}\n\nscenario s {{\n  GET /items\n  capture next = jsonpath \"$.next\"\n  capture tag = jsonpath \"$.tag\"\n  GET {{{{next}}}}&tag={{{{tag}}}}\n  GET {{{{next}}}}/{{{{tag}}}}\n}}\n",
            server.port
        ),
    );
    let out = run_bounded(
        molotov().args(["-q", "-w", "1", "-r", "1"]).arg(&plan),
        LIMIT,
    );
    let lines = request_lines(&server.requests());
    assert_eq!(out.status.code(), Some(0), "{lines:?}\n{}", stderr(&out));
    assert_eq!(
        lines,
        [
            "GET /api/items HTTP/1.1",
            "GET /api/items?cursor=c1&tag=a%20b%26admin%3D1 HTTP/1.1",
            "GET /api/items?cursor=c1/a%20b%26admin%3D1 HTTP/1.1",
        ]
    );
}
